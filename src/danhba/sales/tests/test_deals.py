"""Pipelines and deals through the services: stage rules, moving a deal with its history and
time in each stage, lost needs a reason and a note, won/lost events on the contacts' timelines,
product lines that value the deal, record visibility, the forecast and win/loss report math,
and an audit row for every write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.selectors import contact_timeline
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from danhba.orders.models import Product
from danhba.sales import selectors
from danhba.sales.models import Deal, DealStageChange, LostReason
from danhba.sales.services import deals as S
from danhba.sales.services.pipelines import lost_reason_create, pipeline_create, pipeline_update
from danhba.sales.tests.conftest import STAGES
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db


def reasons(exc: Any) -> dict[str, list[str]]:
    return exc.value.details


def test_a_pipeline_needs_open_won_and_lost_stages(admin: Any) -> None:
    actor = actor_for(admin)
    with pytest.raises(InvalidInput) as exc:
        pipeline_create(actor=actor, data={"name": "X", "stages": [{"name": "A"}, {"name": "B", "kind": "won"}]})
    assert "stages" in reasons(exc)
    with pytest.raises(InvalidInput) as exc:
        pipeline_create(actor=actor, data={"name": "", "stages": [{"name": "A", "probability": 101}, {"kind": "x"}]})
    assert {"name", "stages.0.probability", "stages.1.kind", "stages.1.name"} <= set(reasons(exc))
    made = pipeline_create(actor=actor, data={"name": "Retail", "stages": STAGES})
    assert [(s.name, s.probability, s.kind) for s in made.stages.all()][-2:] == [
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ]
    with pytest.raises(PermissionDenied):
        pipeline_create(actor=actor_for(_user("sales")), data={"name": "Mine", "stages": STAGES})


def _user(role: str) -> Any:
    from danhba.accounts.models import User

    return User.objects.get(email=f"{role}@example.vn")


def test_reordering_stages_keeps_deals_and_removing_a_used_stage_is_refused(
    admin: Any, pipeline: Any, stages: Any, make_deal: Any
) -> None:
    deal = make_deal(stage_id=stages["Proposal"].pk)
    specs = [{"id": s.pk, "name": s.name, "kind": s.kind, "probability": s.probability} for s in pipeline.stages.all()]
    specs[1], specs[2] = specs[2], specs[1]
    specs[2]["name"] = "Qualified lead"
    pipeline_update(actor=actor_for(admin), pipeline=pipeline, data={"stages": specs})
    assert [s.name for s in pipeline.stages.all()][:3] == ["New", "Proposal", "Qualified lead"]
    deal.refresh_from_db()
    assert deal.stage.name == "Proposal"
    with pytest.raises(Conflict):
        pipeline_update(actor=actor_for(admin), pipeline=pipeline, data={"stages": [specs[0], *specs[4:]]})


def test_moving_records_the_history_and_time_in_each_stage(admin: Any, stages: Any, make_deal: Any) -> None:
    deal = make_deal(value=1_000_000)
    assert deal.stage.name == "New" and deal.status == "open"
    S.deal_move(actor=actor_for(admin), deal=deal, stage_id=stages["Qualified"].pk)
    # Pretend the deal sat 3 days in "New" and has been 2 hours in "Qualified".
    now = timezone.now()
    first, second = DealStageChange.objects.filter(deal=deal).order_by("id")
    DealStageChange.objects.filter(pk=first.pk).update(
        entered_at=now - dt.timedelta(days=3), left_at=now - dt.timedelta(hours=2)
    )
    DealStageChange.objects.filter(pk=second.pk).update(entered_at=now - dt.timedelta(hours=2))
    history = selectors.stage_history(deal, now=now)
    assert [(h.stage_name, h.duration) for h in history] == [
        ("New", dt.timedelta(days=3) - dt.timedelta(hours=2)),
        ("Qualified", dt.timedelta(hours=2)),
    ]
    assert history[1].left_at is None
    with pytest.raises(InvalidInput) as exc:
        S.deal_move(actor=actor_for(admin), deal=deal, stage_id=10**9)
    assert "stage_id" in reasons(exc)


def test_lost_needs_a_reason_and_a_note_and_tells_the_timeline(
    admin: Any, stages: Any, make_deal: Any, make_contact: Any
) -> None:
    lan, binh = make_contact(full_name="Trần Thị Lan"), make_contact(full_name="Lê Bình")
    deal = make_deal(primary_contact_id=lan.pk, contact_ids=[binh.pk], value=5_000_000, source="website")
    actor = actor_for(admin)
    with pytest.raises(InvalidInput) as exc:
        S.deal_lose(actor=actor, deal=deal, lost_reason_id=None, note="")
    assert set(reasons(exc)) == {"lost_reason_id", "note"}
    budget = LostReason.objects.get(key="budget")
    with pytest.raises(InvalidInput) as exc:
        S.deal_move(actor=actor, deal=deal, stage_id=stages["Lost"].pk, lost_reason_id=budget.pk, note="  ")
    assert set(reasons(exc)) == {"note"}
    LostReason.objects.filter(key="timing").update(is_active=False)
    with pytest.raises(InvalidInput):
        S.deal_lose(actor=actor, deal=deal, lost_reason_id=LostReason.objects.get(key="timing").pk, note="later")
    assert Deal.objects.get(pk=deal.pk).status == "open" and not Event.objects.filter(name="Deal Lost").exists()

    S.deal_lose(actor=actor, deal=deal, lost_reason_id=budget.pk, note="Ngân sách năm sau")
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason, deal.lost_note) == ("lost", budget, "Ngân sách năm sau")
    assert deal.closed_at is not None
    events = Event.objects.filter(name="Deal Lost").order_by("contact_id")
    assert [e.contact_id for e in events] == sorted([lan.pk, binh.pk])
    assert events[0].properties["lost_reason"] == "budget" and events[0].properties["value"] == 5_000_000
    assert events[0].source.kind == "internal"
    timeline = contact_timeline(lan, admin)
    assert "Deal Lost" in str(timeline)


def test_won_tells_each_contact_once_and_reopening_then_winning_again_is_a_new_event(
    admin: Any, stages: Any, make_deal: Any, make_contact: Any
) -> None:
    lan = make_contact(full_name="Trần Thị Lan")
    deal = make_deal(primary_contact_id=lan.pk, value=2_000_000)
    actor = actor_for(admin)
    S.deal_win(actor=actor, deal=deal)
    S.deal_win(actor=actor, deal=deal)  # already won: nothing happens
    assert Event.objects.filter(name="Deal Won", contact=lan).count() == 1
    S.deal_move(actor=actor, deal=deal, stage_id=stages["Negotiation"].pk)
    assert Deal.objects.get(pk=deal.pk).closed_at is None
    S.deal_win(actor=actor, deal=deal)
    assert Event.objects.filter(name="Deal Won", contact=lan).count() == 2
    assert not Event.objects.filter(name="Deal Lost").exists()


def test_lines_value_the_deal_in_vnd(admin: Any, make_deal: Any) -> None:
    product = Product.objects.create(product_id="SKU-1", name="Gói Pro", price=Decimal("1500000"))
    deal = make_deal(currency="USD", rate="25000", value=100)
    assert deal.value_vnd == Decimal("2500000.00")
    actor = actor_for(admin)
    line = S.deal_line_add(actor=actor, deal=deal, data={"product_id": product.pk, "quantity": 2, "price": 60})
    assert line.name == "Gói Pro"
    S.deal_line_add(actor=actor, deal=deal, data={"name": "Cài đặt", "price": "30.5", "discount": "0.5"})
    deal.refresh_from_db()
    assert (deal.value, deal.value_vnd) == (Decimal("150.00"), Decimal("3750000.00"))
    with pytest.raises(InvalidInput) as exc:
        S.deal_update(actor=actor, deal=deal, data={"value": 5})
    assert "value" in reasons(exc)
    with pytest.raises(InvalidInput):
        S.deal_line_update(actor=actor, line=line, data={"discount": 1000})
    S.deal_line_delete(actor=actor, line=line)
    deal.refresh_from_db()
    assert deal.value == Decimal("30.00")
    with pytest.raises(InvalidInput) as exc:
        S.deal_create(actor=actor, data={"title": "X", "currency": "usd1"})
    assert "currency" in reasons(exc)
    with pytest.raises(InvalidInput) as exc:
        S.deal_create(actor=actor, data={"title": "X", "currency": "EUR"})
    assert "rate" in reasons(exc)


def test_a_rep_sees_own_and_unassigned_deals_only(users: Any, make_user: Any, make_deal: Any) -> None:
    rep, other = users["sales"], make_user("sales")
    mine = make_deal(user=rep)
    theirs = make_deal(user=other)
    assert mine.owner == rep
    assert set(selectors.deals_visible(rep)) == {mine}
    with pytest.raises(NotFound):
        S.deal_get(actor=actor_for(rep), pk=theirs.pk)
    with pytest.raises(NotFound):
        S.deal_update(actor=actor_for(rep), deal=theirs, data={"title": "Mine now"})
    with pytest.raises(InvalidInput) as exc:
        S.deal_update(actor=actor_for(rep), deal=mine, data={"owner_id": other.pk})
    assert "owner_id" in reasons(exc)
    with pytest.raises(PermissionDenied):
        make_deal(user=users["marketing"])


def test_every_write_is_audited(admin: Any, stages: Any, make_deal: Any) -> None:
    actor = actor_for(admin)
    deal = make_deal(value=10)
    S.deal_update(actor=actor, deal=deal, data={"title": "Renamed"})
    S.deal_win(actor=actor, deal=deal)
    lost_reason_create(actor=actor, data={"name": "Bad fit", "name_vi": "Không phù hợp"})
    rows = AuditEvent.objects.filter(object_type__in=["deal", "lost_reason"]).order_by("id")
    assert [(r.object_type, r.action) for r in rows] == [
        ("deal", "create"), ("deal", "update"), ("deal", "update"), ("lost_reason", "create"),
    ]  # fmt: skip
    assert rows[1].changes["title"] == ["Phần mềm kế toán", "Renamed"]
    assert rows[2].changes["status"] == ["open", "won"]


def test_forecast_weighs_each_month_by_stage_probability(admin: Any, stages: Any, make_deal: Any) -> None:
    jan, feb = dt.date(2027, 1, 15), dt.date(2027, 2, 3)
    make_deal(value=1_000_000, expected_close=jan.isoformat(), stage_id=stages["Qualified"].pk)  # 25 %
    make_deal(value=3_000_000, expected_close="31/01/2027", stage_id=stages["Negotiation"].pk)  # 75 %
    make_deal(value=999_999, expected_close=feb.isoformat(), stage_id=stages["New"].pk)  # 10 %
    make_deal(value=7_000_000)  # no date: left out
    won = make_deal(value=5_000_000, expected_close=jan.isoformat())
    S.deal_win(actor=actor_for(admin), deal=won)  # closed: left out
    rows = selectors.forecast(Deal.objects.all())
    assert [(r.month, r.deals, r.total, r.weighted) for r in rows] == [
        (dt.date(2027, 1, 1), 2, Decimal("4000000.00"), Decimal("2500000.00")),
        (dt.date(2027, 2, 1), 1, Decimal("999999.00"), Decimal("99999.90")),
    ]
    assert [r.month for r in selectors.forecast(Deal.objects.all(), since=dt.date(2027, 2, 1))] == [dt.date(2027, 2, 1)]


def test_win_loss_by_reason_owner_and_source(users: Any, stages: Any, make_deal: Any) -> None:
    admin, rep = users["admin"], users["sales"]
    budget, competitor = LostReason.objects.get(key="budget"), LostReason.objects.get(key="competitor")
    plan = [(rep, "web", "won", None), (rep, "web", "lost", budget), (admin, "fair", "lost", budget),
            (admin, "web", "lost", competitor), (admin, "fair", "won", None)]  # fmt: skip
    for owner, source, outcome, reason in plan:
        deal = make_deal(user=owner, value=1_000, source=source)
        if outcome == "won":
            S.deal_win(actor=actor_for(owner), deal=deal)
        else:
            S.deal_lose(actor=actor_for(owner), deal=deal, lost_reason_id=reason.pk, note="x")
    make_deal(value=1)  # open: not counted
    by_reason = {r.key: (r.won, r.lost) for r in selectors.win_loss(Deal.objects.all(), by="reason")}
    assert by_reason == {"budget": (0, 2), "competitor": (0, 1), "": (2, 0)}
    by_owner = {r.label: (r.won, r.lost, r.win_rate) for r in selectors.win_loss(Deal.objects.all(), by="owner")}
    assert by_owner == {"sales@example.vn": (1, 1, 0.5), "admin@example.vn": (1, 2, 0.3333)}
    by_source = {r.key: (r.won, r.lost, r.won_value) for r in selectors.win_loss(Deal.objects.all(), by="source")}
    assert by_source == {"web": (1, 2, Decimal("1000")), "fair": (1, 1, Decimal("1000"))}
