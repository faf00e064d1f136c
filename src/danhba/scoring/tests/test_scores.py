"""Scores: fit and engagement rules, caps per rule and per period, decay over simulated time,
fast-track, grades and the hook that tells each crossing once, and an explanation that adds up
to the total exactly."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from danhba.scoring.hooks import SCORE_REACHED, GradeChange
from danhba.scoring.models import ContactScore, ScoreDirty, ScoreHistory, ScoreItem
from danhba.scoring.services.compute import scores_update
from danhba.scoring.services.dirty import dirty_process
from danhba.scoring.tests.conftest import NOW

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
PRICING = {"kind": "engagement", "name": "Pricing page", "trigger": {"on": "page", "url": "*/pricing*"}, "points": 10}
DEMO = {"kind": "engagement", "name": "Demo", "trigger": {"on": "event", "name": "Demo Requested"}, "points": 40}
DIRECTOR = {
    "kind": "fit",
    "name": "Director",
    "points": 20,
    "condition": {
        "op": "all",
        "conditions": [{"kind": "field", "field": "job_title", "operator": "contains", "value": "giám đốc"}],
    },
}


def _score(contact: Any, model: Any) -> ContactScore | None:
    return ContactScore.objects.filter(contact=contact, model=model).first()


def _items_sum(contact: Any, model: Any) -> Decimal:
    return sum(ScoreItem.objects.filter(contact=contact, model=model).values_list("current", flat=True), Decimal(0))


def test_fit_and_engagement_rules_add_up(make_contact: Any, make_model: Any, send_events: Any) -> None:
    model = make_model(rules=[DIRECTOR, PRICING, DEMO])
    lan = make_contact(full_name="Lan", job_title="Giám đốc kinh doanh")
    minh = make_contact(full_name="Minh", job_title="Nhân viên")
    send_events(lan, [("https://shop.vn/pricing", NOW - DAY, {}), ("https://shop.vn/blog", NOW - DAY, {})], "page")
    send_events(minh, [("Demo Requested", NOW - DAY, {}), ("Other", NOW, {})])
    # The listener marked both contacts; the worker computes them.
    assert set(ScoreDirty.objects.values_list("contact_id", flat=True)) >= {lan.pk, minh.pk}
    dirty_process(now=NOW)
    assert not ScoreDirty.objects.exists()
    assert _score(lan, model).total == Decimal("30.00")  # type: ignore[union-attr]
    assert _score(lan, model).fit == Decimal("20.00")  # type: ignore[union-attr]
    assert _score(minh, model).total == Decimal("40.00")  # type: ignore[union-attr]
    assert _score(minh, model).grade == "warm"  # type: ignore[union-attr]
    events = ScoreItem.objects.filter(contact=minh, model=model).values_list("event_name", flat=True)
    assert list(events) == ["Demo Requested"]


def test_caps_per_rule_and_per_period(make_contact: Any, make_model: Any, send_events: Any) -> None:
    capped = {**PRICING, "max_points": 45, "period_days": 1, "period_max": 20}
    model = make_model(rules=[capped])
    lan = make_contact(full_name="Lan")
    day1 = NOW.replace(hour=3) - 3 * DAY
    views = [("https://shop.vn/pricing", day1 + dt.timedelta(minutes=i), {}) for i in range(5)]
    views += [("https://shop.vn/pricing?p=2", day1 + DAY + dt.timedelta(minutes=i), {}) for i in range(3)]
    views += [("https://shop.vn/pricing", day1 + 2 * DAY, {})]
    send_events(lan, views, "page")
    scores_update(contact_ids=[lan.pk], now=NOW)
    # Newest first: day 3 gives 10, day 2 gives 20 (3 views, 20 a day), day 1 the 15 left of 45.
    assert _score(lan, model).total == Decimal("45.00")  # type: ignore[union-attr]
    points = sorted(ScoreItem.objects.filter(contact=lan).values_list("points", flat=True))
    assert points == [Decimal(5), Decimal(10), Decimal(10), Decimal(10), Decimal(10)]


def test_decay_over_simulated_time(make_contact: Any, make_model: Any, send_events: Any) -> None:
    halving = make_model("Half-life", rules=[DEMO], decay="half_life", decay_days=7)
    stepping = make_model("Step-down", rules=[DEMO], decay="step", decay_days=30, decay_percent=25)
    lan = make_contact(full_name="Lan")
    send_events(lan, [("Demo Requested", NOW, {})])
    expected = [(0, "40.00", "40.00"), (7, "20.00", "40.00"), (14, "10.00", "40.00"), (30, "2.05", "30.00")]
    for days, half, step in [*expected, (60, "0.11", "22.50")]:
        scores_update(contact_ids=[lan.pk], now=NOW + days * DAY)
        assert _score(lan, halving).total == Decimal(half), days  # type: ignore[union-attr]
        assert _score(lan, stepping).total == Decimal(step), days  # type: ignore[union-attr]
    # 18 half-lives on, the event is worth 0.00: no item, a total of 0 and no grade left.
    scores_update(contact_ids=[lan.pk], now=NOW + 18 * 7 * DAY)
    assert _score(lan, halving).total == 0  # type: ignore[union-attr]
    assert not ScoreItem.objects.filter(contact=lan, model=halving).exists()


def test_the_explanation_adds_up_to_the_total(make_contact: Any, make_model: Any, send_events: Any) -> None:
    rng = random.Random(14)
    rules = [DIRECTOR, {**PRICING, "points": 7}, {**DEMO, "points": 13, "max_points": 100}]
    model = make_model(rules=rules, decay="half_life", decay_days=3)
    contacts = [make_contact(full_name=f"Người {i}", job_title=rng.choice(["Giám đốc", "Kế toán"])) for i in range(6)]
    for contact in contacts:
        ages = [dt.timedelta(seconds=rng.randrange(0, 40 * 86400)) for _ in range(rng.randrange(1, 30))]
        send_events(contact, [("https://a.vn/pricing", NOW - age, {}) for age in ages], "page")
        send_events(contact, [("Demo Requested", NOW - age, {}) for age in ages[:9]])
    for now in (NOW, NOW + dt.timedelta(hours=37, seconds=11)):
        scores_update(contact_ids=[c.pk for c in contacts], now=now)
        for contact in contacts:
            score = _score(contact, model)
            assert score is not None and score.total == _items_sum(contact, model) == score.fit + score.engagement


def test_grades_fire_the_hook_once_per_crossing(make_contact: Any, make_model: Any, send_events: Any) -> None:
    seen: list[GradeChange] = []

    def listener(changes: list[GradeChange]) -> None:
        seen.extend(changes)

    SCORE_REACHED.connect(listener)
    try:
        model = make_model(rules=[DEMO], decay="half_life", decay_days=10)
        lan = make_contact(full_name="Lan")
        send_events(lan, [("Demo Requested", NOW, {})])
        for _ in range(3):
            scores_update(contact_ids=[lan.pk], now=NOW)
        assert [(c.old_grade, c.new_grade, c.rising) for c in seen] == [("cold", "warm", True)]
        send_events(lan, [("Demo Requested", NOW + dt.timedelta(seconds=1), {})])
        scores_update(contact_ids=[lan.pk], now=NOW + dt.timedelta(seconds=1))
        scores_update(contact_ids=[lan.pk], now=NOW + dt.timedelta(seconds=2))
        assert [(c.new_grade, c.total) for c in seen[1:]] == [("hot", Decimal("80.00"))]
        # Twenty days later both events are worth a quarter: 20 points, cold again (once).
        scores_update(contact_ids=[lan.pk], now=NOW + 20 * DAY)
        scores_update(contact_ids=[lan.pk], now=NOW + 20 * DAY + dt.timedelta(hours=1))
        assert [(c.old_grade, c.new_grade, c.rising) for c in seen[2:]] == [("hot", "cold", False)]
        assert seen[0].model_id == model.pk and seen[0].contact_id == lan.pk
        days = list(ScoreHistory.objects.filter(contact=lan).order_by("day").values_list("day", "grade"))
        assert days == [(NOW.date(), "hot"), ((NOW + 20 * DAY).date(), "cold")]
    finally:
        SCORE_REACHED.disconnect(listener)


def test_fast_track_jumps_to_the_top_grade(make_contact: Any, make_model: Any, send_events: Any) -> None:
    fast = {
        "kind": "fast_track",
        "name": "Pricing 3 times this week",
        "condition": {
            "op": "all",
            "conditions": [
                {
                    "kind": "event",
                    "name": "Pricing Viewed",
                    "count": {"operator": "gte", "value": 3},
                    "period": {"last_days": 7},
                }
            ],
        },
    }
    model = make_model(rules=[DIRECTOR, fast])
    lan, minh = make_contact(full_name="Lan"), make_contact(full_name="Minh")
    send_events(lan, [("Pricing Viewed", NOW - DAY, {}) for _ in range(3)])
    send_events(minh, [("Pricing Viewed", NOW - DAY, {}) for _ in range(2)])
    scores_update(contact_ids=[lan.pk, minh.pk], now=NOW)
    lan_score = _score(lan, model)
    assert lan_score is not None and lan_score.grade == "hot" and lan_score.fast_tracked and lan_score.total == 0
    assert _score(minh, model) is None
    # A week on the condition no longer holds.
    scores_update(contact_ids=[lan.pk], now=NOW + 7 * DAY)
    assert _score(lan, model).grade == "cold"  # type: ignore[union-attr]


def test_only_changes_a_model_depends_on_mark_contacts(make_contact: Any, make_model: Any, send_events: Any) -> None:
    make_model(rules=[DEMO])
    lan, minh = make_contact(full_name="Lan"), make_contact(full_name="Minh")
    ScoreDirty.objects.all().delete()
    send_events(lan, [("Newsletter Read", NOW, {})])
    send_events(minh, [("Demo Requested", NOW, {})])
    assert list(ScoreDirty.objects.values_list("contact_id", flat=True)) == [minh.pk]


def test_two_workers_never_claim_the_same_rows(make_contact: Any, make_model: Any) -> None:
    from danhba.scoring.services import dirty

    make_model(rules=[DIRECTOR])
    contacts = [make_contact(full_name=f"Người {i}") for i in range(5)]
    ScoreDirty.objects.all().delete()
    dirty.scores_mark(contact_ids=[c.pk for c in contacts])
    first = dirty._claim(token="a", limit=3)
    second = dirty._claim(token="b", limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {r[1] for r in first} & {r[1] for r in second}
    # A contact marked again while claimed stays for the next pass.
    dirty.scores_mark(contact_ids=[first[0][1]])
    dirty._release(token="a", ids=[r[0] for r in first])
    assert list(ScoreDirty.objects.filter(claim="").values_list("contact_id", flat=True)) == [first[0][1]]
