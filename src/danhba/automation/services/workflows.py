"""Writes of workflows: create, edit (steps edited → a new version; contacts under way finish
the version they started), activate, pause, archive. Every write is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.automation.graph import graph_clean
from danhba.automation.models import Enrolment, Workflow, WorkflowVersion
from danhba.automation.services.counts import counts_add
from danhba.automation.services.enrolments import wake_soon
from danhba.automation.triggers import cache_clear, trigger_clean
from danhba.automation.windows import window_clean
from danhba.core.actor import Actor
from danhba.core.deferred import writes_at_end
from danhba.core.errors import Conflict, InvalidInput, PermissionDenied
from danhba.core.normalize import clean_long_text, clean_text

Status = Workflow.Status
FIELDS = ("name", "description", "trigger", "reenrol", "window", "graph")


def _audit(actor: Actor, action: str, workflow: Workflow, changes: dict[str, Any]) -> None:
    audit_event(
        actor=actor, action=action, object_type="workflow", object_id=workflow.pk,
        object_label=workflow.name[:254], changes=changes,
    )  # fmt: skip


def _clean_text_fields(data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]], creating: bool) -> None:
    if "name" in data or creating:
        name = clean_text(data.get("name") or "")
        if not name:
            errors["name"] = [_("A workflow needs a name.")]
        out["name"] = name[:200]
    if "description" in data:
        out["description"] = clean_long_text(data.get("description") or "")[:5000]


def _clean_rules(data: dict[str, Any], out: dict[str, Any], errors: dict[str, list[str]], creating: bool) -> None:
    if "trigger" in data or creating:
        trigger, kind, key, problems = trigger_clean(data.get("trigger") or {"kind": "manual"})
        if problems:
            errors["trigger"] = problems
        out.update(trigger=trigger, trigger_kind=kind, trigger_key=key)
    if "reenrol" in data:
        if data["reenrol"] not in Workflow.Reenrol.values:
            errors["reenrol"] = [_("must be one of %s") % ", ".join(Workflow.Reenrol.values)]
        out["reenrol"] = data["reenrol"]
    if "window" in data:
        window, problems = window_clean(data["window"])
        if problems:
            errors["window"] = problems
        out["window"] = window


def _clean(actor: Actor, data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in FIELDS:
            errors[key] = [_("unknown field")]
    _clean_text_fields(data, out, errors, creating)
    _clean_rules(data, out, errors, creating)
    if "graph" in data:
        try:
            out["graph"] = graph_clean(data["graph"], user=actor.user)
        except InvalidInput as exc:
            errors.update({f"graph.{k}" if k else "graph": v for k, v in exc.details.items()})
    if errors:
        raise InvalidInput(errors)
    return out


def _publish(actor: Actor, workflow: Workflow, graph: dict[str, Any]) -> WorkflowVersion:
    from danhba.automation.services.steps import email_campaigns

    current = workflow.current_version
    email_campaigns(workflow.name, graph, current.graph if current else None)
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    version = WorkflowVersion(workflow=workflow, number=last + 1, graph=graph, created_by=actor.user)
    version.save(force_insert=True)
    workflow.current_version = version
    workflow.save(update_fields=["current_version"])
    return version


def _step_rights(actor: Actor, graph: dict[str, Any] | None, before: dict[str, Any] | None) -> None:
    """The rights the steps added or changed need (``StepKind.right``): a role that may edit
    workflows but not scores cannot put a score adjustment into one; steps kept as they were
    need nothing more."""
    from danhba.automation.kinds import STEP_KINDS

    old = (before or {}).get("steps", {})
    for step_id, step in (graph or {}).get("steps", {}).items():
        kind = STEP_KINDS.get(step.get("kind", ""))
        if kind is not None and kind.right is not None and old.get(step_id) != step:
            perms.require(actor, *kind.right)


def _field_rights(actor: Actor, cleaned: dict[str, Any], before: Workflow | None) -> None:
    """A role may not build on a contact field it may not see (a sensitive field its role is
    not granted): not set it in an update-field step, nor enrol on its changes or its date. As
    with :func:`_step_rights`, what is kept as it was (a step, the trigger) is not checked again."""
    from danhba.contacts.selectors import hidden_fields

    user = actor.user
    if user is None:
        return
    named = {**_trigger_fields(cleaned.get("trigger") or {}, before), **_step_fields(cleaned.get("graph"), before)}
    hidden = hidden_fields(user) if named else set()
    denied = {where: [_("not permitted for your role")] for where, key in named.items() if key in hidden}
    if denied:
        raise PermissionDenied(_("Your role cannot use these fields."), denied)


def _trigger_fields(trigger: dict[str, Any], before: Workflow | None) -> dict[str, Any]:
    """The fields a new or changed trigger names, by setting."""
    from danhba.automation.kinds import TRIGGER_KINDS, fields_named

    kind = TRIGGER_KINDS.get(trigger["kind"]) if trigger else None
    if kind is None or (before is not None and trigger == before.trigger):
        return {}
    return {f"trigger.{k}": v for k, v in fields_named(kind.form, trigger).items()}


def _step_fields(graph: dict[str, Any] | None, before: Workflow | None) -> dict[str, Any]:
    """The fields the new or changed steps of ``graph`` name, by setting."""
    from danhba.automation.kinds import STEP_KINDS, fields_named

    current = before.current_version if before else None
    old = current.graph.get("steps", {}) if current else {}
    named: dict[str, Any] = {}
    for step_id, step in (graph or {}).get("steps", {}).items():
        kind = STEP_KINDS.get(step.get("kind", ""))
        if kind is not None and old.get(step_id) != step:
            fields = fields_named(kind.form, step.get("params") or {})
            named.update({f"graph.steps.{step_id}.params.{k}": v for k, v in fields.items()})
    return named


def workflow_create(*, actor: Actor, data: dict[str, Any]) -> Workflow:
    perms.require(actor, "workflow", perms.CREATE)
    cleaned = _clean(actor, data, creating=True)
    _field_rights(actor, cleaned, None)
    graph = cleaned.pop("graph", None)
    _step_rights(actor, graph, None)
    with transaction.atomic():
        workflow = Workflow.objects.create(created_by=actor.user, **cleaned)
        if graph is not None:
            _publish(actor, workflow, graph)
        _audit(actor, AuditEvent.Action.CREATE, workflow, {"name": [None, workflow.name]})
    cache_clear()
    return workflow


def workflow_update(
    *, actor: Actor, workflow: Workflow, data: dict[str, Any], base_version: int | None = None,
    move: dict[str, Any] | None = None,
) -> Workflow:  # fmt: skip
    """Change a workflow. New steps are a new version (only when they differ from the current
    one): new enrolments start it; enrolments under way finish theirs unless ``move`` says
    otherwise (:func:`enrolments_move`). ``base_version``: the version the editor started from;
    steps made from an older one than the current are refused (another editor published since),
    never written over it."""
    perms.require(actor, "workflow", perms.EDIT)
    cleaned = _clean(actor, data, creating=False)
    rule, to_step = move_clean(move)
    graph = cleaned.pop("graph", None)
    with transaction.atomic(), writes_at_end():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        current = workflow.current_version
        _field_rights(actor, {**cleaned, "graph": graph}, workflow)
        _step_rights(actor, graph, current.graph if current else None)
        if graph is not None:
            _publishable(graph, current, base_version, rule, to_step)
        changes = {k: [getattr(workflow, k), v] for k, v in cleaned.items() if getattr(workflow, k) != v}
        for key, value in cleaned.items():
            setattr(workflow, key, value)
        workflow.updated_at = timezone.now()
        workflow.save()
        if graph is not None:
            changes.update(_new_version(actor, workflow, graph, current, rule, to_step))
        if changes:
            _audit(actor, AuditEvent.Action.UPDATE, workflow, changes)
    cache_clear()
    return workflow


def _publishable(
    graph: dict[str, Any], current: WorkflowVersion | None, base_version: int | None, rule: str, to_step: str
) -> None:
    """Refuse steps made from an older version than the current one, and a move to a step the
    new version does not have."""
    if base_version is not None and current is not None and current.number != base_version:
        raise Conflict(
            _(
                "Version %(current)s was published after you opened version %(base)s: your steps were not "
                "saved. Open the editor again to start from version %(current)s."
            )
            % {"current": current.number, "base": base_version}
        )
    if rule == MOVE_TO_STEP and to_step not in graph.get("steps", {}):
        raise InvalidInput({"move.step": [_("The new version has no step %s.") % to_step]})


def _new_version(
    actor: Actor, workflow: Workflow, graph: dict[str, Any], current: WorkflowVersion | None, rule: str, to_step: str
) -> dict[str, Any]:
    """Publish ``graph`` when it differs from the current version, moving the enrolments under
    way by ``rule``; the audit's changes."""
    from danhba.automation.services.steps import email_campaigns

    if current is not None:
        email_campaigns(workflow.name, graph, current.graph)  # unchanged email steps keep theirs
    if current is not None and current.graph == graph:
        return {}
    version = _publish(actor, workflow, graph)
    changes: dict[str, Any] = {"version": [current.number if current else None, version.number]}
    moved = enrolments_move(workflow=workflow, version=version, rule=rule, step=to_step)
    if rule != MOVE_KEEP:
        changes["moved"] = [None, {"rule": rule, "step": to_step, "contacts": moved}]
    if moved:
        wake_soon()  # moved enrolments are due now: the worker runs them after the commit
    return changes


# What becomes of the enrolments under way when a version is published (the editor's rule).
MOVE_KEEP = "keep"  # they finish the version they started (the default)
MOVE_SAME_STEP = "same_step"  # to the step of the same id in the new version, where it has one
MOVE_TO_STEP = "to_step"  # every one to the step chosen
MOVE_RULES = (MOVE_KEEP, MOVE_SAME_STEP, MOVE_TO_STEP)


def move_clean(move: dict[str, Any] | None) -> tuple[str, str]:
    """The rule and its step from ``{"rule": …, "step": …}`` (None: keep)."""
    if not move:
        return MOVE_KEEP, ""
    if not isinstance(move, dict) or move.get("rule", MOVE_KEEP) not in MOVE_RULES:
        raise InvalidInput({"move.rule": [_("must be one of %s") % ", ".join(MOVE_RULES)]})
    rule = str(move.get("rule") or MOVE_KEEP)
    step = clean_text(str(move.get("step") or ""))[:40]
    if rule == MOVE_TO_STEP and not step:
        raise InvalidInput({"move.step": [_("Choose the step to move the contacts to.")]})
    return rule, step if rule == MOVE_TO_STEP else ""


def enrolments_move(*, workflow: Workflow, version: WorkflowVersion, rule: str, step: str = "") -> int:
    """Inside the publishing transaction: move the enrolments under way in older versions to
    ``version`` by ``rule``. ``same_step``: an enrolment at a step the new version also has
    moves to it, keeping its wait (``state``, ``due_at``) when the step is of the same kind, else
    due now; one at a step the new version does not have stays on its version and finishes it.
    ``to_step``: every one moves to ``step``, due now. A moved enrolment's claim is dropped: a
    worker that had claimed it finds it no longer its own and writes nothing (``engine._mine``);
    one whose step is running now is locked here until that step's transaction ends, then moved
    from where it went. Returns how many moved."""
    if rule == MOVE_KEEP:
        return 0
    under_way = Enrolment.objects.filter(workflow=workflow, status=Enrolment.Status.ACTIVE).exclude(version=version)
    # Lock them all first (a step running now ends before), so the steps read below stay true.
    list(under_way.select_for_update().values_list("pk", flat=True))
    now = timezone.now()
    moved_fields = {"version": version, "claim": "", "claimed_until": None}
    reset = {**moved_fields, "state": {}, "waiting_for": "", "due_at": now, "attempt": 0, "error": ""}
    if rule == MOVE_TO_STEP:
        count = under_way.update(step=step, **reset)
        counts_add(version_id=version.pk, deltas={step: {"entered": count}})
        return count
    new_steps = version.graph.get("steps", {})
    groups = list(under_way.filter(step__in=list(new_steps)).values_list("version_id", "step").distinct())
    old_graphs = dict(WorkflowVersion.objects.filter(workflow=workflow).values_list("pk", "graph"))
    count = 0
    arrived: dict[str, dict[str, int]] = {}
    for old_version, step_id in groups:
        old_kind = old_graphs.get(old_version, {}).get("steps", {}).get(step_id, {}).get("kind")
        same_kind = old_kind == new_steps[step_id]["kind"]
        moved = under_way.filter(version_id=old_version, step=step_id).update(**(moved_fields if same_kind else reset))
        arrived.setdefault(step_id, {"entered": 0})["entered"] += moved
        count += moved
    # The move is an arrival at the new version's step (its runs before stay counted in theirs).
    counts_add(version_id=version.pk, deltas=arrived)
    return count


_MOVES: dict[str, tuple[str, ...]] = {
    Status.ACTIVE: (Status.DRAFT, Status.PAUSED),
    Status.PAUSED: (Status.ACTIVE,),
    Status.ARCHIVED: (Status.DRAFT, Status.ACTIVE, Status.PAUSED),
}


def workflow_set_status(*, actor: Actor, workflow: Workflow, status: str) -> Workflow:
    """Activate (it needs steps), pause (due steps wait), or archive (enrolments under way are
    cancelled)."""
    perms.require(actor, "workflow", perms.EDIT)
    if status not in _MOVES:
        raise InvalidInput({"status": [_("must be one of %s") % ", ".join(_MOVES)]})
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        if workflow.status == status:
            return workflow
        if workflow.status not in _MOVES[status]:
            raise Conflict(
                _("A %(from)s workflow cannot become %(to)s.")
                % {"from": workflow.get_status_display(), "to": Status(status).label}
            )
        if status == Status.ACTIVE and workflow.current_version_id is None:
            raise Conflict(_("Add steps before activating the workflow."))
        before = workflow.status
        workflow.status = status
        workflow.updated_at = timezone.now()
        workflow.save(update_fields=["status", "updated_at"])
        if status == Status.ARCHIVED:
            Enrolment.objects.filter(workflow=workflow, status=Enrolment.Status.ACTIVE).update(
                status=Enrolment.Status.CANCELLED, due_at=None, finished_at=timezone.now()
            )
        if status == Status.ACTIVE and before == Status.PAUSED:
            # Steps that came due while paused run now, not at the paused re-check.
            Enrolment.objects.filter(
                workflow=workflow, status=Enrolment.Status.ACTIVE, due_at__gt=timezone.now(), state={}
            ).update(due_at=timezone.now())
        _audit(actor, AuditEvent.Action.UPDATE, workflow, {"status": [before, status]})
    cache_clear()
    return workflow


MAX_TEST_EVENTS = 20


def workflow_test(
    *, actor: Actor, workflow: Workflow, contact_id: Any, start: Any = None, events: Any = (),
    version: int | None = None,
) -> Any:  # fmt: skip
    """Test a workflow on one contact with the clock moved forward (``engine.simulate``: the
    engine's own steps, rolled back): no email sent, nothing kept. The caller must see the
    workflow, the contact and every condition the steps use (which branch a contact takes says
    what it holds)."""
    import datetime as dt

    from danhba.automation.graph import conditions_in
    from danhba.automation.services.engine import simulate
    from danhba.contacts.selectors import visible_contact_ids
    from danhba.segments.conditions import hidden_from

    perms.require(actor, "workflow", perms.VIEW)
    versions = workflow.versions.all()
    chosen = versions.filter(number=version).first() if version else workflow.current_version
    if chosen is None:
        raise Conflict(_("Add steps before testing the workflow.") if not version else _("No such version."))
    if actor.user is not None and any(hidden_from(t, actor.user) for t in conditions_in(chosen.graph)):
        raise PermissionDenied(_("This workflow uses conditions on data your role may not see."))
    ids = visible_contact_ids(actor.user, [contact_id])
    names = [clean_text(str(e))[:200] for e in (events or []) if clean_text(str(e))]
    if len(names) > MAX_TEST_EVENTS:
        raise InvalidInput({"events": [_("At most %d events.") % MAX_TEST_EVENTS]})
    if start is not None and not isinstance(start, dt.datetime):
        raise InvalidInput({"start": [_("Enter a valid date and time.")]})
    moment = start or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return simulate(workflow=workflow, contact_id=ids[0], start=moment, version=chosen, events=names)
