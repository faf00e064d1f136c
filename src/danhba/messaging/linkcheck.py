"""The link check of a template: every link listed, the unreachable ones flagged.

``check_links`` takes the checker as an argument (tests pass their own; the default asks each
address with a HEAD request, then GET when HEAD is refused). Only http(s) links are asked;
mailto: and tel: are listed as they are, and danhba's own links (SITE_URL: unsubscribe,
preferences) are not asked: their pages answer only for a real recipient. Private and loopback
addresses are not called unless ``MESSAGING_LINKS_ALLOW_PRIVATE`` (the server must not become
a probe into its own network)."""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

MAX_CHECKED = 50
USER_AGENT = "danhba-linkcheck/1"


@dataclass(frozen=True)
class LinkResult:
    url: str
    ok: bool | None  # None: not checked (mailto:, tel:, danhba's own pages, too many links)
    status: int | None = None
    note: str = ""


Checker = Callable[[str], LinkResult]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _public(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global or ip.is_multicast:
            return False
    return True


def http_check(url: str) -> LinkResult:
    host = urlsplit(url).hostname or ""
    if not settings.MESSAGING_LINKS_ALLOW_PRIVATE and not _public(host):
        return LinkResult(url, False, note=_("the host is unknown or private"))
    opener = urllib.request.build_opener(_NoRedirect)
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with opener.open(request, timeout=settings.MESSAGING_LINK_TIMEOUT) as response:
                return LinkResult(url, True, response.status)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return LinkResult(url, True, exc.code, _("redirects to %(url)s") % {"url": exc.headers.get("Location")})
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue
            return LinkResult(url, False, exc.code)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return LinkResult(url, False, note=str(reason)[:200])
    return LinkResult(url, False)


def check_links(urls: Sequence[str], checker: Checker | None = None) -> list[LinkResult]:
    """One result per link, in the order given."""
    checker = checker or http_check
    asked: list[str] = []
    results: dict[str, LinkResult] = {}
    for url in urls:
        scheme = urlsplit(url).scheme.lower()
        if url.startswith(settings.SITE_URL + "/"):
            results[url] = LinkResult(url, None, note=_("danhba's own page"))
        elif scheme not in ("http", "https"):
            results[url] = LinkResult(url, None, note=_("not a web address") if scheme not in ("mailto", "tel") else "")
        elif len(asked) >= MAX_CHECKED:
            results[url] = LinkResult(url, None, note=_("not checked: too many links"))
        else:
            asked.append(url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for url, result in zip(asked, pool.map(checker, asked), strict=True):
            results[url] = result
    return [results[url] for url in urls]
