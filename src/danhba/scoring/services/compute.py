"""Computing contacts' scores: a batch of contacts at a time, every query set-based (one per
rule and batch, ``id IN (batch)``), written in one transaction with the items behind each
total, a history row per day it changed, ``scoring.score_reached`` for each grade crossed and
``contacts.changed`` (reason ``score:<model id>``) so segments on scores follow.

A score is computed from scratch every time (the rules, the contact's data and events as they
are now): running it twice writes the same thing, and a lost run is made good by the next."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from danhba.contacts.changes import contacts_changed
from danhba.contacts.models import Contact
from danhba.core.deferred import writes_at_end
from danhba.scoring import rules as R
from danhba.scoring.hooks import SCORE_REACHED, GradeChange
from danhba.scoring.models import ContactScore, ScoreAdjustment, ScoreHistory, ScoreItem, ScoreModel, ScoreRule
from danhba.segments import compiler
from danhba.tracking.models import Event

ZERO = Decimal("0.00")
# (event id, name, time) of one event an engagement rule counts.
EventRow = tuple[int, str, dt.datetime]


@dataclass
class Score:
    fit: Decimal = ZERO
    engagement: Decimal = ZERO
    adjusted: Decimal = ZERO
    fast_tracked: bool = False
    items: list[R.Item] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.fit + self.engagement + self.adjusted


def active_models() -> list[ScoreModel]:
    return list(ScoreModel.objects.filter(is_active=True).prefetch_related("rules"))


def _rules(model: ScoreModel) -> list[ScoreRule]:
    return [r for r in model.rules.all() if r.is_active]


def _events(rule: ScoreRule, model: ScoreModel, ids: Sequence[int], now: dt.datetime) -> dict[int, list[EventRow]]:
    events = Event.objects.filter(R.trigger_q(rule.trigger), contact_id__in=list(ids), timestamp__lte=now)
    oldest = R.horizon(model)
    if oldest is not None:
        events = events.filter(timestamp__gt=now - oldest)
    per_contact: dict[int, list[EventRow]] = defaultdict(list)
    rows = events.order_by("contact_id", "-timestamp", "-id").values_list("contact_id", "id", "name", "timestamp")
    for contact_id, event_id, name, at in rows.iterator(2000):
        per_contact[contact_id].append((event_id, name, at))
    return per_contact


def compute(model: ScoreModel, ids: Sequence[int], now: dt.datetime) -> dict[int, Score]:
    """The scores in ``model`` of these contacts at ``now`` (contacts with nothing are absent)."""
    scores: dict[int, Score] = defaultdict(Score)
    for rule in _rules(model):
        if rule.kind == ScoreRule.Kind.ENGAGEMENT:
            for contact_id, events in _events(rule, model, ids, now).items():
                items = R.engagement_items(rule, model, events, now)
                if items:
                    score = scores[contact_id]
                    score.items.extend(items)
                    score.engagement += sum((i.current for i in items), ZERO)
            continue
        matched = compiler.matching(rule.condition, now=now, among=ids).values_list("pk", flat=True)
        for contact_id in matched:
            score = scores[contact_id]
            if rule.kind == ScoreRule.Kind.FAST_TRACK:
                score.fast_tracked = True
                score.items.append(R.Item(rule.pk, ZERO, ZERO))
            else:
                points = R.cents(rule.points)
                score.fit += points
                score.items.append(R.Item(rule.pk, points, points))
    _adjustments(model, ids, now, scores)
    return scores


def _adjustments(model: ScoreModel, ids: Sequence[int], now: dt.datetime, scores: dict[int, Score]) -> None:
    """The adjustments (a workflow step, a user) counting at ``now``: one item each."""
    rows = (
        ScoreAdjustment.objects.filter(model=model, contact_id__in=list(ids), at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("contact_id", "at", "id")
        .values_list("contact_id", "id", "points", "at", "decays")
    )
    for contact_id, adjustment_id, points, at, decays in rows:
        item = R.adjustment_item(adjustment_id, points, at, decays, model, now)
        if item is not None:
            score = scores[contact_id]
            score.items.append(item)
            score.adjusted += item.current


def contacts_lock(contact_ids: Sequence[int]) -> list[int]:
    """Inside a transaction: lock these contacts in id order (``FOR NO KEY UPDATE``, which the
    event intake's ``FOR KEY SHARE`` does not wait for); the ids that exist."""
    return Contact.objects.lock_in_id_order(contact_ids)


def scores_update(
    *, contact_ids: Sequence[int], now: dt.datetime | None = None, models: Sequence[ScoreModel] | None = None
) -> list[GradeChange]:
    """Compute and store the scores of these contacts (in every active model, or in ``models``),
    in one transaction that first locks the contacts: two workers on the same contact take
    turns, so a grade crossing is told once. Returns the crossings."""
    now = now or timezone.now()
    models = active_models() if models is None else models
    changes: list[GradeChange] = []
    if not models or not contact_ids:
        return changes
    # The marks and step counters its listeners write go last, after the contacts' locks.
    with transaction.atomic(), writes_at_end():
        ids = contacts_lock(contact_ids)
        if not ids:
            return changes
        moved: dict[int, set[str]] = defaultdict(set)
        for model in models:
            for change in _store(model, ids, compute(model, ids, now), now):
                moved[change[0]].add(f"score:{model.pk}")
                if change[1] is not None:
                    changes.append(change[1])
        if changes:
            SCORE_REACHED(changes)
        if moved:
            contacts_changed(reasons=moved)
    return changes


def _store(
    model: ScoreModel, ids: list[int], scores: dict[int, Score], now: dt.datetime
) -> list[tuple[int, GradeChange | None]]:
    """Write one model's scores of a batch; returns (contact, grade crossing or None) for each
    contact whose total or grade changed."""
    before = {
        row[0]: row[1:]
        for row in ContactScore.objects.filter(model=model, contact_id__in=ids).values_list(
            "contact_id", "total", "grade"
        )
    }
    zero_grade = R.grade_for(model.grades, ZERO)
    ScoreItem.objects.filter(model=model, contact_id__in=ids).delete()
    ScoreItem.objects.bulk_create(
        [
            ScoreItem(
                contact_id=cid, model=model, rule_id=i.rule_id, event_id=i.event_id, event_name=i.event_name[:200],
                event_at=i.event_at, points=i.points, current=i.current, adjustment_id=i.adjustment_id,
            )
            for cid, score in scores.items()
            for i in score.items
        ],
        batch_size=2000,
    )  # fmt: skip
    rows, moved, history = [], [], []
    for cid in ids:
        score = scores.get(cid, Score())
        grade = R.grade_for(model.grades, score.total, score.fast_tracked)
        old_total, old_grade = before.get(cid, (ZERO, zero_grade))
        if cid in before or score.items:
            rows.append(
                ContactScore(
                    contact_id=cid, model=model, total=score.total, fit=score.fit, engagement=score.engagement,
                    adjusted=score.adjusted, grade=grade, fast_tracked=score.fast_tracked, computed_at=now,
                )
            )  # fmt: skip
        if old_total == score.total and old_grade == grade:
            continue
        history.append(
            ScoreHistory(contact_id=cid, model=model, day=timezone.localdate(now), total=score.total, grade=grade)
        )
        crossing = None
        if old_grade != grade:
            rising = R.grade_rank(model.grades, grade) > R.grade_rank(model.grades, old_grade)
            crossing = GradeChange(cid, model.pk, old_grade, grade, score.total, rising, now)
        moved.append((cid, crossing))
    ContactScore.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["contact", "model"],
        update_fields=["total", "fit", "engagement", "adjusted", "grade", "fast_tracked", "computed_at"],
    )
    ScoreHistory.objects.bulk_create(
        history, batch_size=2000, update_conflicts=True, unique_fields=["contact", "model", "day"],
        update_fields=["total", "grade"],
    )  # fmt: skip
    return moved
