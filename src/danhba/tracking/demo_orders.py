"""Demo orders for the demo dataset (``contacts.demo.demo_load``): about a third of the
contacts bought something in the last two years, from a small Vietnamese catalogue, with the
odd refund and cancellation. Written with ``bulk_create`` (a few thousand orders in well under
a second); the purchase metrics are derived with the same functions the services use."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from danhba.tracking.models import Order, OrderLine, Product, PurchaseStats
from danhba.tracking.orders import Contribution, _add, _derive, contribution

# (product id, name, category, price in VND)
CATALOGUE = (
    ("CF-SUA-DA", "Cà phê sữa đá đóng lon", "Đồ uống", 15000),
    ("TRA-SEN", "Trà sen Tây Hồ 100 g", "Đồ uống", 120000),
    ("NUOC-MAM", "Nước mắm Phú Quốc 500 ml", "Thực phẩm", 85000),
    ("GAO-ST25", "Gạo ST25 túi 5 kg", "Thực phẩm", 190000),
    ("BANH-PIA", "Bánh pía Sóc Trăng", "Thực phẩm", 65000),
    ("AO-DAI", "Áo dài lụa", "Thời trang", 1250000),
    ("NON-LA", "Nón lá Huế", "Thời trang", 90000),
    ("NOI-CHIEN", "Nồi chiên không dầu 6 lít", "Gia dụng", 1890000),
    ("LOC-NUOC", "Máy lọc nước RO", "Gia dụng", 5490000),
    ("KEM-CHONG-NANG", "Kem chống nắng SPF50", "Mỹ phẩm", 320000),
    ("SACH-TRUYEN-KIEU", "Truyện Kiều (bìa cứng)", "Sách", 150000),
    ("TAI-NGHE", "Tai nghe không dây", "Điện tử", 790000),
)
CHANNELS = (("online", 55), ("store", 25), ("marketplace", 15), ("phone", 5))
STORES: dict[str, tuple[str, ...]] = {
    "store": ("Quận 1", "Hoàn Kiếm", "Hải Châu"),
    "marketplace": ("Shopee", "Lazada", "Tiki"),
}


def demo_orders_load(*, contact_ids: Sequence[int], seed: int, now: dt.datetime | None = None) -> int:
    """Create demo orders for a share of ``contact_ids``; returns how many orders."""
    rng = random.Random(seed)
    now = now or timezone.now()
    currency = settings.SHOP_CURRENCY
    Product.objects.bulk_create(
        [
            Product(
                product_id=pid, name=name, category=cat, price=Decimal(price), currency=currency, last_ordered_at=now
            )
            for pid, name, cat, price in CATALOGUE
        ],
        ignore_conflicts=True,
    )
    taken = set(Order.objects.filter(order_id__startswith="DEMO-").values_list("order_id", flat=True))
    orders: list[Order] = []
    lines_of: list[list[OrderLine]] = []
    for contact_id in contact_ids:
        if rng.random() > 0.35:
            continue
        for _ in range(min(1 + int(rng.expovariate(0.6)), 12)):
            order_id = f"DEMO-{seed}-{len(orders) + len(taken) + 1:06d}"
            while order_id in taken:
                order_id += "x"
            channel = rng.choices([c for c, _w in CHANNELS], weights=[w for _c, w in CHANNELS])[0]
            stores = STORES.get(channel) or ("",)
            placed = now - dt.timedelta(days=rng.uniform(1, 730), minutes=rng.randint(0, 1440))
            lines = []
            for position, (pid, name, cat, price) in enumerate(rng.sample(CATALOGUE, rng.randint(1, 3))):
                qty = rng.choice((1, 1, 1, 2, 3))
                total = Decimal(price * qty)
                lines.append(
                    OrderLine(
                        product_id=pid, position=position, name=name, category=cat, quantity=qty,
                        price=Decimal(price), total=total,
                    )
                )  # fmt: skip
            subtotal = sum((x.total for x in lines), Decimal(0))
            shipping = Decimal(0 if channel == "store" or subtotal >= 500000 else 30000)
            order = Order(
                order_id=order_id, contact_id=contact_id, placed_at=placed, channel=channel,
                store=rng.choice(stores), currency=currency,
                subtotal=subtotal, shipping=shipping, total=subtotal + shipping, created_at=now, updated_at=now,
            )  # fmt: skip
            roll = rng.random()
            if roll < 0.04:
                order.status = Order.Status.CANCELLED
            elif roll < 0.08:
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
        _add(s, c, +1)
        s.first_order_at = min(s.first_order_at or c.placed_at, c.placed_at)
        s.last_order_at = max(s.last_order_at or c.placed_at, c.placed_at)
    for s in stats.values():
        _derive(s)
    PurchaseStats.objects.bulk_create(list(stats.values()), batch_size=500, ignore_conflicts=True)
    return len(orders)


def _refund_status(order: Order) -> str:
    return Order.Status.REFUNDED if order.refunded_amount >= order.total else Order.Status.PARTIALLY_REFUNDED
