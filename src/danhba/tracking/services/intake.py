"""Storing events: a request's messages claimed once, their contacts resolved, inserted in bulk,
and handed to the apps that act on them (``tracking/hooks.py``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from danhba.contacts.changes import contacts_changed
from danhba.contacts.models import Contact
from danhba.core.bulk import Table, select_in
from danhba.core.errors import ServiceError
from danhba.tracking.hooks import EVENTS_STORED, StoredEvents, warnings_of
from danhba.tracking.models import AnonymousIdentity, Event, EventMessage, Source
from danhba.tracking.services.identity import BatchResolver, device_identified, lock_devices
from danhba.tracking.services.messages import Message, first_of_each_id

logger = logging.getLogger(__name__)

EVENT_COLUMNS = [
    "source_id", "message_id", "type", "name", "contact_id", "anonymous_id", "user_id", "timestamp",
    "original_timestamp", "sent_at", "received_at", "properties", "context", "traits",
]  # fmt: skip
# Requests of one source to store: (messages, received at) each.
Batches = list[tuple[list[Message], datetime]]

# --- storing --------------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Warnings of the apps that act on stored events (orders: an order not applied); absent when none.
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body = {"success": True, "accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}
        return {**body, "warnings": self.warnings} if self.warnings else body


def events_ingest(
    *,
    source: Source,
    messages: list[Message],
    rejected: Iterable[dict[str, Any]] = (),
    received_at: datetime | None = None,
) -> IngestResult:
    """Store valid messages of one request, resolving their contacts in order (an identify early
    in a batch attaches the batch's later anonymous events). A messageId already stored for the
    source (within ``EVENT_DEDUPE_DAYS``), or repeated in the batch, counts as a duplicate and
    changes nothing."""
    result = events_ingest_many(source=source, requests=[(messages, received_at or timezone.now())])[0]
    result.rejected = list(rejected)
    return result


def events_ingest_many(*, source: Source, requests: list[tuple[list[Message], datetime]]) -> list[IngestResult]:
    """Store several requests of one source — (messages, received at) each, in the order they
    were accepted — in one transaction, as storing them one after another would (the worker
    takes the inbox a few requests at a time: one commit, and one identity pass, for them all).
    Returns each request's result."""
    results, batches = _without_repeats(requests)
    if not any(fresh for fresh, _ in batches):
        return results
    with transaction.atomic():
        # Claimed first, so a duplicate creates no contact; a concurrent request holding the same
        # messageId makes this wait for its commit, then lose (or win, if it rolled back).
        batches = _claimed(source, batches, results)
        every = [m for fresh, _ in batches for m in fresh]
        if not every:
            return results
        _set_contacts(source, every)
        events_insert(source, batches)
        _attach_to_devices_identified_meanwhile(every)
        # Segments on behaviour re-read the contacts that did something, for each event name.
        by_contact: dict[int, set[str]] = defaultdict(set)
        for m in every:
            if m.contact_id is not None:
                by_contact[m.contact_id].add(f"event:{m.name}")
        contacts_changed(reasons=by_contact)
        for result, (fresh, received_at) in zip(results, batches, strict=True):
            # What acts on stored events (orders from e-commerce events, event.received webhooks)
            # listens to this hook; a bad order never costs its event.
            result.warnings = warnings_of(EVENTS_STORED(StoredEvents(source, fresh, received_at)))
            result.accepted = len(fresh)
    return results


def _without_repeats(requests: Batches) -> tuple[list[IngestResult], Batches]:
    """Each request's result, and its messages without a messageId repeated in the request
    (counted as duplicates)."""
    batches: Batches = [(first_of_each_id(messages), received_at) for messages, received_at in requests]
    results = [
        IngestResult(duplicates=len(messages) - len(fresh))
        for (messages, _), (fresh, _) in zip(requests, batches, strict=True)
    ]
    return results, batches


def _claimed(source: Source, batches: Batches, results: list[IngestResult]) -> Batches:
    """The messages whose messageId this transaction claimed; the others count as duplicates."""
    out: Batches = []
    for result, (fresh, received_at) in zip(results, batches, strict=True):
        claimed = _claim_message_ids(source, [m.message_id for m in fresh], received_at) if fresh else set()
        result.duplicates += len(fresh) - len(claimed)
        out.append(([m for m in fresh if m.message_id in claimed], received_at))
    return out


def _set_contacts(source: Source, messages: list[Message]) -> None:
    """Each message's contact: resolved, or its device's when an identify in these requests
    named it after the message (anonymous events before the identify)."""
    devices = _resolve_existing_contacts(source, messages)
    for message in messages:
        if message.contact_id is None and message.anonymous_id:
            message.contact_id = devices.get(message.anonymous_id)


def _attach_to_devices_identified_meanwhile(messages: list[Message]) -> None:
    """A device identified by a concurrent request after our lookup: attach what we just wrote
    (lock_devices: that request's link is committed by now, or it will see our events)."""
    unmapped = {m.anonymous_id for m in messages if m.contact_id is None and m.anonymous_id}
    lock_devices(unmapped)
    for device, contact_id in select_in(AnonymousIdentity, ("anonymous_id", "contact_id"), "anonymous_id", unmapped):
        device_identified(device, contact_id)


def events_insert(source: Source, batches: list[tuple[list[Message], datetime]]) -> None:
    """Insert the events of these requests (messages with their contact set): every event row is
    written here, in the storing transaction. A raw multi-row INSERT (``core.bulk.Table``; on
    SQLite one statement over a JSON array, which serialises the properties, context and traits
    of the whole batch in one call): the ORM's bulk_create costs more than the SQL here."""
    Table(Event, EVENT_COLUMNS, one_statement=True).insert(
        [
            (source.pk, m.message_id, m.type, m.name, m.contact_id, m.anonymous_id, m.user_id, m.timestamp,
             m.original_timestamp, m.sent_at, received_at, m.properties, m.context, m.traits)
            for fresh, received_at in batches
            for m in fresh
        ]
    )  # fmt: skip


def _resolve_existing_contacts(source: Source, messages: list[Message]) -> dict[str, int]:
    """``_resolve_contacts``, then the contacts found kept from being deleted until the commit
    (PostgreSQL ``FOR KEY SHARE``). A contact deleted meanwhile — after our lookup, before our
    events reference it — is not kept: the messages are resolved again, which finds their
    people afresh (a new contact for the deleted one's identifiers). Twice at most; then the
    messages that still name a deleted contact are stored unattached."""
    gone: set[int] = set()
    for _attempt in range(3):
        anonymous = _resolve_contacts(source, messages)
        wanted = {m.contact_id for m in messages if m.contact_id is not None} | set(anonymous.values())
        gone = wanted - _keep_contacts(wanted)
        if not gone:
            return anonymous
        logger.info("contacts %s were deleted while events of source %s were stored", sorted(gone), source.pk)
        for message in messages:
            message.contact_id = None
    for message in messages:
        if message.contact_id in gone:
            message.contact_id = None
    return {device: contact for device, contact in anonymous.items() if contact not in gone}


def _keep_contacts(ids: set[int]) -> set[int]:
    """Which of these contacts exist, locked against deletion until the transaction ends. On
    SQLite the storing transaction holds the only write lock from its start: nothing was
    deleted since the lookup."""
    if connection.vendor != "postgresql" or not ids:
        return ids
    table = connection.ops.quote_name(Contact._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",  # noqa: S608
            [sorted(ids)],
        )
        return {row[0] for row in cursor.fetchall()}


# What a concurrent writer can make resolving fail with: worth a second look at the database.
RESOLVE_CONFLICTS = (ServiceError, IntegrityError, Contact.DoesNotExist)


def _resolve_contacts(source: Source, messages: list[Message]) -> dict[str, int]:
    """Set each message's contact; returns the device ids known to belong to a contact afterwards.
    All messages in one batch; if writing that batch fails (a concurrent writer took an
    identifier, or deleted a contact we found), each message again as a batch of one, which
    looks at the database afresh: twice, then it is stored unattached rather than lost."""
    try:
        with transaction.atomic():
            return BatchResolver(source).resolve_all(messages)
    except RESOLVE_CONFLICTS:
        logger.info("event batch of source %s resolved one message at a time", source.pk, exc_info=True)
    links: dict[str, int] = {}
    for message in messages:
        message.contact_id = None
        for attempt in range(2):
            try:
                with transaction.atomic():
                    links.update(BatchResolver(source).resolve_all([message]))
                break
            except RESOLVE_CONFLICTS:
                message.contact_id = None
                if attempt:
                    logger.warning("event %s of source %s stored without a contact", message.message_id, source.pk)
    return links


def _claim_message_ids(source: Source, message_ids: list[str], received_at: datetime) -> set[str]:
    """Record the messageIds in EventMessage and return the ones this transaction inserted: the
    others were stored before (or are being stored by a concurrent request). Sorted, so two
    overlapping batches lock their rows in one order and cannot deadlock."""
    table = connection.ops.quote_name(EventMessage._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(received_at)
    claimed: set[str] = set()
    ordered = sorted(message_ids)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (source_id, message_id, received_at) VALUES {values} "  # noqa: S608
                "ON CONFLICT (source_id, message_id) DO NOTHING RETURNING message_id",
                [value for message_id in chunk for value in (source.pk, message_id, stamp)],
            )
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed
