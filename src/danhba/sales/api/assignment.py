"""``/api/sales/assignment``: lead assignment rules (role object "pipeline"), reps' absences
(yours, or anyone's for "pipeline: edit"), handing a leaving rep's open items over (a preview,
then the move) and the history of assignments."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.contacts.api import ERRORS
from danhba.contacts.models import Contact
from danhba.core.errors import NotFound
from danhba.core.keyset import MAX_PK
from danhba.sales.models import Absence, Assignment, AssignmentRule
from danhba.sales.schemas import (
    AbsenceIn,
    AbsenceList,
    AbsenceOut,
    AssignmentList,
    BackIn,
    HandoverIn,
    HandoverOut,
    MoveRuleIn,
    RuleIn,
    RuleList,
    RuleOut,
    RulePatch,
)
from danhba.sales.services import rules as R

router = Router(tags=["sales: lead assignment"])
ABSENCE_FIELDS = ("id", "user_id", "starts_at", "ends_at", "note", "set_by_id")


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def rule_out(rule: AssignmentRule) -> dict[str, Any]:
    fields = ("id", "name", "team_id", "method", "load", "capacity", "condition", "position", "is_active",
              "last_user_id")  # fmt: skip
    return {**{f: getattr(rule, f) for f in fields}, "member_ids": sorted(m.pk for m in rule.members.all())}


def _rule(request: HttpRequest, rule_id: int) -> AssignmentRule:
    require(api_user(request), "pipeline", perms.VIEW)
    return R.rule_get(rule_id)


@router.get("/rules", response={200: RuleList, **ERRORS}, summary="Assignment rules in priority order")
def rule_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "pipeline", perms.VIEW)
    return {"items": [rule_out(r) for r in AssignmentRule.objects.prefetch_related("members")]}


@router.post("/rules", response={201: RuleOut, **ERRORS}, summary="Add an assignment rule")
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[dict[str, Any]]:
    data = payload.model_dump(exclude_none=True)
    if payload.capacity is None:
        data["capacity"] = None
    return Status(201, rule_out(R.rule_create(actor=api_actor(request), data=data)))


@router.get("/rules/{int:rule_id}", response={200: RuleOut, **ERRORS}, summary="Get an assignment rule")
def rule_get(request: HttpRequest, rule_id: int = _id()) -> dict[str, Any]:
    return rule_out(_rule(request, rule_id))


@router.patch("/rules/{int:rule_id}", response={200: RuleOut, **ERRORS}, summary="Change an assignment rule")
def rule_update(request: HttpRequest, payload: RulePatch, rule_id: int = _id()) -> dict[str, Any]:
    rule = _rule(request, rule_id)
    return rule_out(R.rule_update(actor=api_actor(request), rule=rule, data=payload.model_dump(exclude_unset=True)))


@router.post("/rules/{int:rule_id}/move", response={200: RuleList, **ERRORS}, summary="Move a rule up or down")
def rule_move(request: HttpRequest, payload: MoveRuleIn, rule_id: int = _id()) -> dict[str, Any]:
    R.rule_move(actor=api_actor(request), rule=_rule(request, rule_id), step=payload.step)
    return rule_list(request)


@router.delete("/rules/{int:rule_id}", response={204: None, **ERRORS}, summary="Delete an assignment rule")
def rule_delete(request: HttpRequest, rule_id: int = _id()) -> Status[None]:
    R.rule_delete(actor=api_actor(request), rule=_rule(request, rule_id))
    return Status(204, None)


# --- absences -------------------------------------------------------------------------------------


def _user(request: HttpRequest, user_id: int | None) -> User:
    me = api_user(request)
    require(me, "task", perms.VIEW)
    if user_id is None or user_id == me.pk:
        return me
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    return user


@router.get("/absences", response={200: AbsenceList, **ERRORS}, summary="Absences now and ahead")
def absence_list(request: HttpRequest, user_id: int | None = Query(None, ge=1, le=MAX_PK)) -> dict[str, Any]:
    me = api_user(request)
    require(me, "task", perms.VIEW)
    rows = Absence.objects.exclude(ends_at__lt=timezone.now())
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if not me.can("pipeline", perms.EDIT):
        rows = rows.filter(user=me)
    return {"items": [{f: getattr(a, f) for f in ABSENCE_FIELDS} for a in rows[:500]]}


@router.post("/absences", response={201: AbsenceOut, **ERRORS}, summary="Mark a rep absent (now, or from–until)")
def absence_add(request: HttpRequest, payload: AbsenceIn) -> Status[dict[str, Any]]:
    user = _user(request, payload.user_id)
    data = payload.model_dump(exclude={"user_id"})
    absence = R.absence_add(actor=api_actor(request), user=user, data=data)
    return Status(201, {f: getattr(absence, f) for f in ABSENCE_FIELDS})


@router.post("/absences/back", response={204: None, **ERRORS}, summary="Back now: absences going on end")
def absence_back(request: HttpRequest, payload: BackIn) -> Status[None]:
    R.absence_end(actor=api_actor(request), user=_user(request, payload.user_id))
    return Status(204, None)


@router.delete("/absences/{int:absence_id}", response={204: None, **ERRORS}, summary="Delete an absence")
def absence_delete(request: HttpRequest, absence_id: int = _id()) -> Status[None]:
    me = api_user(request)
    require(me, "task", perms.VIEW)
    absence = Absence.objects.select_related("user").filter(pk=absence_id).first()
    if absence is None or (absence.user_id != me.pk and not me.can("pipeline", perms.EDIT)):
        raise NotFound("No such absence.")
    R.absence_delete(actor=api_actor(request), absence=absence)
    return Status(204, None)


# --- a rep leaves ---------------------------------------------------------------------------------


def _rep(request: HttpRequest, user_id: int) -> User:
    require(api_user(request), "pipeline", perms.EDIT)
    rep = User.objects.filter(pk=user_id).first()
    if rep is None:
        raise NotFound("No such user.")
    return rep


def _handover_out(plan: R.Handover, applied: bool) -> dict[str, Any]:
    return {"rep_id": plan.rep, "applied": applied, "owners": plan.summary()}


@router.post(
    "/handover/{int:user_id}/preview", response={200: HandoverOut, **ERRORS},
    summary="Who would take a rep's open contacts, deals and tasks",
)  # fmt: skip
def handover_preview(request: HttpRequest, payload: HandoverIn, user_id: int = _id()) -> dict[str, Any]:
    rep = _rep(request, user_id)
    return _handover_out(R.handover_preview(actor=api_actor(request), rep=rep, data=payload.model_dump()), False)


@router.post(
    "/handover/{int:user_id}", response={200: HandoverOut, **ERRORS},
    summary="Hand a rep's open contacts, deals and tasks over by the rules",
)  # fmt: skip
def handover(request: HttpRequest, payload: HandoverIn, user_id: int = _id()) -> dict[str, Any]:
    rep = _rep(request, user_id)
    return _handover_out(R.handover(actor=api_actor(request), rep=rep, data=payload.model_dump()), True)


@router.get("/history", response={200: AssignmentList, **ERRORS}, summary="Recent assignments")
def history(request: HttpRequest, contact_id: int | None = Query(None, ge=1, le=MAX_PK)) -> dict[str, Any]:
    me = api_user(request)
    require(me, "contact", perms.VIEW)
    rows = Assignment.objects.filter(contact__in=Contact.objects.visible_to(me))
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    fields = ("id", "contact_id", "user_id", "previous_id", "rule_id", "via", "at")
    return {"items": [{f: getattr(a, f) for f in fields} for a in rows[:200]]}
