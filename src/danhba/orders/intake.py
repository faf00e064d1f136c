"""Orders from the event intake: Segment e-commerce events ("Order Completed", "Order Updated",
"Order Refunded", "Order Cancelled") become orders, and an anonymous visitor's orders follow
their device to its contact. The intake does not know about orders: these functions listen to
its hooks (``tracking/hooks.py``), connected in ``apps.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils.translation import gettext as _

from danhba.core.actor import Actor
from danhba.core.bulk import chunks
from danhba.core.errors import InvalidInput, ServiceError
from danhba.orders.models import Order
from danhba.orders.services import (
    order_cancel,
    order_clean,
    order_record,
    order_refund,
    orders_attach_anonymous,
    parse_money,
)
from danhba.tracking.hooks import StoredEvents, Warning

if TYPE_CHECKING:
    from danhba.tracking.models import Source
    from danhba.tracking.services.messages import Message

logger = logging.getLogger(__name__)

# Segment's e-commerce spec (https://segment.com/docs/connections/spec/ecommerce/v2/), by the
# lower-cased event name.
ORDER_COMPLETED = "order completed"
ORDER_UPDATED = "order updated"
ORDER_REFUNDED = "order refunded"
ORDER_CANCELLED = "order cancelled"
ORDER_EVENTS = frozenset({ORDER_COMPLETED, ORDER_UPDATED, ORDER_REFUNDED, ORDER_CANCELLED})
# Properties of an order event that become order columns; the rest is kept in Order.properties.
_SEGMENT_MAPPED = {
    "order_id", "orderId", "total", "revenue", "subtotal", "shipping", "tax", "discount", "currency",
    "products", "channel", "store", "affiliation",
}  # fmt: skip


def segment_order_data(properties: dict[str, Any]) -> dict[str, Any]:
    """An "Order Completed"/"Order Updated" event's properties as :func:`order_record` data.
    ``total`` is what was charged; without it, ``revenue`` (which the spec counts without
    shipping and tax) plus shipping and tax."""
    data: dict[str, Any] = {
        "order_id": properties.get("order_id", properties.get("orderId")),
        "subtotal": properties.get("subtotal"),
        "shipping": properties.get("shipping"),
        "tax": properties.get("tax"),
        "discount": properties.get("discount"),
        "currency": properties.get("currency"),
        "store": properties.get("store", properties.get("affiliation")),
        "channel": properties.get("channel"),
        "properties": {k: v for k, v in properties.items() if k not in _SEGMENT_MAPPED},
    }
    if isinstance(data["order_id"], int) and not isinstance(data["order_id"], bool):
        data["order_id"] = str(data["order_id"])
    total = properties.get("total")
    if total in (None, "") and properties.get("revenue") not in (None, ""):
        errors: dict[str, list[str]] = {}
        parts = [parse_money(properties.get(k), k, errors) for k in ("revenue", "shipping", "tax")]
        if errors:
            raise InvalidInput(errors)
        total = sum((p or Decimal(0) for p in parts), Decimal(0))
    data["total"] = total
    if isinstance(data["channel"], str) and data["channel"].strip().lower() not in Order.SalesChannel.values:
        data["channel"] = None  # a channel name of the sender's own, kept in properties
        data["properties"]["channel"] = properties["channel"]
    products = properties.get("products")
    if products is not None and not isinstance(products, list):
        raise InvalidInput({"products": [_("must be a list")]})
    lines = []
    for product in products or []:
        if not isinstance(product, dict):
            lines.append(product)  # order_clean reports it with its position
            continue
        pid = product.get("product_id", product.get("sku", product.get("id")))
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        lines.append(
            {
                "product_id": pid,
                "name": product.get("name"),
                "category": product.get("category"),
                "quantity": product.get("quantity"),
                "price": product.get("price"),
                "discount": product.get("discount"),
            }
        )
    data["lines"] = lines
    return data


def _segment_refund_lines(properties: dict[str, Any]) -> list[dict[str, Any]] | None:
    products = properties.get("products")
    if not isinstance(products, list) or not products:
        return None
    out = []
    for product in products:
        if isinstance(product, dict):
            pid = product.get("product_id", product.get("sku", product.get("id")))
            out.append({"product_id": str(pid) if isinstance(pid, int) else pid, "quantity": product.get("quantity")})
        else:
            out.append(product)
    return out


def orders_from_messages(*, source: Source, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Apply the order events among freshly stored messages, each in its own savepoint. An order
    the data does not allow (a missing order id, a negative price, a refund of an unknown order)
    never costs the event, which is already stored: it comes back as a warning for the sender
    (``{"index", "messageId", "code", "message", "details"}``) and is logged."""
    warnings: list[dict[str, Any]] = []
    actor = Actor.system("api")
    for message in messages:
        if message.type != "track" or message.name.strip().lower() not in ORDER_EVENTS:
            continue
        kind = message.name.strip().lower()
        props = message.properties
        try:
            with transaction.atomic():
                if kind in (ORDER_COMPLETED, ORDER_UPDATED):
                    order_record(
                        actor=actor,
                        data=segment_order_data(props),
                        contact_id=message.contact_id,
                        anonymous_id=message.anonymous_id,
                        source=source,
                        default_placed_at=message.timestamp,
                    )
                else:
                    order_id = props.get("order_id", props.get("orderId"))
                    if isinstance(order_id, int) and not isinstance(order_id, bool):
                        order_id = str(order_id)
                    if not isinstance(order_id, str) or not order_id.strip():
                        raise InvalidInput({"order_id": [_("required")]})
                    if kind == ORDER_REFUNDED:
                        order_refund(
                            actor=actor,
                            order_id=order_id,
                            amount=props.get("total", props.get("revenue")),
                            lines=_segment_refund_lines(props),
                            refund_id=f"event:{message.message_id}",
                            at=message.timestamp,
                        )
                    else:
                        order_cancel(actor=actor, order_id=order_id)
        except OperationalError:
            # A lock or statement timeout: not the order's fault. Raised, so the whole request
            # is retried later instead of its order being dropped for good.
            raise
        except DatabaseError:
            # Validation should have caught it; the savepoint is gone, the event stays.
            logger.exception("order event %s of source %s failed in the database", message.message_id, source.pk)
            warnings.append(
                {
                    "index": message.index,
                    "messageId": message.message_id,
                    "code": "order_error",
                    "message": _("The order could not be stored."),
                    "details": {},
                }
            )
        except ServiceError as exc:
            logger.warning(
                "order event %s (%s) of source %s not applied: %s %s",
                message.message_id, message.name, source.pk, exc.message, exc.details,
            )  # fmt: skip
            warnings.append(
                {
                    "index": message.index,
                    "messageId": message.message_id,
                    "code": "order_" + exc.code,
                    "message": exc.message,
                    "details": exc.details,
                }
            )
    return warnings


def order_warnings(messages: list[Message]) -> list[Warning]:
    """Order events whose order data is not valid: the event is accepted all the same, and the
    sender learns at once why no order will come of it (the batch answer's ``warnings``). What
    depends on stored data (a refund of an unknown order) is found by the worker and logged.
    Listener of ``tracking.events_accepting``."""
    warnings = []
    for m in messages:
        if m.type != "track" or m.name.strip().lower() not in (ORDER_COMPLETED, ORDER_UPDATED):
            continue
        try:
            order_clean(segment_order_data(m.properties))
        except ServiceError as exc:
            warnings.append(
                {"index": m.index, "messageId": m.message_id, "code": "order_" + exc.code, "message": exc.message,
                 "details": exc.details}
            )  # fmt: skip
    return warnings


def on_events_stored(stored: StoredEvents) -> list[Warning]:
    """Listener of ``tracking.events_stored``: the order events among a request's fresh events."""
    return orders_from_messages(source=stored.source, messages=stored.messages)


def on_devices_identified(moves: dict[str, int]) -> None:
    """Listener of ``tracking.devices_identified``: a device's orders go to its contact, as its
    events do."""
    for device in devices_with_anonymous_orders(list(moves)):
        orders_attach_anonymous(anonymous_id=device, contact_id=moves[device])


def devices_with_anonymous_orders(devices: list[str]) -> list[str]:
    """Which of these device ids have orders not yet given to a contact (usually none). Raw SQL:
    SQLite must be pointed at the partial index on unattached orders' device ids (left alone it
    walks the (contact, placed_at) index)."""
    table = connection.ops.quote_name(Order._meta.db_table)
    hint = " INDEXED BY order_anon_unassigned" if connection.vendor == "sqlite" else ""
    found: set[str] = set()
    with connection.cursor() as cursor:
        for chunk in chunks(devices, 500):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT DISTINCT anonymous_id FROM {table}{hint} "  # noqa: S608
                f"WHERE anonymous_id IN ({marks}) AND contact_id IS NULL",
                chunk,
            )
            found.update(row[0] for row in cursor.fetchall())
    return sorted(found)
