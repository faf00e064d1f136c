"""Purchase metrics as contact-list filters (page, API, exports) and as export columns."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from danhba.accounts.models import Role
from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.core.actor import Actor
from danhba.orders.services import order_record

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("cli")


@pytest.fixture
def shoppers(make_contact: Any) -> dict[str, Any]:
    """Loyal: 3 orders, 900,000 spent, mostly books, last order in March. Once: 1 order of
    50,000 in January. Never: no orders."""
    loyal = make_contact(full_name="Phạm Khách Quen")
    once = make_contact(full_name="Lê Mua Một")
    never = make_contact(full_name="Võ Chưa Mua")
    for i, (day, amount, category) in enumerate(
        [("01-10", 300000, "Sách"), ("02-10", 500000, "Sách"), ("03-10", 100000, "Đồ chơi")]
    ):
        order_record(
            actor=SYSTEM,
            contact_id=loyal.pk,
            data={
                "order_id": f"L{i}",
                "placed_at": f"2026-{day}T10:00:00+07:00",
                "lines": [{"product_id": f"P{i}", "category": category, "price": amount}],
            },
        )
    order_record(
        actor=SYSTEM,
        contact_id=once.pk,
        data={
            "order_id": "O1",
            "placed_at": "2026-01-05T10:00:00+07:00",
            "lines": [{"category": "Đồ chơi", "price": 50000}],
        },
    )
    return {"loyal": loyal, "once": once, "never": never}


def names(html: str, shoppers: dict[str, Any]) -> set[str]:
    return {key for key, c in shoppers.items() if c.full_name in html}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"orders_min": "2"}, {"loyal"}),
        ({"orders_min": "1"}, {"loyal", "once"}),
        ({"orders_max": "1"}, {"once", "never"}),
        ({"orders_max": "0"}, {"never"}),
        ({"spent_min": "100000"}, {"loyal"}),
        ({"spent_max": "60000"}, {"once", "never"}),
        ({"last_order_after": "2026-02-01"}, {"loyal"}),
        ({"last_order_before": "2026-01-31"}, {"once"}),
        ({"favourite_category": "Sách"}, {"loyal"}),
        ({"favourite_category": "Đồ chơi", "orders_min": "1"}, {"once"}),
    ],
)
def test_list_page_filters(
    client_for: Any, admin: Any, shoppers: dict[str, Any], params: dict[str, str], expected: set[str]
) -> None:
    response = client_for(admin).get("/contacts/", params)
    assert response.status_code == 200
    assert names(response.content.decode(), shoppers) == expected


def test_filter_form_and_bad_values(client_for: Any, admin: Any, shoppers: dict[str, Any]) -> None:
    client = client_for(admin)
    html = client.get("/contacts/").content.decode()
    assert 'name="orders_min"' in html and 'name="favourite_category"' in html and "Sách" in html
    bad = client.get("/contacts/", {"orders_min": "many", "spent_max": "-5"})
    assert bad.status_code in (200, 400)
    assert "Phạm Khách Quen" not in bad.content.decode()


def test_api_filters_and_export_columns(client: Any, admin: Any, shoppers: dict[str, Any]) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    listed = client.get("/api/contacts", {"orders_min": 1, "spent_min": "60000"}, headers=headers)
    assert [c["full_name"] for c in listed.json()["items"]] == ["Phạm Khách Quen"]
    bad = client.get("/api/contacts", {"spent_min": "lots"}, headers=headers)
    assert bad.status_code == 422 and "spent_min" in json.dumps(bad.json()["details"])

    exported = client_for_export(client, admin, {"orders_min": "1"})
    rows = {r["full_name"]: r for r in exported}
    assert set(rows) == {"Phạm Khách Quen", "Lê Mua Một"}
    loyal = rows["Phạm Khách Quen"]
    assert (loyal["order_count"], loyal["total_spent"], loyal["average_order_value"]) == ("3", "900000.00", "300000.00")
    assert loyal["favourite_category"] == "Sách" and loyal["purchase_frequency_days"] == "29.5"
    assert loyal["first_order_at"].startswith("2026-01-10") and loyal["last_order_at"].startswith("2026-03-10")


def client_for_export(client: Any, user: Any, params: dict[str, str]) -> list[dict[str, str]]:
    client.force_login(user)
    response = client.get("/contacts/export.csv", params)
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_roles_without_order_permission_get_no_purchase_columns_or_filters(
    client: Any, make_user: Any, shoppers: dict[str, Any]
) -> None:
    Role.objects.create(
        key="noorders", name="No orders", permissions={"contact": ["view", "export"]}, record_scope="all"
    )
    user = make_user("noorders")
    rows = client_for_export(client, user, {})
    assert rows and "order_count" not in rows[0] and "total_spent" not in rows[0]
    html = client.get("/contacts/").content.decode()
    assert 'name="orders_min"' not in html
    assert "Phạm Khách Quen" not in client.get("/contacts/", {"orders_min": "1"}).content.decode()
