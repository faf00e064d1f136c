"""Database aliases beyond ``default``.

On SQLite the event inbox (``tracking.EventInbox``) lives in a database file of its own, the
``events_inbox`` alias (settings.py; docs/decisions/0002-event-inbox-file.md): SQLite has one
writer at a time per file, and in the main file an event request would wait behind the worker's
transactions, which create contacts. On PostgreSQL (row locks) there is no such alias and the
table is in the main database.

The table is created in both files (every migration runs on ``default``; ``danhba migrate``
then runs the inbox's migrations on ``events_inbox``; a new inbox file is made from the main
file's schema instead, ``inbox_from_main`` below), so the main file's copy stays
empty.
In the test suite the alias mirrors ``default`` (its ``TEST: MIRROR``), and the router then
sends the inbox to ``default`` too: one connection, one transaction per test.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Model

log = logging.getLogger(__name__)

EVENTS_INBOX = "events_inbox"
INBOX_TABLE = "tracking_eventinbox"
_MODELS = frozenset({"tracking.eventinbox"})


def inbox_from_main() -> int:
    """Make the new inbox file's schema from the main file's: the inbox table as it is there, and
    the migrations the main file has applied. Returns how many were recorded."""
    with connections[DEFAULT_DB_ALIAS].cursor() as main:
        main.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL ORDER BY type <> 'table', name",
            [INBOX_TABLE],
        )
        schema = [row[0] for row in main.fetchall()]
        main.execute("SELECT app, name, applied FROM django_migrations ORDER BY id")
        applied = main.fetchall()
    inbox = connections[EVENTS_INBOX]
    # Outside the transaction (SQLite's schema editor needs foreign key checks off). Should the
    # rest fail, the file has the table and no migration: the next migrate goes step by step.
    MigrationRecorder(inbox).ensure_schema()
    with transaction.atomic(using=EVENTS_INBOX), inbox.cursor() as cursor:
        for statement in schema:
            cursor.execute(statement)
        cursor.executemany("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", applied)
    return len(applied)


def separate_inbox() -> bool:
    """Whether the ``events_inbox`` alias is a database of its own (not absent, not a mirror)."""
    if EVENTS_INBOX not in connections.settings:
        return False
    return bool(connections[EVENTS_INBOX].settings_dict["NAME"] != connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])


class Router:
    def _db(self, model: type[Model]) -> str | None:
        # getattr: the database cache asks with a stand-in model whose _meta has no label.
        if getattr(model._meta, "label_lower", "") in _MODELS and separate_inbox():
            return EVENTS_INBOX
        return None

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if db == EVENTS_INBOX:
            return f"{app_label}.{model_name}" in _MODELS
        return None


# --- SQLite checkpoints off the writer's thread -------------------------------------------------


class Checkpointer:
    """Copies SQLite write-ahead logs into their database files on a thread of its own.

    A SQLite connection checkpoints by itself when a commit leaves the log over
    ``wal_autocheckpoint`` pages, and that commit waits for the copy and its two fsyncs: the
    event worker's transactions write a few megabytes each, so nearly every one of them paid it
    (66 ms a commit, a seventh of the worker's time). :func:`background_checkpoints` turns that
    off for the calling thread's connections and has this thread copy the logs instead, PASSIVE
    (it waits for no writer), at most every ``every`` seconds, while the writer goes on."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def request(self, aliases: Iterable[str]) -> None:
        with self._lock:
            self._wanted.update(aliases)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                aliases, self._wanted = sorted(self._wanted), set()
            for alias in aliases:
                try:
                    checkpoint(alias)
                except Exception:  # the thread must outlive any one failure
                    # Not the database saying busy (checkpoint() handles that): a connection
                    # this thread may not open, say. The next request tries again.
                    log.warning("checkpoint of %s failed", alias, exc_info=True)
            time.sleep(self.every)


def checkpoint(alias: str) -> None:
    """``PRAGMA wal_checkpoint(PASSIVE)`` on this thread's connection to ``alias`` (SQLite files)."""
    if not _sqlite_file(alias):
        return
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except DatabaseError:
        # Busy or gone: the next request tries again, and a connection with automatic
        # checkpoints on does it at a commit.
        log.warning("checkpoint of %s failed", alias, exc_info=True)


def analyze(*models: type[Model]) -> None:
    """Fresh planner statistics for these models' tables, on PostgreSQL (``ANALYZE``: a sample
    of about 30,000 rows a table). SQLite's planner takes an index for a lookup without any; on
    PostgreSQL a table grown from a few rows to a million by a bulk load has none that fit until
    autovacuum comes by, and a server may run without it."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or not models:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(quote(m._meta.db_table) for m in models))


def _sqlite_file(alias: str) -> bool:
    conn = connections[alias]
    return conn.vendor == "sqlite" and not getattr(conn, "is_in_memory_db", lambda: True)()


CHECKPOINTER = Checkpointer()


# --- the worker's threads take turns at SQLite's write lock -------------------------------------


class WriteTurns:
    """The threads of one process take turns at a SQLite file's write lock, first come first
    served. Left to SQLite, a thread that finds the lock taken sleeps in the busy handler (1, 2,
    5 … up to 100 ms between looks) and the thread that just committed takes it again first: in
    the worker, the event drain and the segment, freshness and scoring drains (each a loop of
    short transactions) lost tens of milliseconds at each hand-over, and the worker sat idle for
    about a fifth of a bench drain (decision 0007, 2026-12-07). A turn is taken around a unit of
    writing work (a stored group of requests, one batch of a drain); another process (a web
    process, an import) still meets SQLite's busy handler. PostgreSQL locks rows: no turns."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()
        self._owner: int | None = None

    @contextmanager
    def turn(self, alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
        conn = connections[alias]
        me = threading.get_ident()
        # Inside a transaction this thread may hold the lock already: waiting for a turn then
        # could wait for a thread that waits for that lock.
        if conn.vendor != "sqlite" or self._owner == me or conn.in_atomic_block:
            yield
            return
        with self._cond:
            self._queue.append(me)
            while self._owner is not None or self._queue[0] != me:
                self._cond.wait()
            self._queue.popleft()
            self._owner = me
        try:
            yield
        finally:
            with self._cond:
                self._owner = None
                self._cond.notify_all()


WRITE_TURNS = WriteTurns()
write_turn = WRITE_TURNS.turn


@contextmanager
def background_checkpoints(*aliases: str) -> Iterator[Callable[[], None]]:
    """Within: the calling thread's connections to ``aliases`` (SQLite files) do not checkpoint
    at their commits; call the function this yields after a commit to have the
    :class:`Checkpointer` do it. After: their setting is what it was, and one more checkpoint is
    asked for."""
    files = [a for a in aliases if _sqlite_file(a)]
    before: dict[str, int] = {}
    for alias in files:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            before[alias] = int(cursor.fetchone()[0])
            cursor.execute("PRAGMA wal_autocheckpoint = 0")

    def soon() -> None:
        if files:
            CHECKPOINTER.request(files)

    try:
        yield soon
    finally:
        for alias, pages in before.items():
            with connections[alias].cursor() as cursor:
                cursor.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        soon()


def checkpoints_beside(alias: str) -> Callable[[], None]:
    """A function to call after a commit on ``alias`` (a SQLite file): the :class:`Checkpointer`
    then copies the log into the database on its own thread, while the caller goes on writing.
    Unlike :func:`background_checkpoints`, the caller's connection keeps its automatic
    checkpoint: SQLite starts the log again from its beginning only when a write transaction
    begins with every frame of it copied, which a writer that commits again at once never finds
    if nothing but the thread copies (the log of a 1M-row import grew past 1.6 GB that way,
    decision 0027, session 4). Crossing ``wal_autocheckpoint``, the connection's own checkpoint
    now copies only what the thread has not yet, and the log starts again after it."""
    if not _sqlite_file(alias):
        return lambda: None
    return lambda: CHECKPOINTER.request([alias])


def protected_references(obj: Model, limit: int = 5) -> list[str]:
    """What keeps ``obj`` from being deleted: rows of other apps that point at it through a
    ``PROTECT`` foreign key (a price list's customer group, a campaign's topic), as
    "price list “Đại lý cấp 1”", at most ``limit`` of them. A service asks before it deletes
    anything, so a delete is refused whole with a message naming them (409), not half done."""
    from django.db.models import PROTECT, ForeignObjectRel

    found: list[str] = []
    # include_hidden: a foreign key with related_name="+" still protects.
    for relation in obj._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.on_delete is not PROTECT:
            continue
        if relation.many_to_many or not isinstance(relation.related_model, type):
            continue
        model = relation.related_model
        rows = model._default_manager.filter(**{relation.field.name: obj})[: limit - len(found)]
        found.extend(f"{model._meta.verbose_name} “{row}”" for row in rows)
        if len(found) >= limit:
            break
    return found
