"""Validation of custom field values: every write path (forms, API, import) goes through here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.contacts.models import CustomField
from danhba.core.normalize import (
    NormalizationError,
    clean_long_text,
    clean_text,
    normalize_email,
    normalize_phone,
    parse_date,
    parse_datetime,
)

T = CustomField.Type
_TRUE = {"1", "true", "yes", "y", "on", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "off", "không", "khong"}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _text(field: CustomField, value: Any) -> str:
    long = field.type == T.LONG_TEXT
    text = clean_long_text(value) if long else clean_text(value)
    limit = 10000 if long else 255
    if len(text) > limit:
        raise NormalizationError(gettext_noop("at most %(n)s characters"), {"n": limit})
    return text


def _decimal(value: Any, reason: str) -> Decimal:
    """A number as people type it ("1 500", " 12.5"); ``reason`` when it is none (or a yes/no)."""
    if isinstance(value, bool):
        raise NormalizationError(reason)
    try:
        number = Decimal(str(value).strip().replace(" ", ""))
    except InvalidOperation:
        raise NormalizationError(reason) from None
    if not number.is_finite():
        raise NormalizationError(reason)
    return number


def _number(field: CustomField, value: Any) -> int:
    number = _decimal(value, gettext_noop("must be a whole number"))
    if number != number.to_integral_value() or abs(number) > 10**15:
        raise NormalizationError(gettext_noop("must be a whole number"))
    return int(number)


def _boolean(field: CustomField, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise NormalizationError(gettext_noop("must be yes or no"))


def _choice(field: CustomField, value: Any) -> str:
    text = clean_text(value)
    if text not in field.choices:
        choices = ", ".join(map(str, field.choices))
        raise NormalizationError(gettext_noop("must be one of: %(choices)s"), {"choices": choices})
    return text


def _choices(field: CustomField, value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    cleaned: list[str] = []
    for item in items:
        text = clean_text(item)
        if text and text not in field.choices:
            choices = ", ".join(map(str, field.choices))
            raise NormalizationError(
                gettext_noop("'%(value)s' is not one of: %(choices)s"), {"value": text, "choices": choices}
            )
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


def _url(field: CustomField, value: Any) -> str:
    text = clean_text(value)
    try:
        URLValidator(schemes=["http", "https"])(text)
    except DjangoValidationError:
        raise NormalizationError(gettext_noop("must be a web address starting with http:// or https://")) from None
    return text


_CLEANERS: dict[str, Callable[[CustomField, Any], Any]] = {
    T.TEXT: _text,
    T.LONG_TEXT: _text,
    T.NUMBER: _number,
    T.DECIMAL: lambda field, value: str(_decimal(value, gettext_noop("must be a number"))),
    T.DATE: lambda field, value: parse_date(value).isoformat(),
    T.DATETIME: lambda field, value: parse_datetime(value).astimezone(dt.UTC).isoformat(),
    T.BOOLEAN: _boolean,
    T.CHOICE: _choice,
    T.MULTI_CHOICE: _choices,
    T.URL: _url,
    T.EMAIL: lambda field, value: normalize_email(value),
    T.PHONE: lambda field, value: normalize_phone(value).e164,
}


def clean_value(field: CustomField, value: Any) -> Any:
    """The stored (JSON) form of ``value`` for ``field``; raises :class:`NormalizationError`
    (a ``ValueError``) with the reason as a msgid and its parameters, shown in the reader's
    language (an import's report is read long after the worker refused the value)."""
    cleaner = _CLEANERS.get(field.type)
    if cleaner is None:
        raise NormalizationError(gettext_noop("unknown field type %(type)s"), {"type": field.type})
    return cleaner(field, value)


def clean_custom_values(
    entity: str, values: dict[str, Any], existing: dict[str, Any] | None = None, *, creating: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Merge ``values`` into ``existing`` after validating each against its definition.

    Returns (merged values, errors keyed ``custom.<key>``). An empty value removes the field.
    Required fields are enforced on creation and whenever a write tries to empty them, so
    adding a required field later does not lock every older record.
    """
    fields = {f.key: f for f in CustomField.objects.filter(entity=entity, is_active=True)}
    merged = dict(existing or {})
    errors: dict[str, list[str]] = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors[f"custom.{key}"] = [_("no such custom field")]
            continue
        if _empty(value):
            merged.pop(key, None)
            continue
        try:
            merged[key] = clean_value(field, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = [str(exc)]
    for key, field in fields.items():
        touched = creating or key in values
        if field.required and touched and _empty(merged.get(key)) and f"custom.{key}" not in errors:
            errors[f"custom.{key}"] = [_("this field is required")]
    return merged, errors
