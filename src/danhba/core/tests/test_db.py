"""On SQLite the event inbox is a database file of its own (``core/db.py``): ``danhba migrate``
creates the inbox table there and nothing else, and the main file keeps working beside it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from danhba.core.db import EVENTS_INBOX, Router


def test_only_the_inbox_table_may_go_into_the_inbox_database() -> None:
    router = Router()
    assert router.allow_migrate(EVENTS_INBOX, "tracking", "eventinbox") is True
    assert router.allow_migrate(EVENTS_INBOX, "tracking", "event") is False
    assert router.allow_migrate(EVENTS_INBOX, "contacts", "contact") is False
    assert router.allow_migrate(EVENTS_INBOX, "tracking", None) is False  # RunSQL, RunPython
    assert router.allow_migrate("default", "tracking", "eventinbox") is None


@pytest.mark.slow
def test_migrate_creates_the_inbox_file_with_only_the_inbox_table(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DANHBA_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "EVENT_INBOX_PATH": str(tmp_path / "inbox.sqlite3"),
    }
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "danhba.cli", "migrate", "-v", "0"], env=env, check=True)
    with sqlite3.connect(tmp_path / "inbox.sqlite3") as inbox:
        tables = {r[0] for r in inbox.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables - {"sqlite_sequence"} == {"django_migrations", "tracking_eventinbox"}
    with sqlite3.connect(tmp_path / "danhba.sqlite3") as main:
        assert main.execute("SELECT count(*) FROM contacts_contact").fetchone() == (0,)
