"""Forms of the workflow pages: the workflow's settings, and one small form per step (the
editor); the services check everything again."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from danhba.automation.kinds import STEP_KINDS, STEPS, TRIGGER_KINDS
from danhba.automation.models import Workflow
from danhba.automation.params_forms import Choices, ParamsForm, kind_forms, params_from, step_field

DAYS = [
    (0, _("Mon")), (1, _("Tue")), (2, _("Wed")), (3, _("Thu")), (4, _("Fri")), (5, _("Sat")), (6, _("Sun")),
]  # fmt: skip


def _json(value: str, field: str) -> Any:
    try:
        return json.loads(value or "{}")
    except (ValueError, RecursionError):
        raise forms.ValidationError(_("Not valid JSON.")) from None


ADVANCED_HELP = _("Advanced: the same settings as JSON. A change here replaces the fields above.")


def _advanced(value: Any, subforms: dict[str, ParamsForm], kind: str, kept: Any, add_error: Any) -> Any:
    """The settings of the kind chosen: from its fields, or from the JSON box when that was
    changed (power users; the same data either way). ``kept``: the settings edited, when the
    kind is unchanged and its fields were not sent."""
    if value is not None:
        if not isinstance(value, dict):
            add_error(_("Write an object: {…}."))
        return value
    sub = subforms.get(kind)
    if sub is not None and not sub.is_bound and isinstance(kept, dict):
        return kept
    return params_from(subforms, kind, add_error)


class WorkflowForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    trigger_kind = forms.ChoiceField(label=_("Trigger"))
    trigger_params = forms.CharField(
        label=_("Trigger settings (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=ADVANCED_HELP,
    )  # fmt: skip
    reenrol = forms.ChoiceField(label=_("Enrolment"), choices=Workflow.Reenrol.choices)
    window_on = forms.BooleanField(label=_("Only inside a sending window"), required=False)
    window_days = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=DAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    window_start = forms.CharField(label=_("From"), max_length=5, required=False, initial="08:00")
    window_end = forms.CharField(label=_("Until"), max_length=5, required=False, initial="20:00")

    def __init__(self, *args: Any, choices: Choices | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["trigger_kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(k.key, k.label) for k in TRIGGER_KINDS]
        chosen = str(self["trigger_kind"].value() or "")
        self.kind_forms = kind_forms(
            TRIGGER_KINDS, prefix="trigger", data=self.data if self.is_bound else None,
            chosen=str(self.initial.get("trigger_kind", "")), previous=self.initial.get("trigger_settings"),
            choices=choices or Choices(), trigger=True,
        )  # fmt: skip
        self.chosen = self.kind_forms.get(chosen)

    def clean_trigger_params(self) -> Any:
        """The JSON box, only when it was changed (else None: the fields say it)."""
        if "trigger_params" not in self.changed_data:
            return None
        return _json(self.cleaned_data.get("trigger_params", ""), "trigger_params")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "trigger_params" in data and data.get("trigger_kind"):
            same = data["trigger_kind"] == self.initial.get("trigger_kind")
            data["trigger_params"] = _advanced(
                data["trigger_params"], self.kind_forms, data["trigger_kind"],
                self.initial.get("trigger_settings") if same else None, lambda e: self.add_error("trigger_kind", e),
            )  # fmt: skip
        return data

    def data_for_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        window: dict[str, Any] = {}
        if d["window_on"]:
            window = {"days": d["window_days"] or [0, 1, 2, 3, 4], "start": d["window_start"], "end": d["window_end"]}
        return {
            "name": d["name"],
            "description": d["description"],
            "trigger": {**(d["trigger_params"] or {}), "kind": d["trigger_kind"]},
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
            "trigger_settings": trigger,
            "reenrol": data.get("reenrol", Workflow.Reenrol.ONCE),
            "window_on": bool(window),
            "window_days": window.get("days", [0, 1, 2, 3, 4]),
            "window_start": window.get("start", "08:00"),
            "window_end": window.get("end", "20:00"),
        }


class StepForm(forms.Form):
    """One box of the diagram: its id, what it does, its settings (the form of its kind,
    ``params_forms``; or JSON, for power users) and where the path goes next."""

    step_id = forms.RegexField(label=_("Step"), regex=r"^[A-Za-z0-9_-]{1,40}$", max_length=40, required=False)
    kind = forms.ChoiceField(label=_("Does"), required=False)
    params = forms.CharField(
        label=_("Settings (JSON)"), required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=ADVANCED_HELP
    )
    next = step_field([], label=_("Then"))

    def __init__(self, *args: Any, choices: Choices | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *[(k.key, k.label) for k in STEP_KINDS]]
        self.fields["next"] = step_field((choices or Choices())(STEPS), label=_("Then"))
        self.kind_forms = kind_forms(
            STEP_KINDS, prefix=self.prefix or "step", data=self.data if self.is_bound else None,
            chosen=str(self.initial.get("kind", "")), previous=self.initial.get("settings"),
            choices=choices or Choices(),
        )  # fmt: skip
        self.chosen = self.kind_forms.get(str(self["kind"].value() or ""))

    def has_changed(self) -> bool:
        # A step of the version edited is never an empty extra row, changed or not.
        return bool(self.initial.get("step_id")) or super().has_changed()

    def clean_params(self) -> Any:
        """The JSON box, only when it was changed (else None: the fields say it)."""
        if "params" not in self.changed_data:
            return None
        return _json(self.cleaned_data.get("params", ""), "params")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "params" in data and data.get("kind") and data.get("step_id"):
            same = data["kind"] == self.initial.get("kind")
            data["params"] = _advanced(
                data["params"], self.kind_forms, data["kind"], self.initial.get("settings") if same else None,
                lambda e: self.add_error("kind", e),
            )  # fmt: skip
        return data


StepFormSet = forms.formset_factory(StepForm, extra=2, max_num=100, absolute_max=100)


def editor_forms(
    data: Any, initial: dict[str, Any], graph: dict[str, Any] | None, user: Any
) -> tuple[WorkflowForm, Any]:
    """The editor's forms: the workflow's settings with its trigger's form, and a form per step
    with its kind's settings (one list of choices read for them all, without the fields
    ``user``'s role may not see)."""
    from danhba.contacts.selectors import hidden_fields

    choices = Choices(steps=step_choices_posted(data, graph), hidden=hidden_fields(user))
    form = WorkflowForm(data, initial=initial, choices=choices)
    steps = StepFormSet(data, initial=steps_initial(graph), prefix="steps", form_kwargs={"choices": choices})
    return form, steps


def step_choices_posted(data: Any, graph: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The steps a "go to" of the editor may name: those of the rows posted (a step added or
    renamed on the page counts), else those of the graph edited; labelled as the diagram names
    them."""
    from danhba.automation.graph import step_choices

    saved = (graph or {}).get("steps", {})
    if not data:
        return step_choices({row["step_id"]: saved.get(row["step_id"], {}) for row in steps_initial(graph)})
    posted: dict[str, dict[str, Any]] = {}
    for step_id, kind in _posted_steps(data):
        posted.setdefault(step_id, {"kind": kind, "label": saved.get(step_id, {}).get("label", "")})
    return step_choices(posted)


def _posted_steps(data: Any) -> list[tuple[str, str]]:
    """(step id, kind) of each row posted that names a step."""
    raw = str(data.get("steps-TOTAL_FORMS") or "")
    total = min(int(raw), StepFormSet.absolute_max) if raw.isascii() and raw.isdigit() else 0
    rows = [
        (str(data.get(f"steps-{n}-step_id") or "").strip(), str(data.get(f"steps-{n}-kind") or ""))
        for n in range(total)
    ]
    return [(step_id, kind) for step_id, kind in rows if step_id]


def editor_refresh(form: WorkflowForm, steps: Any) -> None:
    """The page shown again without saving (a kind chosen without JavaScript: its fields
    appear), with no errors said for fields not filled in yet."""
    from django.forms.utils import ErrorDict

    subforms = [sub for row in steps.forms for sub in row.kind_forms.values()]
    for each in [form, *form.kind_forms.values(), *steps.forms, *subforms]:
        each._errors = ErrorDict()
    steps._non_form_errors = steps.error_class()
    steps._errors = [f._errors for f in steps.forms]


def steps_initial(graph: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The formset rows of a graph in the diagram's order: the first step first, then each step
    after the ones that lead to it (the same on any database: PostgreSQL keeps a JSON object's
    keys in its own order), then any step no path reaches."""
    if not graph:
        return []
    steps = graph.get("steps", {})
    order: list[str] = []
    queue = [graph["start"]]
    while queue:
        sid = queue.pop(0)
        if sid in order or sid not in steps:
            continue
        order.append(sid)
        queue.extend(_targets(steps[sid]))
    order += sorted(s for s in steps if s not in order)
    return [_row(sid, steps[sid]) for sid in order]


def _targets(step: dict[str, Any]) -> list[str]:
    """Where the path may go from a step (a draft's step may not check yet: then its "next")."""
    from pydantic import ValidationError

    from danhba.automation.graph import exits_of

    kind = STEP_KINDS.get(str(step.get("kind", "")))
    try:
        return [target for _label, target in exits_of(kind, step)] if kind else []
    except ValidationError:
        return [step["next"]] if isinstance(step.get("next"), str) and step["next"] else []


def _row(step_id: str, step: dict[str, Any]) -> dict[str, Any]:
    params = step.get("params") or {}
    return {
        "step_id": step_id, "kind": step["kind"], "next": step.get("next", ""), "settings": params,
        "params": json.dumps(params, ensure_ascii=False) if params else "",
    }  # fmt: skip


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
