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

from danhba.core.keyset import Page, paginate
from danhba.sales.models import Deal, DealLine, DealStageChange, Pipeline

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
    out = [WinLossRow(k, v[0], v[1], v[2], v[3].quantize(CENT), v[4].quantize(CENT)) for k, v in merged.items()]
    return sorted(out, key=lambda r: (-(r.won + r.lost), r.label))


# --- lists and API shapes -------------------------------------------------------------------

MAX_LIMIT = 200


@dataclass(frozen=True)
class DealFilters:
    pipeline_id: int | None = None
    stage_id: int | None = None
    status: str = ""
    owner_id: int | None = None
    contact_id: int | None = None
    source: str = ""
    q: str = ""
    close_after: dt.date | None = None
    close_before: dt.date | None = None


def deals_filtered(user: Any, f: DealFilters) -> QuerySet[Deal]:
    qs = deals_visible(user)
    exact = {
        "pipeline_id": f.pipeline_id, "stage_id": f.stage_id, "status": f.status, "owner_id": f.owner_id,
        "source": f.source, "expected_close__gte": f.close_after, "expected_close__lte": f.close_before,
    }  # fmt: skip
    qs = qs.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if f.contact_id:
        linked = Deal.contacts.through.objects.filter(contact_id=f.contact_id).values("deal_id")
        qs = qs.filter(Q(primary_contact_id=f.contact_id) | Q(pk__in=linked))
    if f.q:
        qs = qs.filter(title__icontains=f.q)
    return qs


def deal_page(user: Any, f: DealFilters, cursor: str | None = None, limit: int = 50) -> Page[Deal]:
    """Newest first, one keyset page on (created_at, id)."""
    qs = deals_filtered(user, f).select_related("pipeline", "stage", "owner", "lost_reason")
    page = paginate(qs, "created_at", cursor, max(1, min(limit, MAX_LIMIT)), descending=True)
    _with_contact_ids(page.items)
    return page


def _with_contact_ids(deals: list[Deal]) -> None:
    links: dict[int, list[int]] = defaultdict(list)
    rows = Deal.contacts.through.objects.filter(deal_id__in=[d.pk for d in deals]).order_by("id")
    for deal_id, contact_id in rows.values_list("deal_id", "contact_id"):
        links[deal_id].append(contact_id)
    for deal in deals:
        deal.contact_id_list = links.get(deal.pk, [])  # type: ignore[attr-defined]


def deal_out(deal: Deal) -> dict[str, Any]:
    if not hasattr(deal, "contact_id_list"):
        _with_contact_ids([deal])
    return {
        "id": deal.pk, "title": deal.title, "pipeline_id": deal.pipeline_id, "pipeline": deal.pipeline.name,
        "stage_id": deal.stage_id, "stage": deal.stage.name, "probability": deal.stage.probability,
        "status": deal.status, "primary_contact_id": deal.primary_contact_id,
        "contact_ids": deal.contact_id_list,  # type: ignore[attr-defined]
        "company_id": deal.company_id, "value": deal.value, "currency": deal.currency, "rate": deal.rate,
        "value_vnd": deal.value_vnd, "expected_close": deal.expected_close, "owner_id": deal.owner_id,
        "owner": deal.owner.email if deal.owner else "", "source": deal.source,
        "lost_reason": deal.lost_reason.key if deal.lost_reason else None, "lost_note": deal.lost_note,
        "closed_at": deal.closed_at, "stage_entered_at": deal.stage_entered_at, "created_at": deal.created_at,
        "updated_at": deal.updated_at, "price_list_id": deal.price_list_id,
    }  # fmt: skip


def deal_detail(deal: Deal, now: dt.datetime | None = None) -> dict[str, Any]:
    lines = [
        {
            "id": x.pk,
            "product_id": x.product_id,
            "name": x.name,
            "quantity": x.quantity,
            "price": x.price,
            "discount": x.discount,
            "total": x.total,
            "price_list_id": x.price_list_id,
            "price_list": x.price_list.name if x.price_list else None,
        }
        for x in DealLine.objects.filter(deal=deal).select_related("price_list")
    ]
    history = [
        {
            "stage": s.stage_name,
            "entered_at": s.entered_at,
            "left_at": s.left_at,
            "seconds": int(s.duration.total_seconds()),
            "moved_by": s.moved_by,
        }
        for s in stage_history(deal, now)
    ]
    return {**deal_out(deal), "lines": lines, "history": history}


def pipelines_out(pipelines: QuerySet[Pipeline]) -> list[dict[str, Any]]:
    pipes = list(pipelines.prefetch_related("stages"))
    counts = dict(Deal.objects.filter(pipeline__in=pipes).values_list("stage_id").annotate(n=Count("id")).order_by())
    return [
        {
            "id": p.pk,
            "name": p.name,
            "is_active": p.is_active,
            "stages": [
                {
                    "id": s.pk,
                    "name": s.name,
                    "position": s.position,
                    "probability": s.probability,
                    "kind": s.kind,
                    "deals": counts.get(s.pk, 0),
                }
                for s in p.stages.all()
            ],
        }
        for p in pipes
    ]
