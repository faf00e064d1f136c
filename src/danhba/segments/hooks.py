"""What segments tell the apps above them (automation), which segments does not import: they
connect in their ``AppConfig.ready()`` (``core/hooks.py``; ``danhba hooks`` lists who listens)."""

from __future__ import annotations

from dataclasses import dataclass

from danhba.core.hooks import Hook


@dataclass(frozen=True)
class MembershipChange:
    """Contacts that entered or left one segment or list, as written to its history."""

    segment_id: int
    entered: tuple[int, ...]
    left: tuple[int, ...]
    via: str


SEGMENT_CHANGED: Hook[[MembershipChange], None] = Hook(
    "segments.changed",
    doc="Contacts entered or left a segment or static list (a MembershipChange), inside the\n"
    "transaction that writes the membership and its history; workflows enrol from it.",
)
