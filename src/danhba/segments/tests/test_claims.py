"""Dirty contacts are claimed (issue 12: both worker threads re-evaluated the same oldest batch
for 14 minutes): a worker never takes rows another one holds, takes them over when that one's
lease runs out, and a change that arrives while a row is being evaluated is not lost."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.segments import services as S
from danhba.segments.models import DirtyContact, Segment, SegmentMember

pytestmark = pytest.mark.django_db

HANOI = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


@pytest.fixture
def queued(settings: Any, admin: Any, make_contact: Any) -> tuple[Segment, list[Contact]]:
    """A segment and five new contacts in Hà Nội waiting for the worker."""
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    settings.SEGMENTS_REFRESH_INLINE = False
    people = [make_contact(full_name=f"Người {i}", province="ha-noi") for i in range(5)]
    assert DirtyContact.objects.count() == 5
    return segment, people


@pytest.fixture
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The contact ids each _evaluate call was given, in order."""
    seen: list[int] = []
    real = S._evaluate

    def spy(segments: Any, reasons_of: dict[int, set[str]], **kwargs: Any) -> None:
        seen.extend(sorted(reasons_of))
        real(segments, reasons_of, **kwargs)

    monkeypatch.setattr(S, "_evaluate", spy)
    return seen


def members(segment: Segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def test_a_second_worker_skips_the_rows_the_first_one_holds(
    queued: tuple[Segment, list[Contact]], evaluated: list[int]
) -> None:
    segment, people = queued
    held = S._dirty_claim(token="a" * 32, limit=2)
    assert [contact_id for _pk, contact_id, _r in held] == [people[0].pk, people[1].pk]
    # The other worker drains the rest and leaves the held rows to their holder.
    assert S.dirty_process() == 3
    assert evaluated == [c.pk for c in people[2:]]
    assert set(DirtyContact.objects.values_list("contact_id", flat=True)) == {people[0].pk, people[1].pk}
    assert members(segment) == {c.pk for c in people[2:]}
    assert S.dirty_process() == 0


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    queued: tuple[Segment, list[Contact]], evaluated: list[int]
) -> None:
    segment, people = queued
    S._dirty_claim(token="a" * 32, limit=5)
    assert S.dirty_process() == 0 and evaluated == []
    # The holder died: its lease runs out.
    DirtyContact.objects.update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert S.dirty_process() == 5
    assert members(segment) == {c.pk for c in people}
    assert not DirtyContact.objects.exists()


def test_a_change_during_the_evaluation_is_evaluated_again(
    queued: tuple[Segment, list[Contact]], monkeypatch: pytest.MonkeyPatch
) -> None:
    segment, people = queued
    first = people[0]
    real = S._evaluate
    calls: list[set[int]] = []

    def evaluate_then_change(segments: Any, reasons_of: dict[int, set[str]], **kwargs: Any) -> None:
        real(segments, reasons_of, **kwargs)
        calls.append(set(reasons_of))
        if len(calls) == 1:
            # A write lands after the worker read the contact, before it deletes its rows.
            Contact.objects.filter(pk=first.pk).update(province="hue")
            S.contacts_changed(contact_ids=[first.pk], reasons=["*"])

    monkeypatch.setattr(S, "_evaluate", evaluate_then_change)
    assert S.dirty_process() == 6
    # The second batch is the contact changed during the first one, and it left.
    assert calls[1] == {first.pk}
    assert members(segment) == {c.pk for c in people[1:]}
    assert not DirtyContact.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_workers_claiming_at_the_same_moment_take_different_rows() -> None:
    """PostgreSQL, where workers really claim in parallel: three at once, 300 rows, no row
    claimed twice."""
    DirtyContact.objects.bulk_create([DirtyContact(contact_id=i, reason="*") for i in range(1, 301)])
    barrier = threading.Barrier(3)
    got: dict[int, list[int]] = {}

    def claim(n: int) -> None:
        barrier.wait()
        try:
            got[n] = [contact_id for _pk, contact_id, _r in S._dirty_claim(token=f"{n:032d}", limit=100)]
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [c for ids in got.values() for c in ids]
    assert sorted(len(ids) for ids in got.values()) == [100, 100, 100]
    assert sorted(claimed) == list(range(1, 301))
