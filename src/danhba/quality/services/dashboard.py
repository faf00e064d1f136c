"""The data-quality dashboard's figures, computed by a job into one ``QualitySnapshot`` per day
(``quality_snapshot_compute``): each card is one aggregate query, or one index range per bar,
so a snapshot of a million contacts costs a few full passes over the contacts table, once,
in the worker — never per page view. Decision 0020 says why a job and not live queries.

Cards (the keys of ``data``): ``overview``, ``completeness``, ``validity``, ``freshness``,
``sources``, ``imports``, ``duplicates``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from danhba.contacts.models import Contact, ContactCompany
from danhba.ingest.models import Import
from danhba.quality import decay
from danhba.quality.models import ContactArchive, DecaySignal, DuplicatePair, Freshness, Merge, QualitySnapshot
from danhba.quality.selectors import COMPLETENESS, merged_pair_count, missing_q

IMPORTS_SHOWN = 20
DUPLICATE_MONTHS = 12


def _completeness(total: int) -> dict[str, int]:
    """Contacts with each field filled: one aggregate over the contacts table (the company one
    over the contact–company links)."""
    fields = [f for f in COMPLETENESS if f != "company"]
    counts = Contact.objects.aggregate(**{f: Count("pk", filter=~missing_q(f)) for f in fields})
    counts["company"] = ContactCompany.objects.values("contact_id").distinct().count()
    return {f: int(counts[f] or 0) for f in COMPLETENESS}


def _freshness(now: dt.datetime) -> dict[str, int]:
    out = {}
    for b in decay.BUCKETS:
        oldest, newest = b.bounds(now)
        rows = Freshness.objects.filter(seen_at__lt=newest)
        out[b.key] = (rows.filter(seen_at__gte=oldest) if oldest is not None else rows).count()
    return out


def _sources() -> list[dict[str, Any]]:
    """Per contact source: contacts, those needing verification, those with neither email nor
    phone (one grouped query)."""
    rows = (
        Contact.objects.values("source")
        .annotate(
            contacts=Count("pk"),
            flagged=Count("pk", filter=Q(freshness__needs_verification=True)),
            unreachable=Count("pk", filter=Q(email="", phone="")),
        )
        .order_by("source")
    )
    return [
        {"source": r["source"], "contacts": r["contacts"], "flagged": r["flagged"], "unreachable": r["unreachable"]}
        for r in rows
    ]


def _imports() -> list[dict[str, Any]]:
    """The latest finished imports with the share of their rows rejected or warned."""
    rows = Import.objects.filter(status=Import.Status.DONE, dry_run=False).order_by("-created_at", "-pk")
    out = []
    for run in rows.values("pk", "file_name", "source", "created_at", "rows_done", "rejected", "warned")[
        :IMPORTS_SHOWN
    ]:
        bad = run["rejected"] + run["warned"]
        out.append(
            {
                "id": run["pk"], "file_name": run["file_name"], "source": run["source"],
                "created_at": run["created_at"].isoformat(), "rows": run["rows_done"], "rejected": run["rejected"],
                "warned": run["warned"], "bad_share": round(bad / run["rows_done"], 4) if run["rows_done"] else 0.0,
            }
        )  # fmt: skip
    return sorted(out, key=lambda r: -r["bad_share"])


def _per_month(rows: Any, field: str = "created_at") -> dict[str, int]:
    grouped = rows.annotate(month=TruncMonth(field)).values("month").annotate(n=Count("pk")).order_by("month")
    return {_month(r["month"]): r["n"] for r in grouped}


def _month(value: dt.date | dt.datetime) -> str:
    return value.isoformat()[:7]


def _duplicates(now: dt.datetime) -> list[dict[str, Any]]:
    """Per month: pairs found by duplicate detection (the model's, the real-time check's and
    identity resolution's, ``DuplicatePair``) and merges done (the merge feature's, not undone)."""
    since = (now - dt.timedelta(days=31 * DUPLICATE_MONTHS)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    found = _per_month(DuplicatePair.objects.filter(found_at__gte=since), "found_at")
    merged = _per_month(Merge.objects.filter(created_at__gte=since, status=Merge.Status.DONE))
    return [{"month": m, "found": found.get(m, 0), "merged": merged.get(m, 0)} for m in sorted({*found, *merged})]


def snapshot_data(*, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    total = Contact.objects.count()
    computed = Freshness.objects.count()
    signals = dict(DecaySignal.objects.values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    return {
        "overview": {
            "contacts": total,
            "needs_verification": Freshness.objects.filter(needs_verification=True).count(),
            "not_computed": max(total - computed, 0),
            "archived": ContactArchive.objects.count(),
        },
        "completeness": _completeness(total),
        "validity": {k: int(signals.get(k, 0)) for k in DecaySignal.Kind.values},
        "freshness": _freshness(now),
        "sources": _sources(),
        "imports": _imports(),
        "duplicates": _duplicates(now),
        "duplicate_status": {
            **dict(DuplicatePair.objects.values("status").annotate(n=Count("pk")).values_list("status", "n")),
            # A merge removes its pairs and keeps them in its record (quality.selectors).
            DuplicatePair.Status.MERGED.value: merged_pair_count(),
        },
    }


def quality_snapshot_compute(*, now: dt.datetime | None = None) -> QualitySnapshot:
    """Compute today's snapshot (replacing one computed earlier today)."""
    now = now or timezone.now()
    started = time.perf_counter()
    data = snapshot_data(now=now)
    seconds = round(time.perf_counter() - started, 3)
    snapshot, _created = QualitySnapshot.objects.update_or_create(
        day=timezone.localdate(now), defaults={"data": data, "computed_at": now, "seconds": seconds}
    )
    return snapshot
