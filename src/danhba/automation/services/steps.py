"""The steps automation ships (registered in ``apps.py`` into ``kinds.STEP_KINDS``): each runs
for a batch of enrolments at one step and says where each goes next. Contact changes go through
the contacts writer (``contacts_bulk_update``, ``contact_update``), list changes through the
segments services, conditions through the segments compiler: none of their rules is copied."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from pydantic import BaseModel, ConfigDict, Field, model_validator

from danhba.accounts import permissions as perms
from danhba.automation.kinds import STEPS, FieldHint, Item, Outcome, StepContext, StepKind
from danhba.automation.windows import DEFAULT_TZ, next_time_of_day
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput

# Who writes what a workflow does (audit rows say "system (job)").
ACTOR = Actor.system(via="job")
MAX_WAIT_SECONDS = 366 * 86400


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- update a field (also lifecycle stage, buyer role, owner) --------------------------------


class FieldParams(_Params):
    field: str = Field(min_length=1, max_length=80)
    value: Any = None


def field_value_clean(field: str, value: Any) -> tuple[Any, list[str]]:
    """The value an update-field step keeps for ``field``, typed as the field is (a date as ISO
    text, a whole number as a number, yes/no as a boolean, a stage or role by its key, an owner
    by the user's id), or the problems with it: the contacts' cleaners decide, so a value they
    would refuse when the step runs is refused when the workflow is saved."""
    from danhba.contacts.services.cleaning import clean_contact
    from danhba.contacts.services.contacts import BULK_FIELDS

    if field.startswith("custom."):
        return _custom_value_clean(field.removeprefix("custom."), value)
    if field not in (*BULK_FIELDS, "lifecycle_stage", "owner"):
        return value, [_("This field cannot be set by a workflow: %s") % field]
    if isinstance(value, (dict, list)):  # the cleaners would keep its text ("{'a': 1}")
        return value, [_("%s: one value is expected, not a list or an object.") % field]
    errors: dict[str, list[str]] = {}
    cleaned: Any = clean_contact({field: value}, errors).get(field)
    if errors:
        return value, [f"{key}: {message}" for key, messages in errors.items() for message in messages]
    if isinstance(cleaned, dt.date):
        return cleaned.isoformat(), []
    if hasattr(cleaned, "key"):  # a lifecycle stage, a buyer role
        return cleaned.key, []
    return (cleaned.pk if hasattr(cleaned, "pk") else cleaned), []


def _custom_value_clean(key: str, value: Any) -> tuple[Any, list[str]]:
    """A custom field's value by the contacts' own rule (``clean_custom_values``): an empty value
    (blank text included) empties the field, which a required field refuses."""
    from danhba.contacts.custom_fields import clean_custom_values
    from danhba.contacts.models import CustomField

    entity = CustomField.Entity.CONTACT
    merged, errors = clean_custom_values(entity, {key: value})
    if problems := errors.get(f"custom.{key}"):
        label = CustomField.objects.filter(entity=entity, key=key).values_list("label", flat=True).first()
        return value, [f"{label or 'custom.' + key}: {problem}" for problem in problems]
    return merged.get(key), []


def _field_check(params: FieldParams) -> list[str]:
    return field_value_clean(params.field, params.value)[1]


def _field_stored(params: FieldParams) -> FieldParams:
    return params.model_copy(update={"value": field_value_clean(params.field, params.value)[0]})


def _field_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.contacts.services.contacts import contacts_bulk_update

    params: FieldParams = ctx.params
    ids = [i.contact_id for i in items]
    if params.field.startswith("custom."):
        _custom_update(ids, params.field.removeprefix("custom."), params.value)
    elif params.field == "lifecycle_stage":
        contacts_bulk_update(actor=ACTOR, contact_ids=ids, lifecycle_stage=str(params.value or ""))
    elif params.field == "owner":
        contacts_bulk_update(actor=ACTOR, contact_ids=ids, owner=params.value)
    else:
        contacts_bulk_update(actor=ACTOR, contact_ids=ids, fields={params.field: params.value})
    return {i.enrolment_id: Outcome(detail={"field": params.field}) for i in items}


def _custom_update(contact_ids: list[int], key: str, value: Any) -> None:
    from danhba.contacts.models import Contact
    from danhba.contacts.services.contacts import contact_update

    for contact in Contact.objects.filter(pk__in=contact_ids):
        contact_update(actor=ACTOR, contact=contact, data={"custom": {key: value}})


# --- tags -------------------------------------------------------------------------------------


class TagParams(_Params):
    add: list[str] = Field(default_factory=list, max_length=20)
    remove: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _something(self) -> TagParams:
        if not self.add and not self.remove:
            raise ValueError(gettext_noop("add or remove at least one tag"))
        return self


def _tag_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.contacts.services.contacts import contacts_bulk_update

    params: TagParams = ctx.params
    contacts_bulk_update(
        actor=ACTOR, contact_ids=[i.contact_id for i in items], add_tags=params.add, remove_tags=params.remove
    )
    return {i.enrolment_id: Outcome(detail={"add": params.add, "remove": params.remove}) for i in items}


# --- static lists -----------------------------------------------------------------------------


class ListParams(_Params):
    list: int = Field(ge=1)
    action: Literal["add", "remove"] = "add"


def _list_check(params: ListParams) -> list[str]:
    from danhba.segments.models import Segment

    if not Segment.objects.filter(pk=params.list, kind=Segment.Kind.STATIC).exists():
        return [_("No such static list: %s") % params.list]
    return []


def _list_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.segments.models import Segment
    from danhba.segments.services import list_add, list_remove

    params: ListParams = ctx.params
    segment = Segment.objects.filter(pk=params.list).first()
    if segment is None:
        raise InvalidInput({"list": [_("No such static list: %s") % params.list]})
    write = list_add if params.action == "add" else list_remove
    write(actor=ACTOR, segment=segment, contact_ids=[i.contact_id for i in items])
    return {i.enrolment_id: Outcome(detail={"list": params.list, "action": params.action}) for i in items}


# --- waits ------------------------------------------------------------------------------------


class WaitParams(_Params):
    seconds: int | None = Field(default=None, ge=0, le=MAX_WAIT_SECONDS)
    until: dt.datetime | None = None
    time_of_day: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    tz: str = DEFAULT_TZ

    @model_validator(mode="after")
    def _one(self) -> WaitParams:
        given = [x for x in (self.seconds, self.until, self.time_of_day) if x is not None]
        if len(given) != 1:
            raise ValueError(gettext_noop("give one of seconds, until or time_of_day"))
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError(gettext_noop("until needs a time zone offset"))
        return self


def _wait_target(params: WaitParams, now: dt.datetime) -> dt.datetime:
    if params.seconds is not None:
        return now + dt.timedelta(seconds=params.seconds)
    if params.until is not None:
        return params.until
    hour, minute = (int(x) for x in str(params.time_of_day).split(":"))
    return next_time_of_day(now, dt.time(hour, minute), params.tz)


def _wait_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    out = {}
    for item in items:
        until = item.state.get("until")
        if until is None:
            target = _wait_target(ctx.params, ctx.now)
            if target > ctx.now:
                out[item.enrolment_id] = Outcome(stay_until=target, state={"until": target.isoformat()})
                continue
        elif dt.datetime.fromisoformat(until) > ctx.now:  # woken early: keep waiting
            target = dt.datetime.fromisoformat(until)
            out[item.enrolment_id] = Outcome(stay_until=target, state=item.state)
            continue
        out[item.enrolment_id] = Outcome()
    return out


class WaitEventParams(_Params):
    event: str = Field(min_length=1, max_length=200)
    timeout_seconds: int = Field(ge=1, le=MAX_WAIT_SECONDS)
    timeout_next: str = Field(default="", max_length=40)


def _wait_event_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    params: WaitEventParams = ctx.params
    out = {}
    for item in items:
        if item.state.get("seen"):
            out[item.enrolment_id] = Outcome(detail={"event": params.event})
            continue
        deadline = item.state.get("deadline")
        if deadline is None:
            until = ctx.now + dt.timedelta(seconds=params.timeout_seconds)
            out[item.enrolment_id] = Outcome(
                stay_until=until, state={"deadline": until.isoformat()}, waiting_for=params.event
            )
        elif dt.datetime.fromisoformat(deadline) > ctx.now:
            out[item.enrolment_id] = Outcome(
                stay_until=dt.datetime.fromisoformat(deadline), state=item.state, waiting_for=params.event
            )
        else:
            out[item.enrolment_id] = Outcome(next=params.timeout_next, detail={"timed_out": True})
    return out


# --- branches ---------------------------------------------------------------------------------


class Arm(_Params):
    condition: dict[str, Any]
    next: str = Field(default="", max_length=40)
    label: str = Field(default="", max_length=100)


class BranchParams(_Params):
    branches: list[Arm] = Field(min_length=1, max_length=10)
    otherwise: str = Field(default="", max_length=40)


def _branch_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    """Each arm's condition once for the whole batch (the segments compiler, ``id IN batch``);
    a contact takes the first arm it meets, else ``otherwise``."""
    from danhba.segments.compiler import matching

    params: BranchParams = ctx.params
    left = {i.contact_id for i in items}
    taken: dict[int, int] = {}
    for arm_no, arm in enumerate(params.branches):
        if not left:
            break
        met = set(matching(arm.condition, now=ctx.now, among=sorted(left)).values_list("pk", flat=True))
        for contact_id in met:
            taken[contact_id] = arm_no
        left -= met
    out = {}
    for item in items:
        arm_taken = taken.get(item.contact_id)
        if arm_taken is None:
            out[item.enrolment_id] = Outcome(next=params.otherwise, detail={"branch": "otherwise"})
        else:
            out[item.enrolment_id] = Outcome(next=params.branches[arm_taken].next, detail={"branch": arm_taken})
    return out


# --- webhook ----------------------------------------------------------------------------------


class WebhookParams(_Params):
    url: str = Field(min_length=8, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


def _webhook_check(params: WebhookParams) -> list[str]:
    from danhba.core.outbound import UnsafeURL, check_url

    try:
        check_url(params.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE)
    except UnsafeURL as exc:
        return [str(exc)]
    return []


def _webhook_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    """One POST per enrolment through ``core.outbound`` with ``Idempotency-Key``: a call
    repeated after a crash carries the same key. A refused or failed call is an error (tried
    again later, then the enrolment fails)."""
    from danhba.core.outbound import request

    params: WebhookParams = ctx.params
    out = {}
    for item in items:
        key = f"danhba-wf{ctx.workflow_id}-e{item.enrolment_id}-s{item.seq}"
        body = json.dumps(
            {"workflow": ctx.workflow_id, "step": ctx.step_id, "contact_id": item.contact_id, "data": params.data}
        ).encode()
        answer = request(
            "POST", params.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE, timeout=10.0, body=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "danhba-workflow"},
        )  # fmt: skip
        status = getattr(answer, "status", None)
        if answer.error is not None or status is None or not 200 <= status < 300:
            raise RuntimeError(f"webhook answered {status}: {answer.error}")
        out[item.enrolment_id] = Outcome(detail={"status": status, "key": key})
    return out


# --- enrol in another workflow ----------------------------------------------------------------


class EnrolParams(_Params):
    workflow: int = Field(ge=1)


def _enrol_check(params: EnrolParams) -> list[str]:
    from danhba.automation.models import Workflow

    if not Workflow.objects.filter(pk=params.workflow).exists():
        return [_("No such workflow: %s") % params.workflow]
    return []


def _enrol_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.automation.models import Workflow
    from danhba.automation.services.enrolments import enrol_many

    params: EnrolParams = ctx.params
    target = Workflow.objects.filter(pk=params.workflow).first()
    if target is not None and target.pk != ctx.workflow_id:
        enrol_many(workflow=target, contact_ids=[i.contact_id for i in items], via="workflow", now=ctx.now)
    return {i.enrolment_id: Outcome(detail={"workflow": params.workflow}) for i in items}


# --- send an email -----------------------------------------------------------------------------


class EmailParams(_Params):
    template: int = Field(ge=1)
    # An email topic (a consent purpose key): contacts who left it get nothing.
    topic: str = Field(default="", max_length=64)
    # The automated campaign the step sends through: made when the version is published.
    campaign: int | None = Field(default=None, ge=1)


def _email_check(params: EmailParams) -> list[str]:
    from danhba.messaging.models import EmailTemplate
    from danhba.privacy.models import ConsentPurpose

    problems = []
    if not EmailTemplate.objects.filter(pk=params.template).exists():
        problems.append(_("No such email template: %s") % params.template)
    if params.topic and not ConsentPurpose.objects.filter(key=params.topic, email_topic=True).exists():
        problems.append(_("There is no such email topic."))
    return problems


def _email_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    """Queue the message through messaging (``automated_queue``: the send rules of every
    campaign, checked again before sending); the send job delivers it with its Message-ID, so a
    step run again after a crash queues nothing twice (one row per contact and pass, the pass
    being the enrolment and its seq: a re-enrolled contact gets it again)."""
    from danhba.messaging.services.campaigns import automated_queue

    params: EmailParams = ctx.params
    if params.campaign is None:
        raise InvalidInput({"campaign": [_("This step was published without its campaign.")]})
    keys = {i.contact_id: f"{i.enrolment_id}-{i.seq}" for i in items}
    states = automated_queue(campaign_id=params.campaign, contact_ids=list(keys), keys=keys)
    out = {}
    for item in items:
        state, reason = states.get(item.contact_id, ("", "deleted"))
        out[item.enrolment_id] = Outcome(detail={"campaign": params.campaign, "email": state, "reason": reason})
    return out


def email_campaigns(workflow_name: str, graph: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Give each email step of a graph about to be published its campaign: the one of the same
    step in the previous version when template and topic are unchanged, else a new one."""
    from danhba.messaging.models import Campaign
    from danhba.messaging.services.campaigns import campaign_automated

    before = (previous or {}).get("steps", {})
    for step_id, step in graph.get("steps", {}).items():
        if step["kind"] != "email":
            continue
        params = step["params"]
        old = before.get(step_id, {})
        old_params = old.get("params", {}) if old.get("kind") == "email" else {}
        same = old_params.get("template") == params["template"] and old_params.get("topic", "") == params["topic"]
        # Never a campaign the client named: only the previous version's, if it is automated.
        campaign = old_params.get("campaign") if same else None
        params["campaign"] = campaign
        if (
            campaign
            and Campaign.objects.filter(pk=campaign, template_id=params["template"], content__automated=True).exists()
        ):
            continue
        params["campaign"] = campaign_automated(
            template_id=params["template"], name=f"{workflow_name} · {step_id}", topic=params["topic"] or None
        ).pk


# --- update a score ---------------------------------------------------------------------------


class ScoreParams(_Params):
    """Points in a score model (``points``: -1000 to 1000, not 0), or a grade (``grade``: the
    points that bring the contact's total at that moment to the grade's minimum, e.g. "cold").
    The adjustment counts for ``expires_days`` (else for good) and fades with the model's decay
    when ``decays`` (points only). Scoring keeps it as an item of the breakdown (decision 0012)."""

    model: int = Field(ge=1)
    points: int | None = Field(default=None, ge=-1000, le=1000)
    grade: str = Field(default="", max_length=40)
    expires_days: int | None = Field(default=None, ge=1, le=3650)
    decays: bool = False
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _one(self) -> ScoreParams:
        if bool(self.grade) == bool(self.points):
            raise ValueError(gettext_noop("give points (not 0) or a grade"))
        if self.grade and self.decays:
            raise ValueError(gettext_noop("a grade set cannot fade"))
        return self


def _score_check(params: ScoreParams) -> list[str]:
    from danhba.scoring.models import ScoreModel
    from danhba.scoring.rules import adjustment_problems

    model = ScoreModel.objects.filter(pk=params.model, is_active=True).first()
    problems = adjustment_problems(
        model, points=params.points, grade=params.grade, decays=params.decays, expires_days=params.expires_days
    )
    return [message for messages in problems.values() for message in messages]


def _score_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    """One adjustment per enrolment and pass (key "enrolment-seq": a step run again after a crash
    adds nothing), the scores computed in the engine's transaction, so a grade crossed fires
    ``scoring.score_reached`` like any other change."""
    from danhba.automation.models import Workflow
    from danhba.scoring.models import ScoreAdjustment, ScoreModel
    from danhba.scoring.services.adjustments import scores_adjust

    params: ScoreParams = ctx.params
    model = ScoreModel.objects.filter(pk=params.model).first()
    if model is None:
        raise InvalidInput({"model": [_("No such score model.")]})
    name = Workflow.objects.filter(pk=ctx.workflow_id).values_list("name", flat=True).first() or ""
    made = scores_adjust(
        model=model, contact_ids=[i.contact_id for i in items], points=params.points, grade=params.grade,
        now=ctx.now, source=ScoreAdjustment.Source.WORKFLOW,
        keys={i.contact_id: f"wf{ctx.workflow_id}-e{i.enrolment_id}-s{i.seq}" for i in items},
        reason=params.reason, decays=params.decays, workflow_id=ctx.workflow_id, workflow_name=name,
        step=ctx.step_id,
        expires_at=ctx.now + dt.timedelta(days=params.expires_days) if params.expires_days else None,
    )  # fmt: skip
    out = {}
    for item in items:
        given = made.get(item.contact_id)
        out[item.enrolment_id] = Outcome(detail={"model": params.model, "points": str(given.points) if given else "0"})
    return out


def _none(params: Any) -> list[tuple[str, str]]:
    return []


# How the editor asks for some settings (``params_forms``; the rest follows the models).
_FIELD_FORM = {
    "field": FieldHint(choices="contact_fields"),
    "value": FieldHint(follows="field", help=gettext_lazy("Empty clears the field.")),
}  # fmt: skip
_WAIT_FORM = {"seconds": FieldHint(label=gettext_lazy("Wait for"), widget="duration")}
_WAIT_EVENT_FORM = {"timeout_seconds": FieldHint(widget="duration"), "timeout_next": FieldHint(choices=STEPS)}
# The arms' conditions are edited in the condition builder; a new arm starts as "everyone".
_BRANCH_FORM = {
    "branches.condition": FieldHint(skip=True, default={"op": "all", "conditions": []}),
    "branches.next": FieldHint(choices=STEPS), "otherwise": FieldHint(choices=STEPS),
}  # fmt: skip
_EMAIL_FORM = {
    "template": FieldHint(choices="email_templates"), "topic": FieldHint(choices="email_topics"),
    "campaign": FieldHint(skip=True),  # made when the version is published
}  # fmt: skip

_SCORE_FORM = {
    "model": FieldHint(choices="score_models"), "grade": FieldHint(label=gettext_lazy("Or set to the grade")),
    "expires_days": FieldHint(label=gettext_lazy("Counts for (days; empty: for good)")),
    "decays": FieldHint(label=gettext_lazy("Fades with the model's decay")),
}  # fmt: skip

BUILTIN: list[StepKind] = [
    StepKind("update_field", gettext_lazy("Update a field"), FieldParams, _field_run, check=_field_check,
             stored=_field_stored, form=_FIELD_FORM),
    StepKind("tag", gettext_lazy("Add or remove tags"), TagParams, _tag_run),
    StepKind("list", gettext_lazy("Add to or remove from a list"), ListParams, _list_run, check=_list_check,
             form={"list": FieldHint(choices="lists")}),
    StepKind("wait", gettext_lazy("Wait"), WaitParams, _wait_run, windowed=False, form=_WAIT_FORM),
    StepKind(
        "wait_event", gettext_lazy("Wait for an event"), WaitEventParams, _wait_event_run, windowed=False,
        exits=lambda p: [(str(gettext_lazy("time-out")), p.timeout_next)], form=_WAIT_EVENT_FORM,
    ),
    StepKind(
        "branch", gettext_lazy("If / else"), BranchParams, _branch_run, windowed=False,
        exits=lambda p: [(a.label or str(n + 1), a.next) for n, a in enumerate(p.branches)]
        + [(str(gettext_lazy("otherwise")), p.otherwise)], form=_BRANCH_FORM,
    ),
    StepKind(
        "webhook", gettext_lazy("Call a webhook"), WebhookParams, _webhook_run, external=True, check=_webhook_check
    ),
    StepKind("enrol", gettext_lazy("Enrol in another workflow"), EnrolParams, _enrol_run, check=_enrol_check,
             form={"workflow": FieldHint(choices="workflows")}),
    StepKind("email", gettext_lazy("Send an email"), EmailParams, _email_run, check=_email_check, form=_EMAIL_FORM),
    StepKind("score", gettext_lazy("Update a score"), ScoreParams, _score_run, check=_score_check,
             form=_SCORE_FORM, right=("score", perms.EDIT)),
]  # fmt: skip
