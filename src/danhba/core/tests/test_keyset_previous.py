"""Keyset pagination backwards: every page has a way back to the page before it, which reads
the same index from the other end, so going back from page 1,000 costs what page 1 costs."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from danhba.contacts.models import Tag
from danhba.contacts.selectors import ContactFilters, contact_page
from danhba.core.keyset import BadCursor, paginate

pytestmark = pytest.mark.django_db


def walk(fetch: Any) -> tuple[list[list[Any]], list[list[Any]]]:
    """The pages forwards by next_cursor, then backwards by prev_cursor from the last one."""
    forwards, page = [], fetch(None)
    assert page.prev_cursor is None
    forwards.append(page.items)
    while page.next_cursor:
        page = fetch(page.next_cursor)
        forwards.append(page.items)
    backwards = [page.items]
    while page.prev_cursor:
        page = fetch(page.prev_cursor)
        backwards.append(page.items)
    return forwards, backwards[::-1]


@pytest.mark.parametrize("descending", [False, True])
def test_previous_pages_are_the_pages_walked_forwards(descending: bool) -> None:
    Tag.objects.bulk_create(Tag(name=f"Thẻ {n:03}", name_key=f"the {n:03}") for n in range(47))
    forwards, backwards = walk(lambda cursor: paginate(Tag.objects.all(), "name_key", cursor, 10, descending))
    assert [len(items) for items in forwards] == [10, 10, 10, 10, 7]
    assert backwards == forwards


def test_going_back_is_one_bounded_index_read() -> None:
    Tag.objects.bulk_create(Tag(name=f"Thẻ {n:03}", name_key=f"the {n:03}") for n in range(300))
    page = paginate(Tag.objects.all(), "name_key", None, 10)
    for _ in range(25):
        page = paginate(Tag.objects.all(), "name_key", page.next_cursor, 10)
    with CaptureQueriesContext(connection) as queries:
        before = paginate(Tag.objects.all(), "name_key", page.prev_cursor, 10)
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert "LIMIT 11" in sql and '"name_key" <=' in sql and "ORDER BY" in sql and "DESC" in sql
    assert [t.name for t in before.items] == [f"Thẻ {n:03}" for n in range(240, 250)]


def test_a_tampered_previous_cursor_is_refused() -> None:
    with pytest.raises(BadCursor):
        paginate(Tag.objects.all(), "name_key", "~not-a-cursor", 10)


def test_contact_list_goes_back_for_own_records_and_for_searches(make_contact: Any, users: Any) -> None:
    sales = users["sales"]
    for n in range(23):  # the sales rep's own and unassigned ones: two owner branches merged
        make_contact(full_name=f"Nguyễn Văn Khách {n:02}", owner=sales.pk if n % 2 else None)
    make_contact(full_name="Nguyễn Văn Khách khác", owner=users["admin"].pk)  # not the rep's
    for user, filters in ((sales, ContactFilters()), (users["admin"], ContactFilters(q="nguyen van khach"))):
        forwards, backwards = walk(lambda cursor, u=user, f=filters: contact_page(u, f, "name", cursor, limit=5))
        assert sum(len(items) for items in forwards) == (23 if user == sales else 24)
        assert backwards == forwards


def test_list_pages_link_the_previous_and_the_first_page(client: Any, admin: Any, make_contact: Any) -> None:
    for n in range(12):
        make_contact(full_name=f"Lê Thị Hoa {n:02}")
    client.force_login(admin)
    url = reverse("contacts:list")
    first = client.get(url, {"sort": "name"})
    assert "Previous page" not in first.content.decode()
    page = contact_page(admin, ContactFilters(), "name", None, limit=50)
    assert page.next_cursor is None  # one page of 12: nothing before or after
    second_cursor = contact_page(admin, ContactFilters(), "name", None, limit=5).next_cursor
    html = client.get(url, {"sort": "name", "cursor": second_cursor}).content.decode()
    assert "Previous page" in html and "First page" in html


def test_the_longest_cursor_fits_every_endpoint_and_the_web_servers_request_line() -> None:
    from danhba.core.keyset import CURSOR_MAX, MAX_PK, decode_cursor, encode_cursor
    from danhba.core.longurl import URL_MAX

    longest = encode_cursor(["😀" * 255, MAX_PK], before=True)
    assert len(longest) <= CURSOR_MAX < URL_MAX // 2
    assert decode_cursor(longest[1:], 2) == ["😀" * 255, MAX_PK]
    # Vietnamese text travels as UTF-8: a 200-character name, not 200 six-byte escapes.
    assert len(encode_cursor(["Phân khúc khách hàng thân thiết " * 6, 1])) < 700


def test_a_page_after_a_long_vietnamese_name_opens(client: Any, admin: Any) -> None:
    """The segment list is sorted by name; a 200-character Vietnamese name made a cursor of
    1,600 characters, which the API's own limit (1,000) then refused."""
    from danhba.accounts.services import apikey_create
    from danhba.conftest import actor_for
    from danhba.segments import services

    for first in "ẮẰ":
        services.segment_create(actor=actor_for(admin), name=(first + "ữ" * 199), kind="static")
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    page = client.get("/api/segments", {"limit": 1}, headers=headers).json()
    assert page["next_cursor"]
    following = client.get("/api/segments", {"limit": 1, "cursor": page["next_cursor"]}, headers=headers)
    assert following.status_code == 200, following.json()
    assert following.json()["items"][0]["name"] != page["items"][0]["name"]


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_contacts_without_a_name_come_last_in_name_order(make_contact: Any, users: Any, role: str) -> None:
    """Known only by an identifier (an event's userId), a contact has no name: in name order it
    comes after every named one, forwards and backwards, for one index range or merged owner
    branches; in reverse name order too."""
    from danhba.contacts.models import Contact

    sales = users["sales"]
    for n in range(7):
        make_contact(full_name=f"Trần Thị Mai {n}", owner=sales.pk if n % 2 else None)
    nameless = [make_contact(full_name="Tạm", owner=sales.pk if n % 2 else None) for n in range(6)]
    Contact.objects.filter(pk__in=[c.pk for c in nameless]).update(full_name="", name_key="")
    user = users[role]
    forwards, backwards = walk(lambda cursor: contact_page(user, ContactFilters(), "name", cursor, limit=3))
    names = [c.full_name for items in forwards for c in items]
    assert backwards == forwards and len(names) == 13
    assert names[:7] == sorted(names[:7]) and names[7:] == [""] * 6
    assert [c.pk for items in forwards for c in items][7:] == sorted(c.pk for c in nameless)
    reverse = walk(lambda cursor: contact_page(user, ContactFilters(), "-name", cursor, limit=4))[0]
    assert [c.full_name for items in reverse for c in items][-6:] == [""] * 6
