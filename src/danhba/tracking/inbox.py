"""The event inbox: the event API accepts a request with one small write and the worker does the
rest (identity resolution, contacts, orders, webhooks) a moment later.

Why: resolving identities can create and update contacts, which is far slower than taking the
request, and on SQLite every write waits for the one before it. Segment and RudderStack work the
same way: their HTTP gateway acknowledges a durable copy of the request and processes it after.

- ``events_accept`` (the request): validated messages are written as one inbox row per request,
  after the in-request duplicate check; the worker is woken after the commit. On SQLite the inbox
  is a file of its own (``FileInbox``) so a request never waits behind the worker's writes; on
  PostgreSQL it is the ``EventInbox`` table.
- ``inbox_process`` (the worker, ``tasks.process_event_inbox``): takes the oldest rows, one
  transaction each, and stores their messages with ``services.events_store``, which claims each
  messageId (so a message accepted twice is stored once), resolves contacts and inserts the events.
  A row that fails is retried and after ``MAX_ATTEMPTS`` kept with its error, never dropped.
- ``EVENTS_PROCESS_INLINE`` (a setting) processes in the request instead: for a site without a
  worker, and for the tests, which then see an event's effects when the request returns.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from danhba.tracking.hooks import EVENTS_ACCEPTING, warnings_of
from danhba.tracking.models import EventInbox, EventMessage, Source
from danhba.tracking.services.intake import IngestResult
from danhba.tracking.services.intake import events_ingest as events_store
from danhba.tracking.services.intake import events_ingest_many as events_store_many
from danhba.tracking.services.messages import Message

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Pending requests the worker takes at once: those of one source are stored in one transaction.
GROUP_REQUESTS = 10


def retry_delay(attempts: int) -> float:
    """Seconds before a failed request is tried again: 10, 20, 40, 80 (then it is kept aside)."""
    return 10.0 * 2 ** max(attempts - 1, 0)


ADVISORY_LOCK = 0x64616E68  # "danh": the PostgreSQL advisory lock of the inbox processor
LEASE_SECONDS = 300  # a claimed request is pending again after this long (its worker died)
# A web process wakes the worker at most this often; the worker lingers this long after the
# inbox runs dry, so a request accepted just after a wake-up is not left for the minutely sweep.
WAKE_INTERVAL = 0.25
LINGER_SECONDS = 1.0
_last_wake = 0.0


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
    ]  # fmt: skip


_FIELDS = (
    "i", "type", "message_id", "name", "user_id", "anonymous_id", "previous_id", "timestamp",
    "original_timestamp", "sent_at", "properties", "context", "traits",
)  # fmt: skip


def message_from_json(d: list[Any] | dict[str, Any]) -> Message:
    if isinstance(d, list):
        d = dict(zip(_FIELDS, d, strict=True))
    timestamp = _loads_time(d["timestamp"])
    assert timestamp is not None
    return Message(
        index=d["i"], type=d["type"], message_id=d["message_id"], name=d["name"], user_id=d["user_id"],
        anonymous_id=d["anonymous_id"], previous_id=d["previous_id"], timestamp=timestamp,
        original_timestamp=_loads_time(d["original_timestamp"]), sent_at=_loads_time(d["sent_at"]),
        properties=d["properties"], context=d["context"], traits=d["traits"],
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
    result = IngestResult(rejected=list(rejected or ()))
    seen: set[str] = set()
    fresh: list[Message] = []
    for message in messages:
        if message.message_id in seen:
            result.duplicates += 1
            continue
        seen.add(message.message_id)
        fresh.append(message)
    if fresh:
        stored = _stored_message_ids(source, [m.message_id for m in fresh])
        if stored:
            result.duplicates += len(stored)
            fresh = [m for m in fresh if m.message_id not in stored]
    if not fresh:
        return result
    result.warnings = warnings_of(EVENTS_ACCEPTING(fresh))
    payload = json.dumps([message_to_json(m) for m in fresh], ensure_ascii=False, separators=(",", ":"))
    pk = store().add(source.pk, received_at, payload, len(fresh))
    if settings.EVENTS_PROCESS_INLINE:
        stored_now = _process_next(pk=pk)
        if stored_now is not None:
            # What only storing finds out (a refund of an unknown order), beside the above.
            known = {w["messageId"] for w in stored_now.warnings}
            result.warnings = stored_now.warnings + [w for w in result.warnings if w["messageId"] not in known]
        # Without a worker, earlier requests that failed for a moment are retried here.
        inbox_process(max_seconds=1.0)
    else:
        transaction.on_commit(wake)
    result.accepted = len(fresh)
    return result


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


def inbox_process(*, linger: float = 0.0, max_seconds: float | None = None) -> int:
    """Store every pending request, oldest first, one transaction each; returns the number of
    messages processed. With ``linger``, keep watching that long after the inbox runs dry.

    On SQLite one worker processes at a time (a second one would only wait for the write lock);
    a wake-up that finds another worker busy leaves the work to it."""
    processed = 0
    with _single_processor() as mine:
        if not mine:
            return 0
        started = time.monotonic()
        idle_since: float | None = None
        while max_seconds is None or time.monotonic() - started < max_seconds:
            done = _process_next()
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
    return processed


@contextlib.contextmanager
def _single_processor() -> Iterator[bool]:
    """One processor at a time, so requests are stored in the order they were accepted (an "Order
    Refunded" after its "Order Completed") and wake-ups that find one busy return at once. SQLite:
    a lock file beside the inbox; PostgreSQL: a session advisory lock. Yields False if another
    process holds it."""
    inbox = store()
    if not isinstance(inbox, FileInbox):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK])
            mine = bool(cursor.fetchone()[0])
        try:
            yield mine
        finally:
            if mine:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])
        return
    inbox.path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{inbox.path}.lock", "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _process_next(pk: int | None = None) -> IngestResult | None:
    """Claim the oldest pending requests (up to ``GROUP_REQUESTS``, or request ``pk``) and store
    them; None when nothing is pending. Consecutive requests of one source are stored in one
    transaction (one commit, one identity pass); if that fails, each is stored on its own, so a
    bad request only holds back itself. A claim is a lease: if the worker dies, the requests are
    pending again after ``LEASE_SECONDS`` and storing them again stores nothing twice."""
    inbox = store()
    rows = inbox.claim_many(GROUP_REQUESTS) if pk is None else [r for r in [inbox.claim(pk)] if r is not None]
    if not rows:
        return None
    total = IngestResult()
    start = 0
    while start < len(rows):
        end = start + 1
        while end < len(rows) and rows[end].source_id == rows[start].source_id:
            end += 1
        group = rows[start:end]
        results = _process_group(inbox, group) if len(group) > 1 else None
        for result in results or [_process_row(inbox, row) for row in group]:
            total.accepted += result.accepted
            total.duplicates += result.duplicates
            total.warnings += result.warnings
        start = end
    return total


def _process_group(inbox: DatabaseInbox | FileInbox, rows: list[InboxRow]) -> list[IngestResult] | None:
    """Store requests of one source in one transaction; None (nothing stored) if that fails."""
    try:
        with transaction.atomic():
            source = Source.objects.get(pk=rows[0].source_id)
            requests = [([message_from_json(d) for d in json.loads(r.messages)], r.received_at) for r in rows]
            results = events_store_many(source=source, requests=requests)
            if inbox.transactional:
                for row in rows:
                    inbox.done(row.pk)
    except Exception:
        logger.warning("event inbox requests %s failed together; storing them one by one", [r.pk for r in rows])
        return None
    if not inbox.transactional:
        for row in rows:
            inbox.done(row.pk)
    return results


def _process_row(inbox: DatabaseInbox | FileInbox, row: InboxRow) -> IngestResult:
    try:
        with transaction.atomic():
            source = Source.objects.get(pk=row.source_id)
            messages = [message_from_json(d) for d in json.loads(row.messages)]
            result = events_store(source=source, messages=messages, received_at=row.received_at)
            if inbox.transactional:
                inbox.done(row.pk)
        if not inbox.transactional:
            inbox.done(row.pk)
        return result
    except Exception as exc:
        # A busy database (a lock or statement timeout) and a bad request alike: counted, retried
        # later with a growing delay, and after MAX_ATTEMPTS kept aside as failed, so no request
        # holds back the ones after it.
        logger.exception("event inbox request %s failed", row.pk)
        inbox.fail(row.pk, f"{type(exc).__name__}: {exc}"[:2000])
        return IngestResult()


def inbox_status() -> dict[str, Any]:
    """Pending and failed requests, for the Event sources page, ``danhba events inbox`` and the
    benchmark."""
    return store().status()


def inbox_retry_failed() -> int:
    """Put the requests kept aside as failed back in line (``danhba events inbox --retry-failed``)."""
    count = store().retry_failed()
    if count:
        transaction.on_commit(wake)
    return count


# --- where the inbox lives -------------------------------------------------------------------


@dataclass
class InboxRow:
    pk: int
    source_id: int
    received_at: datetime
    messages: str


class DatabaseInbox:
    """The ``EventInbox`` table of the main database (PostgreSQL: row locks, so a request never
    waits for the worker). Done inside the storing transaction."""

    transactional = True

    def add(self, source_id: int, received_at: datetime, payload: str, count: int) -> int:
        return int(
            EventInbox.objects.create(source_id=source_id, received_at=received_at, messages=payload, count=count).pk
        )

    def claim(self, pk: int | None) -> InboxRow | None:
        now = timezone.now()
        with transaction.atomic():
            pending = (
                EventInbox.objects.select_for_update(skip_locked=True)
                .filter(failed_at__isnull=True)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            )
            row = pending.filter(pk=pk).first() if pk is not None else pending.order_by("id").first()
            if row is None:
                return None
            EventInbox.objects.filter(pk=row.pk).update(claimed_until=now + timedelta(seconds=LEASE_SECONDS))
        return InboxRow(row.pk, row.source_id, row.received_at, row.messages)

    def claim_many(self, limit: int) -> list[InboxRow]:
        now = timezone.now()
        with transaction.atomic():
            rows = list(
                EventInbox.objects.select_for_update(skip_locked=True)
                .filter(failed_at__isnull=True)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .order_by("id")[:limit]
            )
            EventInbox.objects.filter(pk__in=[r.pk for r in rows]).update(
                claimed_until=now + timedelta(seconds=LEASE_SECONDS)
            )
        return [InboxRow(r.pk, r.source_id, r.received_at, r.messages) for r in rows]

    def done(self, pk: int) -> None:
        EventInbox.objects.filter(pk=pk).delete()

    def release(self, pk: int) -> None:
        EventInbox.objects.filter(pk=pk).update(claimed_until=None)

    def fail(self, pk: int, error: str) -> None:
        attempts = (EventInbox.objects.filter(pk=pk).values_list("attempts", flat=True).first() or 0) + 1
        now = timezone.now()
        EventInbox.objects.filter(pk=pk).update(
            attempts=attempts,
            error=error,
            claimed_until=now + timedelta(seconds=retry_delay(attempts)),
            failed_at=now if attempts >= MAX_ATTEMPTS else None,
        )

    def retry_failed(self) -> int:
        return EventInbox.objects.filter(failed_at__isnull=False).update(failed_at=None, attempts=0, claimed_until=None)

    def status(self) -> dict[str, Any]:
        pending = EventInbox.objects.filter(failed_at__isnull=True)
        return {
            "pending_requests": pending.count(),
            "failed_requests": EventInbox.objects.filter(failed_at__isnull=False).count(),
            "oldest_pending": pending.order_by("id").values_list("received_at", flat=True).first(),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Every row, for tests and the command line."""
        fields = ("id", "count", "attempts", "error", "failed_at")
        return [dict(zip(fields, r, strict=True)) for r in EventInbox.objects.order_by("id").values_list(*fields)]


class FileInbox:
    """A SQLite file of its own beside the main database (``EVENT_INBOX_PATH``). SQLite has one
    writer at a time per file: in the main file a request would wait behind the worker's
    transactions (which create contacts), here it waits only for other requests' one-row inserts.
    The request is deleted after the storing transaction commits; if the worker dies in between,
    storing it again finds every messageId claimed and stores nothing twice."""

    transactional = False
    _local = threading.local()

    def __init__(self, path: Path) -> None:
        self.path = path

    def _conn(self) -> sqlite3.Connection:
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(self.path)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, source_id INTEGER NOT NULL, "
                "received_at TEXT NOT NULL, messages TEXT NOT NULL, count INTEGER NOT NULL, "
                "attempts INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', claimed_until REAL, "
                "failed_at TEXT)"
            )
            conns[self.path] = conn
        return conn

    def add(self, source_id: int, received_at: datetime, payload: str, count: int) -> int:
        cur = self._conn().execute(
            "INSERT INTO inbox (source_id, received_at, messages, count) VALUES (?, ?, ?, ?)",
            (source_id, received_at.isoformat(), payload, count),
        )
        return int(cur.lastrowid or 0)

    def claim(self, pk: int | None) -> InboxRow | None:
        now = time.time()
        where = "failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)"
        pick = f"SELECT id FROM inbox WHERE {where} " + ("AND id = ?" if pk is not None else "ORDER BY id LIMIT 1")  # noqa: S608
        args: tuple[Any, ...] = (now, pk) if pk is not None else (now,)
        row = (
            self._conn()
            .execute(
                f"UPDATE inbox SET claimed_until = ? WHERE id = ({pick}) "  # noqa: S608
                "RETURNING id, source_id, received_at, messages",
                (now + LEASE_SECONDS, *args),
            )
            .fetchone()
        )
        if row is None:
            return None
        received_at = parse_datetime(row[2])
        assert received_at is not None
        return InboxRow(int(row[0]), int(row[1]), received_at, row[3])

    def claim_many(self, limit: int) -> list[InboxRow]:
        now = time.time()
        cursor = self._conn().execute(
            "UPDATE inbox SET claimed_until = ? WHERE id IN (SELECT id FROM inbox WHERE failed_at IS NULL "
            "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?) "
            "RETURNING id, source_id, received_at, messages",
            (now + LEASE_SECONDS, now, limit),
        )
        rows = []
        for pk, source_id, received, messages in sorted(cursor.fetchall()):
            received_at = parse_datetime(received)
            assert received_at is not None
            rows.append(InboxRow(int(pk), int(source_id), received_at, messages))
        return rows

    def done(self, pk: int) -> None:
        self._conn().execute("DELETE FROM inbox WHERE id = ?", (pk,))

    def release(self, pk: int) -> None:
        self._conn().execute("UPDATE inbox SET claimed_until = NULL WHERE id = ?", (pk,))

    def fail(self, pk: int, error: str) -> None:
        conn = self._conn()
        row = conn.execute("SELECT attempts FROM inbox WHERE id = ?", (pk,)).fetchone()
        attempts = (row[0] if row else 0) + 1
        conn.execute(
            "UPDATE inbox SET attempts = ?, error = ?, claimed_until = ?, failed_at = ? WHERE id = ?",
            (
                attempts,
                error,
                time.time() + retry_delay(attempts),
                timezone.now().isoformat() if attempts >= MAX_ATTEMPTS else None,
                pk,
            ),
        )

    def retry_failed(self) -> int:
        cur = self._conn().execute(
            "UPDATE inbox SET failed_at = NULL, attempts = 0, claimed_until = NULL WHERE failed_at IS NOT NULL"
        )
        return cur.rowcount

    def status(self) -> dict[str, Any]:
        conn = self._conn()
        pending, oldest = conn.execute(
            "SELECT count(*), min(received_at) FROM inbox WHERE failed_at IS NULL"
        ).fetchone()
        (failed,) = conn.execute("SELECT count(*) FROM inbox WHERE failed_at IS NOT NULL").fetchone()
        return {
            "pending_requests": pending,
            "failed_requests": failed,
            "oldest_pending": parse_datetime(oldest) if oldest else None,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Every row, for tests and the command line."""
        cur = self._conn().execute("SELECT id, count, attempts, error, failed_at FROM inbox ORDER BY id")
        return [dict(zip(("id", "count", "attempts", "error", "failed_at"), r, strict=True)) for r in cur]


def store() -> DatabaseInbox | FileInbox:
    """Where accepted requests wait: a file of their own beside SQLite, the main database otherwise."""
    if connection.vendor == "sqlite":
        return FileInbox(Path(settings.EVENT_INBOX_PATH))
    return DatabaseInbox()
