"""A full refresh writes in chunks (issue 12: a rebuild of a segment matching everyone once held
the database for 11 minutes): between two chunks the size matches the member rows, a contact
moved live meanwhile keeps its live state, and the end result and its history are exact."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_update
from danhba.segments import compiler
from danhba.segments import services as S
from danhba.segments.models import Segment, SegmentChange, SegmentMember, SegmentSize

pytestmark = pytest.mark.django_db

HANOI = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Chunks of 3 contacts; at each pause between chunks, what a reader sees: (member rows,
    the segment's size)."""
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(S, "CHUNK", 3)

    def pause() -> None:
        for segment in Segment.objects.all():
            seen.append((SegmentMember.objects.filter(segment=segment).count(), segment.member_count))

    monkeypatch.setattr(S, "_yield_to_writers", pause)
    return seen


def members(segment: Segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def test_a_refresh_in_chunks_is_exact_at_every_boundary(
    admin: Any, make_contact: Any, pauses: list[tuple[int, int]]
) -> None:
    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    people = [make_contact(full_name=f"Người {i}", province="hue") for i in range(11)]
    # Moved without the services: only a full refresh sees it.
    Contact.objects.filter(pk__in=[c.pk for c in people]).update(province="ha-noi")
    result = S.segment_refresh(segment=segment)
    assert (result.entered, result.left, result.size) == (11, 0, 11)
    # 11 contacts in chunks of 3: three pauses, each after a whole chunk, sizes that match.
    assert pauses == [(3, 3), (6, 6), (9, 9)]
    segment.refresh_from_db()
    assert members(segment) == {c.pk for c in people} and segment.member_count == 11
    assert SegmentChange.objects.filter(segment=segment, entered=True, via="refresh").count() == 11
    assert SegmentSize.objects.get(segment=segment).size == 11

    pauses.clear()
    # Four leave and two enter, across chunk boundaries.
    Contact.objects.filter(pk__in=[c.pk for c in people[1:9:2]]).update(province="hue")
    newcomers = [make_contact(full_name=f"Mới {i}", province="hue") for i in range(2)]
    Contact.objects.filter(pk__in=[c.pk for c in newcomers]).update(province="ha-noi")
    result = S.segment_refresh(segment=segment)
    assert (result.entered, result.left, result.size) == (2, 4, 9)
    assert all(rows == size for rows, size in pauses) and len(pauses) == 1
    segment.refresh_from_db()
    assert members(segment) == set(compiler.matching(HANOI).values_list("pk", flat=True))
    assert segment.member_count == 9 and SegmentSize.objects.get(segment=segment).size == 9
    assert SegmentChange.objects.filter(segment=segment, entered=False, via="refresh").count() == 4


def test_a_contact_moved_live_between_chunks_keeps_its_live_state(
    admin: Any, make_contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = actor_for(admin)
    segment = S.segment_create(actor=actor, name="Hà Nội", conditions=HANOI)
    people = [make_contact(full_name=f"Người {i}", province="hue") for i in range(7)]
    Contact.objects.filter(pk__in=[c.pk for c in people]).update(province="ha-noi")
    last = people[-1]
    monkeypatch.setattr(S, "CHUNK", 3)
    moved: list[int] = []

    def pause() -> None:
        # While the refresh pauses after its first chunk, the last contact (in its third
        # chunk) moves away through the services: it leaves live, and the refresh, which read
        # it as matching, must not put it back.
        if not moved:
            contact_update(actor=actor, contact=Contact.objects.get(pk=last.pk), data={"province": "hue"})
            moved.append(last.pk)

    monkeypatch.setattr(S, "_yield_to_writers", pause)
    result = S.segment_refresh(segment=segment)
    assert result.size == 6 and result.entered == 6
    segment.refresh_from_db()
    assert members(segment) == {c.pk for c in people[:-1]} and segment.member_count == 6
    assert not SegmentChange.objects.filter(segment=segment, contact_id=last.pk, entered=True).exists()


def test_a_big_segment_is_deleted_in_chunks(admin: Any, make_contact: Any, pauses: list[tuple[int, int]]) -> None:
    from danhba.audit.models import AuditEvent

    segment = S.segment_create(actor=actor_for(admin), name="Hà Nội", conditions=HANOI)
    people = [make_contact(full_name=f"Người {i}", province="ha-noi") for i in range(7)]
    assert members(segment) == {c.pk for c in people}
    pauses.clear()
    pk = segment.pk
    S.segment_delete(actor=actor_for(admin), segment=segment)
    # Members 3 + 3 (+ 1), then history 3 + 3 (+ 1): a pause after each full chunk, the size
    # matching the member rows at each.
    assert pauses[:2] == [(4, 4), (1, 1)] and len(pauses) == 4
    assert not Segment.objects.filter(pk=pk).exists()
    assert not SegmentMember.objects.exists() and not SegmentChange.objects.exists()
    assert AuditEvent.objects.filter(object_type="segment", object_id=str(pk), action="delete").count() == 1
