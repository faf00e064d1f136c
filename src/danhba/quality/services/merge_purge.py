"""What a merge keeps once it can no longer be undone.

A merge records the merged contacts' fields (``snapshot``), the survivor's values before and
after (``changes``), the rows it removed (``dropped``) and what other apps kept for undo
(``state``): personal data that only undo needs. Once the undo window (``UNDO_DAYS``) has
passed, a daily job (``tasks.merges_purge_nightly``) removes it and keeps what the audit trail
needs: the survivor's and the merged contacts' ids, when and by whom (merged, undone), the rules,
which fields changed, how many rows each table moved or removed (their ids), and the duplicate
pairs the merge closed (contact ids and scores, no values), so the review queue still counts
them as merged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from danhba.quality.models import DuplicatePair, Merge
from danhba.quality.models.merges import UNDO_DAYS

CHUNK = 500


def _dropped_kept(dropped: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The removed rows without their values: the duplicate pairs whole (ids and scores), other
    tables' rows by id."""
    pair_label = DuplicatePair._meta.label_lower
    return {
        label: (rows if label == pair_label else [{"id": r.get("id")} for r in rows if isinstance(r, dict)])
        for label, rows in dropped.items()
    }


def purged(merge: Merge) -> dict[str, Any]:
    """The fields of ``merge`` with its personal data removed."""
    return {
        "survivor_label": f"#{merge.survivor_id}",
        "snapshot": {},
        "changes": {attname: [None, None] for attname in merge.changes},
        "dropped": _dropped_kept(merge.dropped),
        "state": {},
    }


def merges_purge(now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Remove the personal data of merges older than the undo window (done or undone), at most
    ``limit`` merges a call. Returns how many were purged."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=UNDO_DAYS)
    ids = list(
        Merge.objects.filter(created_at__lt=cutoff, purged_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    done = 0
    for start in range(0, len(ids), CHUNK):
        with transaction.atomic():
            for merge in Merge.objects.select_for_update().filter(pk__in=ids[start : start + CHUNK], purged_at=None):
                for field, value in purged(merge).items():
                    setattr(merge, field, value)
                merge.purged_at = now or timezone.now()
                merge.save(update_fields=[*purged(merge), "purged_at"])
                done += 1
    return done
