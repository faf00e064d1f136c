"""The orders part of the demo dataset (``core/demo.py``): about a third of the contacts bought
something since they became contacts (over the last two years at most), from the demo shop's
small Vietnamese catalogue (``tracking.demo.CATALOGUE``), with the odd refund and cancellation,
and a few regulars who buy every few weeks.

The shop's event tracking started :data:`~danhba.tracking.demo.TRACKING_DAYS` ago: orders from
before it were imported, and are written here with ``bulk_create`` (a few thousand in well under
a second; the purchase metrics derived with the same functions the services use). Orders since
then arrive as "Order Completed" events through the real event intake: this part leaves them to
the tracking part (``run.shared["shop.orders"]``), whose events create them as any shop's orders
are created.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings

from danhba.contacts.models import Contact
from danhba.core.demo import DemoRun
from danhba.orders.models import Order, OrderLine, Product, PurchaseStats
from danhba.orders.stats import Contribution, contact_metrics_copy_many, contribution, contribution_add, metrics_derive
from danhba.tracking.demo import CATALOGUE, TRACKING_DAYS, PlannedOrder

# What regulars buy again and again: everyday goods.
EVERYDAY = tuple(p for p in CATALOGUE if p[2] in ("Đồ uống", "Thực phẩm", "Mỹ phẩm"))
CHANNELS = (("online", 55), ("store", 25), ("marketplace", 15), ("phone", 5))
STORES: dict[str, tuple[str, ...]] = {
    "store": ("Quận 1", "Hoàn Kiếm", "Hải Châu"),
    "marketplace": ("Shopee", "Lazada", "Tiki"),
}
BUYER_SHARE = 0.35
REGULAR_SHARE = 0.07  # of buyers: an order every one to five weeks lately
HISTORY_DAYS = 730


def plan_orders(*, contacts: Sequence[tuple[int, dt.datetime]], seed: int, now: dt.datetime) -> list[PlannedOrder]:
    """Orders for a share of ``contacts`` ((id, created at) pairs), each placed after its
    contact was created; sorted by time."""
    rng = random.Random(seed)
    taken = set(Order.objects.filter(order_id__startswith="DEMO-").values_list("order_id", flat=True))
    planned: list[PlannedOrder] = []
    for contact_id, created_at in contacts:
        if rng.random() > BUYER_SHARE:
            continue
        start = max(created_at, now - dt.timedelta(days=HISTORY_DAYS))
        span = max((now - start).total_seconds(), 3600.0)
        regular = rng.random() < REGULAR_SHARE
        if regular:
            times = _regular_times(rng, start, now)
        else:
            # As many orders as before for a customer of two years; fewer for a newer one.
            count = min(1 + int(rng.expovariate(0.6) * span / (HISTORY_DAYS * 86400)), 12)
            times = sorted(start + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
        for placed in times:
            order_id = f"DEMO-{seed}-{len(planned) + len(taken) + 1:06d}"
            while order_id in taken:
                order_id += "x"
            planned.append(_order(rng, order_id, contact_id, placed, now, everyday=regular))
    planned.sort(key=lambda o: (o.placed_at, o.order_id))
    return planned


def _regular_times(rng: random.Random, start: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """Every one to four weeks over the last five months (or since the contact was created)."""
    when = max(start, now - dt.timedelta(days=150)) + dt.timedelta(days=rng.uniform(0, 10))
    times = []
    while when < now - dt.timedelta(hours=2):
        times.append(when)
        when += dt.timedelta(days=rng.uniform(7, 35), minutes=rng.randint(0, 600))
    return times or [now - dt.timedelta(days=rng.uniform(1, 5))]


def _order(
    rng: random.Random, order_id: str, contact_id: int, placed: dt.datetime, now: dt.datetime, *, everyday: bool
) -> PlannedOrder:
    channel = rng.choices([c for c, _w in CHANNELS], weights=[w for _c, w in CHANNELS])[0]
    stores = STORES.get(channel) or ("",)
    pool = EVERYDAY if everyday else CATALOGUE
    lines = [
        (pid, name, cat, price, rng.choice((1, 1, 1, 2, 3)))
        for pid, name, cat, price in rng.sample(pool, rng.randint(1, min(3, len(pool))))
    ]
    subtotal = sum(price * qty for _p, _n, _c, price, qty in lines)
    order = PlannedOrder(
        order_id=order_id, contact_id=contact_id, placed_at=placed, channel=channel, store=rng.choice(stores),
        lines=lines, shipping=0 if channel == "store" or subtotal >= 500000 else 30000,
    )  # fmt: skip
    roll = rng.random()
    if roll < 0.04:
        order.fate = "cancelled"
    elif roll < 0.08:
        order.fate = "refunded"
    if order.fate:
        order.refund_at = min(placed + dt.timedelta(days=rng.uniform(0.5, 6)), now - dt.timedelta(minutes=5))
    return order


def demo_orders_part(run: DemoRun) -> None:
    """Plan orders for a share of the new contacts: the ones from before event tracking started
    are written here; the later ones go to the tracking part (``run.shared["shop.orders"]``),
    which sends them with the website's traffic around them, and writes here
    (``run.shared["shop.write_orders"]``) those it cannot send. The count of orders is read
    when every part has run."""
    now = run.now
    _catalogue(now)
    contacts = list(Contact.objects.filter(pk__in=run.contact_ids).order_by("pk").values_list("pk", "created_at"))
    planned = plan_orders(contacts=contacts, seed=run.seed, now=now)
    since = now - dt.timedelta(days=TRACKING_DAYS)
    _bulk_write([o for o in planned if o.placed_at < since], now)
    run.shared["shop.orders"] = [o for o in planned if o.placed_at >= since]
    run.shared["shop.write_orders"] = _bulk_write
    order_ids = [o.order_id for o in planned]
    run.counts["orders"] = lambda: Order.objects.filter(order_id__in=order_ids).count()


def _catalogue(now: dt.datetime) -> None:
    Product.objects.bulk_create(
        [
            Product(
                product_id=pid, name=name, category=cat, price=Decimal(price), currency=settings.SHOP_CURRENCY,
                last_ordered_at=now,
            )
            for pid, name, cat, price in CATALOGUE
        ],
        ignore_conflicts=True,
    )  # fmt: skip


def _bulk_write(planned: Sequence[PlannedOrder], now: dt.datetime) -> None:
    """The imported orders, their lines and the purchase metrics they make."""
    currency = settings.SHOP_CURRENCY
    orders: list[Order] = []
    lines_of: list[list[OrderLine]] = []
    for p in planned:
        lines = [
            OrderLine(
                product_id=pid, position=position, name=name, category=cat, quantity=qty, price=Decimal(price),
                total=Decimal(price * qty),
            )
            for position, (pid, name, cat, price, qty) in enumerate(p.lines)
        ]  # fmt: skip
        order = Order(
            order_id=p.order_id, contact_id=p.contact_id, placed_at=p.placed_at, channel=p.channel, store=p.store,
            currency=currency, subtotal=Decimal(p.subtotal), shipping=Decimal(p.shipping), total=Decimal(p.total),
            created_at=now, updated_at=now,
        )  # fmt: skip
        if p.fate == "cancelled":
            order.status = Order.Status.CANCELLED
        elif p.fate == "refunded":
            lines[0].refunded_quantity = lines[0].quantity
            order.refunded_amount = lines[0].total
            order.status = _refund_status(order)
            order.refunds = [{"id": "", "amount": str(lines[0].total), "at": now.isoformat(), "lines": {}}]
        orders.append(order)
        lines_of.append(lines)
    Order.objects.bulk_create(orders, batch_size=500)
    for order, lines in zip(orders, lines_of, strict=True):
        for line in lines:
            line.order = order
    OrderLine.objects.bulk_create([x for lines in lines_of for x in lines], batch_size=1000)

    stats: dict[int, PurchaseStats] = {}
    for order, lines in zip(orders, lines_of, strict=True):
        c: Contribution | None = contribution(order, lines)
        if c is None:
            continue
        s = stats.setdefault(c.contact_id, PurchaseStats(contact_id=c.contact_id, categories={}))
        contribution_add(s, c, +1)
        s.first_order_at = min(s.first_order_at or c.placed_at, c.placed_at)
        s.last_order_at = max(s.last_order_at or c.placed_at, c.placed_at)
    for s in stats.values():
        metrics_derive(s)
    PurchaseStats.objects.bulk_create(list(stats.values()), batch_size=500, ignore_conflicts=True)
    contact_metrics_copy_many(stats)


def _refund_status(order: Order) -> str:
    return Order.Status.REFUNDED if order.refunded_amount >= order.total else Order.Status.PARTIALLY_REFUNDED
