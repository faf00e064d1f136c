"""The event inbox: the event API accepts a request with one small write and the worker does the
rest (identity resolution, contacts, orders, webhooks) a moment later.

Why: resolving identities can create and update contacts, which is far slower than taking the
request, and on SQLite every write waits for the one before it. Segment and RudderStack work the
same way: their HTTP gateway acknowledges a durable copy of the request and processes it after.

- ``events_accept`` (the request): validated messages are written as one ``EventInbox`` row per
  request, after the in-request duplicate check; the worker is woken after the commit (a Huey
  task, ``tasks.process_event_inbox``). On SQLite the table lives in a database file of its own
  (the ``events_inbox`` database alias, ``core/db.py``; docs/decisions/0004-event-inbox-file.md)
  so a request never waits behind the worker's writes; on PostgreSQL it is in the main database.
- ``inbox_process`` (the worker): **claims** the oldest pending rows — PostgreSQL
  ``SELECT … FOR UPDATE SKIP LOCKED``, SQLite one atomic ``UPDATE … RETURNING`` — with a token
  and a lease, so two workers never take the same request and a claim whose worker died is
  taken again when its lease runs out. It stores their messages with ``events_ingest_many``,
  which claims each messageId (a request stored twice stores nothing twice), resolves contacts
  and inserts the events. A request that fails is tried again with a growing delay; after
  ``MAX_ATTEMPTS`` it is **parked** (``failed_at``) with its error, never dropped, and
  ``inbox_retry_parked`` (a periodic task) tries it again later by itself, waiting longer each
  time; ``danhba events inbox`` lists parked requests and ``--retry-failed`` retries them now.
- ``EVENTS_PROCESS_INLINE`` (a setting) processes in the request instead: for a site without a
  worker, and for the tests, which then see an event's effects when the request returns.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from danhba.core.db import background_checkpoints, write_turn
from danhba.core.deferred import writes_at_end
from danhba.tracking.hooks import EVENTS_ACCEPTING, warnings_of
from danhba.tracking.models import EventInbox, EventMessage, Source
from danhba.tracking.services.intake import IngestResult
from danhba.tracking.services.intake import events_ingest as events_store
from danhba.tracking.services.intake import events_ingest_many as events_store_many
from danhba.tracking.services.messages import Message, first_of_each_id

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Pending requests the worker takes at once: those of one source are stored in one transaction.
GROUP_REQUESTS = 25
LEASE_SECONDS = 120  # a claimed request is pending again after this long (its worker died)
# A web process wakes the worker at most this often; the worker lingers this long after the
# inbox runs dry, so a request accepted just after a wake-up is not left for the minutely sweep.
WAKE_INTERVAL = 0.25
LINGER_SECONDS = 1.0
_last_wake = 0.0


def retry_delay(attempts: int) -> float:
    """Seconds before a failed request is tried again: 10, 20, 40, 80 (then it is parked)."""
    return 10.0 * 2 ** max(attempts - 1, 0)


def park_delay(attempts: int) -> float:
    """Seconds a parked request waits before it is tried again by itself: 5 minutes after it was
    parked, then twice as long after each failed try, at most 6 hours."""
    return min(300.0 * 2 ** max(attempts - MAX_ATTEMPTS, 0), 6 * 3600.0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _dumps_time(value: datetime | None) -> int | None:
    # Whole microseconds since the epoch: exact, and several times cheaper than ISO text.
    return (value - _EPOCH) // _MICROSECOND if value is not None else None


def _loads_time(value: int | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return _EPOCH + value * _MICROSECOND
    return parse_datetime(value)  # a row written by an earlier version


def message_to_json(m: Message) -> list[Any]:
    """One message of an inbox row, as a list (field names would be most of the row)."""
    return [
        m.index, m.type, m.message_id, m.name, m.user_id, m.anonymous_id, m.previous_id,
        _dumps_time(m.timestamp), _dumps_time(m.original_timestamp), _dumps_time(m.sent_at),
        m.properties, m.context, m.traits,
    ] + ([m.known_contact] if m.known_contact is not None else [])  # fmt: skip


_FIELDS = (
    "i", "type", "message_id", "name", "user_id", "anonymous_id", "previous_id", "timestamp",
    "original_timestamp", "sent_at", "properties", "context", "traits", "known_contact",
)  # fmt: skip


def message_from_json(d: list[Any] | dict[str, Any]) -> Message:
    if isinstance(d, list):
        d = dict(zip(_FIELDS[: len(d)], d, strict=True))
    timestamp = _loads_time(d["timestamp"])
    assert timestamp is not None
    return Message(
        index=d["i"], type=d["type"], message_id=d["message_id"], name=d["name"], user_id=d["user_id"],
        anonymous_id=d["anonymous_id"], previous_id=d["previous_id"], timestamp=timestamp,
        original_timestamp=_loads_time(d["original_timestamp"]), sent_at=_loads_time(d["sent_at"]),
        properties=d["properties"], context=d["context"], traits=d["traits"], known_contact=d.get("known_contact"),
    )  # fmt: skip


def _stored_message_ids(source: Source, message_ids: list[str]) -> set[str]:
    """The messageIds among these that the source already has stored: raw SQL, as the ORM spends
    more time building an ``IN`` of a hundred values than the database spends answering it."""
    table = connection.ops.quote_name(EventMessage._meta.db_table)
    found: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(message_ids), 900):
            chunk = message_ids[start : start + 900]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT message_id FROM {table} WHERE source_id = %s AND message_id IN ({marks})",  # noqa: S608
                [source.pk, *chunk],
            )
            found.update(row[0] for row in cursor.fetchall())
    return found


def events_accept(
    *, source: Source, messages: list[Message], rejected: list[dict[str, Any]] | None = None, received_at: datetime
) -> IngestResult:
    """Accept the valid messages of one request for processing. Repeats inside the request and
    messageIds already stored for the source count as duplicates here; a repeat that is still in
    the inbox is caught when it is processed (it is then stored once)."""
    fresh = first_of_each_id(messages)
    result = IngestResult(duplicates=len(messages) - len(fresh), rejected=list(rejected or ()))
    if fresh:
        stored = _stored_message_ids(source, [m.message_id for m in fresh])
        if stored:
            result.duplicates += len(stored)
            fresh = [m for m in fresh if m.message_id not in stored]
    if not fresh:
        return result
    result.warnings = warnings_of(EVENTS_ACCEPTING(fresh))
    db = inbox_database()
    pks: list[int] = []
    parts = partitions_split(fresh)
    # One row per partition (one row unless EVENT_DRAINERS > 1), written in one transaction.
    with transaction.atomic(using=db) if len(parts) > 1 else nullcontext():
        for part, part_messages in parts.items():
            payload = json.dumps([message_to_json(m) for m in part_messages], ensure_ascii=False, separators=(",", ":"))
            row = EventInbox.objects.using(db).create(
                source_id=source.pk, received_at=received_at, messages=payload, count=len(part_messages), partition=part
            )
            pks.append(row.pk)
    if settings.EVENTS_PROCESS_INLINE:
        for pk in pks:
            stored_now = _process_next(pk=pk)
            if stored_now is not None:
                # What only storing finds out (a refund of an unknown order), beside the above.
                known = {w["messageId"] for w in stored_now.warnings}
                result.warnings = stored_now.warnings + [w for w in result.warnings if w["messageId"] not in known]
        # Without a worker, earlier requests that failed for a moment are retried here.
        inbox_process(max_seconds=1.0)
    else:
        transaction.on_commit(wake, using=db)
    result.accepted = len(fresh)
    return result


def drainers() -> int:
    """How many drainers share the inbox (``EVENT_DRAINERS``); 1 on SQLite, which has one writer."""
    return settings.EVENT_DRAINERS if connection.vendor == "postgresql" else 1


def partition_of(message: Message, count: int) -> int:
    """The drainer that stores ``message``: by its user id, else its device id, so that one
    person's contact is created and extended by one drainer (two creating it at once would
    collide on its user id and wait on each other's row locks). A device that gets identified is
    the one thing two partitions share: its anonymous events and the identify that names it
    (``identity.lock_devices`` keeps them right; the later one waits for the other's commit)."""
    if count <= 1:
        return 0
    key = message.user_id or message.anonymous_id or message.message_id
    return zlib.crc32(key.encode()) % count


def partitions_split(messages: list[Message]) -> dict[int, list[Message]]:
    """The messages of one request by partition, each in request order."""
    count = drainers()
    if count <= 1:
        return {0: messages}
    parts: dict[int, list[Message]] = {}
    for message in messages:
        parts.setdefault(partition_of(message, count), []).append(message)
    return parts


def wake() -> None:
    """Wake the worker, at most every ``WAKE_INTERVAL`` from one process."""
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < WAKE_INTERVAL:
        return
    _last_wake = now
    from danhba.tracking.tasks import process_event_inbox

    try:
        process_event_inbox()
    except Exception:
        # The events are safe in the inbox; the minutely sweep processes them.
        logger.exception("could not wake the worker for the event inbox")


def inbox_database() -> str:
    """The database alias of the inbox table (``events_inbox`` on SQLite, see ``core/db.py``)."""
    return router.db_for_write(EventInbox)


# One thread of a process drains at a time: a second one would only wait for SQLite's write
# lock, or on PostgreSQL take the worker's second thread away from the other short jobs. Several
# worker processes (or machines) drain at once on PostgreSQL: each claims its own requests.
_draining = threading.Lock()
# Seconds this thread waited for the main database's write lock (its turn, then BEGIN), logged
# by inbox_drain: time a drain sat idle (decision 0007, 2026-12-07).
_lock_wait = threading.local()


def inbox_process(*, linger: float = 0.0, max_seconds: float | None = None) -> int:
    """:func:`inbox_drain`, unless another thread of this process is at it (then 0). With
    ``drainers()`` > 1 (PostgreSQL), one drainer per partition, each on a thread of its own."""
    if not _draining.acquire(blocking=False):
        return 0
    try:
        count = drainers()
        if count <= 1:
            return inbox_drain(linger=linger, max_seconds=max_seconds)
        done = [0] * count

        def drain(part: int) -> None:
            try:
                done[part] = inbox_drain(linger=linger, max_seconds=max_seconds, partition=part)
            except Exception:
                logger.exception("event inbox drainer %s stopped", part)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=drain, args=(p,), name=f"inbox-drainer-{p}") for p in range(1, count)]
        for thread in threads:
            thread.start()
        try:
            done[0] = inbox_drain(linger=linger, max_seconds=max_seconds, partition=0)
        finally:
            for thread in threads:
                thread.join()
        return sum(done)
    finally:
        _draining.release()


def inbox_drain(*, linger: float = 0.0, max_seconds: float | None = None, partition: int | None = None) -> int:
    """Store every due request, oldest first, a group of up to ``GROUP_REQUESTS`` per claim;
    returns the number of messages processed. With ``linger``, keep watching that long after the
    inbox runs dry; with ``partition``, only that partition's requests (``partitions_split``).
    Workers draining at once each store the requests they claimed (``tests/test_workers.py``).
    On SQLite the database files' logs are copied into them by a thread of their own
    (``core.db.background_checkpoints``), not at the worker's commits; the inbox file's
    connections never checkpoint by themselves (settings.py), so no event request pays for it."""
    processed = 0
    _lock_wait.seconds = 0.0
    cpu = time.thread_time()
    with background_checkpoints(DEFAULT_DB_ALIAS, inbox_database()) as checkpoint_soon:
        started = time.monotonic()
        idle_since: float | None = None
        while max_seconds is None or time.monotonic() - started < max_seconds:
            done = _process_next(partition=partition)
            if done is None:
                if linger <= 0:
                    break
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= linger:
                    break
                time.sleep(0.05)
                continue
            idle_since = None
            processed += done.accepted + done.duplicates
            checkpoint_soon()
    if processed:
        logger.info(
            "event inbox%s: %s messages in %.1f s, %.1f s CPU, %.1f s waiting for the write lock",
            "" if partition is None else f" partition {partition}",
            processed,
            time.monotonic() - started,
            time.thread_time() - cpu,
            _lock_wait.seconds,
        )
    return processed


@dataclass
class Claimed:
    """A request this worker claimed: ``token`` proves the claim when it is done or failed."""

    pk: int
    source_id: int
    received_at: datetime
    messages: str
    attempts: int
    token: str


def inbox_claim(limit: int = GROUP_REQUESTS, pk: int | None = None, partition: int | None = None) -> list[Claimed]:
    """Claim the oldest due requests (or request ``pk``; of ``partition`` only, if given) for
    ``LEASE_SECONDS``. PostgreSQL: rows locked by another worker's claim are skipped (``SKIP
    LOCKED``); SQLite: one ``UPDATE … RETURNING`` claims them (SQLite has one writer at a time, so
    two claims cannot overlap). Drainer 0 also takes partitions beyond ``drainers()`` (rows
    written while more drainers were configured)."""
    db = inbox_database()
    token = uuid.uuid4().hex
    now = timezone.now()
    until = now + timedelta(seconds=LEASE_SECONDS)
    due = (
        EventInbox.objects.using(db)
        .filter(failed_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )
    if pk is not None:
        due = due.filter(pk=pk)
    if partition is not None:
        due = due.filter(
            Q(partition=partition) | Q(partition__gte=drainers()) if partition == 0 else Q(partition=partition)
        )
    fields = ("id", "source_id", "received_at", "messages", "attempts")
    with transaction.atomic(using=db):
        if connections[db].features.has_select_for_update_skip_locked:
            rows = list(due.select_for_update(skip_locked=True).order_by("id").values_list(*fields)[:limit])
            EventInbox.objects.using(db).filter(pk__in=[r[0] for r in rows]).update(
                claim_token=token, claimed_until=until
            )
        else:
            rows = _claim_returning(db, due.order_by("id").values("id")[:limit], token, until)
    return [Claimed(int(r[0]), int(r[1]), _aware(r[2]), r[3], int(r[4]), token) for r in sorted(rows)]


def _claim_returning(db: str, ids: Any, token: str, until: datetime) -> list[tuple[Any, ...]]:
    table = connections[db].ops.quote_name(EventInbox._meta.db_table)
    subquery, params = ids.query.sql_with_params()
    ops = connections[db].ops
    with connections[db].cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET claim_token = %s, claimed_until = %s WHERE id IN ({subquery}) "  # noqa: S608
            "RETURNING id, source_id, received_at, messages, attempts",
            [token, ops.adapt_datetimefield_value(until), *params],
        )
        return list(cursor.fetchall())


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        parsed = parse_datetime(value)
        assert parsed is not None
        value = parsed
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def inbox_done(claims: list[Claimed]) -> None:
    """Delete stored requests, each only while this worker's claim on it holds (one statement)."""
    by_token: dict[str, list[int]] = {}
    for claim in claims:
        by_token.setdefault(claim.token, []).append(claim.pk)
    for token, pks in by_token.items():
        EventInbox.objects.using(inbox_database()).filter(pk__in=pks, claim_token=token).delete()


def inbox_release(claim: Claimed) -> None:
    """Give a claimed request back at once (tests; a worker shutting down)."""
    EventInbox.objects.using(inbox_database()).filter(pk=claim.pk, claim_token=claim.token).update(
        claim_token=None, claimed_until=None
    )


def inbox_fail(claim: Claimed, error: str) -> None:
    """Count a failed try: due again after ``retry_delay``, parked after ``MAX_ATTEMPTS``."""
    attempts = claim.attempts + 1
    now = timezone.now()
    EventInbox.objects.using(inbox_database()).filter(pk=claim.pk, claim_token=claim.token).update(
        attempts=attempts,
        error=error,
        claim_token=None,
        claimed_until=now + timedelta(seconds=retry_delay(attempts)),
        failed_at=now if attempts >= MAX_ATTEMPTS else None,
    )


def _process_next(pk: int | None = None, partition: int | None = None) -> IngestResult | None:
    """Claim the oldest due requests (up to ``GROUP_REQUESTS``, or request ``pk``) and store
    them; None when nothing is due. Consecutive requests of one source are stored in one
    transaction (one commit, one identity pass); if that fails, each is stored on its own, so a
    bad request only holds back itself."""
    claims = inbox_claim(GROUP_REQUESTS, partition=partition) if pk is None else inbox_claim(1, pk=pk)
    if not claims:
        return None
    total = IngestResult()
    start = 0
    while start < len(claims):
        end = start + 1
        while end < len(claims) and claims[end].source_id == claims[start].source_id:
            end += 1
        group = claims[start:end]
        results = _process_group(group) if len(group) > 1 else None
        for result in results or [_process_one(claim) for claim in group]:
            total.accepted += result.accepted
            total.duplicates += result.duplicates
            total.warnings += result.warnings
        start = end
    return total


@contextmanager
def _storing(claims: list[Claimed]) -> Iterator[None]:
    """The storing transaction. When the inbox shares the main database its rows are deleted in
    that transaction; in a file of its own they are deleted after the commit (if the worker dies
    in between, storing them again finds every messageId claimed and stores nothing twice)."""
    same_database = inbox_database() == "default"
    asked = time.perf_counter()
    with write_turn(), transaction.atomic():
        _lock_wait.seconds = getattr(_lock_wait, "seconds", 0.0) + time.perf_counter() - asked
        # The listeners' marks (freshness, segments, scores) written once per table at the end,
        # in key order, and the step counters after them: fewer statements, and no deadlock between
        # drainers (core.deferred).
        with writes_at_end():
            yield
        if same_database:
            inbox_done(claims)
    if not same_database:
        inbox_done(claims)


def _process_group(claims: list[Claimed]) -> list[IngestResult] | None:
    """Store requests of one source in one transaction; None (nothing stored) if that fails."""
    try:
        # Decoded before the storing transaction: the write lock is held for the writing only.
        requests = [([message_from_json(d) for d in json.loads(c.messages)], c.received_at) for c in claims]
        with _storing(claims):
            source = Source.objects.get(pk=claims[0].source_id)
            results = events_store_many(source=source, requests=requests)
    except Exception:
        logger.warning("event inbox requests %s failed together; storing them one by one", [c.pk for c in claims])
        return None
    return results


def _process_one(claim: Claimed) -> IngestResult:
    try:
        with _storing([claim]):
            source = Source.objects.get(pk=claim.source_id)
            messages = [message_from_json(d) for d in json.loads(claim.messages)]
            return events_store(source=source, messages=messages, received_at=claim.received_at)
    except Exception as exc:
        # A busy database (a lock or statement timeout) and a bad request alike: counted, tried
        # again later with a growing delay, and after MAX_ATTEMPTS parked, so no request holds
        # back the ones after it.
        logger.exception("event inbox request %s failed", claim.pk)
        inbox_fail(claim, f"{type(exc).__name__}: {exc}"[:2000])
        return IngestResult()


def inbox_retry_parked(now: datetime | None = None) -> int:
    """Put back in line the parked requests whose ``park_delay`` has passed (a periodic task):
    a request that failed for a cause that has gone (the database was busy for minutes, a bug
    since fixed) gets stored without anyone's help. Its attempts are kept, so each new failure
    parks it for longer."""
    now = now or timezone.now()
    db = inbox_database()
    parked = EventInbox.objects.using(db).filter(failed_at__isnull=False).values_list("id", "attempts", "failed_at")
    due = [
        pk
        for pk, attempts, failed_at in parked
        if failed_at is not None and failed_at + timedelta(seconds=park_delay(attempts)) <= now
    ]
    for start in range(0, len(due), 500):
        EventInbox.objects.using(db).filter(pk__in=due[start : start + 500], failed_at__isnull=False).update(
            failed_at=None, claim_token=None, claimed_until=None
        )
    if due:
        logger.info("parked event inbox requests tried again: %s", len(due))
    return len(due)


def inbox_retry_failed() -> int:
    """Put every parked request back in line now, attempts reset (``danhba events inbox
    --retry-failed``)."""
    db = inbox_database()
    count = (
        EventInbox.objects.using(db)
        .filter(failed_at__isnull=False)
        .update(failed_at=None, attempts=0, claim_token=None, claimed_until=None)
    )
    if count:
        transaction.on_commit(wake, using=db)
    return count


def inbox_status() -> dict[str, Any]:
    """Pending and parked requests, for the Event sources page, ``danhba events inbox`` and the
    benchmark."""
    db = inbox_database()
    pending = EventInbox.objects.using(db).filter(failed_at__isnull=True)
    return {
        "pending_requests": pending.count(),
        "failed_requests": EventInbox.objects.using(db).filter(failed_at__isnull=False).count(),
        "oldest_pending": pending.order_by("id").values_list("received_at", flat=True).first(),
    }


def inbox_rows() -> list[dict[str, Any]]:
    """Every request in the inbox, for ``danhba events inbox`` and the tests."""
    fields = ("id", "count", "attempts", "error", "failed_at")
    rows = EventInbox.objects.using(inbox_database()).order_by("id").values_list(*fields)
    return [dict(zip(fields, r, strict=True)) for r in rows]


def inbox_adopt_legacy() -> int:
    """Move the requests an earlier version left in its own ``inbox`` table (a raw SQLite file,
    ``EVENT_INBOX_PATH``) into the inbox table, so an upgrade loses none. Run by the sweep."""
    path = Path(settings.EVENT_INBOX_PATH)
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as legacy:
        if not legacy.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inbox'").fetchone():
            return 0
        rows = legacy.execute(
            "SELECT source_id, received_at, messages, count, attempts, error, failed_at FROM inbox ORDER BY id"
        ).fetchall()
    db = inbox_database()
    with transaction.atomic(using=db):
        EventInbox.objects.using(db).bulk_create(
            [
                EventInbox(
                    source_id=source_id, received_at=_aware(received), messages=messages, count=count,
                    attempts=attempts, error=error, failed_at=_aware(failed) if failed else None,
                )
                for source_id, received, messages, count, attempts, error, failed in rows
            ]
        )  # fmt: skip
    with sqlite3.connect(path, timeout=30) as legacy:
        legacy.execute("DROP TABLE inbox")
    logger.info("moved %s requests from the old event inbox file", len(rows))
    return len(rows)
