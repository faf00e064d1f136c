"""Reading events back through the REST API: a contact's merged timeline, its events, the
explorer's query and counts per day — with the role checks and field hiding of the pages."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest

from danhba.accounts.models import Role
from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import TimelineEntry
from danhba.tracking.models import Event, Source
from danhba.tracking.tests.test_timeline import add_event, add_note, add_order

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


class Api:
    def __init__(self, client: Any, user: Any) -> None:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api{path}", params, headers=self.headers)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.content
    return response.json()


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


@pytest.fixture
def api(client: Any) -> Any:
    return lambda user: Api(client, user)


@pytest.fixture
def source(make_source: Any) -> Source:
    return make_source()[0]


@pytest.fixture
def story(admin: Any, make_contact: Any, source: Source) -> Any:
    """A contact with a note, a page view, a track event and an order, an hour apart."""
    contact = make_contact(full_name="Trần Thị Bích")
    TimelineEntry.objects.filter(contact=contact).delete()  # the "created" change row
    note = add_note(contact, admin, T0, "Gọi điện tư vấn")
    page = add_event(source, contact, T0 + dt.timedelta(hours=1), "page", url="https://shop.vn/ao-dai", title="Áo dài")
    track = add_event(source, contact, T0 + dt.timedelta(hours=2), "track", "Product Added", sku="AD-01", price=450000)
    order = add_order(contact, T0 + dt.timedelta(hours=3))
    return {"contact": contact, "note": note, "page": page, "track": track, "order": order}


def limited_user(make_user: Any, **permissions: list[str]) -> Any:
    Role.objects.create(key="limited", name="Limited", permissions=permissions, record_scope="all")
    return make_user("limited")


# --- the merged timeline ---------------------------------------------------------------------------


def test_the_timeline_merges_entries_events_and_orders(api: Any, admin: Any, story: Any) -> None:
    contact, order = story["contact"], story["order"]
    body = ok(api(admin).get(f"/contacts/{contact.pk}/timeline"))
    rows = body["items"]
    assert [(r["source"], r["kind"]) for r in rows] == [
        ("order", "orders"), ("event", "events"), ("event", "pages"), ("entry", "note"),
    ]  # fmt: skip
    assert body["next_cursor"] is None
    order_row, track_row, page_row, note_row = rows
    assert order_row["title"] == f"Order {order.order_id}" and order_row["detail"] == "450,000 ₫ · 3 items"
    assert order_row["record"]["order_id"] == order.order_id and order_row["id"] == order.pk
    assert track_row["id"] == story["track"].pk and track_row["title"] == "Product Added"
    assert track_row["record"]["properties"] == {"sku": "AD-01", "price": 450000}
    assert page_row["title"] == "Áo dài" and page_row["record"]["type"] == "page"
    assert note_row["subject"] == "Gọi điện tư vấn" and note_row["record"] is None
    assert all(r["contact_id"] == contact.pk for r in rows)


@pytest.mark.parametrize(
    ("kind", "sources"),
    [("orders", ["order"]), ("events", ["event"]), ("pages", ["event"]), ("note", ["entry"]), ("call", [])],
)
def test_the_timeline_filters_by_kind(api: Any, admin: Any, story: Any, kind: str, sources: list[str]) -> None:
    rows = ok(api(admin).get(f"/contacts/{story['contact'].pk}/timeline", kind=kind))["items"]
    assert [r["source"] for r in rows] == sources
    assert all(r["kind"] == kind for r in rows)


def test_the_timeline_pages_with_a_cursor(api: Any, admin: Any, story: Any) -> None:
    client = api(admin)
    seen: list[tuple[str, int]] = []
    cursor = ""
    for _page in range(5):
        body = ok(client.get(f"/contacts/{story['contact'].pk}/timeline", limit=1, cursor=cursor))
        seen += [(r["source"], r["id"]) for r in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert len(seen) == 4 and len(set(seen)) == 4
    assert seen[-1] == ("entry", story["note"].pk)


def test_the_timeline_refuses_bad_input(api: Any, admin: Any, story: Any) -> None:
    client = api(admin)
    contact = story["contact"]
    assert "kind" in error(client.get(f"/contacts/{contact.pk}/timeline", kind="purchases"), 422)["details"]
    error(client.get(f"/contacts/{contact.pk}/timeline", cursor="bm9wZQ"), 400)
    error(client.get("/contacts/999999/timeline"), 404)


def test_a_role_without_events_or_orders_sees_only_entries(api: Any, make_user: Any, story: Any) -> None:
    user = limited_user(make_user, contact=["view"], timeline=["view"])
    client = api(user)
    contact = story["contact"]
    rows = ok(client.get(f"/contacts/{contact.pk}/timeline"))["items"]
    assert [r["source"] for r in rows] == ["entry"]
    for kind in ("events", "pages", "orders"):
        error(client.get(f"/contacts/{contact.pk}/timeline", kind=kind), 403)
    error(client.get(f"/contacts/{contact.pk}/events"), 403)
    error(client.get("/events"), 403)
    error(client.get("/events/counts"), 403)


# --- a contact's events -----------------------------------------------------------------------------


def test_a_contacts_events_newest_first_with_filters(api: Any, admin: Any, story: Any, source: Source) -> None:
    contact = story["contact"]
    old = add_event(source, contact, dt.datetime(2019, 5, 1, tzinfo=dt.UTC), "track", "Product Added", sku="OLD")
    client = api(admin)
    body = ok(client.get(f"/contacts/{contact.pk}/events"))
    assert [e["id"] for e in body["items"]] == [story["track"].pk, story["page"].pk, old.pk]  # no default range
    assert body["items"][0] == {
        **body["items"][0],
        "type": "track", "name": "Product Added", "contact_id": contact.pk, "source_id": source.pk,
        "properties": {"sku": "AD-01", "price": 450000}, "title": "Product Added",
    }  # fmt: skip
    named = ok(client.get(f"/contacts/{contact.pk}/events", name="Product Added"))["items"]
    assert [e["id"] for e in named] == [story["track"].pk, old.pk]
    # Dates in the site's time zone (Asia/Ho_Chi_Minh); an until date includes its whole day.
    ranged = ok(client.get(f"/contacts/{contact.pk}/events", since="2025-03-10", until="2025-03-10"))["items"]
    assert [e["id"] for e in ranged] == [story["track"].pk, story["page"].pk]
    moment = ok(client.get(f"/contacts/{contact.pk}/events", since="2025-03-10T10:30:00Z"))["items"]
    assert [e["id"] for e in moment] == [story["track"].pk]
    assert [e["id"] for e in ok(client.get(f"/contacts/{contact.pk}/events", type="page"))["items"]] == [
        story["page"].pk
    ]


def test_a_contacts_events_page_both_ways(api: Any, admin: Any, make_contact: Any, source: Source) -> None:
    contact = make_contact(full_name="Phạm Minh Đức")
    events = [add_event(source, contact, T0 + dt.timedelta(minutes=n // 2), "track", f"E{n}") for n in range(7)]
    client = api(admin)
    first = ok(client.get(f"/contacts/{contact.pk}/events", limit=3))
    second = ok(client.get(f"/contacts/{contact.pk}/events", limit=3, cursor=first["next_cursor"]))
    third = ok(client.get(f"/contacts/{contact.pk}/events", limit=3, cursor=second["next_cursor"]))
    ids = [e["id"] for page in (first, second, third) for e in page["items"]]
    assert ids == [e.pk for e in sorted(events, key=lambda e: (e.timestamp, e.pk), reverse=True)]
    assert first["prev_cursor"] is None and third["next_cursor"] is None
    back = ok(client.get(f"/contacts/{contact.pk}/events", limit=3, cursor=third["prev_cursor"]))
    assert back["items"] == second["items"]


def test_a_contacts_events_refuse_bad_input(api: Any, admin: Any, story: Any) -> None:
    client = api(admin)
    contact = story["contact"]
    body = error(client.get(f"/contacts/{contact.pk}/events", since="yesterday", type="click"), 422)
    assert set(body["details"]) == {"since", "type"}
    error(client.get(f"/contacts/{contact.pk}/events", cursor="~bm9wZQ"), 400)
    error(client.get("/contacts/999999/events"), 404)


# --- the explorer's query ---------------------------------------------------------------------------


def test_the_explorer_query_by_name_property_and_range(api: Any, admin: Any, story: Any, source: Source) -> None:
    contact = story["contact"]
    other = add_event(source, None, T0 + dt.timedelta(days=1), "track", "Product Added", sku="ÁO-02", price=99)
    client = api(admin)
    since = {"since": "2025-03-01", "until": "2025-03-31"}
    found = ok(client.get("/events", name="Product Added", **since))["items"]
    assert [e["id"] for e in found] == [other.pk, story["track"].pk]
    assert found[0]["contact_id"] is None  # anonymous events, for a role that sees every contact
    by_prop = ok(client.get("/events", prop="sku", value="AD-01", **since))["items"]
    assert [e["id"] for e in by_prop] == [story["track"].pk]
    by_number = ok(client.get("/events", prop="price", op="eq", value="99", **since))["items"]
    assert [e["id"] for e in by_number] == [other.pk]
    of_contact = ok(client.get("/events", contact=contact.pk, **since))["items"]
    assert {e["id"] for e in of_contact} == {story["track"].pk, story["page"].pk}
    # The default range is the explorer's: the last 7 days.
    assert ok(client.get("/events"))["items"] == []
    # A list takes any range, however many days it spans.
    assert len(ok(client.get("/events", since="2001-01-01", until="2100-01-01"))["items"]) == 3


def test_the_explorer_query_refuses_bad_input(api: Any, admin: Any, story: Any) -> None:
    client = api(admin)
    assert set(error(client.get("/events", since="01/03/2025"), 422)["details"]) == {"since"}
    assert set(error(client.get("/events", until="2025-03-01"), 422)["details"]) == {"since"}
    assert set(error(client.get("/events", range="1y"), 422)["details"]) == {"range"}
    assert set(error(client.get("/events", prop="sku"), 422)["details"]) == {"value"}
    assert set(error(client.get("/events/counts", bucket="month"), 422)["details"]) == {"bucket"}
    assert set(error(client.get("/events/counts", since="2001-01-01", until="2025-01-01"), 422)["details"]) == {
        "bucket"
    }
    error(client.get("/events", cursor="bm9wZQ"), 400)


def test_counts_per_day_in_the_site_time_zone(api: Any, admin: Any, make_contact: Any, source: Source) -> None:
    contact = make_contact(full_name="Lê Thu")
    # 23:30 UTC on 9 March is 06:30 on 10 March in Hanoi (UTC+7).
    add_event(source, contact, dt.datetime(2025, 3, 9, 23, 30, tzinfo=dt.UTC), "track", "Signed Up")
    add_event(source, contact, dt.datetime(2025, 3, 10, 16, 59, tzinfo=dt.UTC), "track", "Signed Up")
    add_event(source, contact, dt.datetime(2025, 3, 10, 17, 0, tzinfo=dt.UTC), "track", "Signed Up")
    add_event(source, contact, dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC), "track", "Other")
    body = ok(api(admin).get("/events/counts", name="Signed Up", since="2025-03-09", until="2025-03-11"))
    assert body["time_zone"] == "Asia/Ho_Chi_Minh" and body["bucket"] == "day" and body["total"] == 3
    assert [(i["start"][:10], i["count"]) for i in body["items"]] == [
        ("2025-03-09", 0), ("2025-03-10", 2), ("2025-03-11", 1),
    ]  # fmt: skip
    assert body["items"][1]["start"].endswith("+07:00")
    day = {"since": "2025-03-10", "until": "2025-03-10"}
    hours = ok(api(admin).get("/events/counts", name="Signed Up", bucket="hour", **day))
    assert len(hours["items"]) == 24 and hours["total"] == 2


def test_a_sales_rep_reads_only_the_events_of_its_contacts(
    api: Any, users: Any, make_contact: Any, source: Source
) -> None:
    sales = users["sales"]
    mine = make_contact(full_name="Của Tôi", owner=sales.pk)
    theirs = make_contact(full_name="Của Người Khác", owner=users["marketing"].pk)
    mine_event = add_event(source, mine, T0, "track", "Viewed")
    add_event(source, theirs, T0, "track", "Viewed")
    add_event(source, None, T0, "track", "Viewed")  # anonymous
    client = api(sales)
    since = {"since": "2025-03-01", "until": "2025-03-31"}
    assert [e["id"] for e in ok(client.get("/events", **since))["items"]] == [mine_event.pk]
    assert ok(client.get("/events/counts", **since))["total"] == 1
    error(client.get("/events", contact=theirs.pk, **since), 404)
    error(client.get(f"/contacts/{theirs.pk}/events"), 404)
    error(client.get(f"/contacts/{theirs.pk}/timeline"), 404)


def test_sensitive_properties_and_traits_are_hidden(api: Any, users: Any, make_contact: Any, source: Source) -> None:
    contact = make_contact(full_name="Vũ Thị Hoa")
    Event.objects.create(
        source=source, message_id="idf-1", type="identify", contact=contact, timestamp=T0, received_at=T0,
        traits={"email": "hoa@example.vn", "birthday": "1990-02-03", "gender": "female"},
    )  # fmt: skip
    add_event(source, contact, T0 + dt.timedelta(minutes=1), "track", "Survey", income_band="high", plan="gold")
    admin_rows = ok(api(users["admin"]).get(f"/contacts/{contact.pk}/events"))["items"]
    assert admin_rows[0]["properties"] == {"income_band": "high", "plan": "gold"}
    assert admin_rows[1]["traits"]["birthday"] == "1990-02-03"
    support = api(users["support"])  # no sensitive fields
    for rows in (
        ok(support.get(f"/contacts/{contact.pk}/events"))["items"],
        [r["record"] for r in ok(support.get(f"/contacts/{contact.pk}/timeline", kind="events"))["items"]],
        ok(support.get("/events", contact=contact.pk, since="2025-03-01"))["items"],
    ):
        assert rows[0]["properties"] == {"plan": "gold"} and "income_band" not in rows[0]["detail"]
        assert rows[1]["traits"] == {"email": "hoa@example.vn"}
    marketing_rows = ok(api(users["marketing"]).get(f"/contacts/{contact.pk}/events"))["items"]
    assert marketing_rows[1]["traits"] == {"email": "hoa@example.vn", "birthday": "1990-02-03", "gender": "female"}


def test_the_endpoints_are_in_the_api_document(client_for: Any, admin: Any) -> None:
    doc = json.loads(client_for(admin).get("/api/openapi.json").content)
    paths = doc["paths"]
    assert {"/api/events", "/api/events/counts", "/api/contacts/{contact_id}/events"} <= set(paths)
    timeline = paths["/api/contacts/{contact_id}/timeline"]["get"]
    assert {p["name"] for p in timeline["parameters"]} >= {"kind", "cursor", "limit"}
    schemas = doc["components"]["schemas"]
    assert {"EventOut", "EventPage", "EventCountsOut", "TimelineItemOut"} <= set(schemas)


# --- what an SDK sent, read back -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_what_the_segment_sdk_sent_reads_back(live_server: Any, write_key: str, api: Any, admin: Any) -> None:
    from segment.analytics import Client
    from segment.analytics import request as segment_request

    from danhba.contacts.models import ExternalId

    sdk = Client(write_key=write_key, host=live_server.url, gzip=True, max_retries=0, sync_mode=True)
    device = "device-read-back"
    try:
        sdk.page(anonymous_id=device, name="Trang chủ", properties={"url": "https://shop.vn/", "title": "Trang chủ"})
        sdk.identify(user_id="u-42", anonymous_id=device, traits={"email": "mai@example.vn", "name": "Ngô Mai"})
        sdk.track(user_id="u-42", event="Product Viewed", properties={"sku": "ÁO-01", "price": 250000})
        sdk.track(user_id="u-42", event="Order Completed", properties={"order_id": "DH-42", "total": 250000})
    finally:
        segment_request._session.close()
    contact = ExternalId.objects.get(system="segment", value="u-42").contact
    client = api(admin)

    events = ok(client.get(f"/contacts/{contact.pk}/events"))["items"]
    assert [(e["type"], e["name"]) for e in events] == [
        ("track", "Order Completed"), ("track", "Product Viewed"), ("identify", ""), ("page", "Trang chủ"),
    ]  # fmt: skip
    assert events[1]["properties"] == {"sku": "ÁO-01", "price": 250000} and events[1]["user_id"] == "u-42"
    assert events[2]["traits"] == {"email": "mai@example.vn", "name": "Ngô Mai"}
    assert events[3]["anonymous_id"] == device  # the page view joined the contact on identify

    found = ok(client.get("/events", name="Product Viewed", prop="sku", value="ÁO-01"))["items"]
    assert [e["id"] for e in found] == [events[1]["id"]]
    counts = ok(client.get("/events/counts", contact=contact.pk))
    assert counts["total"] == 4 and sum(i["count"] for i in counts["items"]) == 4

    timeline = ok(client.get(f"/contacts/{contact.pk}/timeline"))["items"]
    assert {"event", "order"} <= {r["source"] for r in timeline}
    assert any(r["source"] == "order" and r["record"]["order_id"] == "DH-42" for r in timeline)
