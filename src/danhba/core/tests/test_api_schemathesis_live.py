"""Schemathesis over HTTP, as an outside client meets danhba: its command line against
``danhba serve`` (gunicorn) in a subprocess, on a freshly migrated database, with an API key.
Examples, coverage, fuzzing and the stateful phase — sequences of calls that follow links from
one answer to the next (create a contact, then read, change and delete it) — within a time
budget; any 5xx, or a 4xx that is not ``{code, message, details}``, fails the test. It finds what
the in-process run cannot: the real HTTP parser, multipart bodies as sent, several processes.

The budget is ``DANHBA_FUZZ_SECONDS`` (default 60); ``DANHBA_FUZZ_SEED`` picks the seed. When the
suite runs on PostgreSQL, the server gets a PostgreSQL database of its own; else a SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

from danhba.core.tests import template_db
from danhba.core.tests.fuzzing import ndjson_events, run_schemathesis
from danhba.core.tests.live import LiveServer, live_server

# database: on PostgreSQL the server gets a database of its own on the run's server (below).
pytestmark = [pytest.mark.slow, pytest.mark.database]

SECONDS = int(os.getenv("DANHBA_FUZZ_SECONDS", "60"))
SEED = int(os.getenv("DANHBA_FUZZ_SEED", "11"))


@contextmanager
def server_database(tmp_path: Path) -> Iterator[str]:
    """A database URL for the server alone: a new PostgreSQL database on the suite's server
    (a copy of the migrated one, ``template_db``; dropped afterwards), or a SQLite file."""
    url = os.getenv("DATABASE_URL", "")
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not url:
        yield f"sqlite:///{tmp_path / 'live.sqlite3'}"
        return
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"danhba_live_{uuid.uuid4().hex[:12]}"
    admin = make_conninfo(**{**conninfo_to_dict(url), "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        template_db.postgres_site(conn, name)
    try:
        yield urlparse(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with server_database(tmp_path) as database_url, live_server(tmp_path / "var", database_url) as live:
        yield live


def _ran_clean(run: subprocess.CompletedProcess[str], server: LiveServer) -> None:
    assert run.returncode == 0, (
        f"schemathesis (seed {SEED}) found failures:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}\n"
        f"--- server log ---\n{server.problems()}"
    )


def test_no_request_over_http_makes_a_server_error(server: LiveServer, tmp_path: Path) -> None:
    # Single requests first (schema examples, boundary values, random data); then the stateful
    # phase on its own share of the budget, so sequences of linked calls get their time.
    single = run_schemathesis(
        server, tmp_path / "single", phases="examples,coverage,fuzzing", seconds=SECONDS * 3 // 5, seed=SEED
    )
    _ran_clean(single, server)
    report_dir = tmp_path / "stateful"
    stateful = run_schemathesis(server, report_dir, phases="stateful", seconds=SECONDS * 2 // 5, seed=SEED)
    _ran_clean(stateful, server)
    # The stateful phase ran scenarios over links between operations.
    events = ndjson_events(report_dir)
    started = [e["PhaseStarted"] for e in events if "PhaseStarted" in e]
    started = [phase for phase in started if phase["phase"]["name"] == "stateful"]
    assert started and started[0]["payload"]["transitions_total"] > 0, started
    scenarios = sum(1 for e in events if "ScenarioFinished" in e)
    assert scenarios > 0, stateful.stdout[-3000:]


def test_long_query_strings_get_a_json_answer_not_the_web_servers_html(server: LiveServer) -> None:
    """gunicorn answered a 6 KB cursor with its own HTML 414, and (with its limit raised to its
    largest, 8,190 bytes) a 10 KB one that schemathesis sent on PostgreSQL. gunicorn now has no
    limit of its own: danhba's (core.longurl.URL_MAX) answers in JSON."""
    import json
    import urllib.error
    import urllib.request

    from danhba.core.keyset import CURSOR_MAX, MAX_PK, encode_cursor

    headers = {"Authorization": f"Bearer {server.api_key}"}
    longest = encode_cursor(["😀" * 255, MAX_PK])
    from danhba.core.longurl import URL_MAX

    cases = ((longest, 200), ("A" * 6000, 422), ("%00" * 1500, 422), ("%C2%87" * 1700, 400), ("B" * URL_MAX, 414))
    for cursor, status in cases:
        request = urllib.request.Request(f"{server.url}/api/segments?cursor={cursor}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                code, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            code, body = exc.code, exc.read()
        assert code == status, body[:300]
        assert isinstance(json.loads(body), dict)
    assert len(longest) <= CURSOR_MAX
