"""Merges past the undo window keep no personal data (services/merge_purge.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.core.errors import Conflict
from danhba.quality import selectors
from danhba.quality.models import DuplicatePair, Merge, MergedContact
from danhba.quality.services.merge import merge_contacts, undo_merge
from danhba.quality.services.merge_purge import merges_purge
from danhba.quality.tasks import merges_purge_nightly

pytestmark = pytest.mark.django_db


def _old(merge: Merge, days: int) -> None:
    Merge.objects.filter(pk=merge.pk).update(created_at=timezone.now() - dt.timedelta(days=days))


def test_a_merge_older_than_90_days_keeps_ids_dates_and_who_but_no_personal_data(admin: Any, make_contact: Any) -> None:
    keep = make_contact(full_name="Nguyễn Văn An", emails=["an@example.vn"], phones=["0912345678"])
    twin = make_contact(
        full_name="Nguyen Van An", emails=["an.nguyen@gmail.com"], phones=["0987654321"], job_title="Kế toán"
    )
    DuplicatePair.objects.create(contact_a=keep, contact_b=twin, probability=0.97, match_weight=9.1)
    actor = actor_for(admin)
    merge = merge_contacts(actor, keep, [twin])
    recent = merge_contacts(actor, keep, [make_contact(full_name="Nguyễn An", emails=["an2@example.vn"])])
    _old(merge, 91)
    _old(recent, 89)
    stored_before = json.dumps([merge.snapshot, merge.changes, merge.dropped], ensure_ascii=False)
    assert "an.nguyen@gmail.com" in stored_before or "Kế toán" in stored_before

    assert merges_purge_nightly.call_local() == 1

    merge.refresh_from_db()
    stored = json.dumps(
        [merge.survivor_label, merge.snapshot, merge.changes, merge.dropped, merge.state], ensure_ascii=False
    )
    for value in ("Nguyen Van An", "Nguyễn Văn An", "an.nguyen@gmail.com", "an@example.vn", "0987654321", "Kế toán"):
        assert value not in stored
    # What the audit trail needs stays: who, when, which contacts, which fields changed.
    assert merge.purged_at is not None
    assert merge.survivor_id == keep.pk and merge.merged_ids == [twin.pk] and merge.created_by == admin
    assert "job_title" in merge.changes
    assert MergedContact.objects.get(contact_id=twin.pk).survivor_id == keep.pk
    # The duplicate pair it closed is still counted as merged, with its score.
    merged = selectors.merged_pairs(admin, limit=10)
    assert [(p.contact_a_id, p.contact_b_id, p.probability) for p in merged] == [(keep.pk, twin.pk, 0.97)]
    # The newer merge keeps everything undo needs, and undo still works there.
    recent.refresh_from_db()
    assert recent.purged_at is None and recent.snapshot
    undo_merge(actor, recent)
    # The old one cannot be undone, and says so.
    with pytest.raises(Conflict):
        undo_merge(actor, merge)
    assert merges_purge() == 0  # nothing twice


def test_the_merge_page_says_the_values_were_removed(admin: Any, make_contact: Any, client: Any) -> None:
    keep, twin = make_contact(full_name="Trần Thị Lan"), make_contact(full_name="Tran Thi Lan")
    merge = merge_contacts(actor_for(admin), keep, [twin])
    _old(merge, 120)
    merges_purge()
    client.force_login(admin)
    page = client.get(f"/quality/merges/{merge.pk}/").content.decode()
    assert "were removed on" in page
    assert "Tran Thi Lan" not in page
    body = client.get(f"/api/quality/merges/{merge.pk}").json()
    assert body["purged_at"] and body["merged"] == [{"id": twin.pk, "name": f"#{twin.pk}"}]
