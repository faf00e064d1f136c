"""Score adjustments (a workflow step, a user): an item of the breakdown that still adds up to the
total, recomputed from scratch with the rules, faded by the model's decay when asked, gone when
expired, written once per key, and a grade crossed told by ``scoring.score_reached``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.scoring.hooks import SCORE_REACHED, GradeChange
from danhba.scoring.models import ContactScore, ScoreAdjustment, ScoreItem
from danhba.scoring.selectors import contact_scores
from danhba.scoring.services.adjustments import score_adjust, scores_adjust
from danhba.scoring.services.compute import scores_update
from danhba.scoring.tests.conftest import NOW

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
DEMO = {"kind": "engagement", "name": "Demo", "trigger": {"on": "event", "name": "Demo Requested"}, "points": 40}


def _total(contact: Any, model: Any) -> Decimal:
    return ContactScore.objects.get(contact=contact, model=model).total


def _items_sum(contact: Any, model: Any) -> Decimal:
    return sum(ScoreItem.objects.filter(contact=contact, model=model).values_list("current", flat=True), Decimal(0))


def test_an_adjustment_is_an_item_that_adds_up_and_survives_a_recompute(
    admin: Any, make_contact: Any, make_model: Any, send_events: Any
) -> None:
    model = make_model(rules=[DEMO])
    lan = make_contact(full_name="Lan")
    send_events(lan, [("Demo Requested", NOW - DAY, {})])
    scores_update(contact_ids=[lan.pk], now=NOW)
    made = scores_adjust(
        model=model, contact_ids=[lan.pk], points=-15, now=NOW, source="workflow", workflow_id=7,
        workflow_name="Re-engage", step="cool", keys={lan.pk: "wf7-e1-s3"},
    )  # fmt: skip
    assert made[lan.pk].points == Decimal("-15.00")
    assert _total(lan, model) == Decimal("25.00") == _items_sum(lan, model)
    # Computed from scratch again (a new event, a nightly pass): the adjustment is still there.
    scores_update(contact_ids=[lan.pk], now=NOW + dt.timedelta(hours=1))
    score = ContactScore.objects.get(contact=lan, model=model)
    assert (score.total, score.engagement, score.adjusted) == (Decimal("25.00"), Decimal("40.00"), Decimal("-15.00"))
    parts = contact_scores(lan, admin)[0]["breakdown"]
    assert [(p["rule"], p["points"]) for p in parts] == [
        ("Demo", Decimal("40.00")),
        ("Workflow “Re-engage”, step “cool”", Decimal("-15.00")),
    ]
    assert sum(p["points"] for p in parts) == score.total


def test_the_same_key_adds_once(make_contact: Any, make_model: Any) -> None:
    model = make_model()
    lan = make_contact(full_name="Lan")
    for _ in range(3):
        scores_adjust(model=model, contact_ids=[lan.pk], points=10, now=NOW, source="workflow", keys={lan.pk: "k1"})
    assert ScoreAdjustment.objects.filter(contact=lan).count() == 1
    assert _total(lan, model) == Decimal("10.00")
    scores_adjust(model=model, contact_ids=[lan.pk], points=10, now=NOW, source="workflow", keys={lan.pk: "k2"})
    assert _total(lan, model) == Decimal("20.00")


def test_an_adjustment_that_decays_fades_and_one_that_expires_stops(make_contact: Any, make_model: Any) -> None:
    model = make_model(decay="half_life", decay_days=10)
    lan = make_contact(full_name="Lan")
    scores_adjust(model=model, contact_ids=[lan.pk], points=40, now=NOW, source="manual", decays=True)
    scores_adjust(model=model, contact_ids=[lan.pk], points=30, now=NOW, source="manual", expires_at=NOW + 5 * DAY)
    assert _total(lan, model) == Decimal("70.00")
    scores_update(contact_ids=[lan.pk], now=NOW + 10 * DAY)
    # 40 halved after one half-life; the 30 expired after 5 days.
    assert _total(lan, model) == Decimal("20.00") == _items_sum(lan, model)


def test_setting_a_grade_gives_the_points_to_its_minimum_and_fires_the_hook(
    make_contact: Any, make_model: Any, send_events: Any
) -> None:
    seen: list[GradeChange] = []

    def listener(changes: list[GradeChange]) -> None:
        seen.extend(changes)

    model = make_model(rules=[DEMO, {**DEMO, "name": "Demo again", "points": 25}])
    lan = make_contact(full_name="Lan")
    send_events(lan, [("Demo Requested", NOW - DAY, {})])
    scores_update(contact_ids=[lan.pk], now=NOW)
    assert ContactScore.objects.get(contact=lan, model=model).grade == "hot"  # 65 points
    SCORE_REACHED.connect(listener)
    try:
        scores_adjust(model=model, contact_ids=[lan.pk], grade="cold", now=NOW, source="workflow", keys={lan.pk: "a"})
    finally:
        SCORE_REACHED.disconnect(listener)
    score = ContactScore.objects.get(contact=lan, model=model)
    assert (score.total, score.grade, score.adjusted) == (Decimal("0.00"), "cold", Decimal("-65.00"))
    assert [(c.old_grade, c.new_grade, c.rising) for c in seen] == [("hot", "cold", False)]


def test_a_user_adjusts_by_hand_audited_and_checked(
    admin: Any, make_user: Any, make_contact: Any, make_model: Any
) -> None:
    from danhba.audit.models import AuditEvent

    model = make_model()
    lan = make_contact(full_name="Lan")
    made = score_adjust(actor=actor_for(admin), contact=lan, model=model, points="12", reason=" Gọi  điện tốt ")
    assert made is not None and made.reason == "Gọi điện tốt" and made.created_by == admin
    assert _total(lan, model) == Decimal("12.00")
    row = AuditEvent.objects.get(object_type="score_adjustment")
    assert row.contact_id == lan.pk and row.changes["points"] == [None, "12.00"]
    with pytest.raises(InvalidInput) as bad:
        score_adjust(actor=actor_for(admin), contact=lan, model=model, points=0, expires_days="x")
    assert set(bad.value.details) == {"points", "expires_days"}
    with pytest.raises(InvalidInput):
        score_adjust(actor=actor_for(admin), contact=lan, model=model, grade="warm", decays=True)
    with pytest.raises(PermissionDenied):
        score_adjust(actor=actor_for(make_user(role="sales")), contact=lan, model=model, points=5)


def test_the_night_computes_again_the_contacts_whose_adjustment_expired(
    make_contact: Any, make_model: Any, settings: Any
) -> None:
    from django.utils import timezone

    from danhba.scoring.services.adjustments import expired_adjustments_mark

    settings.SCORING_INLINE = True
    model = make_model()
    lan, minh = make_contact(full_name="Lan"), make_contact(full_name="Minh")
    now = timezone.now()
    for contact, until in ((lan, now - dt.timedelta(hours=1)), (minh, now + DAY)):
        scores_adjust(
            model=model, contact_ids=[contact.pk], points=30, now=now - 10 * DAY, source="manual", expires_at=until
        )
    assert _total(lan, model) == Decimal("30.00")
    # The night after the first expired: only that contact is computed again, at 0.
    assert expired_adjustments_mark(now=now) == 1
    assert _total(lan, model) == Decimal("0.00") and _total(minh, model) == Decimal("30.00")


def test_the_night_after_the_worker_was_down_for_days_catches_up(
    make_contact: Any, make_model: Any, settings: Any
) -> None:
    """The worker was down 5 nights: the adjustments that expired meanwhile are applied by the
    first night it runs, and a night after that has nothing left to do."""
    from django.utils import timezone

    from danhba.scoring.services.adjustments import expired_adjustments_mark

    settings.SCORING_INLINE = True
    model = make_model()
    lan, minh, hoa = make_contact(full_name="Lan"), make_contact(full_name="Minh"), make_contact(full_name="Hoa")
    now = timezone.now()
    for contact, until in ((lan, now - 4 * DAY - dt.timedelta(hours=3)), (minh, now - 2 * DAY), (hoa, now + 3 * DAY)):
        scores_adjust(
            model=model, contact_ids=[contact.pk], points=30, now=now - 10 * DAY, source="manual", expires_at=until
        )
    assert expired_adjustments_mark(now=now) == 2
    assert _total(lan, model) == _total(minh, model) == Decimal("0.00")
    assert _total(hoa, model) == Decimal("30.00")
    assert expired_adjustments_mark(now=now + DAY) == 0


def test_an_inactive_models_expired_adjustment_is_not_marked_every_night(
    make_contact: Any, make_model: Any, settings: Any
) -> None:
    """An inactive model is not computed, so its expired item stays: the night must not mark its
    contact again and again (review finding: it did, night after night)."""
    from django.utils import timezone

    from danhba.scoring.services.adjustments import expired_adjustments_mark

    settings.SCORING_INLINE = True
    model = make_model()
    lan = make_contact(full_name="Lan")
    now = timezone.now()
    scores_adjust(
        model=model, contact_ids=[lan.pk], points=30, now=now - 10 * DAY, source="manual", expires_at=now - DAY
    )
    model.is_active = False
    model.save(update_fields=["is_active"])
    assert [expired_adjustments_mark(now=now + n * DAY) for n in range(3)] == [0, 0, 0]


def test_a_grade_the_model_no_longer_has_is_refused_with_its_reason(make_contact: Any, make_model: Any) -> None:
    model = make_model(rules=[DEMO])
    lan = make_contact(full_name="Lan")
    with pytest.raises(InvalidInput) as refused:
        scores_adjust(model=model, contact_ids=[lan.pk], grade="frozen", now=NOW, source="workflow", keys={lan.pk: "a"})
    assert "frozen" in refused.value.details["grade"][0]
    assert not ScoreAdjustment.objects.filter(contact=lan).exists()
