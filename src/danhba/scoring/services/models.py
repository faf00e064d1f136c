"""Score models and their rules: create, change, delete (audited), and the full recompute a
change asks for: a background job walks every contact in id order, a batch per transaction,
with its progress on the model (``recompute_done`` of ``recompute_total``). The job claims the
model (token and lease), so two workers never recompute it at once; a dead worker's claim is
taken over when its lease runs out, from the cursor it reached."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core import jobs
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.normalize import clean_long_text, clean_text
from danhba.scoring import rules as R
from danhba.scoring.models import ScoreModel, ScoreRule
from danhba.scoring.services.compute import scores_update
from danhba.segments import conditions as C

RECOMPUTE_BATCH = 1000
RECOMPUTE_LEASE = dt.timedelta(minutes=5)
MODEL_FIELDS = ("name", "description", "is_active", "decay", "decay_days", "decay_percent", "grades")
RULE_FIELDS = ("kind", "name", "condition", "trigger", "points", "max_points", "period_days", "period_max", "is_active")


def _text(data: dict[str, Any], key: str, errors: dict[str, list[str]], *, most: int = 200) -> str:
    text = clean_text(data.get(key))
    if not text:
        errors.setdefault(key, []).append(_("A name is required."))
    elif len(text) > most:
        errors.setdefault(key, []).append(_("At most %(n)s characters.") % {"n": most})
    return text


def _model_values(data: dict[str, Any], model: ScoreModel) -> dict[str, Any]:
    """The checked values of ``data`` (only the keys it holds)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    if "name" in data:
        out["name"] = _text(data, "name", errors)
        if ScoreModel.objects.filter(name=out["name"]).exclude(pk=model.pk).exists():
            errors.setdefault("name", []).append(_("Another score model has this name."))
    if "description" in data:
        out["description"] = clean_long_text(data.get("description"))[:5000]
    if "is_active" in data:
        out["is_active"] = data["is_active"] is True
    out.update(_decay_values(data, errors))
    if "grades" in data:
        out["grades"] = R.clean_grades(data["grades"], errors)
    if errors:
        raise InvalidInput(errors)
    return out


def _decay_values(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "decay" in data:
        out["decay"] = data["decay"]
        if data["decay"] not in ScoreModel.Decay.values:
            errors.setdefault("decay", []).append(_("must be one of: %s") % ", ".join(ScoreModel.Decay.values))
    for key, low, high in (("decay_days", 1, 3650), ("decay_percent", 1, 100)):
        if key in data:
            out[key] = R.whole(data[key], low, high)
            if out[key] is None:
                errors.setdefault(key, []).append(
                    _("must be a whole number from %(low)s to %(high)s") % {"low": low, "high": high}
                )
    return out


def _rule_values(data: dict[str, Any], kind: str, actor: Actor) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {"kind": kind}
    if kind not in ScoreRule.Kind.values:
        raise InvalidInput({"kind": [_("must be one of: %s") % ", ".join(ScoreRule.Kind.values)]})
    if "name" in data:
        out["name"] = _text(data, "name", errors)
    if "is_active" in data:
        out["is_active"] = data["is_active"] is True
    if kind == ScoreRule.Kind.ENGAGEMENT:
        if "trigger" in data:
            out["trigger"] = R.clean_trigger(data["trigger"], errors, actor.user)
        out.update(R.clean_caps(data, errors))
    elif "condition" in data:
        out["condition"] = R.clean_condition(data["condition"], errors, actor.user)
    if kind != ScoreRule.Kind.FAST_TRACK and "points" in data:
        out["points"] = R.whole(data["points"], -R.MAX_POINTS, R.MAX_POINTS)
        if out["points"] is None:
            errors.setdefault("points", []).append(
                _("must be a whole number from %(low)s to %(high)s") % {"low": -R.MAX_POINTS, "high": R.MAX_POINTS}
            )
    if errors:
        raise InvalidInput(errors)
    return out


def _audit(actor: Actor, action: str, obj: ScoreModel | ScoreRule, changes: dict[str, Any]) -> None:
    kind = "score_model" if isinstance(obj, ScoreModel) else "score_rule"
    audit_event(
        actor=actor, action=action, object_type=kind, object_id=obj.pk, object_label=str(obj)[:200], changes=changes
    )


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def score_model_create(*, actor: Actor, data: dict[str, Any]) -> ScoreModel:
    perms.require(actor, "score", perms.CREATE)
    model = ScoreModel(created_by=actor.user)
    values = _model_values({"name": data.get("name"), **data}, model)
    for key, value in values.items():
        setattr(model, key, value)
    with transaction.atomic():
        model.save()
        _audit(actor, AuditEvent.Action.CREATE, model, _diff({}, {k: getattr(model, k) for k in MODEL_FIELDS}))
    return model


def score_model_update(*, actor: Actor, model: ScoreModel, data: dict[str, Any]) -> ScoreModel:
    perms.require(actor, "score", perms.EDIT)
    values = _model_values(data, model)
    before = {k: getattr(model, k) for k in MODEL_FIELDS}
    changes = _diff(before, values)
    if not changes:
        return model
    with transaction.atomic():
        for key, value in values.items():
            setattr(model, key, value)
        model.updated_at = timezone.now()
        model.save()
        _audit(actor, AuditEvent.Action.UPDATE, model, changes)
        if set(changes) - {"name", "description"}:
            _recompute_request(model)
    return model


def score_model_delete(*, actor: Actor, model: ScoreModel) -> None:
    perms.require(actor, "score", perms.DELETE)
    with transaction.atomic():
        _audit(actor, AuditEvent.Action.DELETE, model, {"name": [model.name, None]})
        model.delete()


def _rule_saved(actor: Actor, rule: ScoreRule, action: str, changes: dict[str, Any]) -> None:
    _audit(actor, action, rule, changes)
    model = rule.model
    model.depends_on = R.dependencies(ScoreRule.objects.filter(model=model, is_active=True))
    model.updated_at = timezone.now()
    model.save(update_fields=["depends_on", "updated_at"])
    _recompute_request(model)


def score_rule_create(*, actor: Actor, model: ScoreModel, data: dict[str, Any]) -> ScoreRule:
    perms.require(actor, "score", perms.EDIT)
    kind = str(data.get("kind", ""))
    defaults = {"name": data.get("name"), "condition": None, "trigger": None}
    values = _rule_values({**defaults, **data}, kind, actor)
    rule = ScoreRule(model=model, **values)
    with transaction.atomic():
        last = model.rules.order_by("-position").values_list("position", flat=True).first()
        rule.position = (last or 0) + 1
        rule.save()
        _rule_saved(actor, rule, AuditEvent.Action.CREATE, _diff({}, {k: getattr(rule, k) for k in RULE_FIELDS}))
    return rule


def score_rule_update(*, actor: Actor, rule: ScoreRule, data: dict[str, Any]) -> ScoreRule:
    perms.require(actor, "score", perms.EDIT)
    caps = {"max_points": rule.max_points, "period_days": rule.period_days, "period_max": rule.period_max}
    values = _rule_values({**caps, **data}, rule.kind, actor)
    before = {k: getattr(rule, k) for k in RULE_FIELDS}
    changes = _diff(before, values)
    if not changes:
        return rule
    with transaction.atomic():
        for key, value in values.items():
            setattr(rule, key, value)
        rule.save()
        _rule_saved(actor, rule, AuditEvent.Action.UPDATE, changes)
    return rule


def score_rule_delete(*, actor: Actor, rule: ScoreRule) -> None:
    perms.require(actor, "score", perms.EDIT)
    model = rule.model
    with transaction.atomic():
        _audit(actor, AuditEvent.Action.DELETE, rule, {"name": [rule.name, None]})
        rule.delete()
        model.depends_on = R.dependencies(ScoreRule.objects.filter(model=model, is_active=True))
        model.save(update_fields=["depends_on"])
        _recompute_request(model)


# --- the full recompute ------------------------------------------------------------------------


def score_model_recompute(*, actor: Actor, model: ScoreModel) -> ScoreModel:
    """Recompute every contact's score in this model (the page's button, the API)."""
    perms.require(actor, "score", perms.EDIT)
    with transaction.atomic():
        _recompute_request(model)
    model.refresh_from_db()
    return model


def _recompute_request(model: ScoreModel) -> None:
    """Ask for a recompute from the first contact (a running one starts again: its claim ends
    with the new request); the job runs after the commit, or at once with ``SCORING_INLINE``."""
    now = timezone.now()
    ScoreModel.objects.filter(pk=model.pk).update(
        recompute_requested_at=now, recompute_cursor=0, recompute_done=0, recompute_total=Contact.objects.count()
    )
    if settings.SCORING_INLINE:
        recompute_run(model_id=model.pk)
        return
    from danhba.scoring.tasks import score_model_recompute_job

    pk = model.pk
    transaction.on_commit(lambda: score_model_recompute_job(pk))


def _claim(model_id: int, token: str) -> dt.datetime | None:
    """Take the model's recompute (free, or its lease ran out); returns the request's time."""
    now = timezone.now()
    free = Q(recompute_claim="") | Q(recompute_claimed_until__lt=now)
    with transaction.atomic():
        taken = ScoreModel.objects.filter(free, pk=model_id, recompute_requested_at__isnull=False).update(
            recompute_claim=token, recompute_claimed_until=now + RECOMPUTE_LEASE
        )
        if not taken:
            return None
        return ScoreModel.objects.filter(pk=model_id).values_list("recompute_requested_at", flat=True).first()


def recompute_run(*, model_id: int, now: dt.datetime | None = None, max_batches: int | None = None) -> int:
    """The job: recompute the model's scores batch by batch from the cursor. Returns the contacts
    done by this call (0 when another worker holds the model, or nothing is asked)."""
    token = uuid.uuid4().hex
    requested = _claim(model_id, token)
    done = batches = 0
    while requested is not None and (max_batches is None or batches < max_batches):
        model = ScoreModel.objects.filter(pk=model_id, recompute_claim=token).prefetch_related("rules").first()
        if model is None:
            return done
        ids = list(
            Contact.objects.filter(pk__gt=model.recompute_cursor)
            .order_by("pk")
            .values_list("pk", flat=True)[:RECOMPUTE_BATCH]
        )
        mine = ScoreModel.objects.filter(pk=model_id, recompute_claim=token)
        if not ids:
            finished = mine.filter(recompute_requested_at=requested).update(
                recompute_requested_at=None, recompute_claim="", recomputed_at=timezone.now()
            )
            # Asked again meanwhile (the rules changed): from the first contact again.
            if finished or not mine.update(recompute_claim="", recompute_cursor=0, recompute_done=0):
                return done
            requested = _claim(model_id, token)
            continue
        scores_update(contact_ids=ids, now=now, models=[model])
        mine.update(
            recompute_cursor=ids[-1],
            recompute_done=model.recompute_done + len(ids),
            recompute_claimed_until=timezone.now() + RECOMPUTE_LEASE,
        )
        done += len(ids)
        batches += 1
        jobs.yield_to_writers()
    if requested is not None:
        ScoreModel.objects.filter(pk=model_id, recompute_claim=token).update(recompute_claim="")
    return done


def recomputes_stale() -> list[int]:
    """Models whose recompute was asked and is not running (a lost job, a dead worker)."""
    now = timezone.now()
    return list(
        ScoreModel.objects.filter(recompute_requested_at__lt=now - dt.timedelta(minutes=2))
        .filter(Q(recompute_claim="") | Q(recompute_claimed_until__lt=now))
        .values_list("pk", flat=True)
    )


def decaying_models_refresh() -> int:
    """Nightly: models whose scores move with time alone (decay, "in the last N days" conditions)
    are recomputed for every contact."""
    count = 0
    for model in ScoreModel.objects.filter(is_active=True):
        timed = any(C.dependencies(r.condition)[1] for r in model.rules.all() if r.kind != ScoreRule.Kind.ENGAGEMENT)
        if model.decay != ScoreModel.Decay.NONE or timed:
            with transaction.atomic():
                _recompute_request(model)
            count += 1
    return count
