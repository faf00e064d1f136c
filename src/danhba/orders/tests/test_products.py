"""The product catalogue by hand: the pages (new, edit, list links), the API (POST, GET one,
PATCH), roles, bad input (422 with the field, never 500), the audit log, orders that name a
product set by hand (they fill only empty fields), and the Vietnamese page."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.core.actor import Actor
from danhba.orders.models import Product
from danhba.orders.services import order_record
from danhba.orders.tests.test_orders_api import Api, api_for, assert_error

__all__ = ["api_for"]  # the fixture

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("cli")


def patch(api: Api, path: str, data: Any) -> Any:
    return api.client.patch(f"/api{path}", json.dumps(data), content_type="application/json", headers=api.headers)


def order_naming(sku: str, order_id: str, name: str, price: int, category: str = "") -> None:
    line = {"product_id": sku, "name": name, "category": category, "price": price}
    order_record(actor=SYSTEM, data={"order_id": order_id, "placed_at": "2026-03-01T10:00:00+07:00", "lines": [line]})


def test_api_create_get_patch_and_audit(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    created = api.post("/products", {"product_id": "TRA-SEN", "name": "Trà sen", "category": "Đồ uống",
                                     "unit": "hộp", "price": 1234567})  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["unit"] == "hộp" and Decimal(body["price"]) == 1234567 and body["currency"] == "VND"
    assert body["edited_at"] and body["last_ordered_at"] is None
    assert api.get("/products/TRA-SEN").json()["name"] == "Trà sen"
    changed = patch(api, "/products/TRA-SEN", {"price": "99000", "unit": "kg"})
    assert changed.status_code == 200 and changed.json()["unit"] == "kg" and changed.json()["name"] == "Trà sen"
    assert Product.objects.get(product_id="TRA-SEN").price == 99000
    rows = AuditEvent.objects.filter(object_type="product").order_by("id")
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[1].changes["price"][1] in ("99000.00", 99000, "99000")
    assert "TRA-SEN" in api.get("/products", q="TRA").content.decode()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"product_id": "has space", "name": "x"}, "product_id"),
        ({"product_id": "   ", "name": "x"}, "product_id"),
        ({"product_id": "OK-1", "name": "  "}, "name"),
        ({"product_id": "OK-1", "name": "x", "currency": "V1D"}, "currency"),
        ({"product_id": "OK-1", "name": "x", "price": "12.5"}, "price"),  # VND has no decimals
    ],
)
def test_bad_products_are_422_with_the_field(api_for: Any, admin: Any, payload: dict[str, Any], field: str) -> None:
    body = assert_error(api_for(admin).post("/products", payload), 422)
    assert field in json.dumps(body["details"])
    assert not Product.objects.filter(product_id="OK-1").exists()


def test_duplicates_and_bad_requests_are_4xx(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    api.post("/products", {"product_id": "AO-01", "name": "Áo dài"})
    assert "product_id" in assert_error(api.post("/products", {"product_id": "ao-01", "name": "B"}), 422)["details"]
    assert Product.objects.get(product_id="AO-01").name == "Áo dài"
    assert_error(api.post("/products", {"product_id": "X", "name": "x", "price": -1}), 422)
    assert_error(api.post("/products", {"product_id": "X", "name": "x", "colour": "red"}), 422)
    assert_error(patch(api, "/products/AO-01", {"product_id": "AO-02"}), 422)
    assert_error(patch(api, "/products/AO-01", {"name": None}), 422)
    assert_error(patch(api, "/products/nope", {"name": "x"}), 404)
    assert_error(api.get("/products/nope"), 404)


def test_roles(api_for: Any, users: dict[str, Any], client_for: Any, admin: Any) -> None:
    api_for(admin).post("/products", {"product_id": "P-1", "name": "Nón lá"})
    for key in ("marketing", "sales", "support"):
        api = api_for(users[key])
        assert api.get("/products/P-1").status_code == 200
        assert_error(api.post("/products", {"product_id": "P-2", "name": "x"}), 403)
        assert_error(patch(api, "/products/P-1", {"name": "x"}), 403)
        client = client_for(users[key])
        assert client.get("/products/new/").status_code == 403
        assert client.get("/products/P-1/edit/").status_code == 403
        assert "/products/new/" not in client.get("/products/").content.decode()
    assert Product.objects.get(product_id="P-1").name == "Nón lá"


def test_pages_new_and_edit(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    listing = client.get("/products/").content.decode()
    assert 'href="/products/new/"' in listing
    bad = client.post("/products/new/", {"product_id": "a b", "name": "", "currency": "VND", "price": "abc"})
    assert bad.status_code == 422 and not Product.objects.exists()
    done = client.post("/products/new/", {"product_id": "NUOC/500", "name": "Nước mắm", "category": "Gia vị",
                                          "unit": "chai", "price": "1.234.567", "currency": "VND"})  # fmt: skip
    assert done.status_code == 302 and done["Location"] == "/products/NUOC/500/edit/"
    product = Product.objects.get(product_id="NUOC/500")
    assert (product.price, product.unit, product.category) == (Decimal(1234567), "chai", "Gia vị")
    assert 'href="/products/NUOC/500/edit/"' in client.get("/products/").content.decode()
    edit = client.get("/products/NUOC/500/edit/").content.decode()
    assert 'value="1234567"' in edit and "Nước mắm" in edit
    data = {"name": "Nước mắm Phú Quốc", "category": "Gia vị", "unit": "chai", "price": "45 000 ₫", "currency": "VND"}
    saved = client.post("/products/NUOC/500/edit/", data)
    assert saved.status_code == 302
    product.refresh_from_db()
    assert product.name == "Nước mắm Phú Quốc" and product.price == 45000
    assert client.get("/products/nope/edit/").status_code == 404


def test_orders_never_overwrite_what_a_user_set(api_for: Any, admin: Any) -> None:
    order_naming("FROM-ORDER", "O-1", "Bánh pía", 90000, "Đồ ăn")
    order_naming("FROM-ORDER", "O-2", "Bánh pía sầu riêng", 95000)
    seen = Product.objects.get(product_id="FROM-ORDER")
    assert (seen.name, seen.price, seen.category) == ("Bánh pía sầu riêng", 95000, "Đồ ăn")  # orders keep it current
    api = api_for(admin)
    api.post("/products", {"product_id": "HAND", "name": "Trà sen", "price": 40000})
    patch(api, "/products/FROM-ORDER", {"name": "Bánh pía Sóc Trăng"})
    order_naming("HAND", "O-3", "tra sen (KM)", 1000, "Đồ uống")
    order_naming("FROM-ORDER", "O-4", "banh pia", 80000)
    hand = Product.objects.get(product_id="HAND")
    assert (hand.name, hand.price, hand.category) == ("Trà sen", 40000, "Đồ uống")  # only the empty category filled
    assert hand.last_ordered_at is not None
    edited = Product.objects.get(product_id="FROM-ORDER")
    assert (edited.name, edited.price) == ("Bánh pía Sóc Trăng", 95000)


def test_the_vietnamese_page(client_for: Any, admin: Any) -> None:
    Product.objects.create(product_id="NON-LA", name="Nón lá", unit="cái", price=Decimal(1234567))
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client = client_for(admin)
    html = client.get("/products/").content.decode()
    assert "1.234.567 ₫" in html and "cái" in html and "Sản phẩm mới" in html
    form = client.get("/products/new/").content.decode()
    assert "Đơn vị" in form and "Giá niêm yết" in form
