"""The event explorer: filters, counts over time in the user's time zone, people, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import zoneinfo
from typing import Any

import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.tracking.models import Event, Source
from danhba.tracking.selectors import EventFilters, event_counts, event_page, people_page

pytestmark = pytest.mark.django_db

HCM = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
_ids = itertools.count(1)


def add(source: Source, at: dt.datetime, name: str = "Order Completed", contact: Any = None, **props: Any) -> Event:
    return Event.objects.create(
        source=source,
        message_id=f"x-{next(_ids)}",
        type="page" if name == "" else "track",
        name=name,
        contact=contact,
        anonymous_id="" if contact else "anon-1",
        timestamp=at,
        received_at=at,
        properties=props,
    )


@pytest.fixture
def source(make_source: Any) -> Source:
    return make_source()[0]


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=HCM)


def filters(tz: dt.tzinfo = HCM, **params: str) -> EventFilters:
    return EventFilters.from_params(params, tz=tz)


# --- counts over time -----------------------------------------------------------------------------


def test_days_are_cut_at_midnight_in_ho_chi_minh_city(admin: Any, source: Source) -> None:
    add(source, local(2025, 3, 10, 23, 59))  # 16:59 UTC
    add(source, local(2025, 3, 11, 0, 1))  # 17:01 UTC, the same UTC day
    add(source, local(2025, 3, 11, 8, 30))  # 01:30 UTC
    days = {"range": "custom", "from": "2025-03-10", "to": "2025-03-11", "bucket": "day"}
    buckets = event_counts(admin, filters(**days))
    assert [(b.start, b.count) for b in buckets] == [(local(2025, 3, 10), 1), (local(2025, 3, 11), 2)]

    # A user in UTC sees the first two on one day.
    utc = filters(dt.UTC, **days)
    assert [b.count for b in event_counts(admin, utc)] == [2, 1]


def test_hours_fill_empty_buckets_with_zero(admin: Any, source: Source) -> None:
    add(source, local(2025, 3, 10, 23, 15))
    add(source, local(2025, 3, 10, 23, 45))
    add(source, local(2025, 3, 11, 1, 5))
    f = filters(range="custom", bucket="hour", **{"from": "2025-03-10T22:00", "to": "2025-03-11T02:00"})
    counts = [(b.start.hour, b.count) for b in event_counts(admin, f)]
    assert counts == [(22, 0), (23, 2), (0, 0), (1, 1)]


def test_weeks_start_on_monday(admin: Any, source: Source) -> None:
    add(source, local(2025, 3, 9, 23, 30))  # a Sunday
    add(source, local(2025, 3, 10, 0, 30))  # the Monday after
    add(source, local(2025, 3, 16, 12))  # the Sunday after
    f = filters(range="custom", bucket="week", **{"from": "2025-03-05", "to": "2025-03-16"})
    assert [(b.start.date(), b.count) for b in event_counts(admin, f)] == [
        (dt.date(2025, 3, 3), 1),
        (dt.date(2025, 3, 10), 2),
    ]


def test_presets_choose_the_bucket_and_the_range(admin: Any, source: Source) -> None:
    now = timezone.now()
    add(source, now - dt.timedelta(hours=2))
    add(source, now - dt.timedelta(days=3))
    add(source, now - dt.timedelta(days=40))
    day = filters(range="24h")
    assert day.bucket == "hour" and sum(b.count for b in event_counts(admin, day)) == 1
    assert len(event_counts(admin, day)) in (24, 25)
    assert filters(range="7d").bucket == "day" and sum(b.count for b in event_counts(admin, filters(range="7d"))) == 2
    assert sum(b.count for b in event_counts(admin, filters(range="90d"))) == 3
    assert filters(range="custom", **{"from": "2024-01-01", "to": "2024-12-31"}).bucket == "week"


# --- filters ----------------------------------------------------------------------------------------


@pytest.fixture
def shop(source: Source, make_contact: Any) -> dict[str, Any]:
    an = make_contact(full_name="Nguyễn Văn An")
    binh = make_contact(full_name="Trần Thị Bình", emails=["binh@example.vn"])
    at = local(2025, 3, 10, 10)
    add(source, at, "Order Completed", an, total=450000, currency="VND", paid=True, shipping={"city": "Hà Nội"})
    add(source, at, "Order Completed", binh, total="450000", currency="VND", coupon="TET2025")
    add(source, at + dt.timedelta(hours=1), "Order Completed", binh, total=120000, currency="USD")
    add(source, at, "Product Viewed", an, sku="Áo-dài-AD01")
    add(source, at, "", None, title="Trang chủ", url="https://shop.vn/")
    return {"an": an, "binh": binh}


RANGE = {"range": "custom", "from": "2025-03-10", "to": "2025-03-10"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 5),
        ({"name": "Order Completed"}, 3),
        ({"type": "page"}, 1),
        ({"name": "Order Completed", "prop": "total", "op": "eq", "value": "450000"}, 2),  # number and text
        ({"prop": "currency", "op": "eq", "value": "USD"}, 1),
        ({"prop": "paid", "op": "eq", "value": "true"}, 1),
        # Case-insensitive for ASCII letters (SQLite's LIKE folds no other case).
        ({"prop": "sku", "op": "contains", "value": "dài-ad"}, 1),
        ({"prop": "coupon", "op": "exists"}, 1),
        ({"prop": "shipping.city", "op": "eq", "value": "Hà Nội"}, 1),
        ({"prop": "shipping.city", "op": "exists"}, 1),
        ({"prop": "nothing", "op": "exists"}, 0),
        ({"prop": "title", "op": "contains", "value": "chủ"}, 1),
        # Odd values are compared, never a database error.
        ({"prop": "total", "op": "eq", "value": "NaN"}, 0),
        ({"prop": "total", "op": "eq", "value": "1e999"}, 0),
        ({"prop": "total", "op": "eq", "value": "123456789012345678901234567890"}, 0),
        ({"prop": "total", "op": "eq", "value": "4.5e5"}, 1),
        ({"prop": "sku", "op": "contains", "value": "%_"}, 0),
        ({"prop": "a'b\"c", "op": "eq", "value": "x"}, 0),
        ({"prop": "a..b", "op": "exists"}, 0),
    ],
)
def test_filters_count_the_right_events(admin: Any, shop: Any, params: dict[str, str], expected: int) -> None:
    f = filters(**RANGE, **params)
    assert sum(b.count for b in event_counts(admin, f)) == expected
    assert len(event_page(admin, f).items) == expected


def test_the_page_shows_chart_table_and_filters(client_for: Any, admin: Any, shop: Any) -> None:
    response = client_for(admin).get("/events/", {**RANGE, "bucket": "hour", "name": "Order Completed"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg class="chart"' in html and "Matching events per hour" in html
    assert "10 Mar 2025, 10:00: 2 events" in html and "10 Mar 2025, 11:00: 1 event" in html
    assert "total: 450000" in html and shop["binh"].full_name in html
    assert 'value="Order Completed"' in html  # the known names, for the name field
    # A bar drills into its hour.
    assert "from=2025-03-10T10%3A00&amp;to=2025-03-10T11%3A00" in html


def test_htmx_gets_only_the_results(client_for: Any, admin: Any, shop: Any) -> None:
    response = client_for(admin).get("/events/", RANGE, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="explorer-results")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="explorer-results">') and "<form" not in html


def test_the_events_list_pages_by_time(client_for: Any, admin: Any, source: Source) -> None:
    for n in range(60):
        add(source, local(2025, 3, 10, 8) + dt.timedelta(minutes=n), f"E{n:02d}")
    f = filters(**RANGE)
    first = event_page(admin, f)
    second = event_page(admin, f, first.next_cursor)
    names = [e.name for e, _line in first.items + second.items]
    assert names == [f"E{n:02d}" for n in reversed(range(60))] and second.next_cursor is None
    more = client_for(admin).get("/events/", {**RANGE, "cursor": first.next_cursor}, HTTP_HX_REQUEST="true")
    assert more.content.decode().count("<tr>") == 10


# --- people -------------------------------------------------------------------------------------------


def test_people_lists_who_did_it_with_count_and_last_time(client_for: Any, admin: Any, shop: Any) -> None:
    f = filters(**RANGE, name="Order Completed")
    people = people_page(admin, f).items
    assert [(p.contact.full_name, p.events) for p in people] == [("Trần Thị Bình", 2), ("Nguyễn Văn An", 1)]
    assert people[0].last_at == local(2025, 3, 10, 11)

    first = people_page(admin, f, limit=1)
    second = people_page(admin, f, first.next_cursor, limit=1)
    assert [p.contact.full_name for p in first.items + second.items] == ["Trần Thị Bình", "Nguyễn Văn An"]
    assert second.next_cursor is None

    html = client_for(admin).get("/events/", {**RANGE, "name": "Order Completed", "view": "people"}).content.decode()
    assert f'href="/contacts/{shop["binh"].pk}/"' in html and "Export CSV" in html


def test_people_export_is_csv_and_audited(client_for: Any, users: Any, shop: Any) -> None:
    analyst = users["analyst"]  # event: view, export
    response = client_for(analyst).get("/events/people.csv", {**RANGE, "name": "Order Completed"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["full_name"], r["events"], r["email"]) for r in rows] == [
        ("Trần Thị Bình", "2", "binh@example.vn"),
        ("Nguyễn Văn An", "1", ""),
    ]
    assert rows[0]["last_at"].startswith("2025-03-10T11:00:00+07:00")
    audit = AuditEvent.objects.get(action="export", object_type="event")
    assert audit.actor == analyst and audit.changes["rows"] == [None, 2]
    assert audit.changes["filters"][1]["name"] == "Order Completed"


def test_exporting_needs_event_export(client_for: Any, users: Any, shop: Any) -> None:
    marketing = users["marketing"]  # event: view only
    client = client_for(marketing)
    assert client.get("/events/people.csv", RANGE).status_code == 403
    html = client.get("/events/", {**RANGE, "view": "people"}).content.decode()
    assert "Export CSV" not in html
    assert not AuditEvent.objects.filter(action="export", object_type="event").exists()


# --- access -----------------------------------------------------------------------------------------


def test_the_explorer_needs_event_view(client: Any, client_for: Any, users: Any) -> None:
    assert client.get("/events/").status_code == 302  # to the login page
    support = users["support"]
    role = support.role
    role.permissions = {k: v for k, v in role.permissions.items() if k != "event"}
    role.save(update_fields=["permissions"])
    assert client_for(support).get("/events/").status_code == 403
    assert "/events/" not in client_for(support).get("/contacts/").content.decode()


def test_own_scope_sees_only_events_of_its_records(
    client_for: Any, users: Any, source: Source, make_contact: Any
) -> None:
    sales = users["sales"]  # own and unassigned contacts
    mine = make_contact(full_name="Khách Của Tôi", owner=sales.pk)
    theirs = make_contact(full_name="Khách Người Khác", owner=users["marketing"].pk)
    at = local(2025, 3, 10, 10)
    add(source, at, "Signed Up", mine)
    add(source, at, "Signed Up", theirs)
    add(source, at, "Signed Up", None)  # anonymous: no record of the user's
    f = filters(**RANGE)
    assert sum(b.count for b in event_counts(sales, f)) == 1
    assert [p.contact.pk for p in people_page(sales, f).items] == [mine.pk]
    assert sum(b.count for b in event_counts(users["admin"], f)) == 3
    html = client_for(sales).get("/events/", RANGE).content.decode()
    assert "Khách Của Tôi" in html and "Khách Người Khác" not in html


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"range": "custom", "from": "2025-13-45"}, "Enter a date as YYYY-MM-DD"),
        ({"range": "custom", "from": "hôm qua"}, "Enter a date as YYYY-MM-DD"),
        ({"range": "custom", "from": "2025-03-10", "to": "2025-03-01"}, "must be after its start"),
        ({"range": "custom"}, "Enter the start of the range."),
        ({"range": "1y"}, "Choose one of the offered time ranges."),
        ({"bucket": "minute"}, "Group by hour, day or week."),
        ({"range": "custom", "from": "2020-01-01", "to": "2025-01-01", "bucket": "hour"}, "more than 800 bars"),
        ({"type": "click"}, "Unknown event type."),
        ({"source": "abc"}, "Not a valid choice."),
        ({"contact": "99999999999999999999"}, "Not a valid choice."),
        ({"prop": "plan", "op": "eq"}, "Enter the value to compare"),
        ({"prop": "plan", "op": "regex", "value": "x"}, "Choose equals, contains or is present."),
        ({"range": "custom", "from": "0001-01-01"}, "Enter a date as YYYY-MM-DD"),
        ({"cursor": "!!!"}, "cursor is not valid"),
    ],
)
def test_bad_filters_get_a_clear_message(client_for: Any, admin: Any, params: dict[str, str], message: str) -> None:
    response = client_for(admin).get("/events/", params)
    assert response.status_code == 422
    assert message in response.content.decode()


def test_bad_filters_on_the_export_are_a_400(client_for: Any, admin: Any) -> None:
    response = client_for(admin).get("/events/people.csv", {"bucket": "minute"})
    assert response.status_code == 400 and "Group by hour, day or week." in response.content.decode()


def test_the_explorer_speaks_vietnamese(client_for: Any, admin: Any, shop: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    response = client_for(admin).get("/events/", RANGE)
    assert response.status_code == 200 and '<html lang="vi">' in response.content.decode()


@pytest.mark.parametrize("param", ["source", "contact"])
def test_a_non_ascii_digit_id_is_a_clear_error_not_a_crash(client_for: Any, admin: Any, param: str) -> None:
    # "²".isdigit() is true, int("²") raises.
    assert client_for(admin).get("/events/", {param: "²"}).status_code == 422
    assert client_for(admin).get("/events/people.csv", {param: "²"}).status_code == 400


def test_people_export_also_needs_contact_export(client_for: Any, make_user: Any) -> None:
    """The people list holds names, emails and phones: a role that may export events but not
    contacts gets neither the button nor the file."""
    from danhba.accounts.models import Role

    role = Role.objects.create(
        key="event-analyst", name="Event analyst", record_scope="all",
        permissions={"event": ["view", "export"], "contact": ["view"]},
    )  # fmt: skip
    user = make_user("admin")
    user.role = role
    user.save()
    client = client_for(user)
    assert "people.csv" not in client.get("/events/", {**RANGE, "view": "people"}).content.decode()
    assert client.get("/events/people.csv", RANGE).status_code == 403
