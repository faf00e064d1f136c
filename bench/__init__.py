"""danhba's benchmarks: each measures danhba and a baseline in the same run, on data it generates
from a fixed seed, prints a table and writes ``bench/results/NAME.json``. See ``bench/README.md``."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
# Generated databases live under var/, which git ignores.
DATA_DIR = REPO_DIR / "var" / "bench"
# Set by the smoke tests (bench/test_bench_smoke.py): a fresh SQLite database is a copy of one
# migrated once (danhba/core/tests/template_db.py), not migrated again; a benchmark's own runs migrate.
COPY_MIGRATED = os.getenv("DANHBA_BENCH_COPY_MIGRATED", "") == "1"
BENCHMARKS = ("search", "import", "ingest", "segments", "email", "automation", "scoring", "quality", "duplicates")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest rank), mean and max of latencies in milliseconds."""
    if not samples_ms:
        return {"n": 0}
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": round(rank(50), 3),
        "p95": round(rank(95), 3),
        "p99": round(rank(99), 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "max": round(ordered[-1], 3),
    }


def memory_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    import django

    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory_total_bytes(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "django": django.get_version(),
    }
    try:
        import psycopg

        info["psycopg"] = psycopg.__version__
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return info


def write_results(name: str, data: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write ``NAME.json`` atomically (a ``.tmp`` file renamed into place)."""
    out = Path(out_dir or RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    from bench.machine import load_during_run

    data = {"benchmark": name, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **data}
    data.setdefault("machine_load", load_during_run())
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)
    return path


def fresh_django_database(name: str, contacts: int, database_url: str, **settings: str) -> str:
    """Point Django at an empty database for a benchmark and migrate it: a new SQLite file under
    ``DATA_DIR`` (``NAME-CONTACTS.sqlite3``) unless ``database_url`` names one; a PostgreSQL
    database is emptied only when its name contains "bench". ``settings`` go to the environment
    before Django starts. Returns the database vendor."""
    import urllib.parse

    url = database_url or f"sqlite:///{DATA_DIR / f'{name}-{contacts}.sqlite3'}"
    var = DATA_DIR / f"{name}-var"
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    elif "bench" not in urllib.parse.urlparse(url).path:
        raise SystemExit("refusing to empty a PostgreSQL database whose name does not contain 'bench'")
    var.mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=url, DANHBA_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="danhba.settings")
    os.environ.update(settings)
    import django

    django.setup()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate_fresh()
    return str(connection.vendor)


def migrate_fresh() -> None:
    """``migrate`` of the fresh database Django points at (``COPY_MIGRATED``: on SQLite, copies
    of the files a first real ``danhba migrate`` made, as the suite's subprocess tests get)."""
    from django.core.management import call_command
    from django.db import connections

    from danhba.core.db import EVENTS_INBOX, separate_inbox

    def migrate() -> None:
        call_command("migrate", verbosity=0, interactive=False)

    main = connections["default"]
    if not COPY_MIGRATED or main.vendor != "sqlite" or not separate_inbox():
        migrate()
        return
    from danhba.core.tests import template_db

    files = {"main": Path(main.settings_dict["NAME"]), "inbox": Path(connections[EVENTS_INBOX].settings_dict["NAME"])}
    connections.close_all()
    template_db.sqlite_site(files, migrate)
