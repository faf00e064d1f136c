"""REST endpoints for orders, products and contacts' purchase metrics (``/api/orders``,
``/api/products``, ``/api/purchase-stats``). Each parses, calls one service or selector of
``services.py`` / ``selectors.py`` with the caller's actor, and renders."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.contacts.extensions import TimelineRow
from danhba.contacts.services.contacts import contact_get
from danhba.core import formatting
from danhba.core.keyset import CURSOR_MAX, MAX_PK
from danhba.core.schemas import ErrorOut
from danhba.orders import catalogue, selectors, services
from danhba.orders.models import Order, PurchaseStats
from danhba.orders.schemas import (
    OrderIn,
    OrderOut,
    OrderPage,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    PurchaseStatsOut,
    RefundIn,
)

# The operation ids the API document gave these endpoints when they were tracking's (order_api.py):
# clients generated from it keep their method names.
OLD_OPERATION_ID = "danhba_tracking_order_api_"
ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}

orders = Router(tags=["orders"])
products = Router(tags=["orders"])
purchase_stats = Router(tags=["orders"])


def order_out(order: Order, with_lines: bool = False) -> dict[str, Any]:
    data = {
        name: getattr(order, name)
        for name in (
            "order_id", "contact_id", "anonymous_id", "placed_at", "channel", "store", "currency", "subtotal",
            "discount", "shipping", "tax", "total", "refunded_amount", "status", "properties", "refunds",
            "created_at", "updated_at",
        )
    }  # fmt: skip
    if with_lines:
        data["lines"] = [
            {
                "product_id": line.product_id,
                "name": line.name,
                "category": line.category,
                "quantity": line.quantity,
                "price": line.price,
                "discount": line.discount,
                "total": line.total,
                "refunded_quantity": line.refunded_quantity,
            }
            for line in order.lines.all()
        ]
    return data


def timeline_describe(items: list[selectors.OrderItem], user: User) -> list[TimelineRow]:
    """Orders on a contact's timeline as the API gives them (``TimelineSource.describe``): the
    lines the contact page shows, and the order as ``GET /api/orders/{order_id}`` without lines."""
    return [
        TimelineRow(
            kind=selectors.KIND_ORDERS,
            title=gettext("Order %(id)s") % {"id": item.order.order_id},
            detail=ngettext("%(total)s · %(n)s item", "%(total)s · %(n)s items", item.item_count)
            % {"total": formatting.money(item.order.total, item.order.currency), "n": item.item_count},
            record=order_out(item.order),
        )
        for item in items
    ]


@orders.post(
    "",
    response={200: OrderOut, 201: OrderOut, **ERRORS},
    summary="Create or replace an order",
    operation_id=OLD_OPERATION_ID + "order_upsert",
)
def order_upsert(request: HttpRequest, payload: OrderIn) -> Status[dict[str, Any]]:
    """Upsert by `order_id`: sending the same order twice stores it once (200 the second time)."""
    data = payload.model_dump(exclude_none=True, mode="python")
    order, created = services.order_record(actor=api_actor(request), data=data)
    return Status(201 if created else 200, order_out(selectors.order_get(api_user(request), order.order_id), True))


@orders.get(
    "", response={200: OrderPage, **ERRORS}, summary="List orders", operation_id=OLD_OPERATION_ID + "order_list"
)
def order_list(
    request: HttpRequest,
    contact: int | None = Query(None, ge=1, le=MAX_PK, description="Only this contact's orders."),
    status: str = Query("", max_length=30),
    channel: str = Query("", max_length=30),
    placed_after: str = Query("", max_length=10, description="yyyy-mm-dd"),
    placed_before: str = Query("", max_length=10, description="yyyy-mm-dd"),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Newest first, one keyset page at a time; orders of contacts outside the caller's records
    are left out."""
    user = api_user(request)
    require(user, "order", perms.VIEW)
    filters = selectors.OrderFilters.from_params(request.GET)
    page = selectors.order_page(user, filters, cursor=cursor or None, limit=limit)
    return {"items": [order_out(o) for o in page.items], "next_cursor": page.next_cursor}


# Order ids may hold "/" (e.g. "2026/01/0042"): the routes with a suffix come before the
# plain one, whose pattern would match them too.
@orders.post(
    "/{path:order_id}/refund",
    response={200: OrderOut, **ERRORS},
    summary="Refund an order, whole or in part",
    operation_id=OLD_OPERATION_ID + "order_refund",
)
def order_refund(request: HttpRequest, payload: RefundIn, order_id: str = Path(..., max_length=200)) -> dict[str, Any]:
    user = api_user(request)
    require(user, "order", perms.VIEW)
    selectors.order_get(user, order_id)  # 404 outside the caller's records, before any write
    data = payload.model_dump(exclude_none=True, mode="python")
    services.order_refund(
        actor=api_actor(request),
        order_id=order_id,
        amount=data.get("amount"),
        lines=data.get("lines"),
        refund_id=data.get("refund_id", ""),
    )
    return order_out(selectors.order_get(user, order_id), True)


@orders.post(
    "/{path:order_id}/cancel",
    response={200: OrderOut, **ERRORS},
    summary="Cancel an order",
    operation_id=OLD_OPERATION_ID + "order_cancel",
)
def order_cancel(request: HttpRequest, order_id: str = Path(..., max_length=200)) -> dict[str, Any]:
    """The order stays, marked cancelled, and no longer counts in the contact's metrics."""
    user = api_user(request)
    require(user, "order", perms.VIEW)
    selectors.order_get(user, order_id)
    services.order_cancel(actor=api_actor(request), order_id=order_id)
    return order_out(selectors.order_get(user, order_id), True)


@orders.get(
    "/{path:order_id}",
    response={200: OrderOut, **ERRORS},
    summary="Get an order with its lines",
    operation_id=OLD_OPERATION_ID + "order_detail",
)
def order_detail(request: HttpRequest, order_id: str = Path(..., max_length=200)) -> dict[str, Any]:
    user = api_user(request)
    require(user, "order", perms.VIEW)
    return order_out(selectors.order_get(user, order_id), True)


@products.get(
    "", response={200: ProductPage, **ERRORS}, summary="List products", operation_id=OLD_OPERATION_ID + "product_list"
)
def product_list(
    request: HttpRequest,
    q: str = Query("", max_length=200, description="Start of a product id, or part of a name."),
    category: str = Query("", max_length=200),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """The catalogue (added by hand or from orders), in product id order."""
    user = api_user(request)
    require(user, "order", perms.VIEW)
    page = selectors.product_page(user, q=q, category=category, cursor=cursor or None, limit=limit)
    return {
        "items": [product_out(p) for p in page.items],
        "next_cursor": page.next_cursor,
    }


def product_out(product: Any) -> dict[str, Any]:
    return ProductOut.from_orm(product).model_dump()


@products.post("", response={201: ProductOut, **ERRORS}, summary="Add a product")
def product_create(request: HttpRequest, payload: ProductIn) -> Status[dict[str, Any]]:
    """`product_id` is the SKU: unique (also ignoring case), no spaces, fixed once created."""
    data = payload.model_dump(exclude_none=True, mode="python")
    return Status(201, product_out(catalogue.product_create(actor=api_actor(request), data=data)))


@products.get(
    "/{path:product_id}",
    response={200: ProductOut, **ERRORS},
    summary="Get a product",
)
def product_get(request: HttpRequest, product_id: str = Path(..., max_length=200)) -> dict[str, Any]:
    require(api_user(request), "order", perms.VIEW)
    return product_out(catalogue.product_get(product_id))


@products.patch(
    "/{path:product_id}",
    response={200: ProductOut, **ERRORS},
    summary="Change a product",
)
def product_update(
    request: HttpRequest, payload: ProductPatch, product_id: str = Path(..., max_length=200)
) -> dict[str, Any]:
    """Name, category, unit, list price, currency. Orders naming it later no longer overwrite them."""
    require(api_user(request), "order", perms.VIEW)
    product = catalogue.product_get(product_id)
    data = payload.model_dump(exclude_unset=True, mode="python")
    return product_out(catalogue.product_update(actor=api_actor(request), product=product, data=data))


@purchase_stats.get(
    "/{int:contact_id}",
    response={200: PurchaseStatsOut, **ERRORS},
    summary="A contact's purchase metrics",
    operation_id=OLD_OPERATION_ID + "purchase_stats_get",
)
def purchase_stats_get(request: HttpRequest, contact_id: int = Path(..., ge=1, le=MAX_PK)) -> dict[str, Any]:
    user = api_user(request)
    require(user, "order", perms.VIEW)
    contact = contact_get(actor=api_actor(request), pk=contact_id)
    stats = selectors.purchase_stats_for(user, contact) or PurchaseStats(contact=contact)
    return {
        "contact_id": contact.pk,
        "shop_currency": settings.SHOP_CURRENCY,
        **{
            name: getattr(stats, name)
            for name in (
                "order_count", "first_order_at", "last_order_at", "total_spent", "average_order_value",
                "purchase_frequency_days", "favourite_category", "categories",
            )
        },
    }  # fmt: skip
