"""Reads of the quality app that pages, the API and other apps' hooks share."""

from __future__ import annotations

from danhba.quality.models import MergedContact


def merge_survivor_of(contact_id: int) -> int | None:
    """Where a merged-away contact went (its tombstone's survivor), or None."""
    found = MergedContact.objects.filter(contact_id=contact_id).values_list("survivor_id", flat=True).first()
    return int(found) if found is not None else None
