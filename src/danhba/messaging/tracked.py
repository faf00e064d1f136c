"""Open and click tracking in a campaign's messages. Pure: no database access.

- :func:`trackable` picks the links of a template that get a click redirect: http(s) links
  written as they are (no Liquid in them: a personalised address differs per recipient and is
  left alone), not danhba's own pages (unsubscribe, preferences), never mailto or tel. The
  send job stores them once per campaign (``CampaignLink``).
- :func:`track` rewrites one recipient's rendered HTML: each stored link becomes
  ``SITE_URL/email/c/<token>/``, a 1×1 pixel ``SITE_URL/email/o/<token>.gif`` goes before
  ``</body>``, and a hidden trap link (link id 0) after ``<body>``: only a machine follows it.
  The plain-text part keeps the real addresses (a reader of plain text sees where a link goes).
- A token names (send, link, contact, campaign, when the message was rendered) in base 36 and
  ends with 64 bits of an HMAC under ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` accepted), the
  open and click kinds signed apart: an altered token reads as None.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from danhba.messaging.compose import links_in, with_footer

SALT = "danhba.messaging.tracked"
SIG_CHARS = 16
TRAP = 0  # the link id of the hidden trap link
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TOKEN = re.compile(r"^[0-9a-z]{1,13}(\.[0-9a-z]{1,13}){2,4}\.[0-9a-f]{16}$")


@dataclass(frozen=True)
class Tracked:
    """What a token names. ``link_id`` is 0 for an open (and for the trap link's clicks)."""

    send_id: int
    contact_id: int
    campaign_id: int
    rendered_at: int  # seconds since the epoch, when the message was built (about when it left)
    link_id: int = 0


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError(number)
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if not number:
            return out


def _signature(kind: str, body: str, secret: str | bytes | None = None) -> str:
    return salted_hmac(f"{SALT}.{kind}", body, secret=secret, algorithm="sha256").hexdigest()[:SIG_CHARS]


def _sign(kind: str, numbers: tuple[int, ...]) -> str:
    body = ".".join(_b36(n) for n in numbers)
    return f"{body}.{_signature(kind, body)}"


def _unsign(kind: str, token: str, count: int) -> tuple[int, ...] | None:
    if len(token) > 120 or not _TOKEN.match(token):
        return None
    body, _dot, sig = token.rpartition(".")
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(sig, _signature(kind, body, secret)) for secret in secrets):
        return None
    numbers = tuple(int(part, 36) for part in body.split("."))
    return numbers if len(numbers) == count else None


def open_token(t: Tracked) -> str:
    return _sign("o", (t.send_id, t.contact_id, t.campaign_id, t.rendered_at))


def click_token(t: Tracked) -> str:
    return _sign("c", (t.send_id, t.link_id, t.contact_id, t.campaign_id, t.rendered_at))


def read_open(token: str) -> Tracked | None:
    n = _unsign("o", token, 4)
    return Tracked(send_id=n[0], contact_id=n[1], campaign_id=n[2], rendered_at=n[3]) if n else None


def read_click(token: str) -> Tracked | None:
    n = _unsign("c", token, 5)
    return Tracked(send_id=n[0], link_id=n[1], contact_id=n[2], campaign_id=n[3], rendered_at=n[4]) if n else None


def open_url(t: Tracked) -> str:
    return f"{settings.SITE_URL}/email/o/{open_token(t)}.gif"


def click_url(t: Tracked) -> str:
    return f"{settings.SITE_URL}/email/c/{click_token(t)}/"


def trackable(html: str) -> list[str]:
    """The template's links that get a click redirect, once each, in order."""
    own = f"{settings.SITE_URL}/email/"
    return [
        url
        for url in links_in(html)
        if url.lower().startswith(("http://", "https://"))
        and "{{" not in url
        and "{%" not in url
        and not url.startswith(own)
        and len(url) <= 2000
    ]


_HREF = re.compile(r"(<(?:a|area)\b[^>]*?\bhref\s*=\s*)([\"'])(.*?)\2", re.IGNORECASE | re.DOTALL)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_PIXEL = (
    '<img src="{src}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">'
)
_TRAP = '<a href="{href}" style="display:none;font-size:0;" aria-hidden="true" tabindex="-1"></a>'


def track(html: str, links: Mapping[str, int], base: Tracked, *, trap: bool = True) -> str:
    """One recipient's HTML with its links (``links``: address → link id) going through the
    click redirect, the open pixel and the trap link."""

    def link(t: Tracked) -> str:
        return html_lib.escape(click_url(t))

    def swap(match: re.Match[str]) -> str:
        link_id = links.get(html_lib.unescape(match.group(3)).strip())
        if link_id is None:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{link(_with_link(base, link_id))}{quote}"

    out = _HREF.sub(swap, html) if links else html
    if trap:
        hidden = _TRAP.format(href=link(_with_link(base, TRAP)))
        found = _BODY_OPEN.search(out)
        out = out[: found.end()] + hidden + out[found.end() :] if found else hidden + out
    return with_footer(out, _PIXEL.format(src=html_lib.escape(open_url(base))))


def _with_link(base: Tracked, link_id: int) -> Tracked:
    return Tracked(base.send_id, base.contact_id, base.campaign_id, base.rendered_at, link_id)
