"""Reading a payload's values for the sales services (pure: no writes). Each reader takes the
payload, the key and the ``errors`` dict that collects reasons by field, and returns the value
or None when it is refused."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from danhba.core.normalize import SANE_YEARS, NormalizationError, clean_long_text, clean_text, parse_date, sane_moment

MAX_MONEY = Decimal("1e15")
CURRENCY = re.compile(r"[A-Z]{3}")
Errors = dict[str, list[str]]


def add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def text(data: dict[str, Any], key: str, errors: Errors, *, most: int, required: bool = True) -> str:
    value = clean_text(data.get(key))
    if required and not value:
        add(errors, key, _("This field is required."))
    elif len(value) > most:
        add(errors, key, _("At most %(n)s characters.") % {"n": most})
    return value


def long_text(data: dict[str, Any], key: str, errors: Errors, *, most: int = 5000) -> str:
    value = clean_long_text(data.get(key))
    if len(value) > most:
        add(errors, key, _("At most %(n)s characters.") % {"n": most})
    return value


def whole(data: dict[str, Any], key: str, errors: Errors, *, low: int, high: int) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        add(errors, key, _("must be a whole number from %(low)s to %(high)s") % {"low": low, "high": high})
        return None
    return value


def money(data: dict[str, Any], key: str, errors: Errors, *, positive: bool = False) -> Decimal | None:
    """A non-negative amount (positive: above zero) with at most 2 decimals."""
    raw = data.get(key)
    try:
        if isinstance(raw, bool) or raw is None or raw == "":
            raise InvalidOperation
        amount = Decimal(str(raw).strip())
        if not amount.is_finite() or amount < 0 or amount >= MAX_MONEY or (positive and amount == 0):
            raise InvalidOperation
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        add(errors, key, _("must be a positive amount") if positive else _("must be an amount of 0 or more"))
        return None


def currency(data: dict[str, Any], key: str, errors: Errors) -> str:
    value = clean_text(data.get(key)).upper()
    if not CURRENCY.fullmatch(value):
        add(errors, key, _("must be a three-letter currency code such as VND or USD"))
    return value


def date(data: dict[str, Any], key: str, errors: Errors) -> dt.date | None:
    raw = data.get(key)
    if raw in (None, ""):
        return None
    try:
        value = parse_date(raw)
    except NormalizationError as exc:
        add(errors, key, str(exc))
        return None
    if not sane_moment(value):
        add(
            errors,
            key,
            _("must be a date between %(low)s and %(high)s") % {"low": SANE_YEARS[0], "high": SANE_YEARS[1]},
        )
        return None
    return value


def ids(data: dict[str, Any], key: str, errors: Errors, *, most: int = 50) -> list[int]:
    raw = data.get(key)
    if not isinstance(raw, list) or len(raw) > most or not all(_is_id(v) for v in raw):
        add(errors, key, _("must be a list of at most %(n)s ids") % {"n": most})
        return []
    return list(dict.fromkeys(raw))


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63


def one_id(data: dict[str, Any], key: str, errors: Errors) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_id(value):
        add(errors, key, _("must be an id"))
        return None
    return int(value)
