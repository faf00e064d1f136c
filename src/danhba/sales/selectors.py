"""Reads of the sales app: deal lists (filters, keyset pages), a deal's stage history with the
time in each stage, the weighted forecast by month and the win / loss report."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from danhba.sales.models import Deal, DealStageChange

CENT = Decimal("0.01")


def deals_visible(user: Any) -> QuerySet[Deal]:
    return Deal.objects.visible_to(user) if user is not None else Deal.objects.all()


def contact_deals_q(contact_id: int) -> Q:
    return Q(primary_contact_id=contact_id) | Q(contacts=contact_id)


@dataclass(frozen=True)
class Stay:
    stage_name: str
    entered_at: dt.datetime
    left_at: dt.datetime | None
    duration: dt.timedelta
    moved_by: str


def stage_history(deal: Deal, now: dt.datetime | None = None) -> list[Stay]:
    """The stages the deal went through, oldest first, with the time spent in each (the
    current one until now)."""
    now = now or timezone.now()
    rows = DealStageChange.objects.filter(deal=deal).select_related("moved_by").order_by("entered_at", "id")
    return [
        Stay(r.stage_name, r.entered_at, r.left_at, r.duration(now), r.moved_by.email if r.moved_by else "")
        for r in rows
    ]


@dataclass(frozen=True)
class ForecastMonth:
    month: dt.date  # the first day of the month
    deals: int
    total: Decimal  # value in VND of the open deals expected to close that month
    weighted: Decimal  # each deal's value × its stage's win probability


def forecast(
    deals: QuerySet[Deal], *, since: dt.date | None = None, until: dt.date | None = None
) -> list[ForecastMonth]:
    """Open deals by month of their expected close, weighted by their stage's probability.
    Deals without an expected close date are left out."""
    qs = deals.filter(status=Deal.Status.OPEN, expected_close__isnull=False)
    if since:
        qs = qs.filter(expected_close__gte=since)
    if until:
        qs = qs.filter(expected_close__lte=until)
    rows = (
        qs.annotate(month=TruncMonth("expected_close"), probability=F("stage__probability"))
        .values("month", "probability")
        .annotate(n=Count("id"), total=Sum("value_vnd"))
        .order_by()
    )
    months: dict[dt.date, list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        entry = months[month]
        total = Decimal(row["total"] or 0)
        entry[0] += row["n"]
        entry[1] += total
        entry[2] += total * row["probability"] / 100
    return [
        ForecastMonth(m, n, t.quantize(CENT, ROUND_HALF_UP), w.quantize(CENT, ROUND_HALF_UP))
        for m, (n, t, w) in sorted(months.items())
    ]


BY = ("reason", "owner", "source")


@dataclass(frozen=True)
class WinLossRow:
    key: str
    label: str
    won: int
    lost: int
    won_value: Decimal
    lost_value: Decimal

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return round(self.won / closed, 4) if closed else None


def _label(by: str, row: dict[str, Any]) -> tuple[str, str]:
    if by == "owner":
        return str(row["owner_id"] or ""), row["owner__email"] or ""
    if by == "source":
        return row["source"], row["source"]
    return row["lost_reason__key"] or "", row["lost_reason__name_vi" if _vi() else "lost_reason__name"] or row[
        "lost_reason__name"
    ] or ""


def _vi() -> bool:
    from django.utils.translation import get_language

    return (get_language() or "").startswith("vi")


_COLUMNS = {
    "owner": ("owner_id", "owner__email"),
    "source": ("source",),
    "reason": ("lost_reason__key", "lost_reason__name", "lost_reason__name_vi"),
}


def win_loss(
    deals: QuerySet[Deal], *, by: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[WinLossRow]:
    """Closed deals (closed in [since, until)) counted by lost reason, owner or source: won and
    lost, their values in VND. By reason only lost deals have one: the won ones are a row of
    their own with an empty key."""
    qs = deals.exclude(status=Deal.Status.OPEN)
    if since:
        qs = qs.filter(closed_at__gte=since)
    if until:
        qs = qs.filter(closed_at__lt=until)
    rows = qs.values(*_COLUMNS[by], "status").annotate(n=Count("id"), total=Sum("value_vnd")).order_by()
    merged: dict[str, list[Any]] = {}
    for row in rows:
        key, label = _label(by, row)
        entry = merged.setdefault(key, [label, 0, 0, Decimal(0), Decimal(0)])
        won = row["status"] == Deal.Status.WON
        entry[1 if won else 2] += row["n"]
        entry[3 if won else 4] += Decimal(row["total"] or 0)
    out = [WinLossRow(k, v[0], v[1], v[2], v[3], v[4]) for k, v in merged.items()]
    return sorted(out, key=lambda r: (-(r.won + r.lost), r.label))
