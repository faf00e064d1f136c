"""Forms of the workflow pages: the workflow's settings, and one small form per step (the
editor); the services check everything again."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.automation.kinds import STEP_KINDS, TRIGGER_KINDS
from danhba.automation.models import Workflow

DAYS = [
    (0, _("Mon")), (1, _("Tue")), (2, _("Wed")), (3, _("Thu")), (4, _("Fri")), (5, _("Sat")), (6, _("Sun")),
]  # fmt: skip


def _json(value: str, field: str) -> Any:
    try:
        return json.loads(value or "{}")
    except ValueError:
        raise forms.ValidationError(_("Not valid JSON.")) from None


class WorkflowForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger_kind = forms.ChoiceField(label=_("Trigger"))
    trigger_params = forms.CharField(
        label=_("Trigger settings (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('For example {"segment": 12}, {"event": "Demo Requested"} or {"field": "job_title", "to": "CEO"}.'),
    )
    reenrol = forms.ChoiceField(label=_("Enrolment"), choices=Workflow.Reenrol.choices)
    window_on = forms.BooleanField(label=_("Only inside a sending window"), required=False)
    window_days = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=DAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    window_start = forms.CharField(label=_("From"), max_length=5, required=False, initial="08:00")
    window_end = forms.CharField(label=_("Until"), max_length=5, required=False, initial="20:00")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["trigger_kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(k.key, k.label) for k in TRIGGER_KINDS]

    def clean_trigger_params(self) -> Any:
        value = _json(self.cleaned_data.get("trigger_params", ""), "trigger_params")
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Write an object: {…}."))
        return value

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        window: dict[str, Any] = {}
        if d["window_on"]:
            window = {"days": d["window_days"] or [0, 1, 2, 3, 4], "start": d["window_start"], "end": d["window_end"]}
        return {
            "name": d["name"],
            "description": d["description"],
            "trigger": {**d["trigger_params"], "kind": d["trigger_kind"]},
            "reenrol": d["reenrol"],
            "window": window,
        }

    @staticmethod
    def initial_for(workflow: Workflow) -> dict[str, Any]:
        return WorkflowForm.initial_from_data(
            {
                "name": workflow.name, "description": workflow.description,
                "trigger": {**(workflow.trigger or {}), "kind": workflow.trigger_kind or "manual"},
                "reenrol": workflow.reenrol, "window": workflow.window,
            }
        )  # fmt: skip

    @staticmethod
    def initial_from_data(data: dict[str, Any]) -> dict[str, Any]:
        """The form's fields from what :meth:`data_for_service` made (a draft kept while a
        branch's conditions are edited)."""
        window = data.get("window") or {}
        trigger = dict(data.get("trigger") or {})
        kind = trigger.pop("kind", "") or "manual"
        return {
            "name": data.get("name", ""),
            "description": data.get("description", ""),
            "trigger_kind": kind,
            "trigger_params": json.dumps(trigger, ensure_ascii=False),
            "reenrol": data.get("reenrol", Workflow.Reenrol.ONCE),
            "window_on": bool(window),
            "window_days": window.get("days", [0, 1, 2, 3, 4]),
            "window_start": window.get("start", "08:00"),
            "window_end": window.get("end", "20:00"),
        }


# Steps whose duration the editor asks as a number and a unit, and the setting it fills.
DURATION_PARAM = {"wait": "seconds", "wait_event": "timeout_seconds"}
UNITS = [("minutes", _("minutes")), ("hours", _("hours")), ("days", _("days"))]
UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}


def duration_of(seconds: int) -> tuple[int, str]:
    """A number of seconds as the largest whole unit (90 minutes stay minutes)."""
    for unit in ("days", "hours", "minutes"):
        if seconds and seconds % UNIT_SECONDS[unit] == 0:
            return seconds // UNIT_SECONDS[unit], unit
    return max(1, round(seconds / 60)), "minutes"


class StepForm(forms.Form):
    """One box of the diagram: its id, what it does, its settings and where the path goes next.
    A wait's duration (a wait for an event's time-out) is a number and a unit instead of JSON."""

    step_id = forms.RegexField(label=_("Step"), regex=r"^[A-Za-z0-9_-]{1,40}$", max_length=40, required=False)
    kind = forms.ChoiceField(label=_("Does"), required=False)
    duration = forms.IntegerField(
        label=_("Wait (or time-out) for"), min_value=0, max_value=366 * 24 * 60, required=False,
        help_text=_("For a wait, or a wait for an event: replaces the seconds in the settings."),
    )  # fmt: skip
    duration_unit = forms.ChoiceField(label=_("Unit"), choices=UNITS, initial="days", required=False)
    params = forms.CharField(label=_("Settings (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    next = forms.CharField(label=_("Then"), max_length=40, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *[(k.key, k.label) for k in STEP_KINDS]]

    def clean_params(self) -> Any:
        value = _json(self.cleaned_data.get("params", ""), "params")
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Write an object: {…}."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        setting = DURATION_PARAM.get(data.get("kind") or "")
        amount = data.get("duration")
        if setting and amount is not None and isinstance(data.get("params"), dict):
            seconds = amount * UNIT_SECONDS.get(data.get("duration_unit") or "days", 86400)
            params = dict(data["params"])
            if setting == "seconds":  # a wait is one of seconds, until or a time of day
                params = {k: v for k, v in params.items() if k not in ("until", "time_of_day")}
            data["params"] = {**params, setting: seconds}
        return data


StepFormSet = forms.formset_factory(StepForm, extra=2, max_num=100, absolute_max=100)


def steps_initial(graph: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The formset rows of a graph, the first step first."""
    if not graph:
        return []
    steps = graph.get("steps", {})
    order = [graph["start"], *[s for s in steps if s != graph["start"]]]
    return [_row(sid, steps[sid]) for sid in order]


def _row(step_id: str, step: dict[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in (step.get("params") or {}).items() if v is not None}
    row = {"step_id": step_id, "kind": step["kind"], "next": step.get("next", "")}
    setting = DURATION_PARAM.get(step["kind"])
    if setting and isinstance(params.get(setting), int):
        row["duration"], row["duration_unit"] = duration_of(params.pop(setting))
        if step["kind"] == "wait":
            params.pop("tz", None)  # only a time of day needs it
    if step["kind"] == "branch":  # the conditions are edited in the condition builder
        params["branches"] = [{k: v for k, v in arm.items() if k != "condition"} for arm in params.get("branches", [])]
    row["params"] = json.dumps(params, ensure_ascii=False) if params else ""
    return row


EVERYONE: dict[str, Any] = {"op": "all", "conditions": []}


def _branch_params(params: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """A branch row's settings with each arm's condition put back from the version edited (the
    editor shows names and next steps; the builder edits conditions): a new arm starts as
    "every contact", for the builder to narrow."""
    old = [a for a in before.get("params", {}).get("branches", []) if isinstance(a, dict)]
    given = params.get("branches")
    arms: list[Any] = given if isinstance(given, list) else [{}]
    merged = []
    for n, arm in enumerate(arms):
        if not isinstance(arm, dict):
            merged.append(arm)
            continue
        condition = arm.get("condition") or (old[n].get("condition") if n < len(old) else None) or EVERYONE
        merged.append({**arm, "condition": condition})
    return {**params, "branches": merged}


def graph_from(formset: Any, previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The graph of the editor's rows. What the rows do not show is kept from the version
    edited: the goal and exit conditions, and each kept step's label (the diagram's name)."""
    rows = [f.cleaned_data for f in formset.forms if f.cleaned_data.get("step_id") and f.cleaned_data.get("kind")]
    if not rows:
        return None
    before = (previous or {}).get("steps", {})
    steps = {}
    for r in rows:
        step = {"kind": r["kind"], "params": r["params"] or {}, "next": r["next"] or ""}
        if r["kind"] == "branch":
            previous_step = before.get(r["step_id"], {})
            step["params"] = _branch_params(
                step["params"], previous_step if previous_step.get("kind") == "branch" else {}
            )
        if before.get(r["step_id"], {}).get("label"):
            step["label"] = before[r["step_id"]]["label"]
        steps[r["step_id"]] = step
    return {
        "start": rows[0]["step_id"], "steps": steps,
        "goal": (previous or {}).get("goal"), "exit": (previous or {}).get("exit"),
    }  # fmt: skip


class TestRunForm(forms.Form):
    """A test run: the contact (its id or an email address), when the simulated clock starts,
    and the events the contact performs while a step waits for them."""

    contact = forms.CharField(label=_("Contact (id or email)"), max_length=254)
    start = forms.DateTimeField(
        label=_("Start at (empty: now)"), required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    events = forms.CharField(
        label=_("Events the contact performs"), required=False, max_length=2000,
        help_text=_("Names separated by commas: a step waiting for one of them sees it; others time out."),
    )  # fmt: skip

    def clean_contact(self) -> str:
        """The contact's id: given as a number, or found by one of its email addresses."""
        from danhba.contacts.models import ContactEmail
        from danhba.core.normalize import normalize_email

        value = str(self.cleaned_data["contact"]).strip()
        if value.isascii() and value.isdigit():
            return value
        found = ContactEmail.objects.filter(email=normalize_email(value)).values_list("contact_id", flat=True).first()
        if found is None:
            raise forms.ValidationError(_("No contact has this email address."))
        return str(found)

    def event_names(self) -> list[str]:
        return [e.strip() for e in (self.cleaned_data.get("events") or "").split(",") if e.strip()]
