"""On SQLite the event inbox is a database file of its own (``core/db.py``): ``danhba migrate``
creates the inbox table there and nothing else, and the main file keeps working beside it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from danhba.core.db import EVENTS_INBOX, WRITE_TURNS, Router, background_checkpoints, write_turn


def test_only_the_inbox_table_may_go_into_the_inbox_database() -> None:
    router = Router()
    assert router.allow_migrate(EVENTS_INBOX, "tracking", "eventinbox") is True
    assert router.allow_migrate(EVENTS_INBOX, "tracking", "event") is False
    assert router.allow_migrate(EVENTS_INBOX, "contacts", "contact") is False
    assert router.allow_migrate(EVENTS_INBOX, "tracking", None) is False  # RunSQL, RunPython
    assert router.allow_migrate("default", "tracking", "eventinbox") is None


STEP_BY_STEP = (
    "import django; django.setup()\n"
    "from django.core.management import call_command\n"
    "from django.core.management.commands.migrate import Command\n"
    "call_command(Command(), database='events_inbox', verbosity=0)\n"
)


def _schema(path: Path) -> tuple[list[tuple[str, ...]], list[tuple[str, str]]]:
    """A database file's schema (every table, index and trigger, as SQLite keeps its SQL) and the
    migrations it has recorded."""
    with sqlite3.connect(path) as db:
        schema = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        applied = db.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall()
    db.close()
    return schema, applied


@pytest.mark.slow
def test_migrate_creates_the_inbox_file_with_only_the_inbox_table(tmp_path: Path) -> None:
    """``danhba migrate`` makes a new inbox file from the main file's schema (core/management/
    commands/migrate.py): what it makes is what migrating the file step by step makes, and the
    next ``danhba migrate`` finds nothing to apply to either file."""
    env = {
        **os.environ,
        "DANHBA_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "EVENT_INBOX_PATH": str(tmp_path / "inbox.sqlite3"),
    }
    env.pop("DATABASE_URL", None)
    migrate = [sys.executable, "-m", "danhba.cli", "migrate", "-v", "1"]
    first = subprocess.run(migrate, env=env, check=True, capture_output=True, text=True).stdout
    assert "Event inbox file made from the main database's schema" in first
    with sqlite3.connect(tmp_path / "inbox.sqlite3") as inbox:
        tables = {r[0] for r in inbox.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables - {"sqlite_sequence"} == {"django_migrations", "tracking_eventinbox"}
    with sqlite3.connect(tmp_path / "danhba.sqlite3") as main:
        assert main.execute("SELECT count(*) FROM contacts_contact").fetchone() == (0,)

    # The same file migrated step by step, as Django's own migrate does it.
    slow = {**env, "EVENT_INBOX_PATH": str(tmp_path / "inbox-step-by-step.sqlite3")}
    subprocess.run([sys.executable, "-c", STEP_BY_STEP], env=slow, check=True)
    made, applied = _schema(tmp_path / "inbox.sqlite3")
    step_made, step_applied = _schema(tmp_path / "inbox-step-by-step.sqlite3")
    assert made == step_made
    assert applied == step_applied and len(applied) > 100

    again = subprocess.run(migrate, env=env, check=True, capture_output=True, text=True).stdout
    assert again.count("No migrations to apply.") == 2, again


@pytest.mark.sqlite
def test_under_background_checkpoints_the_writer_leaves_the_copy_to_the_checkpoint_thread(
    tmp_path: Path, django_db_blocker: Any
) -> None:
    """The event worker's commits do not copy the write-ahead log into the database file (and
    fsync it): the checkpoint thread does, when asked; afterwards the connection checkpoints by
    itself again."""
    alias = "checkpoint_test"
    path = tmp_path / "checkpoints.sqlite3"
    connections.settings[alias] = {**connections.settings["default"], "NAME": str(path)}
    try:
        with django_db_blocker.unblock():
            with connections[alias].cursor() as cursor:
                cursor.execute("CREATE TABLE filler (text TEXT)")
            with background_checkpoints(alias) as checkpoint_soon:
                assert _autocheckpoint(alias) == 0
                with connections[alias].cursor() as cursor:  # 6 MB of log, over the 4 MB threshold
                    cursor.executemany("INSERT INTO filler VALUES (%s)", [["x" * 1000] for _ in range(6000)])
                assert path.stat().st_size < 100_000  # still in the log
                checkpoint_soon()
                deadline = time.monotonic() + 10
                while path.stat().st_size < 6_000_000 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert path.stat().st_size >= 6_000_000
            assert _autocheckpoint(alias) == 1000
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def _autocheckpoint(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return int(cursor.fetchone()[0])


def test_the_checkpoint_thread_outlives_a_failure(monkeypatch: Any) -> None:
    # A failure that is not the database's "busy" (here: a connection this thread may not open)
    # must not end the thread: the checkpoints asked for after it still run.
    import threading

    from danhba.core import db

    calls: list[str] = []
    done = threading.Event()

    def flaky(alias: str) -> None:
        calls.append(alias)
        if len(calls) == 1:
            raise RuntimeError("no database access from this thread")
        done.set()

    monkeypatch.setattr(db, "checkpoint", flaky)
    checkpointer = db.Checkpointer(every=0.01)
    checkpointer.request(["default"])
    while len(calls) < 1:
        threading.Event().wait(0.01)
    first = checkpointer._thread
    checkpointer.request(["default"])
    assert done.wait(5)
    assert calls == ["default", "default"] and checkpointer._thread is first and first.is_alive()


@pytest.mark.sqlite  # PostgreSQL locks rows: no turns (left out of the PostgreSQL pass, not skipped)
def test_write_turns_hand_the_lock_to_the_thread_that_waited() -> None:
    """A thread that ends its turn and asks again goes behind the thread already waiting, not
    ahead of it (SQLite's busy handler let the thread that just committed win again)."""
    order: list[str] = []
    holding, b_queued = threading.Event(), threading.Event()

    def a() -> None:
        with write_turn():
            order.append("a")
            holding.set()
            b_queued.wait(5)
        with write_turn():  # at once: B has waited longer
            order.append("a again")

    def b() -> None:
        holding.wait(5)
        with write_turn():
            order.append("b")

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while not WRITE_TURNS._queue and time.monotonic() < deadline:
        time.sleep(0.01)
    b_queued.set()
    for thread in threads:
        thread.join(10)
    assert order == ["a", "b", "a again"]


@pytest.mark.sqlite
@pytest.mark.django_db
def test_checkpoints_beside_leave_the_connections_own_checkpoint_on(
    tmp_path: Path, django_db_blocker: Any, monkeypatch: Any
) -> None:
    """The function asks the checkpoint thread for the file's alias and changes nothing of the
    connection (its automatic checkpoint starts the log again); an in-memory database asks
    nothing. (``django_db``: "default" is the suite's in-memory database only when a test of the
    session asks for the database; run alone, or on an xdist worker given no such test, it was
    the site's file.)"""
    from danhba.core import db

    asked: list[list[str]] = []
    monkeypatch.setattr(db.CHECKPOINTER, "request", lambda aliases: asked.append(list(aliases)))
    alias = "beside_test"
    connections.settings[alias] = {**connections.settings["default"], "NAME": str(tmp_path / "beside.sqlite3")}
    try:
        with django_db_blocker.unblock():
            soon = db.checkpoints_beside(alias)
            soon()
            assert asked == [[alias]]
            assert _autocheckpoint(alias) == 1000
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
    db.checkpoints_beside("default")()  # the suite's in-memory database
    assert asked == [[alias]]
