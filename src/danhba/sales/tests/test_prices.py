"""Price lists: a deal's product line takes its price from the deal's list, else from the
contact's applicable list (group, currency, dates, priority), shows which list applied, and
stays editable; the API and the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.orders.models import Product
from danhba.sales.models import DealLine, PriceList
from danhba.sales.services import prices as P
from danhba.sales.services.deals import deal_line_add, deal_line_update, deal_update
from danhba.segments import services as S
from danhba.segments.models import Segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue() -> dict[str, Product]:
    return {
        "loc": Product.objects.create(
            product_id="LOC-01", name="Máy lọc nước", price=Decimal("5000000"), currency="VND"
        ),
        "loi": Product.objects.create(product_id="LOI-02", name="Lõi lọc", price=Decimal("300000"), currency="VND"),
    }


@pytest.fixture
def dealers(admin: Any, make_contact: Any) -> dict[str, Any]:
    me = actor_for(admin)
    agent = make_contact(full_name="Đại lý Minh Phát")
    group = S.segment_create(actor=me, name="Đại lý", kind=Segment.Kind.STATIC)
    S.list_add(actor=me, segment=group, contact_ids=[agent.pk])
    return {"agent": agent, "group": group, "retail": make_contact(full_name="Khách lẻ")}


def test_a_line_takes_the_contacts_list_price_and_says_which(
    admin: Any, catalogue: Any, dealers: Any, make_deal: Any
) -> None:
    me = actor_for(admin)
    today = timezone.localdate()
    dealer_list = P.price_list_create(actor=me, data={
        "name": "Đại lý cấp 1", "segment_id": dealers["group"].pk, "priority": 10, "discount_percent": "5",
        "items": [{"product_id": catalogue["loc"].pk, "price": "4200000"}],
    })  # fmt: skip
    P.price_list_create(actor=me, data={"name": "Hết hạn", "priority": 1, "discount_percent": "50",
                                        "valid_until": today - dt.timedelta(days=1)})  # fmt: skip
    P.price_list_create(actor=me, data={"name": "USD", "currency": "USD", "priority": 1, "discount_percent": "50"})
    deal = make_deal(title="Đơn đại lý", primary_contact_id=dealers["agent"].pk)
    line = deal_line_add(actor=me, deal=deal, data={"product_id": catalogue["loc"].pk, "quantity": 2})
    assert (line.price, line.price_list_id) == (Decimal("4200000"), dealer_list.pk)
    other = deal_line_add(actor=me, deal=deal, data={"product_id": catalogue["loi"].pk})
    assert (other.price, other.price_list_id) == (Decimal("285000.00"), dealer_list.pk)  # the list's 5 % off
    # Still editable: a typed price is the user's, not the list's.
    line = deal_line_update(actor=me, line=line, data={"price": "4100000"})
    assert (line.price, line.price_list_id) == (Decimal("4100000"), None)
    deal.refresh_from_db()
    assert deal.value == Decimal("8485000")
    # A retail customer is in no group: the product's list price.
    retail = make_deal(title="Khách lẻ", primary_contact_id=dealers["retail"].pk)
    assert deal_line_add(actor=me, deal=retail, data={"product_id": catalogue["loc"].pk}).price == Decimal("5000000")
    # The deal picks a list itself.
    deal_update(actor=me, deal=retail, data={"price_list_id": dealer_list.pk})
    picked = deal_line_add(actor=me, deal=retail, data={"product_id": catalogue["loc"].pk})
    assert (picked.price, picked.price_list_id) == (Decimal("4200000"), dealer_list.pk)


def test_bad_price_lists_are_refused_with_reasons(admin: Any, catalogue: Any) -> None:
    from danhba.core.errors import InvalidInput

    me = actor_for(admin)
    with pytest.raises(InvalidInput) as bad:
        P.price_list_create(actor=me, data={
            "name": "", "currency": "dong", "discount_percent": "120", "valid_from": "2026-12-31",
            "valid_until": "2026-01-01", "segment_id": 999999,
        })  # fmt: skip
    assert set(bad.value.details) >= {"name", "currency", "discount_percent", "valid_until", "segment_id"}
    with pytest.raises(InvalidInput) as items:
        P.price_list_create(actor=me, data={"name": "x", "items": [
            {"product_id": catalogue["loc"].pk}, {"product_id": 999999, "price": "1"},
        ]})  # fmt: skip
    assert "items.0" in items.value.details and "items" in items.value.details


def test_api_price_lists_and_a_deal_line_shows_its_list(
    client_for: Any, admin: Any, users: Any, catalogue: Any, make_deal: Any
) -> None:
    api = client_for(admin)
    body = {"name": "Khuyến mãi Tết", "priority": 5, "valid_from": "2026-01-01", "valid_until": "2030-12-31",
            "items": [{"product_id": catalogue["loi"].pk, "discount_percent": "10"}]}  # fmt: skip
    created = api.post("/api/sales/price-lists", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["items"][0]["discount_percent"] == "10.00"
    pid = created.json()["id"]
    deal = make_deal(title="Tết")
    line = api.post(f"/api/sales/deals/{deal.pk}/lines", {"product_id": catalogue["loi"].pk},
                    content_type="application/json").json()  # fmt: skip
    assert line["price"] == "270000.00" and line["price_list"] == "Khuyến mãi Tết"
    assert api.patch(f"/api/sales/price-lists/{pid}", {"discount_percent": "101"},
                     content_type="application/json").status_code == 422  # fmt: skip
    assert api.patch(f"/api/sales/deals/{deal.pk}", {"price_list_id": pid},
                     content_type="application/json").json()["price_list_id"] == pid  # fmt: skip
    assert api.delete(f"/api/sales/price-lists/{pid}").status_code == 204
    assert DealLine.objects.get().price_list_id is None
    rep = client_for(users["sales"])
    assert rep.post("/api/sales/price-lists", {"name": "x"}, content_type="application/json").status_code == 403


def test_a_customer_group_a_price_list_uses_cannot_be_deleted(client_for: Any, admin: Any, dealers: Any) -> None:
    """Deleting the segment was a 500 (a protected foreign key); now a 409 that names the list,
    and the segment keeps its members."""
    P.price_list_create(actor=actor_for(admin), data={"name": "Đại lý cấp 1", "segment_id": dealers["group"].pk})
    api = client_for(admin)
    refused = api.delete(f"/api/segments/{dealers['group'].pk}")
    assert refused.status_code == 409, refused.content
    assert "Đại lý cấp 1" in refused.json()["message"]
    assert Segment.objects.get(pk=dealers["group"].pk).members.count() == 1
    PriceList.objects.update(segment=None)
    assert api.delete(f"/api/segments/{dealers['group'].pk}").status_code == 204


def test_price_list_pages_and_the_deal_lines_form(client_for: Any, admin: Any, catalogue: Any, make_deal: Any) -> None:
    web = client_for(admin)
    form = {"name": "Đại lý", "currency": "VND", "priority": 10, "discount_percent": "0", "is_active": "on",
            "items": "LOC-01 = 4.200.000\nLOI-02 = 10%", "valid_from": "01/12/2026"}  # fmt: skip
    # Vietnamese thousands dots are not decimals: the form refuses an unclear number.
    bad = web.post("/sales/prices/", form)
    assert bad.status_code == 422
    form["items"] = "LOC-01 = 4200000\nLOI-02 = 10%\nKHONG-CO = 1"
    assert "KHONG-CO" in web.post("/sales/prices/", form).content.decode()
    form["items"] = "LOC-01 = 4200000\nLOI-02 = 10%"
    assert web.post("/sales/prices/", form).status_code == 302
    price_list = PriceList.objects.get()
    assert price_list.valid_from == dt.date(2026, 12, 1) and price_list.items.count() == 2
    assert "4,200,000" in web.get(f"/sales/prices/{price_list.pk}/").content.decode()
    deal = make_deal(title="Đơn hàng")
    web.post(f"/sales/deals/{deal.pk}/lines/", {"action": "price_list", "price_list_id": price_list.pk})
    web.post(f"/sales/deals/{deal.pk}/lines/", {"action": "add", "product_id": catalogue["loc"].pk, "quantity": 1})
    page = web.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "price from Đại lý" in page
    line = DealLine.objects.get()
    web.post(f"/sales/deals/{deal.pk}/lines/", {"action": "line", "line_id": line.pk, "price": "4000000",
                                                "discount": "0", "quantity": "3"})  # fmt: skip
    line.refresh_from_db()
    assert (line.quantity, line.price) == (3, Decimal("4000000"))
