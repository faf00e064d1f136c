"""The home page and ``GET /api/home``: where the login lands, what each role sees (permissions
and record visibility), that the page and the API tell the same numbers, and that the reads stay
bounded (capped counts, index ranges, no full scans)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from danhba.accounts.models import Role, Team, User
from danhba.accounts.services import apikey_create
from danhba.analytics import selectors
from danhba.conftest import PASSWORD, actor_for
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_update
from danhba.contacts.services.timeline import timeline_entry_save
from danhba.privacy.models import ConsentPurpose
from danhba.privacy.services import consent_record
from danhba.segments import services as segments
from danhba.tracking.models import Event, Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(users: Any, make_contact: Any) -> dict[str, Any]:
    """Contacts of each owner, events, a segment with entries and an exit, consent given and
    withdrawn, timeline entries."""
    sales, marketing = users["sales"], users["marketing"]
    own = make_contact(full_name="Khách Của Sales", owner=sales.pk, source="form", province="Hà Nội")
    free = make_contact(full_name="Khách Chưa Có Chủ", source="form", province="Hà Nội")
    other = make_contact(full_name="Khách Của Marketing", owner=marketing.pk, source="import", province="Hà Nội")
    old = make_contact(full_name="Khách Cũ", source="order")
    Contact.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    source = Source.objects.create(name="Web", key_prefix="x", key_hash="h")
    now = timezone.now()
    rows = [
        (own, "Order Completed"), (own, "Product Viewed"), (other, "Order Completed"), (other, "Product Viewed"),
        (other, "Product Viewed"), (None, "Product Viewed"), (free, "Signed Up"),
    ]  # fmt: skip
    for i, (contact, name) in enumerate(rows):
        when = now - dt.timedelta(hours=i)
        Event.objects.create(source=source, message_id=f"m{i}", type="track", name=name, contact=contact,
                             timestamp=when, received_at=when)  # fmt: skip
    old_event = now - dt.timedelta(days=20)
    Event.objects.create(source=source, message_id="old", type="track", name="Order Completed", contact=own,
                         timestamp=old_event, received_at=old_event)  # fmt: skip
    admin = actor_for(users["admin"])
    segment = segments.segment_create(
        actor=admin, name="Hà Nội",
        conditions={"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq",
                                                 "value": "ha-noi"}]},
    )  # fmt: skip
    contact_update(actor=admin, contact=other, data={"province": "Đà Nẵng"})  # leaves the segment
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    consent_record(actor=admin, contact=own, purpose=purpose, status="granted", source="ui")
    consent_record(actor=admin, contact=other, purpose=purpose, status="granted", source="ui")
    consent_record(actor=admin, contact=other, purpose=purpose, status="withdrawn", source="ui")
    for contact, kind, subject in ((own, "call", "Gọi tư vấn trà sen"), (other, "note", "Ghi chú của marketing")):
        timeline_entry_save(actor=admin, contact=contact, entry=None, data={"kind": kind, "subject": subject})
    return {"own": own, "free": free, "other": other, "old": old, "segment": segment}


def page(client_for: Any, user: Any) -> str:
    response = client_for(user).get("/")
    assert response.status_code == 200
    return response.content.decode()


def number(html: str, attr: str, section: str = "") -> int:
    part = html.split(f'id="{section}"')[1] if section else html
    found = re.search(rf'data-{attr}="(\d+)"', part)
    assert found, attr
    return int(found.group(1))


# --- where people land ----------------------------------------------------------------------------


def test_login_and_the_brand_land_on_the_home_page(client: Any, users: Any) -> None:
    response = client.post("/login/", {"email": users["sales"].email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    html = client.get("/").content.decode()
    assert 'class="brand" href="/"' in html
    nav = html.split("<nav")[1].split("</nav>")[0]
    first = re.search(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    assert first and first.groups() == ("/", "Home") and 'class="active"' in nav.split("</a>")[0]
    assert client.get("/", follow=False).status_code == 200
    client.logout()
    assert client.get("/")["Location"].startswith("/login/")


# --- what each role sees ----------------------------------------------------------------------------


def test_numbers_follow_the_role_and_record_visibility(client_for: Any, users: Any, shop: Any) -> None:
    marketing = page(client_for, users["marketing"])
    assert number(marketing, "total", "home-contacts") == 3  # the old contact is not new
    assert "Form" in marketing.split('id="home-contacts"')[1].split("</section>")[0]
    assert number(marketing, "total", "home-events") == 7  # anonymous visitors' included
    assert number(marketing, "entered") == 3 and number(marketing, "left") == 1
    assert number(marketing, "granted") == 2 and number(marketing, "withdrawn") == 1
    # A sales rep counts the contacts they own, and what those did; their recent activity is
    # on the contacts they may open.
    sales = page(client_for, users["sales"])
    assert number(sales, "total", "home-contacts") == 1
    assert number(sales, "total", "home-events") == 2
    assert number(sales, "entered") == 1 and number(sales, "left") == 0
    assert number(sales, "granted") == 1 and number(sales, "withdrawn") == 0
    assert "Gọi tư vấn trà sen" in sales and "Ghi chú của marketing" not in sales
    assert "Khách Của Marketing" not in sales
    # Support may not see imports; Sales may.
    assert 'id="home-imports"' in sales and 'id="home-imports"' not in page(client_for, users["support"])
    # Only a role with the audit log sees its latest rows.
    assert 'id="home-changes"' in page(client_for, users["admin"]) and 'id="home-changes"' not in sales


def test_a_team_role_counts_the_teams_contacts(client_for: Any, users: Any, make_user: Any, shop: Any) -> None:
    team = Team.objects.create(name="Miền Bắc")
    Role.objects.create(key="teamsales", name="Team sales", permissions={"contact": ["view"], "event": ["view"]},
                        record_scope="team")  # fmt: skip
    lead = make_user("teamsales", team=team)
    User.objects.filter(pk=users["sales"].pk).update(team=team)  # the owner of "Khách Của Sales"
    html = page(client_for, lead)
    assert number(html, "total", "home-contacts") == 1 and number(html, "total", "home-events") == 2
    assert 'id="home-segments"' not in html  # no permission on segments


def test_a_role_without_permissions_gets_an_empty_home_not_an_error(client_for: Any, make_user: Any) -> None:
    Role.objects.create(key="nothing", name="Nothing", permissions={}, record_scope="own")
    html = page(client_for, make_user("nothing"))
    assert 'id="home-nothing"' in html
    assert 'id="home-contacts"' not in html and "data-shortcut=" not in html


def test_shortcuts_follow_the_permissions(client_for: Any, users: Any) -> None:
    def keys(user: Any) -> list[str]:
        return re.findall(r'data-shortcut="([a-z_]+)"', page(client_for, user))

    assert keys(users["sales"])[:2] == ["new_contact", "import"] and "new_segment" not in keys(users["sales"])
    assert "new_segment" in keys(users["marketing"]) and "new_list" in keys(users["marketing"])
    assert "new_contact" not in keys(users["analyst"]) and "events" in keys(users["analyst"])
    assert "new_user" in keys(users["admin"]) and "audit" in keys(users["admin"])


def test_charts_are_the_explorers_svg_and_link_to_each_day(client_for: Any, users: Any, shop: Any) -> None:
    html = page(client_for, users["marketing"])
    contacts = html.split('id="home-contacts"')[1].split("</section>")[0]
    assert contacts.count('<g class="bar">') == 7 and "<svg" in contacts and "<script" not in contacts
    today = timezone.localdate().isoformat()
    assert f"created_after={today}&amp;created_before={today}" in contacts
    events = html.split('id="home-events"')[1].split("</section>")[0]
    assert "/events/?range=custom" in events and "Order Completed" in events


# --- the API ----------------------------------------------------------------------------------------


def api_home(client: Any, user: Any) -> Any:
    _key, raw = apikey_create(actor=actor_for(user), user=user, name="t")
    return client.get("/api/home", headers={"Authorization": f"Bearer {raw}"})


def test_api_home_gives_the_page_numbers_with_the_same_role_checks(
    client: Any, client_for: Any, users: Any, shop: Any
) -> None:
    assert client.get("/api/home").status_code == 401
    body = api_home(client, users["sales"]).json()
    html = page(client_for, users["sales"])
    assert body["contacts"]["total"] == number(html, "total", "home-contacts") == 1
    assert body["events"]["total"] == number(html, "total", "home-events") == 2
    days = body["contacts"]["by_day"]
    assert len(days) == 7 and days[-1]["day"] == timezone.localdate().isoformat() and days[-1]["count"] == 1
    assert {r["key"] for r in body["contacts"]["by_source"]} == {"form"}
    assert (body["segments"]["entered"], body["segments"]["left"]) == (1, 0)
    assert (body["consent"]["granted"], body["consent"]["withdrawn"]) == (1, 0)
    assert [a["subject"] for a in body["activity"]] == ["Gọi tư vấn trà sen"]
    assert body["shortcuts"][0]["key"] == "new_contact"
    support = api_home(client, users["support"]).json()
    assert support["imports"] is None and support["contacts"]["total"] == 3


# --- bounded at any size ----------------------------------------------------------------------------


def test_counts_over_the_row_cap_are_per_day_and_capped(
    client_for: Any, users: Any, shop: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(selectors, "ROWS", 2)
    monkeypatch.setattr(selectors, "DAY_CAP", 1)
    html = page(client_for, users["marketing"])
    contacts = html.split('id="home-contacts"')[1].split("</section>")[0]
    assert "Too many to break down here" in contacts and 'data-total="1"' in contacts and "1+" in contacts
    assert "Too many changes to break down here" in html


BIG_TABLES = (
    "contacts_contact", "tracking_event", "privacy_consentrecord", "segments_segmentchange", "privacy_auditevent",
    "contacts_timelineentry", "segments_segmentmember",
)  # fmt: skip


@pytest.mark.sqlite  # reads SQLite's query plans
@pytest.mark.parametrize("role", ["admin", "sales"])
def test_the_home_page_reads_ranges_of_indexes_and_no_whole_table(
    client_for: Any, users: Any, shop: Any, role: str
) -> None:
    client = client_for(users[role])
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    assert len(queries) <= 45
    scans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = [row[-1] for row in cursor.fetchall()]
            # Walking an index in the order asked, up to a LIMIT, stops early (a keyset page);
            # any other SCAN of a big table reads all of it (or all of an index).
            walk = "ORDER BY" in sql and "LIMIT" in sql and not any("TEMP B-TREE" in d for d in plan)
            for detail in plan:
                if any(re.search(rf"\bSCAN {t}\b", detail) for t in BIG_TABLES) and not walk:
                    scans.append((detail, sql[:300]))
    assert scans == []


def test_numbers_are_counted_by_the_database_not_by_loading_rows(users: Any, shop: Any) -> None:
    """Each number is a COUNT in SQL, grouped by day in the viewer's time zone and by key."""
    w = selectors.window(dt.UTC)
    with CaptureQueriesContext(connection) as queries:
        numbers = selectors.new_contacts(users["marketing"], w)
    assert numbers is not None and numbers.tally.total == 3
    assert numbers.tally.by_day[-1].count == 3
    assert [(b.key, b.count) for b in numbers.by_source or []] == [("form", 2), ("import", 1)]
    reads = [q["sql"] for q in queries.captured_queries if "contacts_contact" in q["sql"]]
    assert reads and all("COUNT(" in sql.upper() for sql in reads), reads


def test_recent_activity_names_a_contact_without_a_name_as_everywhere_else(
    client_for: Any, users: Any, make_contact: Any
) -> None:
    nameless = make_contact(full_name="Tạm")
    Contact.objects.filter(pk=nameless.pk).update(full_name="")  # known only by an identifier
    timeline_entry_save(actor=actor_for(users["admin"]), contact=nameless, entry=None,
                        data={"kind": "call", "subject": "Gọi khách ẩn danh"})  # fmt: skip
    html = page(client_for, users["admin"])
    assert f">Anonymous #{nameless.pk}</a>" in html
