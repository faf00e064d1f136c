"""REST endpoints of lead scoring (``/api/scoring``): score models and their rules (CRUD, the
role's "score" object), the full recompute, and a contact's scores with the breakdown. Bad
rules are 422 with the problems by field (``condition.conditions.0.value``, ``trigger.on``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.contacts.services.contacts import contact_get
from danhba.core.errors import InvalidInput
from danhba.core.keyset import MAX_PK
from danhba.scoring import selectors
from danhba.scoring.schemas import (
    ContactScoreList,
    ScoreAdjusted,
    ScoreAdjustIn,
    ScoreModelIn,
    ScoreModelList,
    ScoreModelOut,
    ScoreModelPatch,
    ScoreRuleIn,
    ScoreRuleOut,
    ScoreRulePatch,
)
from danhba.scoring.services import models as services

router = Router(tags=["scoring"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _model(request: HttpRequest, model_id: int) -> Any:
    require(api_user(request), "score", perms.VIEW)
    return selectors.model_get(model_id)


def _fresh(model_id: int) -> dict[str, Any]:
    return selectors.model_out(selectors.model_get(model_id))


@router.get("/models", response={200: ScoreModelList, **ERRORS}, summary="List score models")
def model_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "score", perms.VIEW)
    return {"items": [selectors.model_out(m) for m in selectors.models_list()]}


@router.post("/models", response={201: ScoreModelOut, **ERRORS}, summary="Create a score model")
def model_create(request: HttpRequest, payload: ScoreModelIn) -> Status[dict[str, Any]]:
    model = services.score_model_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _fresh(model.pk))


@router.get("/models/{int:model_id}", response={200: ScoreModelOut, **ERRORS}, summary="Get a score model")
def model_get(request: HttpRequest, model_id: int = _id()) -> dict[str, Any]:
    return selectors.model_out(_model(request, model_id))


@router.patch("/models/{int:model_id}", response={200: ScoreModelOut, **ERRORS}, summary="Change a score model")
def model_update(request: HttpRequest, payload: ScoreModelPatch, model_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; a change of decay, grades or activity recomputes every score."""
    model = _model(request, model_id)
    services.score_model_update(actor=api_actor(request), model=model, data=payload.model_dump(exclude_unset=True))
    return _fresh(model_id)


@router.delete("/models/{int:model_id}", response={204: None, **ERRORS}, summary="Delete a score model")
def model_delete(request: HttpRequest, model_id: int = _id()) -> Status[None]:
    services.score_model_delete(actor=api_actor(request), model=_model(request, model_id))
    return Status(204, None)


@router.post(
    "/models/{int:model_id}/recompute", response={202: ScoreModelOut, **ERRORS}, summary="Recompute every score"
)
def model_recompute(request: HttpRequest, model_id: int = _id()) -> Status[dict[str, Any]]:
    """A background job walks every contact; ``recompute`` tells its progress."""
    services.score_model_recompute(actor=api_actor(request), model=_model(request, model_id))
    return Status(202, _fresh(model_id))


@router.post("/models/{int:model_id}/rules", response={201: ScoreRuleOut, **ERRORS}, summary="Add a rule")
def rule_create(request: HttpRequest, payload: ScoreRuleIn, model_id: int = _id()) -> Status[dict[str, Any]]:
    model = _model(request, model_id)
    rule = services.score_rule_create(
        actor=api_actor(request), model=model, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, selectors.rule_out(rule))


@router.patch("/rules/{int:rule_id}", response={200: ScoreRuleOut, **ERRORS}, summary="Change a rule")
def rule_update(request: HttpRequest, payload: ScoreRulePatch, rule_id: int = _id()) -> dict[str, Any]:
    require(api_user(request), "score", perms.VIEW)
    rule = selectors.rule_get(rule_id)
    data = payload.model_dump(exclude_unset=True)
    return selectors.rule_out(services.score_rule_update(actor=api_actor(request), rule=rule, data=data))


@router.delete("/rules/{int:rule_id}", response={204: None, **ERRORS}, summary="Delete a rule")
def rule_delete(request: HttpRequest, rule_id: int = _id()) -> Status[None]:
    require(api_user(request), "score", perms.VIEW)
    services.score_rule_delete(actor=api_actor(request), rule=selectors.rule_get(rule_id))
    return Status(204, None)


@router.get(
    "/contacts/{int:contact_id}", response={200: ContactScoreList, **ERRORS}, summary="A contact's scores, explained"
)
def contact_scores(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    """Per active model: the total, grade, the points of each rule with the events behind them
    (they add up to the total), and the history by day."""
    user = api_user(request)
    require(user, "score", perms.VIEW)
    require(user, "contact", perms.VIEW)
    contact = contact_get(actor=api_actor(request), pk=contact_id)
    return {"contact_id": contact.pk, "items": selectors.contact_scores(contact, user)}


@router.post(
    "/contacts/{int:contact_id}/adjustments",
    response={201: ScoreAdjusted, **ERRORS},
    summary="Adjust a contact's score",
)
def contact_adjust(request: HttpRequest, payload: ScoreAdjustIn, contact_id: int = _id()) -> Status[dict[str, Any]]:
    """Give points (or set a grade) by hand: the role's "score: edit", audited. The adjustment is an
    item of the breakdown; the scores are computed again at once."""
    from danhba.scoring.models import ScoreModel
    from danhba.scoring.services.adjustments import score_adjust

    user = api_user(request)
    require(user, "score", perms.EDIT)
    actor = api_actor(request)
    contact = contact_get(actor=actor, pk=contact_id)
    model = ScoreModel.objects.filter(pk=payload.model, is_active=True).first()
    if model is None:
        raise InvalidInput({"model": [_("No such score model.")]})
    made = score_adjust(
        actor=actor, contact=contact, model=model, points=payload.points, grade=payload.grade,
        reason=payload.reason, expires_days=payload.expires_days, decays=payload.decays,
    )  # fmt: skip
    out = None
    if made is not None:
        out = {"id": made.pk, "model_id": model.pk, "points": made.points, "reason": made.reason, "at": made.at,
               "expires_at": made.expires_at, "decays": made.decays}  # fmt: skip
    return Status(201, {"adjustment": out, "scores": selectors.contact_scores(contact, user)})
