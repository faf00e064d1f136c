"""A segment deleted while the worker recomputes it (``POST /api/segments/{id}/refresh``, then
``DELETE`` half a second later): the refresh and the live re-evaluation end quietly, write
nothing for the deleted segment, and carry on with the others."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.services.contacts import contact_update
from danhba.segments import compiler, tasks
from danhba.segments import services as S
from danhba.segments.models import DirtyContact, Segment, SegmentChange, SegmentMember, SegmentSize

# Real commits: the database checks the foreign keys when the job's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

HANOI = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


def rows_of(segment_id: int) -> int:
    return sum(
        model.objects.filter(segment_id=segment_id).count() for model in (SegmentMember, SegmentChange, SegmentSize)
    )


@pytest.fixture
def delete_during_query(monkeypatch: pytest.MonkeyPatch, admin: Any) -> Any:
    """While the job reads who matches, the segment is deleted (as by a request meanwhile)."""
    real = compiler.matching
    doomed: set[int] = set()

    def matching(tree: Any, **kwargs: Any) -> Any:
        for segment in Segment.objects.filter(pk__in=doomed):
            doomed.discard(segment.pk)
            S.segment_delete(actor=actor_for(admin), segment=segment)
        return real(tree, **kwargs)

    monkeypatch.setattr(compiler, "matching", matching)
    return doomed


def test_refresh_then_delete_over_the_api(client: Any, admin: Any, make_contact: Any, settings: Any) -> None:
    settings.SEGMENTS_REFRESH_INLINE = False
    make_contact(full_name="An", province="ha-noi")
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="race")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.post(f"/api/segments/{segment.pk}/refresh", headers=headers).status_code == 202
    assert client.delete(f"/api/segments/{segment.pk}", headers=headers).status_code == 204
    # The job the refresh queued runs after the delete.
    assert tasks.segment_refresh_job.call_local(segment.pk) is None
    assert rows_of(segment.pk) == 0


def test_a_refresh_whose_segment_is_deleted_meanwhile_ends_quietly(
    admin: Any, make_contact: Any, delete_during_query: set[int], caplog: pytest.LogCaptureFixture
) -> None:
    make_contact(full_name="An", province="ha-noi")
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    delete_during_query.add(segment.pk)
    with caplog.at_level(logging.WARNING):
        tasks.segment_refresh_job.call_local(segment.pk)
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert rows_of(segment.pk) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_nightly_refresh_skips_a_segment_deleted_meanwhile(
    admin: Any, make_contact: Any, delete_during_query: set[int], caplog: pytest.LogCaptureFixture, huey_immediate: Any
) -> None:
    make_contact(full_name="An", province="ha-noi")
    doomed = S.segment_create(actor=actor_for(admin), name="Bị xoá", conditions=HANOI)
    kept = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    delete_during_query.add(doomed.pk)
    with caplog.at_level(logging.WARNING):
        tasks.segments_nightly_refresh.call_local()
    assert rows_of(doomed.pk) == 0
    assert SegmentMember.objects.filter(segment=kept).count() == 1
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_live_reevaluation_skips_a_segment_deleted_meanwhile(
    admin: Any, make_contact: Any, delete_during_query: set[int], settings: Any
) -> None:
    contact = make_contact(full_name="An", province="hue")
    doomed = S.segment_create(actor=actor_for(admin), name="Bị xoá", conditions=HANOI)
    kept = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    settings.SEGMENTS_REFRESH_INLINE = False
    contact_update(actor=actor_for(admin), contact=contact, data={"province": "ha-noi"})
    assert DirtyContact.objects.exists()
    delete_during_query.add(doomed.pk)
    assert tasks.process_dirty_contacts.call_local(linger=0, max_seconds=5) == 1
    assert rows_of(doomed.pk) == 0
    assert set(SegmentMember.objects.filter(segment=kept).values_list("contact_id", flat=True)) == {contact.pk}
    assert not DirtyContact.objects.exists()
