"""Reads of scoring for the pages and the API: models with their rules and recompute progress,
and a contact's scores with the breakdown by rule, the events behind each point and the history.
The breakdown is the stored items as of the score's ``computed_at``: they add up to its total."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.core.errors import NotFound
from danhba.scoring import rules as R
from danhba.scoring.models import ContactScore, ScoreAdjustment, ScoreHistory, ScoreItem, ScoreModel, ScoreRule
from danhba.segments import conditions as C

if TYPE_CHECKING:
    from danhba.accounts.models import User
    from danhba.contacts.models import Contact

# Events listed per rule in a breakdown (the rule's points count them all).
EVENTS_PER_RULE = 20
HISTORY_DAYS = 180


def model_get(pk: int) -> ScoreModel:
    model = ScoreModel.objects.filter(pk=pk).prefetch_related("rules").first()
    if model is None:
        raise NotFound(_("No such score model."))
    return model


def rule_get(pk: int) -> ScoreRule:
    rule = ScoreRule.objects.filter(pk=pk).select_related("model").first()
    if rule is None:
        raise NotFound(_("No such scoring rule."))
    return rule


def grade_labels(model: ScoreModel) -> list[dict[str, Any]]:
    return [{**g, "label": R.grade_label(model.grades, g["key"])} for g in model.grades]


def rule_text(rule: ScoreRule) -> str:
    """The rule read out: its condition as a sentence, or its trigger."""
    if rule.kind != ScoreRule.Kind.ENGAGEMENT:
        return C.describe(rule.condition)
    trigger = rule.trigger or {}
    on = str(trigger.get("on"))
    text = str(R.TRIGGERS.get(on, on))
    detail = trigger.get("name") or trigger.get("url") or trigger.get("campaign")
    return f"{text}: {detail}" if detail else text


def rule_out(rule: ScoreRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "kind": rule.kind,
        "name": rule.name,
        "text": rule_text(rule),
        "condition": rule.condition if rule.kind != ScoreRule.Kind.ENGAGEMENT else None,
        "trigger": rule.trigger if rule.kind == ScoreRule.Kind.ENGAGEMENT else None,
        "points": rule.points,
        "max_points": rule.max_points,
        "period_days": rule.period_days,
        "period_max": rule.period_max,
        "is_active": rule.is_active,
    }


def model_out(model: ScoreModel) -> dict[str, Any]:
    return {
        "id": model.pk,
        "name": model.name,
        "description": model.description,
        "is_active": model.is_active,
        "decay": model.decay,
        "decay_days": model.decay_days,
        "decay_percent": model.decay_percent,
        "grades": grade_labels(model),
        "rules": [rule_out(r) for r in model.rules.all()],
        "recompute": {
            "running": model.recomputing,
            "done": model.recompute_done,
            "total": model.recompute_total,
            "finished_at": model.recomputed_at,
        },
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


def models_list() -> list[ScoreModel]:
    return list(ScoreModel.objects.prefetch_related("rules"))


def adjustment_text(adjustment: ScoreAdjustment) -> str:
    """Where an adjustment came from, read out: "Workflow 'X', step 'Y'" or "By hand (user)",
    with its reason."""
    if adjustment.source == ScoreAdjustment.Source.WORKFLOW:
        text = _("Workflow “%(workflow)s”, step “%(step)s”") % {
            "workflow": adjustment.workflow_name or adjustment.workflow_id,
            "step": adjustment.step,
        }
    else:
        who = str(adjustment.created_by) if adjustment.created_by else ""
        text = _("By hand (%s)") % who if who else _("By hand")
    return f"{text}: {adjustment.reason}" if adjustment.reason else text


def _adjustment_part(item: ScoreItem, adjustment: ScoreAdjustment | None) -> dict[str, Any]:
    return {
        "rule_id": None,
        "adjustment_id": item.adjustment_id,
        "rule": adjustment_text(adjustment) if adjustment else "",
        "kind": "adjustment",
        "points": item.current,
        "count": 1,
        "events": [],
        "given": item.points,
        "at": adjustment.at if adjustment else None,
        "expires_at": adjustment.expires_at if adjustment else None,
    }


def _breakdown(items: list[ScoreItem], rules: dict[int, ScoreRule], events: bool) -> list[dict[str, Any]]:
    by_rule: dict[int, list[ScoreItem]] = defaultdict(list)
    adjusted = [i for i in items if i.adjustment_id is not None]
    for item in items:
        if item.rule_id is not None:
            by_rule[item.rule_id].append(item)
    out: list[dict[str, Any]] = []
    for rule_id, rule_items in by_rule.items():
        rule = rules.get(rule_id)
        rule_items.sort(key=lambda i: i.event_at or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
        out.append(
            {
                "rule_id": rule_id,
                "adjustment_id": None,
                "rule": rule.name if rule else "",
                "kind": rule.kind if rule else "",
                "points": sum((i.current for i in rule_items), Decimal(0)),
                "count": len(rule_items),
                "events": [
                    {"id": i.event_id, "name": i.event_name, "at": i.event_at, "points": i.points, "current": i.current}
                    for i in rule_items[:EVENTS_PER_RULE]
                    if i.event_id is not None
                ]
                if events
                else [],
            }
        )
    found = ScoreAdjustment.objects.select_related("created_by").in_bulk([i.adjustment_id for i in adjusted])
    out.extend(_adjustment_part(i, found.get(i.adjustment_id or 0)) for i in adjusted)
    out.sort(key=lambda r: (-abs(r["points"]), r["rule"]))
    return out


def contact_scores(contact: Contact, user: User, *, history_days: int = HISTORY_DAYS) -> list[dict[str, Any]]:
    """The contact's score in every active model (0 and the grade of 0 where it has none), with
    the breakdown (events only for a reader who may see events) and the recent history."""
    models = list(ScoreModel.objects.filter(is_active=True).prefetch_related("rules"))
    scores = {s.model_id: s for s in ContactScore.objects.filter(contact=contact)}
    items: dict[int, list[ScoreItem]] = defaultdict(list)
    for item in ScoreItem.objects.filter(contact=contact):
        items[item.model_id].append(item)
    since = timezone.localdate() - dt.timedelta(days=history_days)
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in ScoreHistory.objects.filter(contact=contact, day__gte=since).order_by("day"):
        history[row.model_id].append({"day": row.day, "total": row.total, "grade": row.grade})
    events = user.can("event", perms.VIEW)
    out = []
    for model in models:
        score = scores.get(model.pk)
        total = score.total if score else Decimal("0.00")
        grade = score.grade if score else R.grade_for(model.grades, Decimal(0))
        out.append(
            {
                "model_id": model.pk,
                "model": model.name,
                "total": total,
                "fit": score.fit if score else Decimal("0.00"),
                "engagement": score.engagement if score else Decimal("0.00"),
                "adjusted": score.adjusted if score else Decimal("0.00"),
                "grade": grade,
                "grade_label": R.grade_label(model.grades, grade),
                "grade_rank": R.grade_rank(model.grades, grade),
                "grades": len(model.grades),
                "fast_tracked": bool(score and score.fast_tracked),
                "computed_at": score.computed_at if score else None,
                "breakdown": _breakdown(items[model.pk], {r.pk: r for r in model.rules.all()}, events),
                "history": history[model.pk],
            }
        )
    return out
