"""The Orders and Products pages and the Purchases panel of the contact page."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.models import Role
from danhba.core.actor import Actor
from danhba.orders.services import order_record

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("cli")


@pytest.fixture
def bought(make_contact: Any, admin: Any) -> Any:
    contact = make_contact(full_name="Trần Thị Bích", owner=admin.pk)
    order_record(
        actor=SYSTEM,
        contact_id=contact.pk,
        data={
            "order_id": "DH-77",
            "channel": "marketplace",
            "store": "Shopee",
            "placed_at": "2026-01-05T10:00:00+07:00",
            "lines": [
                {"product_id": "NON-LA", "name": "Nón lá", "category": "Thời trang", "quantity": 2, "price": 85000}
            ],
        },
    )
    order_record(
        actor=SYSTEM,
        contact_id=contact.pk,
        data={"order_id": "DH-78", "placed_at": "2026-01-15T10:00:00+07:00", "total": 30000},
    )
    return contact


def test_order_list_detail_and_products(client_for: Any, admin: Any, bought: Any) -> None:
    client = client_for(admin)
    page = client.get("/orders/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "DH-77" in html and "Trần Thị Bích" in html and "Shopee" in html
    filtered = client.get("/orders/", {"channel": "store"}).content.decode()
    assert "DH-77" not in filtered
    assert "DH-78" in client.get("/orders/", {"contact": bought.pk, "placed_after": "2026-01-10"}).content.decode()
    assert client.get("/orders/", {"placed_after": "soon"}).status_code == 400
    assert client.get("/orders/", {"cursor": "%%%"}).status_code == 400
    detail = client.get("/orders/DH-77/").content.decode()
    assert "Nón lá" in detail and "NON-LA" in detail and "170" in detail
    assert client.get("/orders/nope/").status_code == 404
    products = client.get("/products/", {"q": "non"}).content.decode()
    assert "Nón lá" in products and "Thời trang" in products
    assert 'href="/orders/"' in client.get("/contacts/").content.decode()


def test_contact_page_shows_purchases(client_for: Any, admin: Any, bought: Any) -> None:
    html = client_for(admin).get(f"/contacts/{bought.pk}/").content.decode()
    assert 'id="purchases"' in html
    assert "DH-77" in html and "DH-78" in html and "Thời trang" in html
    assert "200,000" in html or "200.000" in html  # total spent 170,000 + 30,000
    assert "10 days on average" in html


def test_roles_without_order_permission(client_for: Any, make_user: Any, users: dict[str, Any], bought: Any) -> None:
    Role.objects.create(key="noorders", name="No orders", permissions={"contact": ["view"]}, record_scope="all")
    client = client_for(make_user("noorders"))
    assert client.get("/orders/").status_code == 403
    assert client.get("/orders/DH-77/").status_code == 403
    assert client.get("/products/").status_code == 403
    html = client.get(f"/contacts/{bought.pk}/").content.decode()
    assert 'id="purchases"' not in html and "DH-77" not in html
    # A sales rep sees orders of their own and unassigned contacts only.
    rep = client_for(users["sales"])
    assert rep.get("/orders/DH-77/").status_code == 404
    assert "DH-77" not in rep.get("/orders/").content.decode()
