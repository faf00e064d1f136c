"""Each contact's purchase metrics (``PurchaseStats``), kept current incrementally.

A write computes what an order contributed before and after (:func:`contribution`) and
:func:`stats_apply` applies the difference to the contact's row, locked for the update. Nothing
rescans a contact's orders on the hot path; the only reads are index seeks on (contact,
placed_at) when the first or last order is removed. :func:`purchase_stats_recompute` derives
the same row from the orders, for recovery. Every write of the row also copies the metrics a
segment condition reads onto the contact (:func:`contact_metrics_copy`, decision 0025).

Money in another currency than ``settings.SHOP_CURRENCY``: such an order counts as an order
(number of orders, first/last order, frequency, categories' order counts) but adds no money (total
spent, average order value, categories' amounts), because amounts in different currencies cannot
be added without an exchange rate the shop has not given us.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from danhba.contacts.changes import contacts_changed
from danhba.contacts.models import PURCHASE_COLUMNS, Contact
from danhba.orders.models import Order, OrderLine, PurchaseStats

CENT = Decimal("0.01")


@dataclass
class Contribution:
    """What one order adds to its contact's metrics (nothing unless it counts as a purchase)."""

    contact_id: int
    placed_at: dt.datetime
    money: bool  # in the shop currency
    spent: Decimal
    categories: dict[str, Decimal] = field(default_factory=dict)  # category → amount


def contribution(order: Order, lines: Iterable[OrderLine]) -> Contribution | None:
    if order.contact_id is None or order.status not in Order.COUNTED:
        return None
    money = order.currency == settings.SHOP_CURRENCY
    zero = Decimal("0.00")
    categories: dict[str, Decimal] = {}
    for line in lines:
        if line.category:
            amount = Decimal(line.total) - line.refunded_total if money else zero
            categories[line.category] = categories.get(line.category, zero) + amount
    spent = Decimal(order.total) - Decimal(order.refunded_amount) if money else zero
    return Contribution(order.contact_id, order.placed_at, money, spent, categories)


def contribution_add(stats: PurchaseStats, c: Contribution, sign: int) -> None:
    stats.order_count += sign
    stats.money_order_count += sign if c.money else 0
    stats.total_spent = Decimal(stats.total_spent) + sign * c.spent
    categories = dict(stats.categories or {})
    for name, amount in c.categories.items():
        entry = categories.get(name) or {"amount": "0.00", "count": 0}
        count = int(entry["count"]) + sign
        if count <= 0:
            categories.pop(name, None)
            continue
        categories[name] = {"amount": str((Decimal(entry["amount"]) + sign * amount).quantize(CENT)), "count": count}
    stats.categories = categories


def metrics_derive(stats: PurchaseStats) -> None:
    """The columns that follow from the counters and bounds."""
    stats.total_spent = Decimal(stats.total_spent).quantize(CENT)
    stats.average_order_value = (
        (stats.total_spent / stats.money_order_count).quantize(CENT, ROUND_HALF_UP)
        if stats.money_order_count
        else Decimal("0.00")
    )
    if stats.order_count >= 2 and stats.first_order_at and stats.last_order_at:
        days = (stats.last_order_at - stats.first_order_at).total_seconds() / 86400
        stats.purchase_frequency_days = round(days / (stats.order_count - 1), 2)
    else:
        stats.purchase_frequency_days = None
    ranked = sorted(
        (stats.categories or {}).items(), key=lambda kv: (-Decimal(kv[1]["amount"]), -int(kv[1]["count"]), kv[0])
    )
    stats.favourite_category = ranked[0][0][:200] if ranked else ""
    stats.updated_at = timezone.now()


def _bounds(contact_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last counted order: two seeks on the (contact, placed_at) index."""
    counted = Order.objects.filter(contact_id=contact_id, status__in=Order.COUNTED)
    first = counted.order_by("placed_at").values_list("placed_at", flat=True).first()
    last = counted.order_by("-placed_at").values_list("placed_at", flat=True).first()
    return first, last


def stats_apply(remove: Sequence[Contribution | None], add: Sequence[Contribution | None]) -> None:
    """Apply contributions removed and added (the order rows are already written). Contacts are
    locked in id order so two writers never wait on each other in a circle."""
    changes: dict[int, tuple[list[Contribution], list[Contribution]]] = defaultdict(lambda: ([], []))
    for c in remove:
        if c is not None:
            changes[c.contact_id][0].append(c)
    for c in add:
        if c is not None:
            changes[c.contact_id][1].append(c)
    for contact_id in sorted(changes):
        removed, added = changes[contact_id]
        stats, _created = PurchaseStats.objects.select_for_update().get_or_create(contact_id=contact_id)
        bounds_lost = False
        for c in removed:
            contribution_add(stats, c, -1)
            bounds_lost = bounds_lost or c.placed_at in (stats.first_order_at, stats.last_order_at)
        for c in added:
            contribution_add(stats, c, +1)
            if stats.first_order_at is None or c.placed_at < stats.first_order_at:
                stats.first_order_at = c.placed_at
            if stats.last_order_at is None or c.placed_at > stats.last_order_at:
                stats.last_order_at = c.placed_at
        if stats.order_count <= 0:
            stats.order_count = stats.money_order_count = 0
            stats.first_order_at = stats.last_order_at = None
        elif bounds_lost:
            stats.first_order_at, stats.last_order_at = _bounds(contact_id)
        metrics_derive(stats)
        stats.save()
        contact_metrics_copy(stats)
    if changes:
        contacts_changed(reasons=dict.fromkeys(changes, ("orders",)))


def purchase_stats_recompute(*, contact_id: int) -> PurchaseStats | None:
    """Derive a contact's metrics from all its orders (recovery and checks; not the hot path).
    None if the contact no longer exists."""
    with transaction.atomic():
        if not Contact.objects.filter(pk=contact_id).exists():
            return None
        stats, _created = PurchaseStats.objects.select_for_update().get_or_create(contact_id=contact_id)
        stats.order_count = stats.money_order_count = 0
        stats.total_spent = Decimal("0.00")
        stats.categories = {}
        orders = (
            Order.objects.filter(contact_id=contact_id, status__in=Order.COUNTED)
            .order_by("placed_at", "id")
            .prefetch_related("lines")
        )
        for order in orders.iterator(chunk_size=500):
            c = contribution(order, order.lines.all())
            if c is not None:
                contribution_add(stats, c, +1)
        stats.first_order_at, stats.last_order_at = _bounds(contact_id) if stats.order_count else (None, None)
        metrics_derive(stats)
        stats.save()
        contact_metrics_copy(stats)
        return stats


def contact_metrics_copy(stats: PurchaseStats) -> None:
    """The contact's copy of its metrics (``Contact.PURCHASE_COLUMNS``), in the caller's
    transaction: the only writer of those columns."""
    Contact.objects.filter(pk=stats.contact_id).update(**{c: getattr(stats, c) for c in PURCHASE_COLUMNS})


def contact_metrics_copy_many(contact_ids: Iterable[int], *, chunk: int = 500) -> None:
    """:func:`contact_metrics_copy` for many contacts whose ``PurchaseStats`` are written (the
    demo's bulk load): one ``UPDATE … SET column = (SELECT …)`` per ``chunk`` contacts."""
    ids = sorted(set(contact_ids))
    mine = PurchaseStats.objects.filter(contact_id=OuterRef("pk"))
    copied = {c: Subquery(mine.values(c)[:1]) for c in PURCHASE_COLUMNS}
    for start in range(0, len(ids), chunk):
        Contact.objects.filter(pk__in=ids[start : start + chunk]).update(**copied)


def purchase_stats_recompute_all(*, batch: int = 1000) -> int:
    """Recompute every contact that has orders or metrics, in contact id order; returns how many."""
    done = 0
    last = 0
    while True:
        with_orders = (
            Order.objects.filter(contact_id__gt=last, contact__isnull=False)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
            .distinct()[:batch]
        )
        with_stats = (
            PurchaseStats.objects.filter(contact_id__gt=last)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
        )[:batch]
        ids = sorted({*with_orders, *with_stats})[:batch]
        if not ids:
            return done
        for contact_id in ids:
            if purchase_stats_recompute(contact_id=contact_id) is None:
                PurchaseStats.objects.filter(contact_id=contact_id).delete()
            done += 1
        last = ids[-1]


def stats_after_merge(survivor_id: int, other_ids: list[int], state: object) -> None:
    """A merge of contacts (quality) moved the orders: the survivor's metrics from all of them
    (the merged-away contacts' own stats rows are removed by the merge)."""
    purchase_stats_recompute(contact_id=survivor_id)


def stats_after_unmerge(survivor_id: int, other_ids: list[int], state: object) -> None:
    for contact_id in [survivor_id, *other_ids]:
        purchase_stats_recompute(contact_id=contact_id)
