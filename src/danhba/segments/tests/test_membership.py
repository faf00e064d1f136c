"""Membership kept current: full refresh, live re-evaluation on every kind of write, history,
static lists, the worker path, and live updates agreeing with a full refresh."""

from __future__ import annotations

import random
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_update, contacts_bulk_update
from danhba.core.errors import Conflict, InvalidInput, PermissionDenied
from danhba.segments import compiler
from danhba.segments import services as S
from danhba.segments.models import DirtyContact, Segment, SegmentChange, SegmentMember, SegmentSize

pytestmark = pytest.mark.django_db

HANOI = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


def members(segment: Segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def history(segment: Segment) -> list[tuple[int, bool, str]]:
    return list(
        SegmentChange.objects.filter(segment=segment).order_by("id").values_list("contact_id", "entered", "via")
    )


@pytest.fixture
def marketer(users: dict[str, Any]) -> Any:
    return actor_for(users["marketing"])


def test_create_computes_membership_and_history(admin: Any, make_contact: Any) -> None:
    a = make_contact(full_name="An", province="ha-noi")
    make_contact(full_name="Bình", province="hue")
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    segment.refresh_from_db()
    assert members(segment) == {a.pk}
    assert segment.member_count == 1 and segment.refreshed_at is not None and segment.refresh_requested_at is None
    assert history(segment) == [(a.pk, True, "refresh")]
    assert SegmentSize.objects.get(segment=segment).size == 1
    assert segment.depends_on == {"reasons": ["field:province"]} and not segment.time_dependent


def test_contact_edit_enters_and_leaves_live(admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    c = make_contact(full_name="An", province="hue")
    assert members(segment) == set()
    contact_update(actor=actor, contact=c, data={"province": "ha-noi"})
    assert members(segment) == {c.pk}
    contact_update(actor=actor, contact=c, data={"province": "hue"})
    assert members(segment) == set()
    assert [(e, v) for _c, e, v in history(segment)] == [(True, "live"), (False, "live")]
    segment.refresh_from_db()
    assert segment.member_count == 0


def test_deleted_contact_leaves_and_the_size_follows(admin: Any, make_contact: Any) -> None:
    from danhba.contacts.services.contacts import contact_delete

    actor = actor_for(admin)
    a, b = make_contact(full_name="An", province="ha-noi"), make_contact(full_name="Bình", province="ha-noi")
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    contact_delete(actor=actor, contact=a)
    segment.refresh_from_db()
    assert members(segment) == {b.pk} and segment.member_count == 1


def test_new_contact_enters_live(admin: Any, make_contact: Any) -> None:
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    c = make_contact(full_name="An", province="ha-noi")
    assert members(segment) == {c.pk}


def test_only_affected_segments_are_reevaluated(admin: Any, make_contact: Any) -> None:
    """A change to a field a segment does not read leaves it alone, even if it is stale."""
    actor = actor_for(admin)
    c = make_contact(full_name="An", province="hue")
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    Contact.objects.filter(pk=c.pk).update(province="ha-noi")  # behind the services' back
    contact_update(actor=actor, contact=c, data={"job_title": "Kế toán"})
    assert members(segment) == set()
    S.contacts_changed(contact_ids=[c.pk], reasons=["field:province"])
    assert members(segment) == {c.pk}


def test_tags_bulk_update_and_consent_move_members(admin: Any, make_contact: Any) -> None:
    from danhba.privacy.models import ConsentPurpose
    from danhba.privacy.services import consent_record

    actor = actor_for(admin)
    c1, c2 = make_contact(full_name="An"), make_contact(full_name="Bình")
    vip = S.segment_create(
        actor=actor,
        name="VIP",
        conditions={"op": "all", "conditions": [{"kind": "tag", "operator": "any", "tags": ["VIP"]}]},
    )
    contacts_bulk_update(actor=actor, contact_ids=[c1.pk, c2.pk], add_tags=["VIP"])
    assert members(vip) == {c1.pk, c2.pk}
    contacts_bulk_update(actor=actor, contact_ids=[c2.pk], remove_tags=["vip"])
    assert members(vip) == {c1.pk}

    purpose = ConsentPurpose.objects.first()
    assert purpose is not None
    opted = S.segment_create(
        actor=actor,
        name="Opted in",
        conditions={"op": "all", "conditions": [{"kind": "consent", "purpose": purpose.key, "status": "granted"}]},
    )
    assert members(opted) == set()
    consent_record(actor=actor, contact=c2, purpose=purpose.key, status="granted", source="form")
    assert members(opted) == {c2.pk}


def test_company_change_reaches_its_contacts(admin: Any, make_contact: Any) -> None:
    from danhba.contacts.models import Company
    from danhba.contacts.services.companies import company_save

    actor = actor_for(admin)
    c = make_contact(full_name="An", companies=[{"name": "Cty Sao Mai"}])
    segment = S.segment_create(
        actor=actor,
        name="Banks",
        conditions={
            "op": "all",
            "conditions": [{"kind": "field", "field": "company.industry", "operator": "eq", "value": "Banking"}],
        },
    )
    assert members(segment) == set()
    company = Company.objects.get(name="Cty Sao Mai")
    company_save(actor=actor, company=company, data={"name": company.name, "industry": "Banking"})
    assert members(segment) == {c.pk}


def test_worker_path_drains_dirty_contacts(
    settings: Any, admin: Any, make_contact: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    actor = actor_for(admin)
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    settings.SEGMENTS_REFRESH_INLINE = False
    with django_capture_on_commit_callbacks(execute=True):
        c = make_contact(full_name="An", province="ha-noi")
    # The commit woke the (immediate) worker, which drained the queue.
    assert members(segment) == {c.pk}
    assert not DirtyContact.objects.exists()


def test_dirty_rows_wait_for_the_worker(settings: Any, admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    settings.SEGMENTS_REFRESH_INLINE = False
    c = make_contact(full_name="An", province="ha-noi")
    assert DirtyContact.objects.filter(contact_id=c.pk, reason="*").exists()
    assert members(segment) == set()
    assert S.dirty_process() == 1
    assert members(segment) == {c.pk}
    assert not DirtyContact.objects.exists()


def test_rolled_back_write_leaves_no_work(settings: Any, admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    settings.SEGMENTS_REFRESH_INLINE = False
    with pytest.raises(RuntimeError), transaction.atomic():
        make_contact(full_name="An", province="ha-noi")
        raise RuntimeError
    assert not DirtyContact.objects.exists()


def test_no_segments_no_dirty_rows(make_contact: Any) -> None:
    make_contact(full_name="An", province="ha-noi")
    assert not DirtyContact.objects.exists()


def test_full_refresh_repairs_what_bypassed_the_services(admin: Any, make_contact: Any) -> None:
    a, b = make_contact(full_name="An", province="ha-noi"), make_contact(full_name="Bình", province="hue")
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    Contact.objects.filter(pk=a.pk).update(province="hue")
    Contact.objects.filter(pk=b.pk).update(province="ha-noi")
    result = S.segment_refresh(segment=segment)
    assert (result.entered, result.left, result.size) == (1, 1, 1)
    assert members(segment) == {b.pk}


def test_static_lists_by_hand_by_keys_and_snapshot(admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    a = make_contact(full_name="An", emails=[{"email": "an@example.vn"}], province="ha-noi")
    b = make_contact(full_name="Bình", phones=["0912 345 678"])
    lst = S.segment_create(actor=actor, name="Hội thảo", kind=Segment.Kind.STATIC)
    assert S.list_add(actor=actor, segment=lst, contact_ids=[a.pk]) == 1
    assert S.list_add(actor=actor, segment=lst, contact_ids=[a.pk]) == 0
    added, unmatched = S.list_add_by_keys(
        actor=actor, segment=lst, lines=["AN@example.vn", "+84 912345678", "nobody@example.vn", "not a phone", ""]
    )
    assert added == 1
    assert [(line, value) for line, value, _reason in unmatched] == [(3, "nobody@example.vn"), (4, "not a phone")]
    assert members(lst) == {a.pk, b.pk}
    assert S.list_remove(actor=actor, segment=lst, contact_ids=[b.pk]) == 1
    lst.refresh_from_db()
    assert lst.member_count == 1
    with pytest.raises(InvalidInput):
        S.list_add(actor=actor, segment=lst, contact_ids=["x"])

    seg = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    snap = S.list_snapshot(actor=actor, segment=seg, name="Hà Nội hôm nay")
    assert snap.is_static and members(snap) == {a.pk}
    contact_update(actor=actor, contact=a, data={"province": "hue"})
    assert members(seg) == set() and members(snap) == {a.pk}  # a snapshot does not move
    with pytest.raises(InvalidInput):
        S.list_add(actor=actor, segment=seg, contact_ids=[a.pk])


def test_segment_on_a_list_follows_the_list(admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    a = make_contact(full_name="An", province="ha-noi")
    lst = S.segment_create(actor=actor, name="Khách mời", kind=Segment.Kind.STATIC)
    seg = S.segment_create(
        actor=actor,
        name="Khách mời ở Hà Nội",
        conditions={"op": "all", "conditions": [HANOI["conditions"][0], {"kind": "segment", "segment": lst.pk}]},
    )
    assert members(seg) == set()
    S.list_add(actor=actor, segment=lst, contact_ids=[a.pk])
    assert members(seg) == {a.pk}
    with pytest.raises(Conflict):
        S.segment_delete(actor=actor, segment=lst)
    S.segment_delete(actor=actor, segment=seg)
    S.segment_delete(actor=actor, segment=lst)
    assert not Segment.objects.exists()


def test_changing_a_segment_refreshes_those_built_on_it(admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    a = make_contact(full_name="An", province="hue")
    base = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    top = S.segment_create(
        actor=actor, name="Top", conditions={"op": "all", "conditions": [{"kind": "segment", "segment": base.pk}]}
    )
    assert members(top) == set()
    S.segment_update(
        actor=actor,
        segment=base,
        data={"conditions": {"op": "all", "conditions": [{**HANOI["conditions"][0], "value": "hue"}]}},
    )
    assert members(base) == {a.pk} and members(top) == {a.pk}
    with pytest.raises(InvalidInput):  # base may not now refer to top: a cycle
        S.segment_update(
            actor=actor,
            segment=base,
            data={"conditions": {"op": "all", "conditions": [{"kind": "segment", "segment": top.pk}]}},
        )


def test_roles(users: dict[str, Any], marketer: Any) -> None:
    with pytest.raises(PermissionDenied):
        S.segment_create(actor=actor_for(users["sales"]), name="x", conditions=HANOI)
    assert S.segment_create(actor=marketer, name="x", conditions=HANOI).pk


def test_time_dependent_segments_refresh_on_schedule(admin: Any, make_contact: Any) -> None:
    actor = actor_for(admin)
    recent = S.segment_create(
        actor=actor,
        name="New",
        conditions={
            "op": "all",
            "conditions": [{"kind": "field", "field": "created_at", "operator": "within_last", "days": 7}],
        },
    )
    assert recent.time_dependent
    c = make_contact(full_name="An")
    assert members(recent) == {c.pk}
    Contact.objects.filter(pk=c.pk).update(created_at=c.created_at.replace(year=2020))
    assert S.segments_refresh_all(time_dependent_only=True) == 1
    assert members(recent) == set()
    assert history(recent)[-1][1:] == (False, "schedule")


def test_live_updates_equal_a_full_refresh(admin: Any, make_contact: Any) -> None:
    """After a random sequence of writes through the services, the live membership of every
    segment is exactly what a full recomputation gives."""
    actor = actor_for(admin)
    rng = random.Random(5)
    provinces = ["ha-noi", "hue", "hai-phong"]
    contacts = [make_contact(full_name=f"Người {i}", province=rng.choice(provinces)) for i in range(12)]
    trees = [
        HANOI,
        {"op": "any", "conditions": [{"kind": "tag", "operator": "any", "tags": ["VIP"]}, HANOI["conditions"][0]]},
        {
            "op": "none",
            "conditions": [
                {"kind": "field", "field": "job_title", "operator": "contains", "value": "sư"},
                {"kind": "tag", "operator": "all", "tags": ["VIP", "Sỉ"]},
            ],
        },
    ]
    segments = [S.segment_create(actor=actor, name=f"s{i}", conditions=t) for i, t in enumerate(trees)]
    for step in range(40):
        c = rng.choice(contacts)
        action = rng.randrange(4)
        if action == 0:
            contact_update(actor=actor, contact=c, data={"province": rng.choice(provinces)})
        elif action == 1:
            contact_update(actor=actor, contact=c, data={"job_title": rng.choice(["Kỹ sư", "Kế toán", ""])})
        elif action == 2:
            contacts_bulk_update(actor=actor, contact_ids=[c.pk], add_tags=[rng.choice(["VIP", "Sỉ"])])
        else:
            contacts_bulk_update(actor=actor, contact_ids=[c.pk], remove_tags=[rng.choice(["VIP", "Sỉ"])])
        if step % 10 == 9:
            for segment in segments:
                expected = set(compiler.matching(segment.conditions).values_list("pk", flat=True))
                assert members(segment) == expected, (step, segment.name)


def test_cli_refresh_list_and_process(admin: Any, make_contact: Any) -> None:
    a = make_contact(full_name="An", province="ha-noi")
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    SegmentMember.objects.all().delete()
    out = StringIO()
    call_command("segments", "refresh", "--all", "--quiet", stdout=out)
    assert "1 members (+1 −0)" in out.getvalue()
    assert members(segment) == {a.pk}
    out = StringIO()
    call_command("segments", "list", stdout=out)
    assert f"{segment.pk}\tdynamic\t1\t" in out.getvalue()
    call_command("segments", "process", stdout=StringIO())


def test_an_import_fills_a_static_list_and_segments_see_the_new_contacts(admin: Any, make_contact: Any) -> None:
    from danhba.ingest.tests.test_load import run_import

    actor = actor_for(admin)
    old = make_contact(full_name="Cũ", emails=["cu@example.vn"], province="hue")
    guests = S.segment_create(actor=actor, name="Khách mời", kind=Segment.Kind.STATIC)
    hanoi = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    csv = "Họ tên,Email,Tỉnh\nNguyễn An,an@example.vn,Hà Nội\nCũ,cu@example.vn,Hà Nội\n".encode()
    run = run_import(
        csv,
        actor,
        columns={"Họ tên": "full_name", "Email": "email", "Tỉnh": "province"},
        options={"add_to_list": guests.pk},
    )
    assert run.status == "done", run.error
    new = Contact.objects.get(emails__email="an@example.vn")
    assert members(guests) == {new.pk, old.pk}
    assert {via for _c, _e, via in history(guests)} == {"import"}
    # The default update policy fills empty fields only: the old contact stays in Huế.
    assert members(hanoi) == {new.pk}


def test_an_import_into_a_list_needs_the_right_to_change_lists(users: dict[str, Any], admin: Any) -> None:
    from danhba.ingest import services as ingest

    guests = S.segment_create(actor=actor_for(admin), name="Khách mời", kind=Segment.Kind.STATIC)
    sales = actor_for(users["sales"])
    run = ingest.import_create(actor=sales, file=b"Email\nan@example.vn\n", file_name="a.csv")
    with pytest.raises(InvalidInput) as exc:
        ingest.import_configure(actor=sales, run=run, columns={"Email": "email"}, options={"add_to_list": guests.pk})
    assert "add_to_list" in exc.value.details


def _post_batch(client: Any, key: str, batch: list[dict[str, Any]]) -> Any:
    import base64
    import json

    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return client.generic(
        "POST",
        "/v1/batch",
        json.dumps({"batch": batch}).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )


def test_events_and_orders_from_the_event_api_move_members(client: Any, admin: Any) -> None:
    """Did "Order Completed" ≥ 2 times in 30 days AND spent > 100,000 ₫: an identify, then
    orders arriving through /v1/batch, change membership as they are stored."""
    from danhba.tracking.services.sources import source_create

    _source, key = source_create(actor=actor_for(admin), name="Shop", kind="server")
    segment = S.segment_create(
        actor=actor_for(admin),
        name="Repeat buyers",
        conditions={
            "op": "all",
            "conditions": [
                {
                    "kind": "event",
                    "name": "Order Completed",
                    "count": {"operator": "gte", "value": 2},
                    "period": {"last_days": 30},
                },
                {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": 100000},
            ],
        },
    )

    def order(n: int, total: int) -> dict[str, Any]:
        return {
            "type": "track",
            "event": "Order Completed",
            "userId": "u-1",
            "messageId": f"order-{n}",
            "properties": {
                "order_id": f"O-{n}",
                "total": total,
                "currency": "VND",
                "products": [{"product_id": "P", "price": total, "quantity": 1}],
            },
        }

    identify = {
        "type": "identify",
        "userId": "u-1",
        "messageId": "id-1",
        "traits": {"email": "mua@example.vn", "name": "Người Mua"},
    }
    assert _post_batch(client, key, [identify, order(1, 90000)]).status_code == 200
    buyer = Contact.objects.get(emails__email="mua@example.vn")
    assert members(segment) == set()
    assert _post_batch(client, key, [order(2, 50000)]).status_code == 200
    assert members(segment) == {buyer.pk}
    assert [via for _c, _e, via in history(segment)] == ["live"]


def test_an_anonymous_history_joining_a_contact_counts(client: Any, admin: Any) -> None:
    from danhba.tracking.services.sources import source_create

    _source, key = source_create(actor=actor_for(admin), name="Web", kind="website")
    segment = S.segment_create(
        actor=actor_for(admin),
        name="Read the pricing page",
        conditions={"op": "all", "conditions": [{"kind": "event", "name": "Pricing Viewed"}]},
    )
    seen = {"type": "track", "event": "Pricing Viewed", "anonymousId": "dev-1", "messageId": "m1"}
    assert _post_batch(client, key, [seen]).status_code == 200
    assert members(segment) == set()
    login = {
        "type": "identify",
        "anonymousId": "dev-1",
        "userId": "u-9",
        "messageId": "m2",
        "traits": {"email": "an@example.vn"},
    }
    assert _post_batch(client, key, [login]).status_code == 200
    assert members(segment) == {Contact.objects.get(emails__email="an@example.vn").pk}


def test_undoing_an_import_takes_its_contacts_back_out(admin: Any, make_contact: Any) -> None:
    from danhba.ingest import services as ingest
    from danhba.ingest.tests.test_load import run_import

    actor = actor_for(admin)
    old = make_contact(full_name="Cũ", emails=["cu@example.vn"])
    vip = S.segment_create(
        actor=actor,
        name="VIP",
        conditions={"op": "all", "conditions": [{"kind": "tag", "operator": "any", "tags": ["VIP"]}]},
    )
    csv = b"Name,Email\nNguyen An,an@example.vn\nCu,cu@example.vn\n"
    run = run_import(csv, actor, columns={"Name": "full_name", "Email": "email"}, options={"add_tags": ["VIP"]})
    new = Contact.objects.get(emails__email="an@example.vn")
    assert members(vip) == {new.pk, old.pk}
    ingest.import_undo(actor=actor, run=run, enqueue=False)
    ingest.undo_execute(run.pk, via="cli")
    vip.refresh_from_db()
    assert members(vip) == set() and vip.member_count == 0


def test_adding_a_long_file_to_a_list_takes_a_few_queries(
    admin: Any, make_contact: Any, django_assert_max_num_queries: Any
) -> None:
    actor = actor_for(admin)
    people = [make_contact(full_name=f"Người {i}", emails=[f"p{i}@example.vn"]) for i in range(30)]
    lst = S.segment_create(actor=actor, name="Khách mời", kind=Segment.Kind.STATIC)
    lines = [f"p{i}@example.vn" for i in range(30)] + [f"#{p.pk}" for p in people] + ["0912 000 111"] * 40
    with django_assert_max_num_queries(20):
        added, unmatched = S.list_add_by_keys(actor=actor, segment=lst, lines=lines)
    assert added == 30 and members(lst) == {p.pk for p in people}
    assert len(unmatched) == 40 and unmatched[0][0] == 61
