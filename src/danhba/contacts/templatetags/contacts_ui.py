"""Small display helpers for the contact pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import phonenumbers
from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from danhba.contacts.models import CustomField

register = template.Library()


@register.filter
def phone(e164: str) -> str:
    """``+84912345678`` as people in its country write it: ``0912 345 678``."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


@register.filter
def get(mapping: Any, key: str) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def label_from(key: str, labels: dict[str, str]) -> str:
    return labels.get(key, key.replace("_", " ")) if labels else key


@register.filter
def custom_value(value: Any, field: CustomField) -> str:
    """A stored custom field value as a person reads it."""
    if value is None or value == "" or value == []:
        return ""
    t = field.type
    if t == CustomField.Type.BOOLEAN:
        return _("Yes") if value else _("No")
    if t == CustomField.Type.MULTI_CHOICE and isinstance(value, list):
        return ", ".join(map(str, value))
    if t == CustomField.Type.DATE:
        try:
            return formats.date_format(dt.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT")
        except ValueError:
            return str(value)
    if t == CustomField.Type.DATETIME:
        try:
            when = timezone.localtime(dt.datetime.fromisoformat(str(value)))
        except ValueError:
            return str(value)
        return formats.date_format(when, "SHORT_DATETIME_FORMAT")
    if t == CustomField.Type.PHONE:
        return phone(str(value))
    return str(value)


@register.filter
def audit_value(value: Any) -> str:
    """A before/after value from the audit log, in one line."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(audit_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {audit_value(v)}" for k, v in value.items())
    return str(value)


@register.filter
def rows(form: Any, key: str) -> Any:
    """``{% for row in form|rows:"emails" %}``: the repeated inputs of a form, with their errors."""
    return form.rows(key)


@register.filter
def bound(form: Any, name: str) -> Any:
    """``form|bound:name``: a form field whose name is in a variable (custom fields)."""
    try:
        return form[name]
    except KeyError:
        return None


@register.filter
def collection_errors(form: Any, key: str) -> list[str]:
    return list(form.collection_errors(key))


@register.filter
def via_label(via: str) -> str:
    """``"ui"`` → ``"Web UI"``: the door a change came through, as the audit log names it."""
    from danhba.audit.models import AuditEvent

    return str(dict(AuditEvent.Via.choices).get(via, via))
