"""The link check of a template: every link listed, the unreachable ones flagged.

``check_links`` takes the checker as an argument (tests pass their own; the default asks each
address with a HEAD request, then GET when HEAD is refused). Only http(s) links are asked;
mailto: and tel: are listed as they are, and danhba's own links (SITE_URL: unsubscribe,
preferences) are not asked: their pages answer only for a real recipient. Private and loopback
addresses are not called unless ``MESSAGING_LINKS_ALLOW_PRIVATE`` (the server must not become
a probe into its own network): ``core.outbound`` decides, as for webhooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from danhba.core import outbound

MAX_CHECKED = 50
USER_AGENT = "danhba-linkcheck/1"


@dataclass(frozen=True)
class LinkResult:
    url: str
    ok: bool | None  # None: not checked (mailto:, tel:, danhba's own pages, too many links)
    status: int | None = None
    note: str = ""


Checker = Callable[[str], LinkResult]


def http_check(url: str) -> LinkResult:
    """HEAD, then GET when HEAD is refused, through ``core.outbound`` (public addresses only,
    the connection pinned to the address checked, no redirect followed)."""
    for method in ("HEAD", "GET"):
        answer = outbound.request(
            method,
            url,
            headers={"User-Agent": USER_AGENT},
            timeout=settings.MESSAGING_LINK_TIMEOUT,
            allow_private=settings.MESSAGING_LINKS_ALLOW_PRIVATE,
            max_bytes=0,
        )
        if answer.status is None:
            return LinkResult(url, False, note=str(answer.error or "")[:200])
        if 300 <= answer.status < 400:
            return LinkResult(url, True, answer.status, _("redirects to %(url)s") % {"url": answer.location})
        if method == "HEAD" and answer.status in (403, 405, 501):
            continue
        return LinkResult(url, answer.status < 400, answer.status)
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
