"""The orders REST API through HTTP: upsert, lists, refunds, cancellation, products, purchase
metrics, bad payloads (always a 4xx JSON error), and permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.accounts.models import Role
from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.orders.models import Order, PurchaseStats

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api{path}", params, headers=self.headers)

    def post(self, path: str, data: Any = None, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data)
        return self.client.post(f"/api{path}", body, content_type="application/json", headers=self.headers)


@pytest.fixture
def api_for(client: Any) -> Any:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


@pytest.fixture
def api(api_for: Any, admin: Any) -> Api:
    return api_for(admin)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


ORDER = {
    "order_id": "DH-1",
    "contact": {"email": "Lan@Example.vn"},
    "placed_at": "2026-02-01T09:30:00+07:00",
    "channel": "store",
    "store": "Quận 1",
    "shipping": 15000,
    "lines": [
        {"product_id": "SKU-1", "name": "Trà sen", "category": "Đồ uống", "quantity": 3, "price": "40000"},
        {"product_id": "SKU-2", "name": "Bánh pía", "category": "Đồ ăn", "price": 90000, "discount": 10000},
    ],
}


def test_create_replay_get_list_refund_cancel(api: Api, make_contact: Any) -> None:
    contact = make_contact(emails=["lan@example.vn"])
    created = api.post("/orders", ORDER)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["contact_id"] == contact.pk and body["subtotal"] == "200000.00" and body["total"] == "215000.00"
    assert [line["total"] for line in body["lines"]] == ["120000.00", "80000.00"]
    again = api.post("/orders", ORDER)
    assert again.status_code == 200 and Order.objects.count() == 1
    assert api.get("/orders/DH-1").json()["store"] == "Quận 1"
    listing = api.get("/orders", contact=contact.pk).json()
    assert [o["order_id"] for o in listing["items"]] == ["DH-1"] and listing["next_cursor"] is None

    refund = api.post("/orders/DH-1/refund", {"lines": [{"product_id": "SKU-1", "quantity": 2}], "refund_id": "R1"})
    assert refund.status_code == 200, refund.content
    assert (refund.json()["status"], refund.json()["refunded_amount"]) == ("partially_refunded", "80000.00")
    api.post("/orders/DH-1/refund", {"lines": [{"product_id": "SKU-1", "quantity": 1}], "refund_id": "R1"})
    stats = api.get(f"/purchase-stats/{contact.pk}").json()
    assert (stats["order_count"], stats["total_spent"], stats["favourite_category"]) == (1, "135000.00", "Đồ ăn")
    cancelled = api.post("/orders/DH-1/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert PurchaseStats.objects.get(contact=contact).order_count == 0

    products = api.get("/products", q="SKU").json()
    assert [p["product_id"] for p in products["items"]] == ["SKU-1", "SKU-2"]
    assert products["items"][0]["price"] == "40000.00"


def test_contact_by_id_user_id_and_anonymous(api: Api, make_contact: Any) -> None:
    contact = make_contact(external_ids=[{"system": "segment", "value": "u-7"}], phones=["0912 345 678"])
    for i, ref in enumerate([{"id": contact.pk}, {"user_id": "u-7"}, {"phone": "+84912345678"}]):
        response = api.post("/orders", {"order_id": f"X{i}", "contact": ref, "total": 1000})
        assert response.status_code == 201 and response.json()["contact_id"] == contact.pk
    anonymous = api.post("/orders", {"order_id": "ANON", "anonymous_id": "dev-1", "total": 5})
    assert anonymous.status_code == 201 and anonymous.json()["contact_id"] is None


def test_pages_are_keyset_paginated(api: Api, make_contact: Any) -> None:
    contact = make_contact()
    for i in range(5):
        api.post(
            "/orders", {"order_id": f"P{i}", "contact": {"id": contact.pk}, "placed_at": f"2026-01-0{i + 1}T00:00:00Z"}
        )
    first = api.get("/orders", limit=2).json()
    second = api.get("/orders", limit=2, cursor=first["next_cursor"]).json()
    assert [o["order_id"] for o in first["items"] + second["items"]] == ["P4", "P3", "P2", "P1"]
    assert_error(api.get("/orders", cursor="garbage!"), 400)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"order_id": "", "total": 1}, "order_id"),
        ({"order_id": "A", "total": -1}, "total"),
        ({"order_id": "A", "total": "lots"}, "total"),
        ({"order_id": "A", "lines": [{"quantity": 0}]}, "quantity"),
        ({"order_id": "A", "lines": [{"price": 10, "discount": 50}]}, "lines.0.discount"),
        ({"order_id": "A", "channel": "fax"}, "channel"),
        ({"order_id": "A", "currency": "d1g"}, "currency"),
        ({"order_id": "A", "contact": {"email": "nobody@example.vn"}}, "contact"),
        ({"order_id": "A", "contact": {}}, "contact"),
        ({"order_id": "A", "placed_at": "yesterday"}, "placed_at"),
        ({"order_id": "A", "surprise": 1}, "surprise"),
        ({"order_id": "A", "total": 1e30}, "total"),
    ],
)
def test_bad_orders_are_422_with_the_field(api: Api, payload: dict[str, Any], field: str) -> None:
    body = assert_error(api.post("/orders", payload), 422)
    assert field in json.dumps(body["details"])
    assert not Order.objects.exists()


def test_bad_requests_are_4xx_json(api: Api) -> None:
    assert_error(api.post("/orders", raw="{not json"), 400)
    assert_error(api.get("/orders/none"), 404)
    assert_error(api.get("/orders/a%0Ab"), 404)  # a newline in the id: still a JSON 404
    assert_error(api.post("/orders/none/refund", {}), 404)
    assert_error(api.post("/orders/none/cancel"), 404)
    assert_error(api.get("/orders", status="weird"), 422)
    assert_error(api.get("/orders", placed_after="01/02/2026"), 422)
    api.post("/orders", {"order_id": "R", "total": 100})
    assert_error(api.post("/orders/R/refund", {"amount": 500}), 422)
    assert_error(api.post("/orders/R/refund", {"amount": 0}), 422)
    assert_error(api.post("/orders/R/refund", {"lines": [{"product_id": "nope"}]}), 422)
    api.post("/orders/R/cancel")
    assert_error(api.post("/orders/R/refund", {}), 409)
    assert_error(api.get("/purchase-stats/999999"), 404)


def test_permissions(api_for: Any, users: dict[str, Any], make_user: Any, make_contact: Any, admin: Any) -> None:
    admin_api = api_for(admin)
    mine = make_contact(full_name="Of the admin", owner=admin.pk)
    admin_api.post("/orders", {"order_id": "O-1", "contact": {"id": mine.pk}, "total": 100})
    # Marketing may view and export orders but not write them.
    marketing = api_for(users["marketing"])
    assert marketing.get("/orders").status_code == 200
    assert_error(marketing.post("/orders", {"order_id": "M", "total": 1}), 403)
    assert_error(marketing.post("/orders/O-1/cancel"), 403)
    # A role without the order permission sees nothing.
    role = Role.objects.create(key="noorders", name="No orders", permissions={"contact": ["view"]}, record_scope="all")
    outsider = api_for(make_user("noorders"))
    for response in (outsider.get("/orders"), outsider.get("/orders/O-1"), outsider.get("/products")):
        assert_error(response, 403)
    assert role.pk
    # A sales rep sees only orders of their own and unassigned contacts.
    rep = api_for(users["sales"])
    assert rep.get("/orders").json()["items"] == []
    assert_error(rep.get("/orders/O-1"), 404)
    assert_error(rep.get(f"/purchase-stats/{mine.pk}"), 404)


def test_order_ids_with_slashes_and_odd_characters(api: Api, client_for: Any, admin: Any) -> None:
    for order_id in ("2026/01/0042", "A?b#c d"):
        assert api.post("/orders", {"order_id": order_id, "total": 100}).status_code == 201
    assert api.get("/orders/2026/01/0042").json()["order_id"] == "2026/01/0042"
    assert api.post("/orders/2026/01/0042/refund", {"amount": 10}).json()["refunded_amount"] == "10.00"
    assert api.post("/orders/2026/01/0042/cancel").json()["status"] == "cancelled"
    assert api.get("/orders/A%3Fb%23c%20d").json()["order_id"] == "A?b#c d"
    client = client_for(admin)
    html = client.get("/orders/").content.decode()
    assert 'href="/orders/2026/01/0042/"' in html and 'href="/orders/A%3Fb%23c%20d/"' in html
    assert client.get("/orders/2026/01/0042/").status_code == 200
    assert client.get("/orders/A%3Fb%23c%20d/").status_code == 200
