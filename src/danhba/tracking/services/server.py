"""Events danhba writes about itself: the apps above tracking (email: sent, opened, clicked,
bounced, unsubscribed) record what happened to a contact as events of an internal source, so
they show on the timeline and in the explorer and segments count them like any other event.

They take the one storing path (``intake.events_ingest_many`` or, from a public endpoint that
must answer fast, the inbox through ``inbox.events_accept``), never a writer of their own:
messageIds make a repeated call store nothing twice, and the contact is the one the caller
names (``Message.known_contact``), never resolved from identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from danhba.contacts.changes import contacts_changed
from danhba.tracking.inbox import events_accept
from danhba.tracking.models import Event, Source
from danhba.tracking.services.intake import IngestResult, events_ingest_many
from danhba.tracking.services.messages import Message

LIBRARY = {"name": "danhba", "version": "1"}


@dataclass(frozen=True)
class ServerEvent:
    """A track event about one contact. ``message_id`` is the idempotency key: the same fact
    (the send of one message, a bounce of one send) must always carry the same one."""

    contact_id: int
    name: str
    message_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    context: dict[str, Any] = field(default_factory=dict)


def internal_source(name: str) -> Source:
    """The internal source called ``name`` (created on first use; no key can write to it)."""
    source, _created = Source.objects.get_or_create(
        key_hash=f"internal:{name}",
        defaults={"name": name, "kind": Source.Kind.INTERNAL, "key_prefix": "internal"},
    )
    return source


def _message(index: int, event: ServerEvent, now: datetime) -> Message:
    return Message(
        index=index, type=Event.Type.TRACK, message_id=event.message_id[:200], name=event.name, user_id="",
        anonymous_id="", previous_id="", timestamp=event.timestamp or now, original_timestamp=event.timestamp,
        sent_at=None, properties=event.properties, context={"library": LIBRARY, **event.context}, traits={},
        known_contact=event.contact_id,
    )  # fmt: skip


def server_events_store(*, source: str, events: list[ServerEvent]) -> IngestResult:
    """Store these events now, inside the caller's transaction (a worker's job)."""
    if not events:
        return IngestResult()
    now = timezone.now()
    messages = [_message(i, e, now) for i, e in enumerate(events)]
    return events_ingest_many(source=internal_source(source), requests=[(messages, now)])[0]


def server_events_update(
    *, source: str, contact_id: int, name: str, timestamps: list[datetime], properties: dict[str, Any]
) -> int:
    """Merge ``properties`` into the internal source's events of this contact and name at these
    times: a verdict reached after they were stored (a click found to be a scanner's). Segments
    re-read the contact."""
    rows = list(
        Event.objects.filter(
            source=internal_source(source), contact_id=contact_id, name=name, timestamp__in=timestamps
        ).only("id", "timestamp", "properties")
    )
    for event in rows:
        Event.objects.filter(pk=event.pk, timestamp=event.timestamp).update(
            properties={**event.properties, **properties}
        )
    if rows:
        contacts_changed(reasons={contact_id: {f"event:{name}"}})
    return len(rows)


def server_events_accept(*, source: Source, events: list[ServerEvent]) -> IngestResult:
    """Hand these events to the inbox (a public endpoint: the answer must not wait for the main
    database's write lock; the worker stores them)."""
    now = timezone.now()
    return events_accept(source=source, messages=[_message(i, e, now) for i, e in enumerate(events)], received_at=now)
