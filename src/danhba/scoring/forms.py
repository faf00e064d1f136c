"""Forms of the scoring pages: a score model, and a rule (its condition as a segment condition
tree in JSON, its trigger as fields). They only read the inputs into the services' data: the
services check everything (the same checks as the API)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.scoring import rules as R
from danhba.scoring.models import ScoreModel, ScoreRule

EXAMPLE_CONDITION = {
    "op": "all",
    "conditions": [{"kind": "field", "field": "job_title", "operator": "contains", "value": "giám đốc"}],
}


class ModelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    decay = forms.ChoiceField(label=_("Engagement points fade"), choices=ScoreModel.Decay.choices)
    decay_days = forms.IntegerField(label=_("Every (days)"), min_value=1, max_value=3650, initial=30)
    decay_percent = forms.IntegerField(label=_("Step-down (%)"), min_value=1, max_value=100, initial=25)
    grades = forms.CharField(
        label=_("Grades"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One grade a line, lowest first: key | label | minimum points (e.g. warm | Warm | 30)."),
    )

    @staticmethod
    def grades_text(grades: list[dict[str, Any]]) -> str:
        return "\n".join(f"{g['key']} | {g['label']} | {g['min']}" for g in grades)

    def data_for_service(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        grades = []
        for line in str(data.pop("grades")).splitlines():
            if line.strip():
                parts = [p.strip() for p in line.split("|")]
                key, label, low = [*parts, "", "", ""][:3]
                grades.append({"key": key, "label": label, "min": low})
        data["grades"] = grades
        return data


def _json(text: str, field: str, form: forms.Form) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        form.add_error(field, _("Not valid JSON."))
        return None


# The fit-rule builder: rows of field / operator / value, instead of the condition's JSON.
FIT_ROWS = 5
FIT_OPERATORS = ["eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", "gt", "gte", "lt", "lte",
                 "empty", "not_empty", "is_true", "is_false"]  # fmt: skip


def _field_choices() -> list[tuple[str, str]]:
    from danhba.segments.conditions import fields

    return [("", "—"), *sorted(((key, str(f.label)) for key, f in fields().items()), key=lambda c: c[1])]


def _operator_choices() -> list[tuple[str, str]]:
    from danhba.segments.conditions import OPERATOR_LABELS

    return [(op, str(OPERATOR_LABELS[op])) for op in FIT_OPERATORS]


def rows_of(condition: Any) -> tuple[str, list[dict[str, Any]]] | None:
    """A condition as builder rows (match, rows), when it is a flat list of field conditions
    with plain values that fit the rows; None otherwise (it stays JSON)."""
    if not isinstance(condition, dict) or condition.get("op") not in ("all", "any"):
        return None
    leaves = condition.get("conditions") or []
    if not 0 < len(leaves) <= FIT_ROWS:
        return None
    rows = []
    for leaf in leaves:
        if not isinstance(leaf, dict) or leaf.get("kind") != "field" or leaf.get("operator") not in FIT_OPERATORS:
            return None
        if set(leaf) - {"kind", "field", "operator", "value"}:
            return None
        value = leaf.get("value")
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            value = ", ".join(str(v) for v in value)
        elif not isinstance(value, (str, int, float, type(None))):
            return None
        rows.append({"field": leaf["field"], "operator": leaf["operator"], "value": "" if value is None else value})
    return str(condition["op"]), rows


class RuleForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ScoreRule.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=200)
    points = forms.IntegerField(label=_("Points"), min_value=-R.MAX_POINTS, max_value=R.MAX_POINTS, initial=10)
    condition = forms.CharField(
        label=_("Condition (segment conditions, JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_("The same conditions as a segment's: see the API documentation or a segment's conditions."),
    )
    trigger_on = forms.ChoiceField(label=_("Counts each"), choices=list(R.TRIGGERS.items()), required=False)
    trigger_name = forms.CharField(label=_("Event name"), required=False, max_length=200)
    trigger_url = forms.CharField(
        label=_("Page address"), required=False, max_length=500, help_text=_("* stands for anything: */pricing*")
    )
    trigger_campaign = forms.IntegerField(label=_("Campaign id (empty: any)"), required=False, min_value=1)
    trigger_where = forms.CharField(
        label=_("Property conditions (JSON list)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text='[{"property": "plan", "operator": "eq", "value": "pro"}]',
    )
    max_points = forms.IntegerField(label=_("At most (points in all)"), required=False, min_value=1)
    period_days = forms.IntegerField(label=_("Per period of (days)"), required=False, min_value=1)
    period_max = forms.IntegerField(label=_("At most per period (points)"), required=False, min_value=1)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    match = forms.ChoiceField(
        label=_("Contacts that meet"), required=False, initial="all",
        choices=[("all", _("all of these conditions")), ("any", _("any of these conditions"))],
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field_choices, operator_choices = _field_choices(), _operator_choices()
        for n in range(FIT_ROWS):
            self.fields[f"fit_field_{n}"] = forms.ChoiceField(label=_("Field"), choices=field_choices, required=False)
            self.fields[f"fit_operator_{n}"] = forms.ChoiceField(
                label=_("Operator"), choices=operator_choices, required=False
            )
            self.fields[f"fit_value_{n}"] = forms.CharField(
                label=_("Value"), required=False, max_length=500,
                help_text=_("Several values: separated by commas.") if n == 0 else "",
            )  # fmt: skip

    def fit_rows(self) -> list[tuple[Any, Any, Any]]:
        """The builder's rows as bound fields, for the template."""
        return [(self[f"fit_field_{n}"], self[f"fit_operator_{n}"], self[f"fit_value_{n}"]) for n in range(FIT_ROWS)]

    def _condition_from_rows(self) -> dict[str, Any] | None:
        d = self.cleaned_data
        leaves = []
        for n in range(FIT_ROWS):
            field = d.get(f"fit_field_{n}")
            if not field:
                continue
            operator = d.get(f"fit_operator_{n}") or "eq"
            raw = str(d.get(f"fit_value_{n}") or "").strip()
            value: Any = [v.strip() for v in raw.split(",") if v.strip()] if operator in ("in", "not_in") else raw
            leaf: dict[str, Any] = {"kind": "field", "field": field, "operator": operator}
            if operator not in ("empty", "not_empty", "is_true", "is_false"):
                leaf["value"] = value
            leaves.append(leaf)
        return {"op": d.get("match") or "all", "conditions": leaves} if leaves else None

    @classmethod
    def initial_of(cls, rule: ScoreRule) -> dict[str, Any]:
        trigger = rule.trigger or {}
        built = rows_of(rule.condition)
        rows: dict[str, Any] = {}
        if built is not None:
            rows["match"] = built[0]
            for n, row in enumerate(built[1]):
                rows.update({f"fit_field_{n}": row["field"], f"fit_operator_{n}": row["operator"],
                             f"fit_value_{n}": row["value"]})  # fmt: skip
        return rows | {
            "kind": rule.kind, "name": rule.name, "points": rule.points, "is_active": rule.is_active,
            "condition": json.dumps(rule.condition, ensure_ascii=False, indent=1)
            if rule.condition and built is None else "",
            "trigger_on": trigger.get("on", ""), "trigger_name": trigger.get("name", ""),
            "trigger_url": trigger.get("url", ""), "trigger_campaign": trigger.get("campaign"),
            "trigger_where": json.dumps(trigger["where"], ensure_ascii=False) if trigger.get("where") else "",
            "max_points": rule.max_points, "period_days": rule.period_days, "period_max": rule.period_max,
        }  # fmt: skip

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        data: dict[str, Any] = {"name": d["name"], "points": d["points"], "is_active": d["is_active"]}
        if d["kind"] == ScoreRule.Kind.ENGAGEMENT:
            trigger: dict[str, Any] = {"on": d["trigger_on"]}
            for key in ("name", "url", "campaign"):
                if d.get(f"trigger_{key}") not in (None, ""):
                    trigger[key] = d[f"trigger_{key}"]
            where = _json(d.get("trigger_where") or "", "trigger_where", self)
            if where is not None:
                trigger["where"] = where
            data["trigger"] = trigger
            data.update({k: d.get(k) for k in ("max_points", "period_days", "period_max")})
        else:
            # The rows, unless the condition is written as JSON (a nested one the rows cannot hold).
            written = _json(d.get("condition") or "", "condition", self)
            data["condition"] = written if written is not None else self._condition_from_rows()
        return data


class AdjustForm(forms.Form):
    """A user's adjustment of a contact's score: points, or a grade to set (the service checks
    both against the model)."""

    model = forms.ModelChoiceField(label=_("Score model"), queryset=ScoreModel.objects.filter(is_active=True))
    points = forms.IntegerField(
        label=_("Points"), required=False, min_value=-R.MAX_POINTS, max_value=R.MAX_POINTS,
        help_text=_("From -1000 to 1000: negative points take away."),
    )  # fmt: skip
    grade = forms.CharField(
        label=_("Or set the grade"), required=False, max_length=40,
        help_text=_("A grade's key (e.g. cold): the points that bring the total to its minimum."),
    )  # fmt: skip
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)
    expires_days = forms.IntegerField(
        label=_("Counts for (days)"), required=False, min_value=1, max_value=R.MAX_ADJUSTMENT_DAYS,
        help_text=_("Empty: for good."),
    )  # fmt: skip
    decays = forms.BooleanField(label=_("Fades like engagement points"), required=False)
