"""What the preference centre needs that touches no database: the pause lengths it offers, the
end of a pause, the recipient's address masked, and the form token. Pure.

The page is opened from an email, without an account or a cookie of ours. The signed link
(``links.make_token``) names the recipient; the form carries a second signed, short-lived token
bound to the same recipient, so a POST must come from a page danhba served for that recipient
(CSRF without a session: a cookie-based check would fail in mail apps' browsers)."""

from __future__ import annotations

import calendar
import datetime as dt

from django.core import signing
from django.utils import timezone

from danhba.messaging.links import Recipient

PAUSE_MONTHS = (1, 3, 6)
FORM_SALT = "danhba.messaging.preferences.form"
FORM_MAX_AGE = 24 * 3600


def pause_end(start: dt.datetime, months: int) -> dt.datetime:
    """``months`` calendar months after ``start`` (31 January + 1 month: the end of February),
    counted on the local calendar (``settings.TIME_ZONE``): 01:00 on 1 March in Hà Nội is still
    28 February in UTC."""
    start = timezone.localtime(start, timezone.get_default_timezone())
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def masked_email(address: str) -> str:
    """``lan.nguyen@example.vn`` → ``l•••n@example.vn``: enough for the person to recognise
    their address, too little for someone else to learn it."""
    local, at, domain = address.partition("@")
    if not at:
        return "•••"
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[:1] + "•••"
    return f"{shown}@{domain}"


def form_token(recipient: Recipient) -> str:
    return signing.dumps([recipient.contact_id, recipient.campaign_id], salt=FORM_SALT, compress=True)


def form_token_ok(token: str, recipient: Recipient) -> bool:
    """The form was served by danhba for this recipient within the last day."""
    try:
        value = signing.loads(token, salt=FORM_SALT, max_age=FORM_MAX_AGE)
    except signing.BadSignature:
        return False
    return bool(value == [recipient.contact_id, recipient.campaign_id])
