"""Validation of custom field values: every write path (forms, API, import) goes through here."""

from __future__ import annotations

import datetime as dt
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


def clean_value(field: CustomField, value: Any) -> Any:
    """The stored (JSON) form of ``value`` for ``field``; raises :class:`NormalizationError`
    (a ``ValueError``) with the reason as a msgid and its parameters, shown in the reader's
    language (an import's report is read long after the worker refused the value)."""
    t = field.type
    if t in (T.TEXT, T.LONG_TEXT):
        text = clean_text(value) if t == T.TEXT else clean_long_text(value)
        limit = 255 if t == T.TEXT else 10000
        if len(text) > limit:
            raise NormalizationError(gettext_noop("at most %(n)s characters"), {"n": limit})
        return text
    if t == T.NUMBER:
        if isinstance(value, bool):
            raise NormalizationError(gettext_noop("must be a whole number"))
        try:
            number = Decimal(str(value).strip().replace(" ", ""))
        except InvalidOperation:
            raise NormalizationError(gettext_noop("must be a whole number")) from None
        if number != number.to_integral_value() or abs(number) > 10**15:
            raise NormalizationError(gettext_noop("must be a whole number"))
        return int(number)
    if t == T.DECIMAL:
        if isinstance(value, bool):
            raise NormalizationError(gettext_noop("must be a number"))
        try:
            number = Decimal(str(value).strip().replace(" ", ""))
        except InvalidOperation:
            raise NormalizationError(gettext_noop("must be a number")) from None
        if not number.is_finite():
            raise NormalizationError(gettext_noop("must be a number"))
        return str(number)
    if t == T.DATE:
        return parse_date(value).isoformat()
    if t == T.DATETIME:
        return parse_datetime(value).astimezone(dt.UTC).isoformat()
    if t == T.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise NormalizationError(gettext_noop("must be yes or no"))
    if t == T.CHOICE:
        text = clean_text(value)
        if text not in field.choices:
            choices = ", ".join(map(str, field.choices))
            raise NormalizationError(gettext_noop("must be one of: %(choices)s"), {"choices": choices})
        return text
    if t == T.MULTI_CHOICE:
        items = value if isinstance(value, (list, tuple)) else str(value).split(",")
        cleaned = []
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
    if t == T.URL:
        text = clean_text(value)
        try:
            URLValidator(schemes=["http", "https"])(text)
        except DjangoValidationError:
            raise NormalizationError(gettext_noop("must be a web address starting with http:// or https://")) from None
        return text
    if t == T.EMAIL:
        return normalize_email(value)
    if t == T.PHONE:
        return normalize_phone(value).e164
    raise NormalizationError(gettext_noop("unknown field type %(type)s"), {"type": t})


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
