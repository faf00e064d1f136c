"""Numbers, money, dates and relative times as the active language writes them — the one place
every template (through the ``formatting`` filters), chart and message formats them.

Vietnamese: 3.005 · 45.000 ₫ · 06/12/2026 · 07:05 06/12/2026 · 10 phút trước.
English: 3,005 · 45,000 ₫ · 6 Dec 2026 · 6 Dec 2026, 07:05 · 10 minutes ago.
The date formats and separators live in ``danhba/formats/<language>/formats.py``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import formats, numberformat, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Currencies written with a symbol after the amount; others keep their ISO code.
_SYMBOLS = {"VND": "₫"}
# Digits after the decimal separator (ISO 4217 minor units); unlisted currencies have 2.
_MINOR_UNITS = {"VND": 0, "JPY": 0, "KRW": 0}


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _places(amount: Decimal) -> int:
    """Digits after the separator that ``amount`` needs once rounded to cents, at most 2:
    3 · 2.5 · 2.25 (2.999 is 3)."""
    try:
        cents = amount.quantize(Decimal("0.01"))
    except InvalidOperation:  # more digits than Decimal holds: no fraction worth showing
        return 0
    if cents == cents.to_integral_value():
        return 0
    return 1 if cents * 10 == (cents * 10).to_integral_value() else 2


def number(value: Any, decimals: int | None = None) -> str:
    """``value`` grouped by thousands with the language's separators: 12.345,5 in Vietnamese,
    12,345.5 in English. ``decimals``: digits after the separator (default: as many as the
    value needs, at most 2). A value that is not a number comes back as text."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    if decimals is None:
        decimals = _places(amount)
    try:
        rounded = amount.quantize(Decimal(1).scaleb(-decimals))
    except InvalidOperation:  # more digits than Decimal holds: no fraction worth showing
        rounded, decimals = amount.to_integral_value(), 0
    return numberformat.format(
        int(rounded) if decimals == 0 else rounded,
        str(formats.get_format("DECIMAL_SEPARATOR")),
        decimals,
        3,
        str(formats.get_format("THOUSAND_SEPARATOR")),
        force_grouping=True,
    )


def percent(ratio: Any) -> str:
    """A ratio (0.125) as a percentage with one decimal: 12,5% in Vietnamese, 12.5% in English."""
    amount = _decimal(ratio)
    return "" if amount is None else f"{number(amount * 100, 1)}%"


def money(value: Any, currency: str | None = None) -> str:
    """An amount with its currency: "45.000 ₫" in Vietnamese, "45,000 ₫" in English, "12,50 USD"
    for a currency without a symbol here. The shop's currency when none is given."""
    code = (currency or settings.SHOP_CURRENCY or "").upper()
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    minor = _MINOR_UNITS.get(code, 2)
    whole = amount == amount.to_integral_value()
    text = number(amount, 0 if minor == 0 or whole else minor)
    return f"{text} {_SYMBOLS.get(code, code)}".strip()


def _local(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def parse_moment(value: Any) -> dt.datetime | dt.date | None:
    """A date or moment, also from ISO text (JSON holds them so); None when it is neither."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return parse_datetime(text) if "T" in text or ":" in text else parse_date(text)
    except ValueError:
        return None


def day(value: dt.date | dt.datetime | None) -> str:
    """A date (or the local day of a moment): 06/12/2026 · 6 Dec 2026."""
    if value is None:
        return ""
    return formats.date_format(_local(value), "SHORT_DATE_FORMAT")


def moment(value: dt.datetime | None) -> str:
    """A moment in the reader's time zone: 07:05 06/12/2026 · 6 Dec 2026, 07:05."""
    if value is None:
        return ""
    return formats.date_format(_local(value), "SHORT_DATETIME_FORMAT")


def day_month(value: dt.date | dt.datetime) -> str:
    """Day and month without the year, for chart axes: 06/12 · 6 Dec."""
    return formats.date_format(_local(value), "MONTH_DAY_FORMAT")


def _ago(n: int, unit: str) -> str:
    texts = {
        "minute": ngettext("%(n)s minute ago", "%(n)s minutes ago", n),
        "hour": ngettext("%(n)s hour ago", "%(n)s hours ago", n),
        "day": ngettext("%(n)s day ago", "%(n)s days ago", n),
        "month": ngettext("%(n)s month ago", "%(n)s months ago", n),
        "year": ngettext("%(n)s year ago", "%(n)s years ago", n),
    }
    return texts[unit] % {"n": number(n)}


def _ahead(n: int, unit: str) -> str:
    texts = {
        "minute": ngettext("in %(n)s minute", "in %(n)s minutes", n),
        "hour": ngettext("in %(n)s hour", "in %(n)s hours", n),
        "day": ngettext("in %(n)s day", "in %(n)s days", n),
        "month": ngettext("in %(n)s month", "in %(n)s months", n),
        "year": ngettext("in %(n)s year", "in %(n)s years", n),
    }
    return texts[unit] % {"n": number(n)}


def _unit(seconds: float) -> tuple[int, str]:
    """The one largest unit that fits: "3 weeks, 6 days" reads as "27 days"."""
    minutes = seconds / 60
    if minutes < 60:
        return int(minutes), "minute"
    if minutes < 60 * 24:
        return int(minutes // 60), "hour"
    days = minutes / (60 * 24)
    if days < 31:
        return int(days), "day"
    if days < 365:
        return max(1, int(days // 30.44)), "month"
    return int(days // 365.25), "year"


def duration(value: dt.timedelta | float | None) -> str:
    """A length of time in its one largest unit, as ``relative_time`` counts it: "3 ngày",
    "2 hours"; under a minute, "under a minute"."""
    if value is None or value == "":
        return ""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 60:
        return _("under a minute")
    n, unit = _unit(seconds)
    texts = {
        "minute": ngettext("%(n)s minute", "%(n)s minutes", n),
        "hour": ngettext("%(n)s hour", "%(n)s hours", n),
        "day": ngettext("%(n)s day", "%(n)s days", n),
        "month": ngettext("%(n)s month", "%(n)s months", n),
        "year": ngettext("%(n)s year", "%(n)s years", n),
    }
    return texts[unit] % {"n": number(n)}


def relative_time(value: dt.datetime | dt.date | None, now: dt.datetime | None = None) -> str:
    """How long ago (or how far ahead) ``value`` is, in one unit: "10 phút trước", "2 tháng
    trước", "in 3 days". A date without a time counts from the start of that day."""
    if value is None:
        return ""
    now = now or timezone.now()
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time.min, tzinfo=timezone.get_current_timezone())
    elif timezone.is_naive(value):
        value = timezone.make_aware(value)
    seconds = (now - value).total_seconds()
    if abs(seconds) < 60:
        return _("just now")
    n, unit = _unit(abs(seconds))
    return _ago(n, unit) if seconds > 0 else _ahead(n, unit)


__all__ = ["day", "day_month", "duration", "moment", "money", "number", "parse_moment", "relative_time"]
