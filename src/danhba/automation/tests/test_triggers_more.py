"""Triggers added for the playbooks: a field changed from a value (to a value), a deal won or
lost (for some reasons) and a form submitted — events of the apps' internal sources only —,
subscribed (a consent granted after it was not), and anniversaries of any date field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from danhba.automation.models import Enrolment
from danhba.automation.tests.test_triggers import TAG, enrolled
from danhba.conftest import actor_for
from danhba.contacts.services.contacts import contact_update, contacts_bulk_update
from danhba.core.errors import InvalidInput
from danhba.tracking.services.server import ServerEvent, server_events_store

pytestmark = pytest.mark.django_db


def test_a_field_changed_from_a_value_to_a_value(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    me = actor_for(admin)
    moved = make_workflow(
        graph=TAG, name="Chuyển vào Sài Gòn",
        trigger={"kind": "field_changed", "field": "province", "from": "ha-noi", "to": "ho-chi-minh"},
    )  # fmt: skip
    left = make_workflow(graph=TAG, name="Rời Hà Nội", trigger={"kind": "field_changed", "field": "province",
                                                                 "from": "ha-noi"})  # fmt: skip
    assert moved.trigger["from"] == "ha-noi"
    hanoi, danang = make_contact(full_name="Hà", province="ha-noi"), make_contact(full_name="Đà", province="da-nang")
    make_contact(full_name="Mới", province="ho-chi-minh")  # new: changed from nothing
    assert not enrolled(moved) and not enrolled(left)
    contact_update(actor=me, contact=hanoi, data={"province": "ho-chi-minh"})
    contact_update(actor=me, contact=danang, data={"province": "ho-chi-minh"})
    assert enrolled(moved) == {hanoi.pk}
    assert enrolled(left) == {hanoi.pk}
    # The bulk writer's audit rows say "from" too.
    third = make_contact(full_name="Ba", province="ha-noi")
    contacts_bulk_update(actor=me, contact_ids=[third.pk], fields={"province": "can-tho"})
    assert enrolled(left) == {hanoi.pk, third.pk} and enrolled(moved) == {hanoi.pk}


def _store(source: str, contact_id: int, name: str, mid: str, **properties: Any) -> None:
    """An event of danhba's internal source ``source``, or (``"website"``) of a website's
    source: anyone with its public key could send it."""
    event = ServerEvent(contact_id=contact_id, name=name, message_id=mid, properties=properties)
    if source != "website":
        server_events_store(source=source, events=[event])
        return
    from django.utils import timezone

    from danhba.tracking.models import Source
    from danhba.tracking.services.intake import events_ingest_many
    from danhba.tracking.services.server import _message

    web, _new = Source.objects.get_or_create(
        key_hash="web-test", defaults={"name": "Web", "kind": Source.Kind.WEBSITE, "key_prefix": "dbw_test"}
    )
    now = timezone.now()
    events_ingest_many(source=web, requests=[([_message(0, event, now)], now)])


def test_deal_lost_for_some_reasons_and_deal_won_from_the_sales_source_only(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    price = make_workflow(graph=TAG, name="Giá", trigger={"kind": "deal_lost", "reasons": ["budget", "competitor"]})
    any_loss = make_workflow(graph=TAG, name="Mất bất kỳ", trigger={"kind": "deal_lost"})
    won = make_workflow(graph=TAG, name="Thắng", trigger={"kind": "deal_won"})
    budget, timing, forged, winner = (make_contact(full_name=n) for n in ("Ngân sách", "Thời điểm", "Giả", "Thắng"))
    _store("sales", budget.pk, "Deal Lost", "d1", lost_reason="budget")
    _store("sales", timing.pk, "Deal Lost", "d2", lost_reason="timing")
    _store("sales", winner.pk, "Deal Won", "d3")
    # A website (or an API key) sending an event of the same name starts nothing.
    _store("website", forged.pk, "Deal Lost", "d4", lost_reason="budget")
    _store("website", forged.pk, "Deal Won", "d5")
    from danhba.tracking.models import Event

    assert Event.objects.filter(contact_id=forged.pk, name__in=["Deal Lost", "Deal Won"]).count() == 2
    assert enrolled(price) == {budget.pk}
    assert enrolled(any_loss) == {budget.pk, timing.pk}
    assert enrolled(won) == {winner.pk}


def test_deal_lost_through_the_sales_service(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.sales.models import LostReason
    from danhba.sales.services.deals import deal_create, deal_lose
    from danhba.sales.services.pipelines import pipeline_create
    from danhba.sales.tests.conftest import STAGES

    me = actor_for(admin)
    wf = make_workflow(graph=TAG, trigger={"kind": "deal_lost", "reasons": ["competitor"]})
    pipeline = pipeline_create(actor=me, data={"name": "B2B", "stages": STAGES})
    lan = make_contact(full_name="Trần Thị Lan")
    deal = deal_create(actor=me, data={"title": "CRM", "pipeline_id": pipeline.pk, "primary_contact_id": lan.pk})
    deal_lose(actor=me, deal=deal, lost_reason_id=LostReason.objects.get(key="competitor").pk, note="Chọn bên khác")
    assert enrolled(wf) == {lan.pk}


def test_a_form_submitted_any_or_one(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    one = make_workflow(graph=TAG, name="Báo giá", trigger={"kind": "form_submitted", "form": 7})
    every = make_workflow(graph=TAG, name="Mọi biểu mẫu", trigger={"kind": "form_submitted"})
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    _store("capture", a.pk, "Form Submitted", "f1", form_id=7, form="Yêu cầu báo giá")
    _store("capture", b.pk, "Form Submitted", "f2", form_id=8, form="Bản tin")
    _store("website", b.pk, "Form Submitted", "f3", form_id=7)
    assert enrolled(one) == {a.pk}
    assert enrolled(every) == {a.pk, b.pk}


def test_subscribed_is_a_grant_after_none_or_a_withdrawal(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.privacy.services import consent_record

    me = actor_for(admin)
    wf = make_workflow(graph=TAG, trigger={"kind": "subscribed"}, reenrol="again")
    new, back, steady = make_contact(full_name="Mới"), make_contact(full_name="Quay lại"), make_contact(full_name="Đều")

    def record(contact: Any, status: str, minutes: int) -> None:
        when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
        consent_record(actor=me, contact=contact, purpose="email_marketing", status=status, source="ui",
                       recorded_at=when)  # fmt: skip

    record(steady, "granted", 30)
    record(back, "withdrawn", 30)
    Enrolment.objects.all().delete()
    record(new, "granted", 1)
    record(back, "granted", 1)
    record(steady, "granted", 1)  # granted again: not a new subscription
    assert enrolled(wf) == {new.pk, back.pk}
    with pytest.raises(InvalidInput):
        make_workflow(graph=TAG, trigger={"kind": "subscribed", "purpose": "no-such-purpose"}, name="X")


def test_anniversaries_of_creation_and_n_days_after_a_custom_date(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    from danhba.automation.triggers import daily_enrol
    from danhba.contacts.models import Contact, CustomField

    CustomField.objects.create(key="ngay_mua", label="Ngày mua", type="date")
    today = dt.date(2026, 12, 8)
    noon = dt.datetime(2026, 12, 8, 5, 0, tzinfo=dt.UTC)
    yearly = make_workflow(graph=TAG, name="Kỷ niệm", trigger={"kind": "date", "field": "created_at", "yearly": True})
    after = make_workflow(graph=TAG, name="Sau mua", trigger={"kind": "date", "field": "custom.ngay_mua", "days": 30})
    two_years, today_new, bought = (
        make_contact(full_name="Hai năm"),
        make_contact(full_name="Hôm nay"),
        make_contact(full_name="Đã mua", custom={"ngay_mua": "2026-11-08"}),
    )
    make_contact(full_name="Mua khác ngày", custom={"ngay_mua": "2026-11-09"})
    Contact.objects.filter(pk=two_years.pk).update(created_at=noon - dt.timedelta(days=730))
    Contact.objects.filter(pk=today_new.pk).update(created_at=noon)
    daily_enrol(today=today)
    assert enrolled(yearly) == {two_years.pk}
    assert enrolled(after) == {bought.pk}
    with pytest.raises(InvalidInput):
        make_workflow(graph=TAG, trigger={"kind": "date", "field": "custom.khong_co"}, name="X")
