"""The editor's form for the settings of each kind of step and of trigger, made from the kind's
params model (pydantic): one owner for every kind, automation's and those other apps register.

A model field becomes a form field by its type — str, int, float, bool, a ``Literal`` or an
enum (a choice), ``list[str]`` (one per line), ``list[int]``, a date or a date and time
(dd/mm/yyyy in Vietnamese), ``dict``/``Any`` (JSON), a list of sub-models (rows: an event's
property conditions, a branch's arms) — required when the model requires it, with the model's
bounds. A kind's ``form`` hints (``kinds.FieldHint``) add labels, choices from the database
(``kinds.CHOICES``: email templates, users, segments…), a duration asked as a number and a
unit, and fields kept out of the form. The model itself checks the values: its errors are shown
next to the field they are about, in the user's language. Pure: nothing here writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlencode

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from danhba.automation.kinds import CHOICES, FIELD_SOURCES, STEPS, FieldHint
from danhba.automation.value_inputs import value_input

# A hidden input in each kind's fieldset: the fieldset was on the page (enabled) when posted.
SHOWN = "shown"
UNITS = [("minutes", _("minutes")), ("hours", _("hours")), ("days", _("days"))]
UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
EMPTY = ("", "—")
# A "go to" left empty: the path ends after the step.
END = ("", _("— end the path —"))
NO_STEP = _("No step called %(value)s.")

# Labels of the settings' names every kind shares (a kind's hint says better for its own).
LABELS: dict[str, Any] = {
    "field": _("Field"), "value": _("Value"), "add": _("Add tags (one per line)"),
    "remove": _("Remove tags (one per line)"), "list": _("List"), "action": _("Action"),
    "seconds": _("Wait for"), "until": _("Or until (date and time)"),
    "time_of_day": _("Or until the time of day (HH:MM)"),
    "tz": _("Time zone"), "event": _("Event name"), "timeout_seconds": _("Time-out after"),
    "timeout_next": _("On time-out, go to step"), "branches": _("Branches"), "label": _("Branch name"),
    "next": _("Then go to step"), "otherwise": _("Otherwise, go to step"), "url": _("Webhook URL"),
    "data": _("Data sent (JSON)"), "workflow": _("Workflow"), "template": _("Email template"),
    "topic": _("Email topic (only those who kept it)"), "segment": _("Segment"),
    "where": _("Property conditions"), "property": _("Property"), "operator": _("Operator"),
    "from_": _("From the value (empty: any)"), "to": _("To the value (empty: any change)"),
    "reasons": _("Lost reasons (empty: any)"), "form": _("Form id (empty: any form)"),
    "purpose": _("Consent purpose"), "model": _("Score model"), "grade": _("Grade (empty: any higher grade)"),
    "days": _("Days"), "yearly": _("Every year"), "title": _("Title"), "type": _("Type"), "priority": _("Priority"),
    "due_in": _("Due in"), "due_unit": _("Unit"), "user": _("User (empty: the contact's owner)"),
    "notes": _("Notes"), "remind_before_minutes": _("Remind before (minutes)"), "rule": _("Assignment rule"),
    "reassign": _("Give contacts who have an owner a new one"), "notify": _("Tell the rep"),
    "message": _("Message"), "email": _("Also by email"), "points": _("Points"), "reason": _("Reason"),
}  # fmt: skip

# Labels of the values of Literal settings.
VALUE_LABELS: dict[str, Any] = {
    "add": _("add"), "remove": _("remove"), "eq": _("is"), "ne": _("is not"), "contains": _("contains"),
    "gt": _("greater than"), "gte": _("at least"), "lt": _("less than"), "lte": _("at most"), "exists": _("is set"),
    "not_exists": _("is not set"), "minutes": _("minutes"), "hours": _("hours"), "days": _("days"),
    "call": _("Call"), "meeting": _("Meeting"), "follow_up": _("Follow-up"), "low": _("low"),
    "normal": _("normal"), "high": _("high"), "email": _("Email"), "set": _("set to"),
}  # fmt: skip

# Pydantic's errors in the user's language (by error type; the bounds come from its context).
MESSAGES: dict[str, Any] = {
    "missing": _("This field is required."),
    "string_too_short": _("Write at least %(min_length)s characters."),
    "string_too_long": _("Write at most %(max_length)s characters."),
    "too_short": _("Give at least %(min_length)s."),
    "too_long": _("Give at most %(max_length)s."),
    "greater_than_equal": _("Give a number of at least %(ge)s."),
    "less_than_equal": _("Give a number of at most %(le)s."),
    "greater_than": _("Give a number greater than %(gt)s."),
    "less_than": _("Give a number less than %(lt)s."),
    "string_pattern_mismatch": _("This value is not in the expected form."),
    "literal_error": _("Choose one of the choices."),
    "enum": _("Choose one of the choices."),
    "int_parsing": _("Give a whole number."),
    "int_type": _("Give a whole number."),
    "float_parsing": _("Give a number."),
    "extra_forbidden": _("This setting is unknown."),
}


def duration_of(seconds: int) -> tuple[int, str]:
    """A number of seconds as the largest whole unit (90 minutes stay minutes)."""
    for unit in ("days", "hours", "minutes"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return seconds // UNIT_SECONDS[unit], unit
    return max(1, round(seconds / 60)), "minutes"


def message_of(err: Mapping[str, Any]) -> str:
    """One pydantic error as the user reads it."""
    ctx = dict(err.get("ctx") or {})
    if err.get("type") == "value_error":
        return gettext(str(ctx.get("error", err.get("msg", ""))))
    text = MESSAGES.get(str(err.get("type")))
    if text is None:
        return str(err.get("msg", ""))
    try:
        return str(text) % ctx
    except (KeyError, TypeError, ValueError):
        return str(text)


@dataclass
class Spec:
    """One setting of a params model, as the form asks it."""

    name: str
    key: str  # the name in the JSON (an alias: a trigger's "from")
    shape: str  # bool int float str choice multi lines ints date datetime duration json any rows
    info: FieldInfo
    hint: FieldHint
    optional: bool
    py: Any = None  # the type a choice's value has (int or str)
    values: list[Any] = field(default_factory=list)  # a Literal's or an enum's values
    rows: list[Spec] = field(default_factory=list)  # a list of sub-models' settings
    model: type[BaseModel] | None = None


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = get_args(annotation)
        kept = [a for a in args if a is not type(None)]
        return (kept[0] if len(kept) == 1 else Any), len(kept) < len(args)
    return annotation, False


def step_field(steps: list[tuple[Any, Any]], **kwargs: Any) -> forms.ChoiceField:
    """A "go to": a select of the workflow's steps and "end the path" (empty), refusing a step
    that is not there. ``data-steps`` lets editor.js follow the steps named on the page."""
    kwargs["required"] = False
    return forms.ChoiceField(
        choices=[END, *steps], error_messages={"invalid_choice": NO_STEP},
        widget=forms.Select(attrs={"data-steps": ""}), **kwargs,
    )  # fmt: skip


def _has_source(hint: FieldHint) -> bool:
    return bool(hint.choices) and (hint.choices == STEPS or CHOICES.get(hint.choices) is not None)


def _shape(tp: Any, hint: FieldHint) -> tuple[str, Any, list[Any]]:
    origin, args = get_origin(tp), get_args(tp)
    if hint.widget == "duration":
        return "duration", int, []
    if origin is Literal:
        return "choice", type(args[0]), list(args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "choice", str, [m.value for m in tp]
    if origin is list:
        inner = args[0] if args else Any
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return "rows", inner, []
        if _has_source(hint):
            return "multi", inner, []
        return ("ints", int, []) if inner is int else ("lines", str, [])
    if _has_source(hint):
        return "choice", tp if tp in (int, str) else str, []
    simple = {bool: "bool", int: "int", float: "float", str: "str", dt.datetime: "datetime", dt.date: "date"}
    if tp in simple:
        return simple[tp], tp, []
    return ("json" if origin is dict or tp is dict else "any"), None, []


def specs_of(model: type[BaseModel], hints: Mapping[str, FieldHint], path: str = "") -> list[Spec]:
    """The settings of ``model`` the form asks for, in the model's order (a trigger's ``kind``
    is the kind chosen, not a setting)."""
    out = []
    for name, info in model.model_fields.items():
        if not path and name == "kind":
            continue
        hint = hints.get(f"{path}{name}", FieldHint())
        tp, optional = _unwrap(info.annotation)
        shape, py, values = _shape(tp, hint)
        spec = Spec(name, info.alias or name, shape, info, hint, optional, py, values)
        if shape == "rows":
            spec.model = py
            spec.rows = specs_of(py, hints, f"{path}{name}.")
        out.append(spec)
    return out


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for meta in info.metadata:
        for attr in ("ge", "le", "gt", "lt", "min_length", "max_length"):
            if getattr(meta, attr, None) is not None:
                out[attr] = getattr(meta, attr)
    return out


def _default(spec: Spec) -> Any:
    if spec.info.default_factory is not None:
        return spec.info.default_factory()  # type: ignore[call-arg]
    return None if spec.info.default is PydanticUndefined else spec.info.default


def _label(spec: Spec) -> Any:
    return spec.hint.label or spec.info.title or LABELS.get(spec.name) or spec.name.replace("_", " ").capitalize()


def _read_once(target: Any) -> Any:
    """A catalogue field whose choices are read from the database at most once."""
    if target.choices is None:
        return target
    read, got = target.choices, list[list[tuple[str, str]]]()

    def once() -> list[tuple[str, str]]:
        if not got:
            got.append(read())
        return list(got[0])

    return dataclasses.replace(target, choices=once)


class Choices:
    """The choice lists of one page, each read once however many forms ask for it; ``steps``:
    the steps of the workflow edited, (id, label) pairs (:data:`kinds.STEPS`)."""

    def __init__(self, steps: list[tuple[str, str]] | None = None, *, hidden: Collection[str] = ()) -> None:
        self._got: dict[str, list[tuple[Any, Any]]] = {STEPS: list(steps or [])}
        self._fields: dict[str, Any] | None = None
        self._hidden = frozenset(hidden)  # the fields the editing role may not see (not offered)

    def contact_field(self, key: str) -> Any:
        """A contact field of the segments' catalogue (its type and choices, read once however
        many steps set it), or None."""
        if self._fields is None:
            from danhba.segments.conditions import fields

            self._fields = {k: _read_once(f) for k, f in fields().items()}
        return self._fields.get(key)

    def __call__(self, source: str) -> list[tuple[Any, Any]]:
        if source not in self._got:
            read = CHOICES.get(source)
            options = [(str(v), label) for v, label in read()] if read else []
            if source in FIELD_SOURCES:
                options = [(v, label) for v, label in options if v not in self._hidden]
            self._got[source] = options
        return self._got[source]


def _text(spec: Spec, value: Any) -> Any:
    """A saved value as the field shows it."""
    if value is None:
        return None
    if spec.shape == "lines":
        return "\n".join(str(v) for v in value)
    if spec.shape == "ints":
        return ", ".join(str(v) for v in value)
    if spec.shape == "multi":
        return [str(v) for v in value]
    if spec.shape == "choice":
        return str(value.value if isinstance(value, enum.Enum) else value)
    if spec.shape in ("json", "any"):
        return value if spec.shape == "any" and isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if spec.shape == "datetime" and isinstance(value, str):
        return timezone.localtime(dt.datetime.fromisoformat(value))
    if spec.shape == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _parse_any(text: str) -> Any:
    """A free value: JSON for an object, a list, true/false/null; any other text as written
    (a number stays text: "2024" is a job title as much as a number)."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "[{" or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise forms.ValidationError(_("Not valid JSON.")) from None
    return text


def _ints(value: str | None) -> list[int]:
    parts = [p.strip() for p in (value or "").replace(",", " ").split()]
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise forms.ValidationError(_("Give whole numbers separated by commas."))
    return [int(p) for p in parts]


def _json_value(value: str | None) -> Any:
    if not (value or "").strip():
        return None
    try:
        return json.loads(value or "")
    except (ValueError, RecursionError):
        raise forms.ValidationError(_("Not valid JSON.")) from None


def _typed(field: forms.Field) -> bool:
    """Whether a row's field was filled in by the user when it has a value: a choice has one
    by default (an operator), but a "go to" is empty until a step is chosen."""
    return not isinstance(field, forms.ChoiceField) or "data-steps" in field.widget.attrs


# How a field's cleaned value becomes the setting, by shape (the rest are taken as they are).
_READ: dict[str, Any] = {
    "lines": lambda v: [line.strip() for line in (v or "").splitlines() if line.strip()],
    "ints": _ints,
    "json": _json_value,
    "any": lambda v: _parse_any(v or ""),
    "datetime": lambda v: v.isoformat() if v else None,
    "date": lambda v: v.isoformat() if v else None,
}


class ParamsForm(forms.Form):
    """The settings of one kind, named ``<prefix>-<setting>`` (rows: ``<setting>-<n>-<sub>``).
    Bound only when its fieldset was on the page (:data:`SHOWN`); ``previous`` is the settings
    edited (kept for the settings out of the form), or None for a kind just chosen."""

    def __init__(
        self, kind: Any, *, prefix: str, data: Any = None, previous: Mapping[str, Any] | None = None,
        choices: Choices | None = None, trigger: bool = False,
    ) -> None:  # fmt: skip
        self.kind = kind
        self.trigger = trigger
        self.previous = dict(previous or {})
        self.specs = specs_of(kind.params, kind.form)
        self._choices = choices or Choices()
        # Settings whose input follows another's value (an update-field step's value): how each
        # one's cleaned value is read (``value_inputs``).
        self._reads: dict[str, Callable[[Any], Any]] = {}
        bound = data is not None and f"{prefix}-{SHOWN}" in data
        super().__init__(data if bound else None, prefix=prefix)
        self.checked: dict[str, Any] = {}
        for spec in self.specs:
            value = self.previous.get(spec.key, _default(spec))
            if spec.shape == "rows":
                self._rows(spec, list(value or []), data if bound else None)
            elif not spec.hint.skip:
                self._add(spec, spec.name, value)
        self.fields[SHOWN] = forms.CharField(widget=forms.HiddenInput, required=False, initial="1")

    # --- building -------------------------------------------------------------------------

    def _add(self, spec: Spec, name: str, value: Any) -> None:
        label, bounds = _label(spec), _bounds(spec.info)
        required = spec.info.is_required() and not spec.optional and spec.shape not in ("bool", "lines", "multi")
        common: dict[str, Any] = {"label": label, "required": required, "help_text": spec.hint.help or ""}
        if spec.shape == "duration":
            amount, unit = duration_of(int(value)) if isinstance(value, int) else (None, "days")
            top = (bounds.get("le") or 366 * 86400) // 60
            self.fields[name] = forms.IntegerField(min_value=0, max_value=top, initial=amount, **common)
            self.fields[f"{name}_unit"] = forms.ChoiceField(label=_("Unit"), choices=UNITS, initial=unit)
            return
        if spec.hint.follows:
            made = value_input(self._choices.contact_field(self._followed(spec)), value, common)
            self.fields[name], self._reads[name] = made.field, made.read
            self.fields[name].initial = made.initial
            return
        self.fields[name] = self._field(spec, common, bounds, value)
        self.fields[name].initial = _text(spec, value)
        follower = next((s for s in self.specs if s.hint.follows == spec.name), None)
        if follower is not None:  # editor.js asks for the follower's input when this changes
            query = urlencode({"kind": self.kind.key, "prefix": self.prefix})
            self.fields[name].widget.attrs.update({
                "data-value-input": f"{reverse('automation:value_input')}?{query}",
                "data-value-slot": f"{self.add_prefix(follower.name)}-slot",
            })  # fmt: skip

    def _followed(self, spec: Spec) -> str:
        """The value of the setting ``spec`` follows: as posted, else as saved."""
        if self.is_bound:
            return str(self.data.get(self.add_prefix(spec.hint.follows)) or "")
        return str(self.previous.get(spec.hint.follows) or "")

    def _field(self, spec: Spec, common: dict[str, Any], bounds: dict[str, Any], value: Any) -> forms.Field:
        shape = spec.shape
        if shape in ("choice", "multi"):
            return self._choice_field(spec, common, value)
        if shape == "bool":
            return forms.BooleanField(**{**common, "required": False})
        if shape == "int":
            return forms.IntegerField(min_value=bounds.get("ge"), max_value=bounds.get("le"), **common)
        if shape == "float":
            return forms.FloatField(min_value=bounds.get("ge"), max_value=bounds.get("le"), **common)
        if shape == "datetime":
            return forms.DateTimeField(localize=True, **common)
        if shape == "date":
            return forms.DateField(localize=True, **common)
        if shape in ("lines", "json") or spec.hint.widget == "textarea" or (bounds.get("max_length") or 0) > 300:
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), strip=shape != "json", **common)
        return forms.CharField(max_length=bounds.get("max_length"), **common)

    def _choice_field(self, spec: Spec, common: dict[str, Any], value: Any) -> forms.Field:
        options = self._options(spec, value)
        if spec.hint.choices == STEPS:
            return step_field(options, **common)
        if spec.shape == "multi":
            return forms.MultipleChoiceField(choices=options, widget=forms.CheckboxSelectMultiple, **common)
        if not common["required"] or value is None:
            options = [EMPTY, *options]
        return forms.ChoiceField(choices=options, **common)

    def _options(self, spec: Spec, value: Any) -> list[tuple[str, Any]]:
        if spec.values:
            options = [(str(v), VALUE_LABELS.get(str(v), str(v))) for v in spec.values]
        else:
            options = list(self._choices(spec.hint.choices))
        if spec.hint.choices == STEPS:  # a step no longer there is refused, not kept
            return options
        # A saved value the list no longer has (a deleted template) stays chosen, as it is.
        have = {v for v, _label in options}
        for v in value if isinstance(value, list) else [value]:
            if v not in (None, "") and str(v) not in have:
                options.append((str(v), str(v)))
        return options

    def _rows(self, spec: Spec, saved: list[Any], data: Any) -> None:
        """A list of sub-models: the saved rows (each with "remove"), then one empty row (the
        rows posted, when bound). A row's settings out of the form are kept by position."""
        count = len(saved) + 1
        if data is not None:
            start = f"{self.prefix}-{spec.name}-"
            posted = [k[len(start) :].split("-", 1)[0] for k in data if k.startswith(start)]
            count = 1 + max((int(n) for n in posted if n.isascii() and n.isdigit()), default=-1)
        top = _bounds(spec.info).get("max_length") or 50
        spec_rows: list[list[str]] = []
        for n in range(min(count, top)):
            row = saved[n] if n < len(saved) and isinstance(saved[n], dict) else None
            names = []
            for sub in spec.rows:
                if sub.hint.skip:
                    continue
                name = f"{spec.name}-{n}-{sub.name}"
                self._add(sub, name, (row or {}).get(sub.key, _default(sub)) if row is not None else _default(sub))
                self.fields[name].required = False  # an empty row is dropped
                names.append(name)
            self.fields[f"{spec.name}-{n}-kept"] = forms.CharField(
                widget=forms.HiddenInput, required=False, initial="1" if row is not None else ""
            )
            self.fields[f"{spec.name}-{n}-delete"] = forms.BooleanField(label=_("Remove"), required=False)
            spec_rows.append(names)
        setattr(self, f"_rows_{spec.name}", spec_rows)

    # --- reading --------------------------------------------------------------------------

    def _value(self, spec: Spec, name: str) -> Any:
        value = self.cleaned_data.get(name)
        if name in self._reads:
            return self._reads[name](value)
        if spec.shape == "duration":
            unit = self.cleaned_data.get(f"{name}_unit") or "days"
            return None if value is None else value * UNIT_SECONDS.get(unit, 86400)
        if spec.shape in ("choice", "multi"):
            if spec.py is int:
                return [int(v) for v in value] if isinstance(value, list) else (int(value) if value else None)
            return value if value != "" else None
        if spec.shape == "str":
            return None if value == "" and spec.optional else value
        read = _READ.get(spec.shape)
        return read(value) if read else value

    def _put(self, out: dict[str, Any], spec: Spec, name: str, saved: Mapping[str, Any] | None) -> None:
        if spec.hint.skip:
            value = (saved or {}).get(spec.key, spec.hint.default)
        else:
            try:
                value = self._value(spec, name)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
                return
        if value is None and not spec.optional and spec.shape != "any":
            return  # the model's default
        out[spec.key] = value

    def raw(self) -> dict[str, Any]:
        """The settings as the model reads them (before its checks)."""
        out: dict[str, Any] = {}
        for spec in self.specs:
            if spec.shape != "rows":
                self._put(out, spec, spec.name, self.previous)
                continue
            saved = [r for r in self.previous.get(spec.key) or [] if isinstance(r, dict)]
            # A list that needs rows (a branch's arms) keeps empty ones up to its minimum.
            least = _bounds(spec.info).get("min_length") or 0
            rows: list[dict[str, Any]] = []
            for n, names in enumerate(getattr(self, f"_rows_{spec.name}", [])):
                kept = bool(self.cleaned_data.get(f"{spec.name}-{n}-kept"))
                if self.cleaned_data.get(f"{spec.name}-{n}-delete"):
                    continue
                texts = [self.cleaned_data.get(x) for x in names if _typed(self.fields[x])]
                if not kept and not any(t not in (None, "", False) for t in texts) and len(rows) >= least:
                    continue
                row: dict[str, Any] = {}
                for sub in spec.rows:
                    self._put(row, sub, f"{spec.name}-{n}-{sub.name}", saved[n] if kept and n < len(saved) else None)
                rows.append(row)
            out[spec.key] = rows
        return out

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        raw = self.raw()
        if self.errors:
            return data
        try:
            params = self.kind.params.model_validate({**raw, "kind": self.kind.key} if self.trigger else raw)
        except ValidationError as exc:
            for err in exc.errors():
                self._place(err)
            return data
        problems = self.kind.check(params)
        if problems:
            self.add_error(None, [str(p) for p in problems])
        dumped = params.model_dump(mode="json", by_alias=True)
        self.checked = {k: v for k, v in dumped.items() if not (self.trigger and k == "kind")}
        return data

    def _place(self, err: Mapping[str, Any]) -> None:
        loc = [str(p) for p in err.get("loc", ())]
        names = {s.key: s.name for s in self.specs}
        if loc:
            loc[0] = names.get(loc[0], loc[0])
        for end in range(len(loc), 0, -1):
            name = "-".join(loc[:end])
            if name in self.fields:
                self.add_error(name, message_of(err))
                return
        where = ".".join(str(p) for p in err.get("loc", ()))
        self.add_error(None, f"{where}: {message_of(err)}" if where else message_of(err))

    def defaults(self) -> dict[str, Any] | None:
        """The settings of a kind chosen without its fields on the page (no JavaScript): its
        defaults, when those are valid; None when the user must fill some in."""
        try:
            params = self.kind.params.model_validate({"kind": self.kind.key} if self.trigger else {})
        except ValidationError:
            return None
        dumped = params.model_dump(mode="json", by_alias=True)
        return {k: v for k, v in dumped.items() if not (self.trigger and k == "kind")}

    # --- showing --------------------------------------------------------------------------

    def layout(self) -> list[dict[str, Any]]:
        """The fields in order for the template: single fields, durations (a number and a
        unit), and rows of sub-settings."""
        out: list[dict[str, Any]] = []
        for spec in self.specs:
            if spec.hint.skip:
                continue
            if spec.shape == "rows":
                rows = [
                    {"fields": [self[x] for x in names], "kept": self[f"{spec.name}-{n}-kept"],
                     "delete": self[f"{spec.name}-{n}-delete"]}
                    for n, names in enumerate(getattr(self, f"_rows_{spec.name}", []))
                ]  # fmt: skip
                out.append({"type": "rows", "label": _label(spec), "rows": rows, "help": spec.hint.help})
            elif spec.shape == "duration":
                out.append({"type": "duration", "amount": self[spec.name], "unit": self[f"{spec.name}_unit"]})
            else:
                out.append({"type": "field", "field": self[spec.name], **self._links(spec)})
        return out

    def _links(self, spec: Spec) -> dict[str, Any]:
        """A setting another one follows gets a "Show its input" button (without JavaScript);
        the follower a slot editor.js fills with the input the server renders."""
        if spec.hint.follows:
            return {"slot": f"{self.add_prefix(spec.name)}-slot"}
        return {"refresh": any(s.hint.follows == spec.name for s in self.specs)}

    @property
    def shown(self) -> Any:
        return self[SHOWN]


def kind_forms(
    kinds: Any, *, prefix: str, data: Any, chosen: str, previous: Mapping[str, Any] | None,
    choices: Choices, trigger: bool = False,
) -> dict[str, ParamsForm]:  # fmt: skip
    """One settings form per kind (the page shows the chosen one): the kind being edited gets
    its saved settings, the others their defaults."""
    return {
        k.key: ParamsForm(
            k,
            prefix=f"{prefix}-{k.key}",
            data=data,
            previous=previous if k.key == chosen else None,
            choices=choices,
            trigger=trigger,
        )
        for k in kinds
    }


def params_from(subforms: Mapping[str, ParamsForm], kind: str, add_error: Any) -> dict[str, Any] | None:
    """The checked settings of the chosen kind, or None with the error said (``add_error``:
    the parent form's)."""
    sub = subforms.get(kind)
    if sub is None:
        return None
    if not sub.is_bound:
        params = sub.defaults()
        if params is None:
            add_error(_("Fill in the settings of this kind below."))
        return params
    if not sub.is_valid():
        add_error(_("Check the settings below."))
        return None
    return sub.checked


# --- where the choices come from ------------------------------------------------------------

LIMIT = 1000  # a choice list longer than this is not a list anyone picks from


def _templates() -> list[tuple[Any, Any]]:
    from danhba.messaging.models import EmailTemplate

    return list(EmailTemplate.objects.order_by("name").values_list("pk", "name")[:LIMIT])


def _purposes(topics: bool) -> list[tuple[Any, Any]]:
    from danhba.privacy.models import ConsentPurpose

    rows = ConsentPurpose.objects.filter(is_active=True)
    return [(p.key, p.label) for p in (rows.filter(email_topic=True) if topics else rows)[:LIMIT]]


def _segments(static: bool) -> list[tuple[Any, Any]]:
    from danhba.segments.models import Segment

    rows = Segment.objects.order_by("name")
    return list((rows.filter(kind=Segment.Kind.STATIC) if static else rows).values_list("pk", "name")[:LIMIT])


def _users() -> list[tuple[Any, Any]]:
    from danhba.accounts.models import User

    return [(u.pk, u.full_name or u.email) for u in User.objects.filter(is_active=True).order_by("full_name")[:LIMIT]]


def _workflows() -> list[tuple[Any, Any]]:
    from danhba.automation.models import Workflow

    return list(Workflow.objects.order_by("name").values_list("pk", "name")[:LIMIT])


def _score_models() -> list[tuple[Any, Any]]:
    from danhba.scoring.models import ScoreModel

    return list(ScoreModel.objects.order_by("name").values_list("pk", "name")[:LIMIT])


def _labelled(model: Any) -> list[tuple[Any, Any]]:
    return [(row.key, row.label) for row in model.objects.filter(is_active=True)[:LIMIT]]


def _custom(types: tuple[str, ...] | None) -> list[tuple[Any, Any]]:
    from danhba.contacts.models import CustomField

    rows = CustomField.objects.filter(entity="contact").order_by("label")
    if types is not None:
        rows = rows.filter(type__in=types)
    return [(f"custom.{f.key}", f.label) for f in rows[:LIMIT]]


def _contact_fields() -> list[tuple[Any, Any]]:
    """The fields a workflow may set (``steps.FieldParams``) or watch, then the custom ones."""
    from danhba.contacts.models import Contact
    from danhba.contacts.services.contacts import BULK_FIELDS

    names = [*BULK_FIELDS, "lifecycle_stage", "owner"]
    fields = [(n, str(getattr(Contact._meta.get_field(n), "verbose_name", n)).capitalize()) for n in names]
    return fields + _custom(None)


def _date_fields() -> list[tuple[Any, Any]]:
    return [("created_at", _("Created")), ("birthday", _("Birthday")), *_custom(("date",))]


def choice_sources() -> dict[str, Any]:
    """Automation's sources of choices (``kinds.CHOICES``), added in ``AppConfig.ready()``."""
    from danhba.contacts.models import BuyerRole, LifecycleStage

    return {
        "email_templates": _templates, "email_topics": lambda: _purposes(True),
        "consent_purposes": lambda: _purposes(False), "segments": lambda: _segments(False),
        "lists": lambda: _segments(True), "users": _users, "workflows": _workflows, "score_models": _score_models,
        "lifecycle_stages": lambda: _labelled(LifecycleStage), "buyer_roles": lambda: _labelled(BuyerRole),
        "contact_fields": _contact_fields, "date_fields": _date_fields,
    }  # fmt: skip
