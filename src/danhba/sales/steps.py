"""The workflow steps sales adds (registered from ``SalesConfig.ready`` into automation's
``STEP_KINDS``; automation never imports sales): create a task, assign an owner, notify a user.

Each runs for a batch of enrolments inside the engine's writing transaction and is idempotent
on a retry: what it writes carries the key ``wf<workflow>-e<enrolment>-s<seq>`` (unique on the
task, the notice and the assignment), so a step run again for the same pass writes nothing new;
an email goes only after the commit. Messages are Liquid (messaging's safe environment) with
the contact's tokens: ``{{ contact.name }}``, ``{{ owner.name }}``…"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from danhba.automation.kinds import FieldHint, Item, Outcome, StepContext, StepKind

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def step_key(ctx: StepContext, item: Item) -> str:
    return f"wf{ctx.workflow_id}-e{item.enrolment_id}-s{item.seq}"


def _user_check(user: int | None) -> list[str]:
    from danhba.accounts.models import User

    if user is not None and not User.objects.filter(pk=user, is_active=True).exists():
        return [_("No such active user: %s") % user]
    return []


def _template_check(source: str) -> list[str]:
    from danhba.messaging import liquid

    try:
        liquid.parse(source, html=False)
    except liquid.TemplateProblem as exc:
        return [str(exc)]
    return []


def _contacts(ids: Sequence[int]) -> dict[int, Any]:
    from danhba.contacts.models import Contact

    return {c.pk: c for c in Contact.objects.filter(pk__in=list(ids)).select_related("owner", "lifecycle_stage")}


def _render(source: str, contacts: dict[int, Any]) -> dict[int, str]:
    """The text for each contact (its tokens, no consent links); a template that fails to
    render for one contact raises, and the engine retries that contact alone."""
    from danhba.messaging import liquid
    from danhba.messaging.selectors import campaign_tokens

    if "{" not in source:
        return dict.fromkeys(contacts, source)
    tokens = campaign_tokens(contacts.values(), campaign_id=0, links=False)
    template = liquid.parse(source, html=False)
    return {cid: " ".join(liquid.render(template, tokens[cid], html=False).split()) for cid in contacts}


def _recipient(user: int | None, contact: Any) -> int | None:
    return user if user is not None else contact.owner_id


# --- create a task -------------------------------------------------------------------------------


class TaskParams(_Params):
    title: str = Field(min_length=1, max_length=200, description="Liquid: {{ contact.name }}")
    type: Literal["call", "email", "meeting", "follow_up"] = "call"
    priority: Literal["low", "normal", "high"] = "normal"
    due_in: int = Field(default=0, ge=0, le=10_000)
    due_unit: Literal["minutes", "hours", "days"] = "hours"
    # A named user; None: the contact's owner.
    user: int | None = Field(default=None, ge=1)
    notes: str = Field(default="", max_length=2000)
    remind_before_minutes: int | None = Field(default=None, ge=0, le=30 * 24 * 60)


def _task_check(params: TaskParams) -> list[str]:
    return _user_check(params.user) + _template_check(params.title)


def _task_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.audit.models import AuditEvent
    from danhba.audit.services import audit_events_bulk
    from danhba.sales.models import Task
    from danhba.sales.services.assignment import SYSTEM

    params: TaskParams = ctx.params
    contacts = _contacts([i.contact_id for i in items])
    titles = _render(params.title, contacts)
    due = ctx.now + dt.timedelta(seconds=params.due_in * UNITS[params.due_unit])
    keys = {step_key(ctx, i): i for i in items}
    have = dict(Task.objects.filter(key__in=list(keys)).values_list("key", "pk"))
    out: dict[int, Outcome] = {}
    new: list[Task] = []
    for key, item in keys.items():
        contact = contacts.get(item.contact_id)
        owner = _recipient(params.user, contact) if contact else None
        if key in have:
            out[item.enrolment_id] = Outcome(detail={"task": have[key], "again": True})
        elif contact is None or owner is None:
            out[item.enrolment_id] = Outcome(detail={"task": None, "reason": "no_owner"})
        else:
            task = Task(
                title=titles[contact.pk][:200], kind=params.type, priority=params.priority, notes=params.notes,
                contact_id=contact.pk, owner_id=owner, due_at=due, key=key, created_at=ctx.now, updated_at=ctx.now,
                remind_before_minutes=params.remind_before_minutes,
                remind_at=None if params.remind_before_minutes is None
                else due - dt.timedelta(minutes=params.remind_before_minutes),
            )  # fmt: skip
            new.append(task)
            out[item.enrolment_id] = Outcome(detail={"key": key})
    created = Task.objects.bulk_create(new)
    by_key = {t.key: t.pk for t in Task.objects.filter(key__in=[t.key for t in created])}
    audit_events_bulk(
        actor=SYSTEM, action=AuditEvent.Action.CREATE, object_type="task",
        rows=[(by_key[t.key], t.title, t.contact_id, {"title": [None, t.title], "owner_id": [None, t.owner_id]})
              for t in created],
    )  # fmt: skip
    for outcome in out.values():
        if "key" in outcome.detail:
            outcome.detail = {"task": by_key[outcome.detail["key"]]}
    return out


# --- assign an owner -----------------------------------------------------------------------------


class AssignParams(_Params):
    # A named user; else an assignment rule; neither: the rules in priority order.
    user: int | None = Field(default=None, ge=1)
    rule: int | None = Field(default=None, ge=1)
    # Give a contact that has an owner a new one (else it keeps its owner).
    reassign: bool = False
    # Tell the rep (one notice per rep and batch); a "notify a user" step says it better.
    notify: bool = False


def _assign_check(params: AssignParams) -> list[str]:
    from danhba.sales.models import AssignmentRule

    problems = _user_check(params.user)
    if params.user is not None and params.rule is not None:
        problems.append(_("Name a user or a rule, not both."))
    if params.rule is not None and not AssignmentRule.objects.filter(pk=params.rule).exists():
        problems.append(_("No such assignment rule: %s") % params.rule)
    return problems


def _assign_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    """Set-based: one plan for the whole batch through the assignment service; each contact's
    assignment row carries the step's key, so a repeated run changes nobody's owner again."""
    from danhba.sales.models import Assignment
    from danhba.sales.services.assignment import assign

    params: AssignParams = ctx.params
    owners = {c.pk: c.owner_id for c in _contacts([i.contact_id for i in items]).values()}
    out: dict[int, Outcome] = {}
    todo: list[Item] = []
    for item in items:
        if item.contact_id not in owners:
            out[item.enrolment_id] = Outcome(detail={"owner": None, "reason": "deleted"})
        elif owners[item.contact_id] is not None and not params.reassign:
            out[item.enrolment_id] = Outcome(detail={"owner": owners[item.contact_id], "kept": True})
        else:
            todo.append(item)
    if not todo:
        return out
    keys = {i.contact_id: step_key(ctx, i) for i in todo}
    done = dict(Assignment.objects.filter(key__in=list(keys.values())).values_list("contact_id", "user_id"))
    result = assign(
        list(keys), now=ctx.now, via=Assignment.Via.WORKFLOW, rule_id=params.rule, user_id=params.user, keys=keys,
        notify=params.notify,
    )  # fmt: skip
    for item in todo:
        uid = result.owners.get(item.contact_id, done.get(item.contact_id))
        detail: dict[str, Any] = {"owner": uid}
        if uid is None:
            detail["reason"] = "no_rep"
        out[item.enrolment_id] = Outcome(detail=detail)
    return out


# --- notify a user -------------------------------------------------------------------------------


class NotifyParams(_Params):
    message: str = Field(min_length=1, max_length=300, description="Liquid: {{ contact.name }}")
    # A named user; None: the contact's owner.
    user: int | None = Field(default=None, ge=1)
    email: bool = True


def _notify_check(params: NotifyParams) -> list[str]:
    return _user_check(params.user) + _template_check(params.message)


def _notify_run(ctx: StepContext, items: Sequence[Item]) -> dict[int, Outcome]:
    from danhba.accounts.models import User
    from danhba.sales.models import Notification
    from danhba.sales.services.assignment import send_email

    params: NotifyParams = ctx.params
    contacts = _contacts([i.contact_id for i in items])
    texts = _render(params.message, contacts)
    keys = {step_key(ctx, i): i for i in items}
    have = set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True))
    targets = {k: _recipient(params.user, contacts[i.contact_id]) for k, i in keys.items() if i.contact_id in contacts}
    users = {u.pk: u for u in User.objects.filter(pk__in=[t for t in targets.values() if t], is_active=True)}
    out: dict[int, Outcome] = {}
    new: list[Notification] = []
    for key, item in keys.items():
        user = users.get(targets.get(key) or 0)
        if key in have:
            out[item.enrolment_id] = Outcome(detail={"again": True})
        elif user is None:
            out[item.enrolment_id] = Outcome(detail={"user": None, "reason": "no_owner"})
        else:
            url = reverse("contacts:detail", args=[item.contact_id])
            new.append(Notification(user=user, text=texts[item.contact_id][:300], url=url, key=key, created_at=ctx.now))
            out[item.enrolment_id] = Outcome(detail={"user": user.pk, "email": params.email})
    Notification.objects.bulk_create(new)
    if params.email:
        for notice in new:
            with translation.override(notice.user.language or settings.LANGUAGE_CODE):
                body = _("From the workflow step %(step)s.") % {"step": ctx.step_id}
            transaction.on_commit(partial(send_email, notice.user.email, notice.text, notice.url, body))
    return out


# How automation's editor asks for the users and rules (the choices are named sources:
# "users" is automation's, "assignment_rules" ours, added in ``SalesConfig.ready``).
_USER = {"user": FieldHint(choices="users")}
_TEXT = {"notes": FieldHint(widget="textarea"), "message": FieldHint(widget="textarea")}


def assignment_rules() -> list[tuple[Any, Any]]:
    from danhba.sales.models import AssignmentRule

    return list(AssignmentRule.objects.order_by("name").values_list("pk", "name")[:1000])


def lost_reasons() -> list[tuple[Any, Any]]:
    from danhba.sales.models import LostReason

    return [(r.key, r.label) for r in LostReason.objects.all()[:1000]]


KINDS: list[StepKind] = [
    StepKind("create_task", gettext_lazy("Create a task"), TaskParams, _task_run, check=_task_check,
             describe=lambda p: p.title, form={**_USER, **_TEXT}),
    StepKind("assign_owner", gettext_lazy("Assign an owner"), AssignParams, _assign_run, check=_assign_check,
             form={**_USER, "rule": FieldHint(choices="assignment_rules")}),
    StepKind("notify_user", gettext_lazy("Notify a user"), NotifyParams, _notify_run, check=_notify_check,
             describe=lambda p: p.message, form={**_USER, **_TEXT}),
]  # fmt: skip
