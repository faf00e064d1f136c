"""The vocabulary of workflows: the kinds of steps and of triggers, as registries.

Automation fills them with its own kinds in ``AppConfig.ready()``; an app above or beside it
(sales: "create a task", "deal won") adds its kinds the same way, without automation knowing
it. A kind says how its parameters are checked (a pydantic model: the JSON schema of a step),
where its path may go next, and how it runs for a batch of enrolments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from danhba.core.hooks import Registry


@dataclass
class Item:
    """One enrolment at a step, as a step runner gets it."""

    enrolment_id: int
    contact_id: int
    seq: int
    state: dict[str, Any]
    due_at: dt.datetime | None = None
    attempt: int = 0


@dataclass
class Outcome:
    """What running a step did for one enrolment.

    ``stay_until``: the enrolment stays at this step and runs it again then (a wait);
    ``next``: the step to go to (None: the step's own ``next``; "" ends the path);
    ``end``: finish the enrolment with this status (goal, exited, failed).
    """

    next: str | None = None
    stay_until: dt.datetime | None = None
    state: dict[str, Any] | None = None
    waiting_for: str = ""
    end: str = ""
    outcome: str = "done"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldHint:
    """How the editor asks for one setting of a kind, where the params model alone does not say
    it (``automation/params_forms.py`` builds every other field from the model's types and
    bounds). A kind's ``form`` maps a field name — ``"arms.next"`` for a field of a list of
    sub-models — to its hint."""

    label: Any = None
    help: Any = None
    # A named source of choices (``CHOICES``: "email_templates", "users", "segments"…), read
    # from the database when the form is built; an unknown source leaves the plain field.
    # ``STEPS``: a step of the workflow edited (a "go to"), from the editor's page.
    choices: str = ""
    # "duration": seconds asked as a number and a unit; "textarea": a longer text.
    widget: str = ""
    # Not in the form: the value of the step edited is kept (a branch's conditions, edited in
    # the condition builder), else ``default``.
    skip: bool = False
    default: Any = None
    # The setting is a contact field's value: its input follows the type of the field named by
    # the setting ``follows`` (a select, a date, a number, a check box or a text).
    follows: str = ""


# The choice source of a setting that names a step of the same workflow (a "go to": a wait's
# time-out, a branch's arms and "otherwise"): the editor's steps, not a database list.
STEPS = "steps"

# The sources whose choices are contact fields (their keys, "custom.<key>" for a custom field): a
# role is offered, and may name in a workflow, only the fields it may see (``fields_named``).
FIELD_SOURCES = frozenset({"contact_fields", "date_fields"})


def fields_named(form: Mapping[str, FieldHint], params: Mapping[str, Any]) -> dict[str, Any]:
    """The contact fields a kind's settings ``params`` name, by setting (those whose hint in the
    kind's ``form`` takes its choices from :data:`FIELD_SOURCES`)."""
    return {name: params.get(name) for name, hint in form.items() if hint.choices in FIELD_SOURCES and params.get(name)}


# Sources of choices for the forms' fields, by name: a function giving (value, label) pairs,
# read when a form is built. Automation adds its own (``params_forms.py``); an app above it adds
# what only it knows (sales: lost reasons, assignment rules).
CHOICES: Registry[Callable[[], list[tuple[Any, Any]]]] = Registry(
    "automation.choices",
    doc="Where the workflow editor's choice fields get their options (email templates, users, segments…).",
)


@dataclass(frozen=True)
class StepContext:
    now: dt.datetime
    workflow_id: int
    version_id: int
    step_id: str
    step: dict[str, Any]
    params: Any  # the kind's checked params model
    # A test run (``engine.simulate``): whatever the step writes is rolled back at the end, and
    # a kind that calls out of danhba (``external``) is not run at all.
    dry_run: bool = False


Runner = Callable[[StepContext, Sequence[Item]], dict[int, Outcome]]


@dataclass(frozen=True)
class StepKind:
    key: str
    label: Any
    params: type[BaseModel]
    run: Runner
    # Where the path may go from a step of this kind besides its "next" (a branch's arms, a
    # wait's time-out): (label, step id) pairs, read from the checked params.
    exits: Callable[[Any], list[tuple[str, str]]] = lambda params: []
    # Runs only inside the workflow's sending window (actions that reach people or change data);
    # waits and branches run whenever due.
    windowed: bool = True
    # Calls out of danhba (a webhook): run before the writing transaction, with the
    # idempotency key "enrolment-seq", instead of inside it.
    external: bool = False
    # Checks that need the database (the segment condition, a template that exists): raise
    # InvalidInput-style messages as a list of strings.
    check: Callable[[Any], list[str]] = lambda params: []
    # The checked params as the version keeps them (after ``check`` found nothing; may read the
    # database): an update-field step's value typed by its field.
    stored: Callable[[Any], Any] = lambda params: params
    describe: Callable[[Any], str] = lambda params: ""
    # The editor's hints for fields of ``params`` (see :class:`FieldHint`).
    form: Mapping[str, FieldHint] = field(default_factory=dict)
    # A right (resource, action) that whoever adds or changes a step of this kind must have
    # besides "workflow: edit" — the step does what that right guards (e.g. adjusting scores).
    right: tuple[str, str] | None = None


STEP_KINDS: Registry[StepKind] = Registry(
    "automation.step_kinds",
    doc="Kinds of workflow steps (update a field, wait, branch, send an email…); sales adds its own.",
)


@dataclass(frozen=True)
class TriggerKind:
    key: str
    label: Any
    params: type[BaseModel]
    # The indexed key a hook looks workflows up by (segment id, event name, field name).
    key_of: Callable[[Any], str] = lambda params: ""
    check: Callable[[Any], list[str]] = lambda params: []
    describe: Callable[[Any], str] = lambda params: ""
    # The editor's example of the settings (JSON without "kind").
    example: dict[str, Any] = field(default_factory=dict)
    form: Mapping[str, FieldHint] = field(default_factory=dict)


TRIGGER_KINDS: Registry[TriggerKind] = Registry(
    "automation.trigger_kinds",
    doc="What enrols contacts in a workflow (segment entered, event performed, field changed…).",
)
