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

    @classmethod
    def initial_of(cls, rule: ScoreRule) -> dict[str, Any]:
        trigger = rule.trigger or {}
        return {
            "kind": rule.kind, "name": rule.name, "points": rule.points, "is_active": rule.is_active,
            "condition": json.dumps(rule.condition, ensure_ascii=False, indent=1) if rule.condition else "",
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
            data["condition"] = _json(d.get("condition") or "", "condition", self)
        return data
