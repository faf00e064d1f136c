"""Money and chart dates on the order and event pages in each language's format: "11.360.000 ₫"
(not "11360000 VND"), "11,360,000 ₫" in English; chart axes dd/mm in Vietnamese, "10 Mar" in
English, the same dates as the tables."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from danhba.orders.models import Order, OrderLine
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db

SAIGON = dt.timezone(dt.timedelta(hours=7))
AT = dt.datetime(2025, 3, 10, 10, 0, tzinfo=SAIGON)


@pytest.fixture
def order(make_contact: Any) -> Order:
    contact = make_contact(full_name="Trần Thị Bình")
    order = Order.objects.create(
        order_id="DH-1", contact=contact, placed_at=AT, subtotal=Decimal(11360000), total=Decimal(11360000),
        currency="VND",
    )  # fmt: skip
    OrderLine.objects.create(order=order, position=0, name="Nồi cơm điện", quantity=2, price=Decimal(5680000),
                             total=Decimal(11360000))  # fmt: skip
    return order


def html(client: Any, url: str, **params: Any) -> str:
    return unescape(client.get(url, params).content.decode())


def test_money_on_the_order_pages(client_for: Any, users: dict[str, Any], order: Order) -> None:
    admin = users["admin"]
    pages = [reverse("orders:list"), reverse("orders:detail", args=[order.order_id]),
             reverse("contacts:detail", args=[order.contact_id])]  # fmt: skip
    for url in pages:
        assert "11,360,000 ₫" in html(client_for(admin), url), url
    admin.language = "vi"
    admin.save(update_fields=["language"])
    for url in pages:
        page = html(client_for(admin), url)
        assert "11.360.000 ₫" in page and "11360000" not in page and "VND</" not in page, url
    assert "5.680.000 ₫" in html(client_for(admin), pages[1])  # the line's price


def test_chart_axes_and_tables_use_the_same_date_format(
    client_for: Any, users: dict[str, Any], make_contact: Any, make_source: Any
) -> None:
    source, _key = make_source("Cửa hàng")
    contact = make_contact(full_name="Trần Thị Bình")
    for n in range(3):
        Event.objects.create(source=source, message_id=f"m{n}", type="track", name="Order Completed", contact=contact,
                             timestamp=AT + dt.timedelta(days=n), received_at=AT)  # fmt: skip
    params = {"range": "custom", "from": "2025-03-09", "to": "2025-03-13", "bucket": "day"}
    admin = users["admin"]
    english = html(client_for(admin), "/events/", **params)
    chart = english[english.index('<svg class="chart"') : english.index("</svg>")]
    assert ">10 Mar<" in chart and "10 Mar 2025: 1 event" in chart
    admin.language = "vi"
    admin.save(update_fields=["language"])
    vietnamese = html(client_for(admin), "/events/", **params)
    chart = vietnamese[vietnamese.index('<svg class="chart"') : vietnamese.index("</svg>")]
    assert ">10/03<" in chart and "10/03/2025: 1 sự kiện" in chart
    assert not re.search(r">\d{1,2}/\d{1,2}/\d{4}<", chart.replace("10/03/2025", ""))
    table = vietnamese[vietnamese.index("</svg>") :]
    assert "10:00 10/03/2025" in table  # the events table: the same day, the same order
