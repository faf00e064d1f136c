"""The links an email carries to danhba's own pages, built from ``SITE_URL`` and signed so the
page finds the recipient without a login. Pure: no database access.

A token holds the contact id and the campaign id (0 for a test or a one-off message); the
unsubscribe and preference pages (the next slices of issue 13) read it back with
:func:`read_token`, which refuses any token that was altered."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "danhba.messaging.recipient"


@dataclass(frozen=True)
class Recipient:
    contact_id: int
    campaign_id: int = 0


def make_token(recipient: Recipient) -> str:
    # Not compressed: two numbers never compress shorter, so the token is the same without the
    # zlib call (a share of the send job's time per recipient); read_token reads either.
    return signing.dumps([recipient.contact_id, recipient.campaign_id], salt=SALT)


def read_token(token: str) -> Recipient | None:
    """The recipient a token names, or None for a forged, altered or malformed one."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        return None
    return Recipient(contact_id=value[0], campaign_id=value[1])


def site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def consent_links(recipient: Recipient, token: str = "") -> dict[str, str]:
    """The links every email may show: unsubscribe (one click, confirmed on the page) and the
    preference centre. ``token``: the recipient's, when the caller made it already."""
    token = token or make_token(recipient)
    return {
        "unsubscribe": site_url(f"/email/unsubscribe/{token}/"),
        "preferences": site_url(f"/email/preferences/{token}/"),
    }
