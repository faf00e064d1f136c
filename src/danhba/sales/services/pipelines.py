"""Pipelines with their ordered stages (a win probability each, one won and one lost end stage)
and the admin-managed list of lost reasons. Managing them needs "pipeline" permissions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput
from danhba.sales import checks as C
from danhba.sales.models import Deal, LostReason, Pipeline, Stage
from danhba.sales.services.common import audit, diff, snapshot

MAX_STAGES = 30
STAGE_FIELDS = ("name", "position", "probability", "kind")
REASON_FIELDS = ("key", "name", "name_vi", "position", "is_active")


def _stage_specs(raw: Any, errors: C.Errors) -> list[dict[str, Any]]:
    """The checked stages in order: name, probability, kind, and the id of a stage kept."""
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_STAGES or not all(isinstance(s, dict) for s in raw):
        C.add(errors, "stages", _("must be a list of 2 to %(n)s stages") % {"n": MAX_STAGES})
        return []
    specs = []
    for i, item in enumerate(raw):
        own: C.Errors = {}
        kind = item.get("kind", Stage.Kind.OPEN)
        if kind not in Stage.Kind.values:
            C.add(own, "kind", _("must be one of: %s") % ", ".join(Stage.Kind.values))
        spec = {
            "id": C.one_id(item, "id", own),
            "name": C.text(item, "name", own, most=120),
            "kind": kind,
            "probability": {Stage.Kind.WON: 100, Stage.Kind.LOST: 0}.get(kind)
            if kind != Stage.Kind.OPEN or "probability" not in item
            else C.whole(item, "probability", own, low=0, high=100),
        }
        if spec["probability"] is None:
            spec["probability"] = 0
        errors.update({f"stages.{i}.{key}": reasons for key, reasons in own.items()})
        specs.append(spec)
    _check_stage_set(specs, errors)
    return specs


def _check_stage_set(specs: list[dict[str, Any]], errors: C.Errors) -> None:
    kinds = [s["kind"] for s in specs]
    if kinds.count(Stage.Kind.WON) != 1 or kinds.count(Stage.Kind.LOST) != 1 or Stage.Kind.OPEN not in kinds:
        C.add(errors, "stages", _("A pipeline needs open stages, one won stage and one lost stage."))
    names = [s["name"].casefold() for s in specs]
    if len(set(names)) != len(names):
        C.add(errors, "stages", _("Two stages have the same name."))


def _pipeline_name(data: dict[str, Any], pipeline: Pipeline, errors: C.Errors) -> str:
    name = C.text(data, "name", errors, most=120)
    if name and Pipeline.objects.filter(name=name).exclude(pk=pipeline.pk).exists():
        C.add(errors, "name", _("Another pipeline has this name."))
    return name


def pipeline_create(*, actor: Actor, data: dict[str, Any]) -> Pipeline:
    perms.require(actor, "pipeline", perms.CREATE)
    errors: C.Errors = {}
    pipeline = Pipeline()
    pipeline.name = _pipeline_name(data, pipeline, errors)
    specs = _stage_specs(data.get("stages"), errors)
    if any(s["id"] for s in specs):
        C.add(errors, "stages", _("A new pipeline's stages have no ids."))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        pipeline.position = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 10
        pipeline.save()
        _stages_write(actor, pipeline, specs)
        audit(actor, AuditEvent.Action.CREATE, pipeline, {"name": [None, pipeline.name]})
    return pipeline


def pipeline_update(*, actor: Actor, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    """Rename, (de)activate, and when ``stages`` is given, set the stages: listed stages with an
    id are kept (renamed, reordered), new ones created, the others deleted — refused (409) while
    deals are in them."""
    perms.require(actor, "pipeline", perms.EDIT)
    errors: C.Errors = {}
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = _pipeline_name(data, pipeline, errors)
    if "is_active" in data:
        values["is_active"] = data["is_active"] is True
    specs = _stage_specs(data["stages"], errors) if "stages" in data else None
    if specs is not None:
        known = set(pipeline.stages.values_list("pk", flat=True))
        if any(s["id"] and s["id"] not in known for s in specs):
            C.add(errors, "stages", _("A stage id is not one of this pipeline's stages."))
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        changes = diff(snapshot(pipeline, ("name", "is_active")), values)
        if changes:
            for key, value in values.items():
                setattr(pipeline, key, value)
            pipeline.save(update_fields=list(values))
            audit(actor, AuditEvent.Action.UPDATE, pipeline, changes)
        if specs is not None:
            _stages_write(actor, pipeline, specs)
    return pipeline


def _stages_write(actor: Actor, pipeline: Pipeline, specs: list[dict[str, Any]]) -> None:
    keep = {s["id"] for s in specs if s["id"]}
    gone = list(pipeline.stages.exclude(pk__in=keep))
    if gone and Deal.objects.filter(stage__in=gone).exists():
        raise Conflict(_("Deals are still in a stage you removed: move them first."))
    for stage in gone:
        audit(actor, AuditEvent.Action.DELETE, stage, {"name": [stage.name, None]})
        stage.delete()
    current = {s.pk: s for s in pipeline.stages.all()}
    # Park kept stages on free positions and names first: the new order may swap two of them.
    for stage in current.values():
        Stage.objects.filter(pk=stage.pk).update(name=f"~~{stage.pk}~~", kind=Stage.Kind.OPEN)
    for i, spec in enumerate(specs):
        stage = current.get(spec["id"]) or Stage(pipeline=pipeline)
        before = snapshot(stage, STAGE_FIELDS) if stage.pk else {}
        stage.name, stage.kind, stage.probability, stage.position = (
            spec["name"], spec["kind"], spec["probability"], (i + 1) * 10,
        )  # fmt: skip
        stage.save()
        changes = diff(before, snapshot(stage, STAGE_FIELDS))
        if changes:
            audit(actor, AuditEvent.Action.UPDATE if before else AuditEvent.Action.CREATE, stage, changes)


def stages_order(*, actor: Actor, pipeline: Pipeline, stage_ids: list[int]) -> list[Stage]:
    """Put the pipeline's stages in this order (every stage once; positions 10, 20, …). Deals
    stay where they are; the board's columns and the forecast follow the new order."""
    perms.require(actor, "pipeline", perms.EDIT)
    with transaction.atomic():
        stages = {s.pk: s for s in Stage.objects.select_for_update().filter(pipeline=pipeline)}
        if sorted(stage_ids) != sorted(stages) or len(set(stage_ids)) != len(stage_ids):
            raise InvalidInput({"stage_ids": [_("List every stage of this pipeline once.")]})
        before = [s.pk for s in sorted(stages.values(), key=lambda s: (s.position, s.pk))]
        for n, pk in enumerate(stage_ids):
            if stages[pk].position != (n + 1) * 10:
                Stage.objects.filter(pk=pk).update(position=(n + 1) * 10)
        if before != stage_ids:
            names = [stages[pk].name for pk in stage_ids]
            audit(actor, AuditEvent.Action.UPDATE, pipeline,
                  {"stage_order": [[stages[pk].name for pk in before], names]})  # fmt: skip
    return list(pipeline.stages.all())


def stage_move(*, actor: Actor, stage: Stage, step: int) -> list[Stage]:
    """One place earlier (-1) or later (+1): the up / down buttons."""
    order = list(stage.pipeline.stages.order_by("position", "id").values_list("pk", flat=True))
    at = order.index(stage.pk)
    to = max(0, min(len(order) - 1, at + step))
    order.insert(to, order.pop(at))
    return stages_order(actor=actor, pipeline=stage.pipeline, stage_ids=order)


def pipeline_delete(*, actor: Actor, pipeline: Pipeline) -> None:
    perms.require(actor, "pipeline", perms.DELETE)
    if Deal.objects.filter(pipeline=pipeline).exists():
        raise Conflict(_("This pipeline still has deals."))
    with transaction.atomic():
        audit(actor, AuditEvent.Action.DELETE, pipeline, {"name": [pipeline.name, None]})
        pipeline.delete()


# --- lost reasons ---------------------------------------------------------------------------


def _reason_values(data: dict[str, Any], reason: LostReason) -> dict[str, Any]:
    errors: C.Errors = {}
    values: dict[str, Any] = {}
    if "name" in data or not reason.pk:
        values["name"] = C.text(data, "name", errors, most=120)
    if "name_vi" in data:
        values["name_vi"] = C.text(data, "name_vi", errors, most=120, required=False)
    if "position" in data:
        values["position"] = C.whole(data, "position", errors, low=0, high=32767)
    if "is_active" in data:
        values["is_active"] = data["is_active"] is True
    if not reason.pk:
        values["key"] = _free_key(slugify(values.get("name") or "") or "reason")
    if errors:
        raise InvalidInput(errors)
    return values


def _free_key(base: str) -> str:
    base = base[:50]
    key, n = base, 1
    while LostReason.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


def lost_reason_create(*, actor: Actor, data: dict[str, Any]) -> LostReason:
    perms.require(actor, "pipeline", perms.CREATE)
    reason = LostReason()
    values = _reason_values(data, reason)
    values.setdefault("position", (LostReason.objects.aggregate(m=Max("position"))["m"] or 0) + 10)
    for key, value in values.items():
        setattr(reason, key, value)
    with transaction.atomic():
        reason.save()
        audit(actor, AuditEvent.Action.CREATE, reason, diff({}, snapshot(reason, REASON_FIELDS)))
    return reason


def lost_reason_update(*, actor: Actor, reason: LostReason, data: dict[str, Any]) -> LostReason:
    """Change a reason's names, place or whether it is offered; a reason deals were lost for is
    retired (inactive), never deleted, so reports keep it."""
    perms.require(actor, "pipeline", perms.EDIT)
    values = _reason_values(data, reason)
    changes = diff(snapshot(reason, REASON_FIELDS), values)
    if changes:
        with transaction.atomic():
            for key, value in values.items():
                setattr(reason, key, value)
            reason.save(update_fields=list(values))
            audit(actor, AuditEvent.Action.UPDATE, reason, changes)
    return reason
