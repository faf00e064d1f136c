"""Triggers come from the hooks of the writes below (segments, events, contact changes)."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Enrolment
from danhba.automation.services import engine
from danhba.automation.tests.conftest import HOUR, T0
from danhba.conftest import actor_for
from danhba.contacts.services.contacts import contact_update

pytestmark = pytest.mark.django_db

TAG = {"start": "t", "steps": {"t": {"kind": "tag", "params": {"add": ["chào mừng"]}}}}


def enrolled(wf: Any) -> set[int]:
    return set(Enrolment.objects.filter(workflow=wf).values_list("contact_id", flat=True))


def test_entering_and_leaving_a_list(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.segments.services import list_add, list_remove, segment_create

    me = actor_for(admin)
    lst = segment_create(actor=me, name="Hội thảo", kind="static")
    entered = make_workflow(graph=TAG, trigger={"kind": "segment_entered", "segment": lst.pk}, name="Vào")
    left = make_workflow(graph=TAG, trigger={"kind": "segment_left", "segment": lst.pk}, name="Ra")
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    list_add(actor=me, segment=lst, contact_ids=[a.pk, b.pk])
    assert enrolled(entered) == {a.pk, b.pk} and not enrolled(left)
    list_remove(actor=me, segment=lst, contact_ids=[a.pk])
    assert enrolled(left) == {a.pk}


def test_entering_a_dynamic_segment(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.segments.services import segment_create

    me = actor_for(admin)
    hanoi = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}
    seg = segment_create(actor=me, name="Hà Nội", conditions=hanoi)
    wf = make_workflow(graph=TAG, trigger={"kind": "segment_entered", "segment": seg.pk})
    c = make_contact(province="ho-chi-minh")
    assert not enrolled(wf)
    contact_update(actor=me, contact=c, data={"province": "ha-noi"})
    assert enrolled(wf) == {c.pk}


def test_a_field_changed_to_a_value_and_a_stage_reached(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    me = actor_for(admin)
    title = make_workflow(
        graph=TAG, trigger={"kind": "field_changed", "field": "job_title", "to": "Giám đốc"}, name="T"
    )
    stage = make_workflow(graph=TAG, trigger={"kind": "lifecycle_reached", "value": "customer"}, name="S")
    c = make_contact()
    contact_update(actor=me, contact=c, data={"job_title": "Kế toán"})
    assert not enrolled(title)
    contact_update(actor=me, contact=c, data={"job_title": "Giám đốc"})
    assert enrolled(title) == {c.pk}
    assert not enrolled(stage)
    contact_update(actor=me, contact=c, data={"lifecycle_stage": "customer"})
    assert enrolled(stage) == {c.pk}


def test_an_event_with_property_conditions_and_a_wait_for_an_event(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    from danhba.tracking.services.server import ServerEvent, server_events_store

    graph = {
        "start": "w",
        "steps": {
            "w": {"kind": "wait_event", "params": {"event": "Demo Booked", "timeout_seconds": 86400,
                                                     "timeout_next": "late"}, "next": "ok"},
            "ok": {"kind": "tag", "params": {"add": ["đặt lịch"]}},
            "late": {"kind": "tag", "params": {"add": ["im lặng"]}},
        },
    }  # fmt: skip
    trigger = {"kind": "event", "event": "Pricing Viewed", "where": [{"property": "plan", "value": "pro"}]}
    wf = make_workflow(graph=graph, trigger=trigger)
    fast, slow, other = make_contact(full_name="Nhanh"), make_contact(full_name="Chậm"), make_contact(full_name="Khác")
    server_events_store(
        source="test",
        events=[
            ServerEvent(contact_id=fast.pk, name="Pricing Viewed", message_id="m1", properties={"plan": "pro"}),
            ServerEvent(contact_id=slow.pk, name="Pricing Viewed", message_id="m2", properties={"plan": "pro"}),
            ServerEvent(contact_id=other.pk, name="Pricing Viewed", message_id="m3", properties={"plan": "free"}),
        ],
    )
    assert enrolled(wf) == {fast.pk, slow.pk}
    engine.run_due(now=T0)
    assert Enrolment.objects.filter(workflow=wf, waiting_for="Demo Booked").count() == 2
    # In the same request, the other waiting contact does something else: only the pair
    # (contact, the event it waits for) wakes an enrolment.
    server_events_store(
        source="test",
        events=[
            ServerEvent(contact_id=fast.pk, name="Demo Booked", message_id="m4"),
            ServerEvent(contact_id=slow.pk, name="Blog Read", message_id="m5"),
        ],
    )
    engine.run_due()
    assert "đặt lịch" in set(fast.tags.values_list("name", flat=True))
    engine.run_due(now=T0 + 25 * HOUR)
    assert set(slow.tags.values_list("name", flat=True)) == {"im lặng"}


def test_a_score_grade_reached(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    import datetime as dt

    from danhba.scoring.services.compute import scores_update
    from danhba.scoring.services.models import score_model_create, score_rule_create

    me = actor_for(admin)
    model = score_model_create(actor=me, data={"name": "Độ phù hợp"})
    director = {"op": "all", "conditions": [{"kind": "field", "field": "job_title", "operator": "eq", "value": "CEO"}]}
    score_rule_create(actor=me, model=model, data={"kind": "fit", "name": "CEO", "points": 70, "condition": director})
    wf = make_workflow(graph=TAG, trigger={"kind": "score_reached", "model": model.pk, "grade": "hot"})
    boss, clerk = make_contact(full_name="Sếp", job_title="CEO"), make_contact(full_name="Nhân viên")
    scores_update(contact_ids=[boss.pk, clerk.pk], now=dt.datetime(2026, 12, 8, tzinfo=dt.UTC))
    assert enrolled(wf) == {boss.pk}


def test_daily_triggers_no_activity_and_dates(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from danhba.automation.triggers import daily_enrol
    from danhba.contacts.models import Contact

    today = dt.date(2026, 12, 8)
    noon = dt.datetime(2026, 12, 8, 5, 0, tzinfo=dt.UTC)  # 12:00 in Hồ Chí Minh City
    quiet = make_workflow(graph=TAG, trigger={"kind": "inactive", "days": 30}, name="Im lặng")
    birthday = make_workflow(graph=TAG, trigger={"kind": "date", "field": "birthday"}, name="Sinh nhật")
    week = make_workflow(graph=TAG, trigger={"kind": "date", "field": "created_at", "days": 7}, name="Một tuần")
    gone, recent = make_contact(full_name="Lâu rồi"), make_contact(full_name="Mới đây")
    born, other = make_contact(full_name="Sinh nhật", birthday="1990-12-08"), make_contact(birthday="1990-12-09")
    Contact.objects.filter(pk=gone.pk).update(last_activity_at=noon - dt.timedelta(days=30))
    Contact.objects.filter(pk=recent.pk).update(last_activity_at=noon - dt.timedelta(days=29))
    Contact.objects.filter(pk=other.pk).update(created_at=noon - dt.timedelta(days=7))
    assert daily_enrol(today=today) == 3
    assert enrolled(quiet) == {gone.pk}
    assert enrolled(birthday) == {born.pk}
    assert enrolled(week) == {other.pk}
    # Once a day, however often the job runs.
    Contact.objects.filter(pk=recent.pk).update(last_activity_at=noon - dt.timedelta(days=30))
    assert daily_enrol(today=today) == 0
    assert timezone.is_aware(noon)


WHERE = [
    [{"property": "plan", "operator": "eq", "value": "pro"}],
    [{"property": "plan", "operator": "contains", "value": "PR"}],
    [{"property": "plan", "operator": "ne", "value": "pro"}],
    [{"property": "seats", "operator": "gt", "value": 5}],
    [{"property": "seats", "operator": "lte", "value": "5"}, {"property": "plan", "operator": "exists"}],
    [{"property": "coupon", "operator": "not_exists"}],
]


@pytest.mark.parametrize("where", WHERE)
def test_an_event_trigger_enrols_whom_the_segment_language_selects(
    where: list[dict[str, Any]], make_workflow: Any, make_contact: Any
) -> None:
    """The trigger's property conditions mean what they mean in a segment: the contacts enrolled
    by one request's events are those an event condition with the same ``where`` matches."""
    from danhba.segments.compiler import matching
    from danhba.tracking.services.server import ServerEvent, server_events_store

    wf = make_workflow(graph=TAG, trigger={"kind": "event", "event": "Trial Started", "where": where})
    shapes = [{"plan": "pro", "seats": 12}, {"plan": "Pro", "seats": "3"}, {"plan": "pro-max", "seats": 5.5},
              {"plan": "free", "coupon": "TET"}, {"seats": "nhiều"}, {}]  # fmt: skip
    people = [make_contact(full_name=f"Khách {n}") for n in range(len(shapes))]
    server_events_store(
        source="test",
        events=[
            ServerEvent(contact_id=p.pk, name="Trial Started", message_id=f"t{n}", properties=shape)
            for n, (p, shape) in enumerate(zip(people, shapes, strict=True))
        ],
    )
    condition = {"kind": "event", "name": "Trial Started", "where": where, "count": {"operator": "gte", "value": 1}}
    tree = {"op": "and", "conditions": [condition]}
    selected = set(matching(tree, among=[p.pk for p in people]).values_list("pk", flat=True))
    assert enrolled(wf) == selected
    assert 0 < len(selected) < len(people)


def test_an_event_trigger_refuses_what_the_segment_language_refuses(admin: Any) -> None:
    from danhba.automation.services.workflows import workflow_create
    from danhba.core.errors import InvalidInput

    trigger = {
        "kind": "event",
        "event": "Trial Started",
        "where": [{"property": "seats", "operator": "gt", "value": "x"}],
    }
    with pytest.raises(InvalidInput):
        workflow_create(actor=actor_for(admin), data={"name": "Sai", "graph": TAG, "trigger": trigger})


def test_stored_events_cost_one_query_and_none_when_nothing_waits(make_workflow: Any, make_contact: Any) -> None:
    from types import SimpleNamespace

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from danhba.automation import triggers

    triggers.cache_clear()
    contact = make_contact(full_name="Lê Văn Cường")
    names = ["Page Viewed", "Product Viewed", "Added To Cart", "Signed Up", "Demo Booked"]
    stored = SimpleNamespace(messages=[SimpleNamespace(contact_id=contact.pk, name=n, properties={}) for n in names])
    triggers.on_events_stored(stored)  # fills the caches
    with CaptureQueriesContext(connection) as none:
        triggers.on_events_stored(stored)
    assert len(none) == 0
    wait = {"kind": "wait_event", "params": {"event": "Demo Booked", "timeout_seconds": 3600}}
    make_workflow(graph={"start": "w", "steps": {"w": wait}})  # clears the caches
    triggers.on_events_stored(stored)
    with CaptureQueriesContext(connection) as one:
        triggers.on_events_stored(stored)
    assert len(one) == 1 and "Demo Booked" in one.captured_queries[0]["sql"]


def test_a_workflow_paused_or_deleted_by_another_process_enrols_no_one(make_workflow: Any, make_contact: Any) -> None:
    """The worker caches active workflows for a few seconds; the web process may pause or delete
    one meanwhile. The trigger then enrols no one, and a deleted one is no error (it was a
    WorkflowVersion.DoesNotExist inside the scoring or event transaction)."""
    from types import SimpleNamespace

    from danhba.automation import triggers
    from danhba.automation.models import Enrolment, Workflow

    wf = make_workflow(trigger={"kind": "event", "event": "Signed Up"})
    contact = make_contact(full_name="Đỗ Thị Hạnh")
    message = SimpleNamespace(contact_id=contact.pk, name="Signed Up", properties={})
    stored = SimpleNamespace(messages=[message], source=None)
    assert triggers._active(["event"]) == [wf]  # cached now
    Workflow.objects.filter(pk=wf.pk).update(status=Workflow.Status.PAUSED)  # elsewhere
    triggers.on_events_stored(stored)
    assert not Enrolment.objects.exists()
    Workflow.objects.filter(pk=wf.pk).update(status=Workflow.Status.ACTIVE)
    triggers.cache_clear()
    triggers.on_events_stored(stored)  # active again: the same event enrols
    assert Enrolment.objects.filter(workflow=wf, contact=contact).exists()
    Enrolment.objects.all().delete()
    Workflow.objects.filter(pk=wf.pk).delete()  # elsewhere, while the worker still has it cached
    triggers.on_events_stored(stored)
    assert not Enrolment.objects.exists()
