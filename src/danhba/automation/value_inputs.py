"""The input of a contact field's value in the workflow editor (an update-field step's value),
typed by the field: a select for a choice (gender, lifecycle stage, owner, province, a custom
choice), check boxes for a multiple choice, a date (dd/mm/yyyy in Vietnamese) or a date and
time, a number, a check box for yes/no, a text otherwise. The types and choices are the
segments' field catalogue (``segments.conditions.fields``: the contact's fields and the active
custom ones), read once per page; the server checks the value again with the contacts' cleaners
(``automation.services.steps.field_value_clean``). Pure: nothing here writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EMPTY = ("", "—")


# Fields of long text: a text area.
@dataclass
class ValueInput:
    """A field's value input: the form field, how a saved value shows in it, and how its cleaned
    value becomes the step's setting."""

    field: forms.Field
    initial: Any
    read: Callable[[Any], Any]


def _none_if_empty(value: Any) -> Any:
    return None if value in ("", None, []) else value


def _date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return timezone.localtime(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def _choice(target: Any, value: Any, common: dict[str, Any], multi: bool) -> ValueInput:
    options = [(str(v), str(label)) for v, label in (target.choices() if target.choices else [])]
    have = {v for v, _label in options}
    saved = value if isinstance(value, list) else [value]
    options += [(str(v), str(v)) for v in saved if v not in (None, "") and str(v) not in have]  # kept as it is
    if multi:
        field: forms.Field = forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
        return ValueInput(field, [str(v) for v in saved if v not in (None, "")], lambda v: list(v or []))
    field = forms.ChoiceField(choices=[EMPTY, *options], **common)
    return ValueInput(field, None if value is None else str(value), _none_if_empty)


def value_input(target: Any, value: Any, common: dict[str, Any]) -> ValueInput:
    """The input for the value of ``target`` (a ``segments.conditions.Field``, or None for a field
    not chosen yet or not known: a text)."""
    from danhba.segments import conditions as C

    common = {**common, "required": False}
    kind = target.type if target is not None else C.TEXT
    custom_type = getattr(getattr(target, "custom", None), "type", "")
    if kind in (C.CHOICE, C.MULTI):
        return _choice(target, value, common, kind == C.MULTI)
    if kind == C.BOOLEAN:
        truth = value is True or str(value).strip().lower() in ("true", "1", "yes", "on")
        return ValueInput(forms.BooleanField(**common), truth, bool)
    if kind == C.DATE:
        # Typed day first in Vietnamese (the format modules' first input format), ISO in English.
        hint = forms.DateInput(attrs={"placeholder": _("yyyy-mm-dd")})
        day = forms.DateField(localize=True, widget=hint, **common)
        return ValueInput(day, _date(value), lambda v: v.isoformat() if v else None)
    if kind == C.DATETIME:
        moment = forms.DateTimeField(localize=True, **common)
        return ValueInput(moment, _datetime(value), lambda v: v.isoformat() if v else None)
    if kind == C.NUMBER and custom_type == "decimal":
        return ValueInput(forms.DecimalField(**common), value, lambda v: None if v is None else str(v))
    if kind == C.NUMBER:
        return ValueInput(forms.IntegerField(**common), value, lambda v: v)
    from danhba.contacts.services.cleaning import LONG_TEXT_FIELDS, MAX_LENGTHS

    key = str(getattr(target, "key", ""))
    if key in LONG_TEXT_FIELDS or key == "address_raw" or custom_type == "long_text":
        return ValueInput(forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), **common), value, _none_if_empty)
    return ValueInput(forms.CharField(max_length=MAX_LENGTHS.get(key, 255), **common), value, _none_if_empty)
