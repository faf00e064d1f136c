"""Events and orders on the contact timeline, beside notes and calls."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from danhba.contacts.models import TimelineEntry
from danhba.contacts.selectors import contact_timeline
from danhba.orders.models import Order, OrderLine
from danhba.tracking.models import Event, Source

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def add_event(
    source: Source, contact: Any, at: dt.datetime, type: str = "track", name: str = "", **props: Any
) -> Event:
    return Event.objects.create(
        source=source,
        message_id=f"m-{next(_ids)}",
        type=type,
        name=name,
        contact=contact,
        timestamp=at,
        received_at=at,
        properties=props,
    )


def add_order(contact: Any, at: dt.datetime, total: str = "450000", quantities: tuple[int, ...] = (2, 1)) -> Order:
    order = Order.objects.create(
        order_id=f"DH-{next(_ids)}", contact=contact, placed_at=at, total=Decimal(total), currency="VND"
    )
    for n, quantity in enumerate(quantities):
        OrderLine.objects.create(order=order, position=n, name=f"Áo {n}", quantity=quantity, total=Decimal(100))
    return order


def add_note(contact: Any, author: Any, at: dt.datetime, subject: str) -> TimelineEntry:
    return TimelineEntry.objects.create(contact=contact, kind="note", subject=subject, author=author, occurred_at=at)


@pytest.fixture
def source(make_source: Any) -> Source:
    return make_source()[0]


@pytest.fixture
def story(admin: Any, make_contact: Any, source: Source) -> Any:
    """A contact with a note, a page view, a track event and an order, an hour apart."""
    contact = make_contact(full_name="Trần Thị Bích")
    add_note(contact, admin, T0, "Gọi điện tư vấn")
    add_event(
        source, contact, T0 + dt.timedelta(hours=1), "page", url="https://shop.vn/ao-dai?utm_source=fb",
        title="Áo dài mùa xuân",
    )  # fmt: skip
    add_event(source, contact, T0 + dt.timedelta(hours=2), "track", "Product Added", sku="AD-01", price=450000)
    order = add_order(contact, T0 + dt.timedelta(hours=3))
    return contact, order


def positions(html: str, *needles: str) -> list[int]:
    found = [html.find(n) for n in needles]
    assert all(p >= 0 for p in found), dict(zip(needles, found, strict=True))
    return found


def test_the_timeline_merges_notes_events_and_orders_newest_first(client_for: Any, admin: Any, story: Any) -> None:
    contact, order = story
    html = client_for(admin).get(f"/contacts/{contact.pk}/").content.decode()
    # Order (newest), then the track event with its properties, the page view, the note.
    order_at, track_at, page_at, note_at = positions(
        html, f"Order {order.order_id}", "Product Added", "Áo dài mùa xuân", "Gọi điện tư vấn"
    )
    assert order_at < track_at < page_at < note_at
    assert "450,000 ₫ · 3 items" in html
    assert f'href="/orders/{order.order_id}/"' in html  # the order's page
    assert "sku: AD-01" in html and "price: 450000" in html
    assert "/ao-dai" in html  # the page's path, without the query string
    assert "utm_source" not in html
    assert f"/events/?contact={contact.pk}" in html  # all of them in the explorer


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        ("pages", ["Áo dài mùa xuân"], ["Product Added", "Gọi điện tư vấn", "DH-"]),
        ("events", ["Product Added"], ["Áo dài mùa xuân", "Gọi điện tư vấn", "DH-"]),
        ("orders", ["DH-", "3 items"], ["Áo dài mùa xuân", "Product Added", "Gọi điện tư vấn"]),
        ("note", ["Gọi điện tư vấn"], ["Áo dài mùa xuân", "Product Added", "DH-"]),
    ],
)
def test_the_kind_filter_shows_one_kind(
    client_for: Any, admin: Any, story: Any, kind: str, shown: list[str], hidden: list[str]
) -> None:
    contact, _order = story
    response = client_for(admin).get(f"/contacts/{contact.pk}/timeline/", {"kind": kind}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    for text in shown:
        assert text in html
    for text in hidden:
        assert text not in html


def test_the_kind_filter_offers_events_and_orders(client_for: Any, admin: Any, story: Any) -> None:
    html = client_for(admin).get(f"/contacts/{story[0].pk}/").content.decode()
    for value in ('value="pages"', 'value="events"', 'value="orders"', 'value="note"'):
        assert value in html


def _revoke(user: Any, obj: str) -> None:
    role = user.role
    role.permissions = {k: v for k, v in role.permissions.items() if k != obj}
    role.save(update_fields=["permissions"])


def test_a_role_without_event_view_sees_no_events(client_for: Any, users: Any, story: Any) -> None:
    support = users["support"]
    _revoke(support, "event")
    contact, order = story
    html = client_for(support).get(f"/contacts/{contact.pk}/").content.decode()
    assert "Gọi điện tư vấn" in html and order.order_id in html
    assert "Product Added" not in html and "Áo dài mùa xuân" not in html
    assert 'value="pages"' not in html and "/events/?contact=" not in html
    # Asking for page views anyway shows everything else it may see, not the events.
    response = client_for(support).get(f"/contacts/{contact.pk}/timeline/", {"kind": "pages"}, HTTP_HX_REQUEST="true")
    assert "Áo dài mùa xuân" not in response.content.decode()
    assert client_for(support).get("/events/").status_code == 403


def test_a_role_without_order_view_sees_no_orders(client_for: Any, users: Any, story: Any) -> None:
    support = users["support"]
    _revoke(support, "order")
    contact, order = story
    html = client_for(support).get(f"/contacts/{contact.pk}/").content.decode()
    assert order.order_id not in html and 'value="orders"' not in html
    assert "Product Added" in html


def test_a_contact_outside_the_users_records_is_not_found(
    client_for: Any, users: Any, make_contact: Any, source: Source
) -> None:
    other = make_contact(full_name="Lê Văn Cường", owner=users["marketing"].pk)
    add_event(source, other, T0, "track", "Signed Up")
    sales = users["sales"]  # sees only its own and unassigned contacts
    client = client_for(sales)
    assert client.get(f"/contacts/{other.pk}/timeline/", HTTP_HX_REQUEST="true").status_code == 404
    assert client.get("/events/", {"contact": other.pk}).status_code == 404


def test_load_more_continues_after_the_last_row_without_gaps(
    client_for: Any, admin: Any, make_contact: Any, source: Source
) -> None:
    contact = make_contact(full_name="Phạm Minh Đức")
    TimelineEntry.objects.filter(contact=contact).delete()
    # 40 events and 30 notes, many sharing an instant with a row of the other kind.
    for n in range(40):
        add_event(source, contact, T0 + dt.timedelta(minutes=n // 2), "track", f"E{n}")
    for n in range(30):
        add_note(contact, admin, T0 + dt.timedelta(minutes=n), f"N{n}")
    add_order(contact, T0 + dt.timedelta(minutes=5))
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        page = contact_timeline(contact, admin, cursor=cursor, limit=25)
        pages += 1
        for item in page.items:
            if getattr(item, "source", "") == "event":
                seen.append(item.event.name)
            elif getattr(item, "source", "") == "order":
                seen.append("order")
            else:
                seen.append(item.entry.subject)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == 71 and len(set(seen)) == 71
    # Newest first; within one instant orders, then events, then notes.
    assert seen[0] == "N29" and seen[-3:] == ["E1", "E0", "N0"]

    # Through the page: the "load more" button carries the cursor, the response only the rows.
    client = client_for(admin)
    first = client.get(f"/contacts/{contact.pk}/timeline/", HTTP_HX_REQUEST="true").content.decode()
    assert first.count('<li class="entry') == 50 and "Load more" in first
    cursor = contact_timeline(contact, admin).next_cursor
    more = client.get(f"/contacts/{contact.pk}/timeline/", {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert more.status_code == 200
    body = more.content.decode()
    assert body.count('<li class="entry') == 21 and 'id="timeline-list"' not in body and "Load more" not in body


def test_a_tampered_cursor_is_a_clear_400(client_for: Any, admin: Any, story: Any) -> None:
    response = client_for(admin).get(f"/contacts/{story[0].pk}/timeline/", {"cursor": "bm9wZQ"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "cursor is not valid" in response.content.decode()


def test_identify_shows_trait_names_not_values(client_for: Any, admin: Any, make_contact: Any, source: Source) -> None:
    contact = make_contact(full_name="Vũ Thị Hoa")
    Event.objects.create(
        source=source, message_id="idf-1", type="identify", contact=contact, timestamp=T0, received_at=T0,
        traits={"email": "hoa@example.vn", "plan": "gold"},
    )  # fmt: skip
    html = client_for(admin).get(f"/contacts/{contact.pk}/").content.decode()
    assert "Identified" in html and "Traits: email, plan" in html
    assert "gold" not in html


def test_the_timeline_in_vietnamese(client_for: Any, admin: Any, story: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    response = client_for(admin).get(f"/contacts/{story[0].pk}/")
    assert response.status_code == 200
