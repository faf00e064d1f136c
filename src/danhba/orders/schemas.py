"""Shapes of the orders and products API (``order_api.py``). Inputs check types and sizes;
``orders.order_clean`` validates values and answers 422 with a reason per field. Money is a
decimal: sent as a number or a numeric string, returned as a string ("270000.00") so no
client loses precision."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, When
from danhba.core.keyset import MAX_PK
from danhba.orders.models import Order

Money = Annotated[Decimal, Field(ge=0, le=Decimal("9999999999999999.99"), examples=[150000])]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]
OrderIdText = Annotated[str, Field(min_length=1, max_length=200, examples=["DH-2026-000123"])]


class ExternalIdRefIn(In):
    system: Annotated[str, Field(min_length=1, max_length=60)]
    value: Annotated[str, Field(min_length=1, max_length=200)]


class ContactRefIn(In):
    """Who bought: the first of these that is given decides. The contact must exist and be
    within the caller's records."""

    id: Annotated[int, Field(ge=1, le=MAX_PK)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    user_id: Annotated[str, Field(max_length=200, description="The Segment userId (external id 'segment').")] | None = (
        None
    )
    external_id: ExternalIdRefIn | None = None


class LineIn(In):
    product_id: Annotated[str, Field(max_length=200, description="Your product id or SKU.")] | None = None
    name: Annotated[str, Field(max_length=300)] | None = None
    category: Annotated[str, Field(max_length=200)] | None = None
    quantity: Quantity = 1
    price: Money = Field(default=Decimal(0), description="Unit price.")
    discount: Money = Field(default=Decimal(0), description="Discount on the whole line.")


class OrderIn(In):
    """An order to create, or to replace whole (same ``order_id``): its lines are replaced and the
    contact's purchase metrics change by the difference. Refunds and cancellation are kept."""

    order_id: OrderIdText
    contact: ContactRefIn | None = Field(None, description="The buyer; or give `anonymous_id`.")
    anonymous_id: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="A website visitor's anonymous id: the order moves to the contact once identified."
    )
    placed_at: When | None = Field(None, description="Default: now (or unchanged on an update).")
    channel: Order.SalesChannel = Order.SalesChannel.ONLINE
    store: Annotated[str, Field(max_length=200)] | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217; default the shop's.")] | None = (
        None
    )
    subtotal: Money | None = Field(None, description="Default: the sum of the lines.")
    discount: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    total: Money | None = Field(None, description="Default: subtotal − discount + shipping + tax.")
    lines: Annotated[list[LineIn], Field(max_length=1000)] = Field(default_factory=list)
    properties: Annotated[dict[Annotated[str, Field(max_length=100)], Any], Field(max_length=100)] = Field(
        default_factory=dict, description="Anything else about the order, kept as given."
    )


class RefundLineIn(In):
    product_id: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Quantity = 1


class RefundIn(In):
    """Neither `amount` nor `lines`: refund what is left of the order. `lines` alone: those
    units, for their share of the line totals. `refund_id`: a refund already applied with the
    same id is not applied again (safe retries)."""

    amount: Money | None = None
    lines: Annotated[list[RefundLineIn], Field(max_length=1000)] | None = None
    refund_id: Annotated[str, Field(max_length=200)] | None = None


class LineOut(Schema):
    product_id: str | None
    name: str
    category: str
    quantity: int
    price: Decimal
    discount: Decimal
    total: Decimal
    refunded_quantity: int


class OrderOut(Schema):
    order_id: str
    contact_id: int | None
    anonymous_id: str
    placed_at: dt.datetime
    channel: str
    store: str
    currency: str
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    refunded_amount: Decimal
    status: str
    properties: dict[str, Any]
    refunds: list[dict[str, Any]]
    created_at: dt.datetime
    updated_at: dt.datetime
    lines: list[LineOut] | None = Field(None, description="On single-order responses, not in lists.")


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


ProductName = Annotated[str, Field(max_length=300)]
Category = Annotated[str, Field(max_length=200)]
Unit = Annotated[str, Field(max_length=30, description='e.g. "cái", "hộp", "kg"')]


class ProductIn(In):
    """A product to add to the catalogue by hand. Orders naming it later never overwrite what is
    set here (they only fill empty fields)."""

    product_id: Annotated[str, Field(min_length=1, max_length=200, description="The SKU: unique, no spaces.")]
    name: ProductName
    category: Category = ""
    unit: Unit = ""
    price: Money | None = Field(None, description="The list price, in `currency`.")
    currency: Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217; default the shop's.")] | None = (
        None
    )


class ProductPatch(In):
    """The fields to change; the SKU (`product_id`) cannot change."""

    name: ProductName | None = None
    category: Category | None = None
    unit: Unit | None = None
    price: Money | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None


class ProductOut(Schema):
    product_id: str
    name: str
    category: str
    unit: str
    price: Decimal | None
    currency: str
    edited_at: dt.datetime | None = Field(description="When a user last set it by hand; null if only orders did.")
    last_ordered_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None


class PurchaseStatsOut(Schema):
    """A contact's purchase metrics. Money counts only orders in `shop_currency`; orders in other
    currencies count as orders (dates, frequency, number) but add no money."""

    contact_id: int
    shop_currency: str
    order_count: int
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    total_spent: Decimal
    average_order_value: Decimal
    purchase_frequency_days: float | None = Field(description="Mean days between orders; null with fewer than 2.")
    favourite_category: str
    categories: dict[str, Any] = Field(description="{category: {amount, count (orders including it)}}")
