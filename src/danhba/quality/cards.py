"""The dashboard's cards for one reader, from a stored snapshot (no query of contacts): each
number with its share and the contact-list URL of the contacts behind it, each chart's bars.
The page and the API (``GET /api/quality/dashboard``) show the same cards."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from danhba.accounts.models import User
from danhba.contacts.models import Source
from danhba.quality import decay
from danhba.quality.conditions import SIGNALS
from danhba.quality.models import DuplicatePair, QualitySnapshot
from danhba.quality.selectors import COMPLETENESS, completeness_fields

CARDS = ("overview", "completeness", "validity", "freshness", "sources", "imports", "duplicates", "history")
HISTORY_DAYS = 60


def contacts_url(**params: str) -> str:
    return reverse("contacts:list") + ("?" + urlencode(params) if params else "")


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def _overview(data: dict[str, Any], total: int) -> dict[str, Any]:
    o = data["overview"]
    return {
        "contacts": {"count": total, "url": contacts_url()},
        "needs_verification": {
            "count": o["needs_verification"],
            "share": _share(o["needs_verification"], total),
            "url": contacts_url(quality="needs_verification"),
        },
        "not_computed": {"count": o["not_computed"], "url": contacts_url(quality="not_computed")},
        "archived": {"count": o["archived"], "url": contacts_url(quality="archived")},
    }


def _completeness(data: dict[str, Any], total: int, user: User) -> list[dict[str, Any]]:
    filled = data["completeness"]
    return [
        {
            "field": f,
            "label": str(COMPLETENESS[f]),
            "filled": filled.get(f, 0),
            "share": _share(filled.get(f, 0), total),
            "missing": max(total - filled.get(f, 0), 0),
            "url": contacts_url(missing=f),
        }
        for f in completeness_fields(user)
    ]


def _validity(data: dict[str, Any], total: int) -> list[dict[str, Any]]:
    return [
        {
            "kind": k,
            "label": str(label),
            "count": data["validity"].get(k, 0),
            "share": _share(data["validity"].get(k, 0), total),
            "url": contacts_url(quality=k),
        }
        for k, label in SIGNALS.items()
    ]


def _freshness(data: dict[str, Any], total: int) -> list[dict[str, Any]]:
    return [
        {
            "bucket": b.key,
            "label": str(b.label),
            "count": data["freshness"].get(b.key, 0),
            "share": _share(data["freshness"].get(b.key, 0), total),
            "url": contacts_url(quality=b.key),
        }
        for b in decay.BUCKETS
    ]


def _sources(data: dict[str, Any]) -> list[dict[str, Any]]:
    labels = dict(Source.choices)
    rows = [
        {
            **r,
            "label": str(labels.get(r["source"], r["source"])),
            "flagged_share": _share(r["flagged"], r["contacts"]),
            "unreachable_share": _share(r["unreachable"], r["contacts"]),
            "url": contacts_url(source=r["source"]),
            "flagged_url": contacts_url(source=r["source"], quality="needs_verification"),
        }
        for r in data["sources"]
    ]
    return sorted(rows, key=lambda r: (-r["flagged_share"], -r["contacts"]))


def _imports(data: dict[str, Any], user: User) -> list[dict[str, Any]]:
    if not user.can("import", "view"):
        return []
    return [{**r, "url": reverse("ingest:detail", args=[r["id"]])} for r in data["imports"]]


def _duplicate_status(data: dict[str, Any], user: User) -> list[dict[str, Any]]:
    """Pairs by review status, each linking to the review queue filtered on it."""
    if not user.can("duplicate", "view"):
        return []
    counts = data.get("duplicate_status") or {}
    return [
        {"status": key, "label": str(label), "count": counts.get(key, 0),
         "url": reverse("quality:duplicates") + "?" + urlencode({"status": key})}
        for key, label in DuplicatePair.Status.choices
    ]  # fmt: skip


def _history(user: User) -> list[dict[str, Any]]:
    rows = QualitySnapshot.objects.order_by("-day").values("day", "data")[:HISTORY_DAYS]
    return [
        {
            "day": r["day"].isoformat(),
            "needs_verification": (r["data"].get("overview") or {}).get("needs_verification", 0),
            "contacts": (r["data"].get("overview") or {}).get("contacts", 0),
        }
        for r in reversed(rows)
    ]


def dashboard_cards(snapshot: QualitySnapshot, user: User) -> dict[str, Any]:
    data = snapshot.data
    total = int(data["overview"]["contacts"])
    return {
        "day": snapshot.day.isoformat(),
        "computed_at": snapshot.computed_at,
        "seconds": snapshot.seconds,
        "overview": _overview(data, total),
        "completeness": _completeness(data, total, user),
        "validity": _validity(data, total),
        "freshness": _freshness(data, total),
        "sources": _sources(data),
        "imports": _imports(data, user),
        "duplicates": {
            "available": True,
            "note": _("Likely duplicate pairs found, and merges done, per month."),
            "months": data.get("duplicates", []),
            "status": _duplicate_status(data, user),
            "queue_url": reverse("quality:duplicates") if user.can("duplicate", "view") else "",
        },
        "history": _history(user),
    }
