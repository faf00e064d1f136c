"""Managing lead assignment: the rules (role object "pipeline": sales settings), reps'
absences (a rep sets their own; a manager — "pipeline: edit" — anyone's), and handing a leaving
rep's open items over (:func:`handover_preview`, :func:`handover`): contacts by the rules, open
deals and tasks following their contact's new owner, with one audit row for the whole move."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import Team, User
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event, audit_events_bulk
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.sales import checks as C
from danhba.sales.models import Absence, Assignment, AssignmentRule, Deal, Task
from danhba.sales.services import assignment as A
from danhba.sales.services.common import audit, diff, snapshot
from danhba.sales.services.tasks import _when

RULE_FIELDS = ("name", "team_id", "method", "load", "capacity", "condition", "position", "is_active")


# --- rules --------------------------------------------------------------------------------------


def _condition(actor: Actor, data: dict[str, Any], errors: C.Errors) -> dict[str, Any]:
    tree = data.get("condition") or {}
    if not tree or (isinstance(tree, dict) and not tree.get("conditions")):
        return {}
    from danhba.segments.conditions import clean

    try:
        return clean(tree, user=actor.user)
    except InvalidInput as exc:
        C.add(errors, "condition", exc.message)
        for path, messages in (exc.details or {}).items():
            for message in messages if isinstance(messages, list) else [messages]:
                C.add(errors, f"condition.{path}", str(message))
        return {}


def _rule_values(actor: Actor, rule: AssignmentRule, data: dict[str, Any]) -> dict[str, Any]:
    errors: C.Errors = {}
    out: dict[str, Any] = {}
    if "name" in data or not rule.pk:
        out["name"] = C.text(data, "name", errors, most=120)
    if "team_id" in data or not rule.pk:
        team_id = C.one_id(data, "team_id", errors)
        if team_id is None or not Team.objects.filter(pk=team_id).exists():
            C.add(errors, "team_id", _("No such team."))
        out["team_id"] = team_id
    for key, choices in (("method", AssignmentRule.Method.values), ("load", AssignmentRule.Load.values)):
        if key in data:
            if data[key] not in choices:
                C.add(errors, key, _("must be one of: %s") % ", ".join(choices))
            out[key] = data[key]
    _rule_numbers(data, out, errors)
    if "condition" in data:
        out["condition"] = _condition(actor, data, errors)
    if "member_ids" in data:
        out["member_ids"] = _members(data, errors)
    if errors:
        raise InvalidInput(errors)
    return out


def _members(data: dict[str, Any], errors: C.Errors) -> list[int]:
    members = C.ids(data, "member_ids", errors, most=200)
    found = set(User.objects.filter(pk__in=members, is_active=True).values_list("pk", flat=True))
    if set(members) - found:
        C.add(errors, "member_ids", _("No such active user: %s") % sorted(set(members) - found)[0])
    return members


def _rule_numbers(data: dict[str, Any], out: dict[str, Any], errors: C.Errors) -> None:
    if "capacity" in data:
        capacity = data["capacity"]
        out["capacity"] = None if capacity in (None, "") else C.whole(data, "capacity", errors, low=1, high=1_000_000)
    if "position" in data:
        out["position"] = C.whole(data, "position", errors, low=0, high=1_000_000)
    if "is_active" in data:
        out["is_active"] = data["is_active"] is True


def rule_create(*, actor: Actor, data: dict[str, Any]) -> AssignmentRule:
    perms.require(actor, "pipeline", perms.CREATE)
    rule = AssignmentRule()
    values = _rule_values(actor, rule, data)
    members = values.pop("member_ids", [])
    if "position" not in values:
        top = AssignmentRule.objects.aggregate(top=Max("position"))["top"]
        values["position"] = 0 if top is None else top + 10
    for key, value in values.items():
        setattr(rule, key, value)
    with transaction.atomic():
        rule.save()
        rule.members.set(members)
        audit(actor, AuditEvent.Action.CREATE, rule, diff({}, {**snapshot(rule, RULE_FIELDS), "members": members}))
    return rule


def rule_update(*, actor: Actor, rule: AssignmentRule, data: dict[str, Any]) -> AssignmentRule:
    perms.require(actor, "pipeline", perms.EDIT)
    values = _rule_values(actor, rule, data)
    members = values.pop("member_ids", None)
    before = {**snapshot(rule, RULE_FIELDS), "members": sorted(rule.members.values_list("pk", flat=True))}
    for key, value in values.items():
        setattr(rule, key, value)
    after = {**snapshot(rule, RULE_FIELDS), "members": sorted(members) if members is not None else before["members"]}
    changes = diff(before, after)
    if changes:
        with transaction.atomic():
            rule.save()
            if members is not None:
                rule.members.set(members)
            audit(actor, AuditEvent.Action.UPDATE, rule, changes)
    return rule


def rule_delete(*, actor: Actor, rule: AssignmentRule) -> None:
    perms.require(actor, "pipeline", perms.DELETE)
    with transaction.atomic():
        audit(actor, AuditEvent.Action.DELETE, rule, {"name": [rule.name, None]})
        rule.delete()


def rule_move(*, actor: Actor, rule: AssignmentRule, step: int) -> None:
    """Up (-1) or down (+1) one place in the priority order (positions renumbered 0, 10, 20…)."""
    perms.require(actor, "pipeline", perms.EDIT)
    with transaction.atomic():
        order = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
        at = next(i for i, r in enumerate(order) if r.pk == rule.pk)
        to = max(0, min(len(order) - 1, at + step))
        order.insert(to, order.pop(at))
        for n, each in enumerate(order):
            if each.position != n * 10:
                AssignmentRule.objects.filter(pk=each.pk).update(position=n * 10)
        if to != at:
            audit(actor, AuditEvent.Action.UPDATE, rule, {"position": [at + 1, to + 1]})


def rule_get(pk: int) -> AssignmentRule:
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is None:
        raise NotFound(_("No such assignment rule."))
    return rule


# --- absences -----------------------------------------------------------------------------------


def _may_set_for(actor: Actor, user: User) -> None:
    if actor.user is not None and actor.user.pk != user.pk and not actor.user.can("pipeline", perms.EDIT):
        raise PermissionDenied(_("Only a sales manager may set someone else's absence."))


def absence_add(*, actor: Actor, user: User, data: dict[str, Any], now: dt.datetime | None = None) -> Absence:
    """Away from ``starts_at`` (default: now) until ``ends_at`` (default: until they are back)."""
    _may_set_for(actor, user)
    now = now or timezone.now()
    errors: C.Errors = {}
    starts = (_when(data, "starts_at", errors) if data.get("starts_at") not in (None, "") else now) or now
    ends = _when(data, "ends_at", errors) if data.get("ends_at") not in (None, "") else None
    note = C.text(data, "note", errors, most=200, required=False)
    if starts and ends and ends <= starts:
        C.add(errors, "ends_at", _("must be after the start"))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        absence = Absence.objects.create(user=user, starts_at=starts, ends_at=ends, note=note, set_by=actor.user)
        span = f"{starts.isoformat()} – {ends.isoformat() if ends else '…'}"
        audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="user", object_id=user.pk,
                    object_label=user.email, changes={"absent": [None, span]})  # fmt: skip
    return absence


def absence_end(*, actor: Actor, user: User, now: dt.datetime | None = None) -> int:
    """Back now: absences going on end now, planned ones stay."""
    _may_set_for(actor, user)
    now = now or timezone.now()
    with transaction.atomic():
        ended = (
            Absence.objects.filter(user=user, starts_at__lte=now)
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            .update(ends_at=now)
        )
        if ended:
            audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="user", object_id=user.pk,
                        object_label=user.email, changes={"absent": ["…", None]})  # fmt: skip
    return ended


def absence_delete(*, actor: Actor, absence: Absence) -> None:
    _may_set_for(actor, absence.user)
    absence.delete()


# --- a rep leaves -------------------------------------------------------------------------------


@dataclass
class Handover:
    """What handing a rep's open items over does: per new owner (None: nobody) the counts."""

    rep: int
    contacts: dict[int, int | None] = field(default_factory=dict)
    deals: dict[int, int | None] = field(default_factory=dict)
    tasks: dict[int, int | None] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        counts: dict[int | None, Counter[str]] = defaultdict(Counter)
        for name in ("contacts", "deals", "tasks"):
            for uid in getattr(self, name).values():
                counts[uid][name] += 1
        names = dict(User.objects.filter(pk__in=[u for u in counts if u]).values_list("pk", "full_name"))
        emails = dict(User.objects.filter(pk__in=[u for u in counts if u]).values_list("pk", "email"))
        return [
            {"user_id": uid, "name": (names.get(uid) or emails.get(uid, "")) if uid else "",
             "contacts": c["contacts"], "deals": c["deals"], "tasks": c["tasks"]}
            for uid, c in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ]  # fmt: skip


def _handover_plan(rep: User, *, now: dt.datetime, fallback: int | None, dry: bool) -> Handover:
    out = Handover(rep=rep.pk)
    ids = list(Contact.objects.filter(owner=rep).values_list("pk", flat=True))
    planned = A.plan(ids, now=now, exclude={rep.pk}, dry=dry)
    out.contacts = {cid: planned.owners.get(cid, fallback) for cid in ids}
    owner_after: dict[int, int | None] = dict(Contact.objects.filter(pk__in=_linked(rep)).values_list("pk", "owner_id"))
    owner_after.update(out.contacts)

    def follow(contact_id: int | None) -> int | None:
        uid = owner_after.get(contact_id) if contact_id else None
        return uid if uid and uid != rep.pk else fallback

    for deal_id, contact_id in Deal.objects.filter(owner=rep, status=Deal.Status.OPEN).values_list(
        "pk", "primary_contact_id"
    ):
        out.deals[deal_id] = follow(contact_id)
    deal_after = out.deals
    for task_id, contact_id, deal_id in Task.objects.filter(owner=rep, done_at__isnull=True).values_list(
        "pk", "contact_id", "deal_id"
    ):
        uid = follow(contact_id) if contact_id else deal_after.get(deal_id, fallback)
        out.tasks[task_id] = uid
    return out


def _linked(rep: User) -> list[int]:
    deals = Deal.objects.filter(owner=rep, status=Deal.Status.OPEN).values_list("primary_contact_id", flat=True)
    tasks = Task.objects.filter(owner=rep, done_at__isnull=True).values_list("contact_id", flat=True)
    return [c for c in {*deals, *tasks} if c]


def _fallback(data: dict[str, Any], rep: User) -> int | None:
    errors: C.Errors = {}
    uid = C.one_id(data, "fallback_user_id", errors)
    if uid is not None and (uid == rep.pk or not User.objects.filter(pk=uid, is_active=True).exists()):
        C.add(errors, "fallback_user_id", _("No such active user, or the rep who leaves."))
    if errors:
        raise InvalidInput(errors)
    return uid


def handover_preview(*, actor: Actor, rep: User, data: dict[str, Any] | None = None) -> Handover:
    perms.require(actor, "pipeline", perms.EDIT)
    return _handover_plan(rep, now=timezone.now(), fallback=_fallback(data or {}, rep), dry=True)


def handover(
    *, actor: Actor, rep: User, data: dict[str, Any] | None = None, now: dt.datetime | None = None
) -> Handover:
    """Hand the rep's contacts (by the rules; what no rule takes to ``fallback_user_id`` or to
    nobody), open deals and open tasks (to their contact's new owner) over, in one transaction,
    with one audit row on the rep saying how many went to whom. Tasks nobody takes stay."""
    perms.require(actor, "pipeline", perms.EDIT)
    now = now or timezone.now()
    fallback = _fallback(data or {}, rep)
    with transaction.atomic():
        plan = _handover_plan(rep, now=now, fallback=fallback, dry=False)
        _write_handover(actor, rep, plan, now)
    return plan


def _write_handover(actor: Actor, rep: User, plan: Handover, now: dt.datetime) -> None:
    from danhba.contacts.services.contacts import contacts_bulk_update

    to_owner: dict[int | None, list[int]] = defaultdict(list)
    for cid, uid in plan.contacts.items():
        to_owner[uid].append(cid)
    for uid, cids in to_owner.items():  # every contact of the rep, whoever asks: the system writes
        contacts_bulk_update(actor=A.SYSTEM, contact_ids=cids, owner=uid)
    Assignment.objects.bulk_create(
        [Assignment(contact_id=cid, user_id=uid, previous_id=rep.pk, via=Assignment.Via.REASSIGN, at=now)
         for cid, uid in plan.contacts.items()],
        batch_size=2000,
    )  # fmt: skip
    _move_owned(actor, Deal, "deal", plan.deals, rep)
    _move_owned(actor, Task, "task", {k: v for k, v in plan.tasks.items() if v is not None}, rep)
    summary = plan.summary()
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="user", object_id=rep.pk,
                object_label=rep.email, changes={"handover": [None, summary]})  # fmt: skip
    for row in summary:
        if row["user_id"]:
            A.notify_rep(row["user_id"], [c for c, u in plan.contacts.items() if u == row["user_id"]], now=now)


def _move_owned(actor: Actor, model: Any, object_type: str, moves: dict[int, int | None], rep: User) -> None:
    by_owner: dict[int | None, list[int]] = defaultdict(list)
    for pk, uid in moves.items():
        by_owner[uid].append(pk)
    for uid, pks in by_owner.items():
        model.objects.filter(pk__in=pks, owner=rep).update(owner_id=uid, updated_at=timezone.now())
    labels = dict(model.objects.filter(pk__in=list(moves)).values_list("pk", "title"))
    audit_events_bulk(
        actor=actor, action=AuditEvent.Action.UPDATE, object_type=object_type,
        rows=[(pk, labels.get(pk, ""), None, {"owner_id": [rep.pk, uid]}) for pk, uid in moves.items()],
    )  # fmt: skip


def on_user_deactivated(user: User) -> None:
    """A rep deactivated: their open items go over by the rules (no fallback)."""
    handover(actor=A.SYSTEM, rep=user)
