"""Writes of orders and the product catalogue.

Orders come from Segment e-commerce events ("Order Completed", "Order Updated", "Order Refunded",
"Order Cancelled", stored by the event intake and handed over by ``intake.py``) and from the
REST API. Every write is an upsert by the sender's ``order_id``, so a replayed order is one order.
Each write moves the contact's purchase metrics by the difference it makes (``stats.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, ExternalId
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.core.normalize import NormalizationError, clean_text, normalize_email, normalize_phone
from danhba.orders.hooks import ORDER_CREATED
from danhba.orders.models import Order, OrderLine, Product
from danhba.orders.stats import CENT, Contribution, contribution, stats_apply
from danhba.tracking.models import AnonymousIdentity, Source

logger = logging.getLogger(__name__)

MAX_MONEY = Decimal("9999999999999999.99")  # 18 digits, 2 after the point
MAX_QUANTITY = 1_000_000
MAX_LINES = 1000
_NUMBER = re.compile(r"^\d{1,16}(\.\d{1,6})?$")
CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")

# --- input ----------------------------------------------------------------------------------


@dataclass
class LineData:
    product_id: str
    name: str
    category: str
    quantity: int
    price: Decimal
    discount: Decimal
    total: Decimal


@dataclass
class OrderData:
    order_id: str
    placed_at: dt.datetime | None  # None: keep the stored order's, else the default
    channel: str
    store: str
    currency: str
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal
    lines: list[LineData]
    properties: dict[str, Any]


def parse_money(value: Any, key: str, errors: dict[str, list[str]]) -> Decimal | None:
    """A non-negative amount from a JSON number or a plain numeric string, rounded to cents."""
    if value is None or value == "":
        return None
    amount: Decimal | None = None
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    elif isinstance(value, Decimal):
        amount = value if value.is_finite() else None
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        amount = Decimal(value.strip())
    if amount is None:
        errors[key] = [_("must be a number")]
        return None
    if amount < 0 or amount > MAX_MONEY:
        errors[key] = [_("must be between 0 and %(max)s") % {"max": MAX_MONEY}]
        return None
    return amount.quantize(CENT, ROUND_HALF_UP)


def _quantity(value: Any, key: str, errors: dict[str, list[str]], default: int = 1) -> int:
    if value is None or value == "":
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 0 < number <= MAX_QUANTITY:
        errors[key] = [_("must be a whole number between 1 and %(max)s") % {"max": MAX_QUANTITY}]
        return default
    return number


def text_field(value: Any, key: str, errors: dict[str, list[str]], max_length: int) -> str:
    """A text input of an order or product: cleaned, at most ``max_length`` characters; a wrong
    type or a longer text is recorded in ``errors`` under ``key``."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors[key] = [_("must be text")]
        return ""
    text = clean_text(value)
    if len(text) > max_length:
        errors[key] = [_("at most %(n)s characters") % {"n": max_length}]
        return ""
    return text


def _when(value: Any, key: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    if value is None or value == "":
        return None
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None or not 1900 <= when.year <= 2200:
        errors[key] = [_("must be an ISO 8601 date and time")]
        return None
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def _clean_channel(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    channel = clean_text(data.get("channel") or Order.SalesChannel.ONLINE).lower()
    if channel not in Order.SalesChannel.values:
        errors["channel"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Order.SalesChannel.values)}]
    return channel


def _clean_currency(data: dict[str, Any], errors: dict[str, list[str]]) -> str:
    currency = data.get("currency") or settings.SHOP_CURRENCY
    if not isinstance(currency, str) or not CURRENCY_CODE.match(currency.strip()):
        errors["currency"] = [_("a three-letter currency code such as VND")]
        currency = settings.SHOP_CURRENCY
    return currency.strip().upper()


def _clean_line(key: str, raw: dict[str, Any], errors: dict[str, list[str]]) -> LineData:
    quantity = _quantity(raw.get("quantity"), f"{key}.quantity", errors)
    price = parse_money(raw.get("price"), f"{key}.price", errors) or Decimal("0.00")
    discount = parse_money(raw.get("discount"), f"{key}.discount", errors) or Decimal("0.00")
    total = price * quantity - discount
    if total < 0:
        errors[f"{key}.discount"] = [_("larger than the line's price × quantity")]
    elif total > MAX_MONEY:
        errors[f"{key}.price"] = [_("price × quantity is too large")]
    return LineData(
        product_id=text_field(raw.get("product_id"), f"{key}.product_id", errors, 200),
        name=text_field(raw.get("name"), f"{key}.name", errors, 300),
        category=text_field(raw.get("category"), f"{key}.category", errors, 200),
        quantity=quantity,
        price=price,
        discount=discount,
        total=total,
    )


def _clean_lines(raw_lines: Any, errors: dict[str, list[str]]) -> list[LineData]:
    if raw_lines is None:
        return []
    if not isinstance(raw_lines, list):
        errors["lines"] = [_("must be a list")]
        return []
    if len(raw_lines) > MAX_LINES:
        errors["lines"] = [_("at most %(n)s lines") % {"n": MAX_LINES}]
        return []
    lines: list[LineData] = []
    for i, raw in enumerate(raw_lines):
        if isinstance(raw, dict):
            lines.append(_clean_line(f"lines.{i}", raw, errors))
        else:
            errors[f"lines.{i}"] = [_("must be an object")]
    return lines


def _zero(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal("0.00")


def order_clean(data: dict[str, Any]) -> OrderData:
    """Validate and normalise an order; :class:`InvalidInput` with a reason per field (lines as
    ``lines.<n>.<field>``) if anything is wrong."""
    errors: dict[str, list[str]] = {}
    order_id = text_field(data.get("order_id"), "order_id", errors, 200)
    if not order_id and "order_id" not in errors:
        errors["order_id"] = [_("required")]
    placed_at = _when(data.get("placed_at"), "placed_at", errors)
    channel = _clean_channel(data, errors)
    store = text_field(data.get("store"), "store", errors, 200)
    currency = _clean_currency(data, errors)
    lines = _clean_lines(data.get("lines"), errors)
    amounts = {k: parse_money(data.get(k), k, errors) for k in ("subtotal", "discount", "shipping", "tax", "total")}
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        errors["properties"] = [_("must be an object")]
    if errors:
        raise InvalidInput(errors)
    subtotal = amounts["subtotal"]
    if subtotal is None:
        subtotal = sum((x.total for x in lines), Decimal("0.00"))
    discount, shipping, tax = _zero(amounts["discount"]), _zero(amounts["shipping"]), _zero(amounts["tax"])
    total = amounts["total"]
    if total is None:
        total = max(subtotal - discount + shipping + tax, Decimal("0.00"))
    if max(subtotal, total) > MAX_MONEY:
        raise InvalidInput({"total": [_("must be between 0 and %(max)s") % {"max": MAX_MONEY}]})
    return OrderData(
        order_id=order_id, placed_at=placed_at, channel=channel, store=store, currency=currency,
        subtotal=subtotal, discount=discount, shipping=shipping, tax=tax, total=total, lines=lines,
        properties=properties,
    )  # fmt: skip


# --- products -------------------------------------------------------------------------------


def _product_values(product: Product, line: LineData, currency: str, seen_at: dt.datetime) -> dict[str, Any]:
    """What an order's line sets on a known product: the latest name, category and price; on a
    product set by hand (``catalogue.py``), only what is still empty (a discount or a typo in an
    order does not overwrite it)."""
    if product.edited_at:
        keep_price = product.price is not None
        return {
            "name": product.name or line.name,
            "category": product.category or line.category,
            "price": product.price if keep_price else line.price,
            "currency": product.currency if keep_price else currency,
            "last_ordered_at": seen_at,
        }
    return {
        "name": line.name or product.name,
        "category": line.category or product.category,
        "price": line.price,
        "currency": currency,
        "last_ordered_at": seen_at,
    }


def products_upsert(lines: Sequence[LineData], *, currency: str, seen_at: dt.datetime) -> None:
    """Create the products named by ``lines`` that are new, and update name, category and price
    of those whose latest order this is (of a product edited by hand, only the empty ones): one
    SELECT, one INSERT and one UPDATE per batch."""
    latest: dict[str, LineData] = {}
    for line in lines:
        if line.product_id:
            latest[line.product_id] = line
    if not latest:
        return
    now = timezone.now()
    existing = Product.objects.in_bulk(list(latest), field_name="product_id")
    new = [
        Product(
            product_id=pid, name=line.name, category=line.category, price=line.price, currency=currency,
            last_ordered_at=seen_at, created_at=now, updated_at=now,
        )
        for pid, line in latest.items()
        if pid not in existing
    ]  # fmt: skip
    if new:
        # A concurrent writer may create one of them first; theirs stands, ours updates below.
        Product.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    changed: list[Product] = []
    for pid, product in existing.items():
        line = latest[pid]
        if product.last_ordered_at and product.last_ordered_at > seen_at:
            continue
        values = _product_values(product, line, currency, seen_at)
        if any(getattr(product, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(product, k, v)
            product.updated_at = now
            changed.append(product)
    if changed:
        Product.objects.bulk_update(
            changed, ["name", "category", "price", "currency", "last_ordered_at", "updated_at"], batch_size=500
        )


# --- orders ---------------------------------------------------------------------------------


def _visible(actor: Actor, contact_id: int | None) -> bool:
    if actor.user is None or contact_id is None:
        return True
    return Contact.objects.visible_to(actor.user).filter(pk=contact_id).exists()


def order_contact_resolve(*, actor: Actor, ref: Any) -> int:
    """The id of the contact an API client names by ``{"id"}``, ``{"email"}``, ``{"phone"}``,
    ``{"user_id"}`` (the Segment user id) or ``{"external_id": {"system", "value"}}``; the
    first key present decides. A contact outside the caller's records is as unknown as a
    missing one."""
    errors = {"contact": [_("no contact matches; create the contact first")]}
    if not isinstance(ref, dict) or not ref:
        raise InvalidInput({"contact": [_("give one of id, email, phone, user_id or external_id")]})
    contact_id: int | None = None
    if ref.get("id") is not None:
        raw = ref["id"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 2**63:
            raise InvalidInput({"contact.id": [_("a contact id")]})
        contact_id = Contact.objects.filter(pk=raw).values_list("pk", flat=True).first()
    elif ref.get("email"):
        try:
            email = normalize_email(str(ref["email"]))
        except NormalizationError as exc:
            raise InvalidInput({"contact.email": [str(exc)]}) from None
        contact_id = ContactEmail.objects.filter(email=email).values_list("contact_id", flat=True).first()
    elif ref.get("phone"):
        try:
            e164 = normalize_phone(str(ref["phone"])).e164
        except NormalizationError as exc:
            raise InvalidInput({"contact.phone": [str(exc)]}) from None
        contact_id = (
            ContactPhone.objects.filter(e164=e164).order_by("contact_id").values_list("contact_id", flat=True).first()
        )
    elif ref.get("user_id"):
        from danhba.tracking.services.identity import USER_ID_SYSTEM

        contact_id = (
            ExternalId.objects.filter(system=USER_ID_SYSTEM, value=clean_text(ref["user_id"]))
            .values_list("contact_id", flat=True)
            .first()
        )
    elif isinstance(ref.get("external_id"), dict):
        system, value = clean_text(ref["external_id"].get("system")), clean_text(ref["external_id"].get("value"))
        if not system or not value:
            raise InvalidInput({"contact.external_id": [_("'system' and 'value' are both required")]})
        contact_id = ExternalId.objects.filter(system=system, value=value).values_list("contact_id", flat=True).first()
    else:
        raise InvalidInput({"contact": [_("give one of id, email, phone, user_id or external_id")]})
    if contact_id is None or not _visible(actor, contact_id):
        raise InvalidInput(errors)
    return contact_id


def _line_key(line: OrderLine | LineData) -> str:
    return line.product_id or f"name:{line.name}"


def _same(order: Order, lines: list[OrderLine], data: OrderData, contact_id: int | None) -> bool:
    """Whether ``data`` says nothing new about a stored order (a replay): no write then."""
    mine = (
        order.contact_id, order.placed_at, order.channel, order.store, order.currency, order.subtotal,
        order.discount, order.shipping, order.tax, order.total, order.properties,
    )  # fmt: skip
    theirs = (
        contact_id, data.placed_at, data.channel, data.store, data.currency, data.subtotal,
        data.discount, data.shipping, data.tax, data.total, data.properties,
    )  # fmt: skip
    if mine != theirs or len(lines) != len(data.lines):
        return False
    return all(
        (a.product_id or "", a.name, a.category, a.quantity, a.price, a.discount, a.total)
        == (b.product_id, b.name, b.category, b.quantity, b.price, b.discount, b.total)
        for a, b in zip(lines, data.lines, strict=True)
    )


def _status_after_refund(order: Order) -> str:
    if order.status == Order.Status.CANCELLED:
        return order.status
    if order.refunded_amount <= 0:
        return Order.Status.COMPLETED
    return Order.Status.REFUNDED if order.refunded_amount >= order.total else Order.Status.PARTIALLY_REFUNDED


def order_record(
    *,
    actor: Actor,
    data: dict[str, Any],
    contact_id: int | None = None,
    anonymous_id: str = "",
    source: Source | None = None,
    default_placed_at: dt.datetime | None = None,
) -> tuple[Order, bool]:
    """Create or replace the order ``data["order_id"]``; returns (order, created).

    The contact is ``contact_id`` (already resolved, e.g. by the event resolver), else
    ``data["contact"]`` (see :func:`order_contact_resolve`), else the contact the anonymous id
    belongs to, else none yet (moved to the contact when the device is identified). An update
    replaces the lines and keeps refunds and cancellation: refunded quantities carry over to the
    new lines of the same product. The contact's metrics change by the difference.
    """
    perms.require(actor, "order", perms.CREATE)
    cleaned = order_clean(data)
    anonymous_id = clean_text(data.get("anonymous_id") or anonymous_id)[:200]
    if contact_id is None and data.get("contact") is not None:
        contact_id = order_contact_resolve(actor=actor, ref=data["contact"])
    if contact_id is None and anonymous_id:
        contact_id = (
            AnonymousIdentity.objects.filter(anonymous_id=anonymous_id).values_list("contact_id", flat=True).first()
        )
    for attempt in range(2):
        try:
            with transaction.atomic():
                _contacts_lock(cleaned.order_id, contact_id)
                return _order_write(actor, cleaned, contact_id, anonymous_id, source, default_placed_at)
        except IntegrityError:
            # Another request created the same order id between our lookup and insert: the
            # second attempt finds it and updates it.
            if attempt:
                raise
    raise AssertionError("unreachable")


# A merge moving the order again and again while the write waits for its contacts: after this
# many tries the write locks the order's new contact while holding the order (a deadlock, if one
# comes of it, is answered 503).
_LOCK_TRIES = 3


def _contacts_lock(order_id: str, contact_id: int | None) -> None:
    """Lock the contacts an order write will change before the order's row, in id order: a merge
    locks its contacts and then moves their orders, so the other order would wait in a circle
    (PostgreSQL: a deadlock, answered 503). ``FOR NO KEY UPDATE`` is the lock the purchase
    figures' UPDATE takes anyway; the event intake's ``FOR KEY SHARE`` does not wait for it.

    A merge may move the order to another contact while the write waits for the first: the
    order's contact is read again under the order's lock, and when it moved, the locks taken
    here are given back (the savepoint) and taken again for the new contact."""
    for attempt in range(_LOCK_TRIES):
        current = Order.objects.filter(order_id=order_id).values_list("contact_id", flat=True).first()
        savepoint = transaction.savepoint()
        ids = sorted({i for i in (contact_id, current) if i is not None})
        if ids:
            Contact.objects.lock_in_id_order(ids)
        now = Order.objects.select_for_update().filter(order_id=order_id).values_list("contact_id", flat=True).first()
        if now is None or now in ids or attempt == _LOCK_TRIES - 1:
            transaction.savepoint_commit(savepoint)
            if now is not None and now not in ids:
                Contact.objects.lock_in_id_order([now])
            return
        transaction.savepoint_rollback(savepoint)


def _order_write(
    actor: Actor,
    data: OrderData,
    contact_id: int | None,
    anonymous_id: str,
    source: Source | None,
    default_placed_at: dt.datetime | None,
) -> tuple[Order, bool]:
    existing = Order.objects.select_for_update().filter(order_id=data.order_id).first()
    # An update that gives no time (a replay, "Order Updated") does not move the order in time.
    data.placed_at = data.placed_at or (existing.placed_at if existing else None) or default_placed_at or timezone.now()
    old_lines: list[OrderLine] = []
    old: Contribution | None = None
    if existing is not None:
        if not _visible(actor, existing.contact_id):
            raise Conflict(_("An order with this id exists outside your records."), {"order_id": data.order_id})
        perms.require(actor, "order", perms.EDIT)
        old_lines = list(existing.lines.order_by("position", "id"))
        if contact_id is None:
            contact_id = existing.contact_id
        if _same(existing, old_lines, data, contact_id):
            return existing, False
        old = contribution(existing, old_lines)
    now = timezone.now()
    order = existing or Order(order_id=data.order_id, created_at=now)
    before = _snapshot(order) if existing else {}
    _order_fill(order, data, contact_id, anonymous_id, source)
    order.updated_at = now
    if existing is None:
        with transaction.atomic():
            order.save(force_insert=True)
    else:
        order.save()
    products_upsert(data.lines, currency=data.currency, seen_at=order.placed_at)
    new_lines = _lines_replace(order, data.lines, old_lines, replacing=existing is not None)
    stats_apply([old], [contribution(order, new_lines)])
    if existing is None:
        ORDER_CREATED(order, new_lines)
    if actor.user is not None:
        # Orders from events are recorded by the event itself; people and API keys are audited.
        after = _snapshot(order)
        audit_event(
            actor=actor,
            action=AuditEvent.Action.UPDATE if existing else AuditEvent.Action.CREATE,
            object_type="order",
            object_id=order.pk,
            object_label=order.order_id,
            contact_id=order.contact_id,
            changes={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v} if existing else None,
        )
    return order, existing is None


def _order_fill(
    order: Order, data: OrderData, contact_id: int | None, anonymous_id: str, source: Source | None
) -> None:
    order.contact_id = contact_id
    order.anonymous_id = anonymous_id or order.anonymous_id
    if source is not None:
        order.source = source
    for name in ("placed_at", "channel", "store", "currency", "subtotal", "discount", "shipping", "tax", "total"):
        setattr(order, name, getattr(data, name))
    order.properties = data.properties
    order.refunded_amount = min(Decimal(order.refunded_amount or 0), data.total)
    order.status = _status_after_refund(order)


def _lines_replace(
    order: Order, lines: Sequence[LineData], old_lines: list[OrderLine], *, replacing: bool
) -> list[OrderLine]:
    """Write the order's lines; units refunded on the old lines stay refunded on the new lines of
    the same product (or name, for lines without one), as far as the new quantities go."""
    refunded: dict[str, int] = defaultdict(int)
    for old_line in old_lines:
        refunded[_line_key(old_line)] += old_line.refunded_quantity
    if replacing:
        OrderLine.objects.filter(order=order).delete()
    new_lines = []
    for position, line in enumerate(lines):
        carried = min(refunded[_line_key(line)], line.quantity)
        refunded[_line_key(line)] -= carried
        new_lines.append(
            OrderLine(
                order=order, product_id=line.product_id or None, position=position, name=line.name,
                category=line.category, quantity=line.quantity, price=line.price, discount=line.discount,
                total=line.total, refunded_quantity=carried,
            )
        )  # fmt: skip
    OrderLine.objects.bulk_create(new_lines, batch_size=500)
    return new_lines


def _snapshot(order: Order) -> dict[str, Any]:
    return {
        "contact": order.contact_id,
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "channel": order.channel,
        "store": order.store,
        "currency": order.currency,
        "total": str(order.total),
        "refunded_amount": str(order.refunded_amount),
        "status": order.status,
    }


def _order_for_update(actor: Actor, order_id: str) -> Order:
    order = Order.objects.select_for_update().filter(order_id=clean_text(order_id)).first()
    if order is None or not _visible(actor, order.contact_id):
        raise NotFound(_("No such order."))
    return order


@dataclass
class _RefundAsk:
    """A refund request, checked: money (None: the lines' share, or all that is left) and the
    units per product with where each product first appeared in the request's lines."""

    money: Decimal | None
    wanted: dict[str, int]
    positions: dict[str, int]


def _refund_ask(amount: Any, lines: Any) -> _RefundAsk:
    errors: dict[str, list[str]] = {}
    money = parse_money(amount, "amount", errors)
    if money is not None and money <= 0:
        errors["amount"] = [_("must be more than 0")]
    ask = _RefundAsk(money, {}, {})
    if lines is not None and (not isinstance(lines, list) or len(lines) > MAX_LINES):
        errors["lines"] = [_("must be a list")]
    elif lines is not None:
        for i, raw in enumerate(lines):
            _refund_ask_line(i, raw, ask, errors)
    if errors:
        raise InvalidInput(errors)
    return ask


def _refund_ask_line(i: int, raw: Any, ask: _RefundAsk, errors: dict[str, list[str]]) -> None:
    if not isinstance(raw, dict):
        errors[f"lines.{i}"] = [_("must be an object")]
        return
    pid = text_field(raw.get("product_id"), f"lines.{i}.product_id", errors, 200)
    if not pid and f"lines.{i}.product_id" not in errors:
        errors[f"lines.{i}.product_id"] = [_("required")]
    qty = _quantity(raw.get("quantity"), f"lines.{i}.quantity", errors)
    if pid:
        ask.wanted[pid] = ask.wanted.get(pid, 0) + qty
        ask.positions.setdefault(pid, i)


def _refund_units(ask: _RefundAsk, order_lines: list[OrderLine], changed: list[OrderLine]) -> Decimal:
    """Give back the asked units, oldest lines first; the money those units were worth. Asking for
    more units of a product than are left is an error naming the request's line."""
    by_product: dict[str, list[OrderLine]] = defaultdict(list)
    for line in order_lines:
        by_product[line.product_id or ""].append(line)
    errors: dict[str, list[str]] = {}
    share = Decimal("0.00")
    for pid, qty in ask.wanted.items():
        left = sum(x.quantity - x.refunded_quantity for x in by_product.get(pid, []))
        if qty > left:
            errors[f"lines.{ask.positions[pid]}.quantity"] = [
                _("only %(n)s of %(product)s left to refund") % {"n": left, "product": pid}
            ]
            continue
        for line in by_product[pid]:
            take = min(qty, line.quantity - line.refunded_quantity)
            if take > 0:
                before = line.refunded_total
                line.refunded_quantity += take
                share += line.refunded_total - before
                qty -= take
                changed.append(line)
    if errors:
        raise InvalidInput(errors)
    return share


def _refund_sum(ask: _RefundAsk, order_lines: list[OrderLine], remaining: Decimal, changed: list[OrderLine]) -> Decimal:
    """How much this refund gives back; the lines it changes go to ``changed``."""
    if ask.wanted:
        share = _refund_units(ask, order_lines, changed)
        refund = ask.money if ask.money is not None else min(share, remaining)
    elif ask.money is not None:
        refund = ask.money
    else:
        refund = remaining
        for line in order_lines:
            if line.refunded_quantity < line.quantity:
                line.refunded_quantity = line.quantity
                changed.append(line)
    if refund > remaining:
        raise InvalidInput({"amount": [_("more than the %(left)s left to refund") % {"left": remaining}]})
    return refund


def _refund_nothing(order: Order, refund_id: str, ask: _RefundAsk) -> bool:
    """True when the refund was applied before (same ``refund_id``) or all of a fully refunded
    order is refunded again; a cancelled order cannot be refunded (Conflict)."""
    if refund_id and any(r.get("id") == refund_id for r in order.refunds or []):
        return True
    if order.status == Order.Status.CANCELLED:
        raise Conflict(_("This order is cancelled; there is nothing to refund."))
    return order.status == Order.Status.REFUNDED and ask.money is None and not ask.wanted


def order_refund(
    *,
    actor: Actor,
    order_id: str,
    amount: Any = None,
    lines: Any = None,
    refund_id: str = "",
    at: dt.datetime | None = None,
) -> Order:
    """Refund an order: ``lines`` (``[{"product_id", "quantity"}]``) gives back those units,
    ``amount`` that much money (else the lines' share of their totals); neither refunds what is
    left of the order. A ``refund_id`` already applied changes nothing."""
    perms.require(actor, "order", perms.EDIT)
    refund_id = clean_text(refund_id)[:200]
    ask = _refund_ask(amount, lines)
    with transaction.atomic():
        _contacts_lock(clean_text(order_id), None)
        order = _order_for_update(actor, order_id)
        if _refund_nothing(order, refund_id, ask):
            return order
        order_lines = list(order.lines.order_by("position", "id"))
        old = contribution(order, order_lines)
        changed: list[OrderLine] = []
        refund = _refund_sum(ask, order_lines, Decimal(order.total) - Decimal(order.refunded_amount), changed)
        order.refunded_amount = Decimal(order.refunded_amount) + refund
        order.status = _status_after_refund(order)
        order.refunds = [
            *(order.refunds or []),
            {"id": refund_id, "amount": str(refund), "at": (at or timezone.now()).isoformat(), "lines": ask.wanted},
        ]
        order.updated_at = timezone.now()
        order.save(update_fields=["refunded_amount", "status", "refunds", "updated_at"])
        if changed:
            OrderLine.objects.bulk_update(changed, ["refunded_quantity"])
        stats_apply([old], [contribution(order, order_lines)])
        if actor.user is not None:
            audit_event(
                actor=actor, action=AuditEvent.Action.UPDATE, object_type="order", object_id=order.pk,
                object_label=order.order_id, contact_id=order.contact_id,
                changes={"refunded_amount": [str(order.refunded_amount - refund), str(order.refunded_amount)]},
            )  # fmt: skip
    return order


def order_cancel(*, actor: Actor, order_id: str) -> Order:
    """Cancel an order: it stays listed but no longer counts as a purchase. Cancelling twice
    changes nothing."""
    perms.require(actor, "order", perms.EDIT)
    with transaction.atomic():
        _contacts_lock(clean_text(order_id), None)
        order = _order_for_update(actor, order_id)
        if order.status == Order.Status.CANCELLED:
            return order
        old = contribution(order, order.lines.all())
        previous = order.status
        order.status = Order.Status.CANCELLED
        order.updated_at = timezone.now()
        order.save(update_fields=["status", "updated_at"])
        stats_apply([old], [])
        if actor.user is not None:
            audit_event(
                actor=actor, action=AuditEvent.Action.UPDATE, object_type="order", object_id=order.pk,
                object_label=order.order_id, contact_id=order.contact_id,
                changes={"status": [previous, order.status]},
            )  # fmt: skip
    return order


def orders_attach_anonymous(*, anonymous_id: str, contact_id: int) -> int:
    """Give the orders of an anonymous visitor to the contact the device turned out to be (called
    where its events move); returns how many moved."""
    if not anonymous_id:
        return 0
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update()
            .filter(anonymous_id=anonymous_id, contact__isnull=True)
            .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("position", "id")))
        )
        if not orders:
            return 0
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(contact_id=contact_id, updated_at=timezone.now())
        for order in orders:
            order.contact_id = contact_id
        stats_apply([], [contribution(o, o.lines.all()) for o in orders])
    return len(orders)
