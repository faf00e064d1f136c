"""A probe of the import at full size: what the loading process spends, per window of rows.

``python bench/import_profile.py DB.sqlite3 FILE [FILE…] [--window 100000] [--out OUT.json]``

The database must exist and be migrated (copy an empty migrated file; ``danhba migrate`` takes
minutes). Each file is imported as ``danhba import`` does (the benchmark's mapping, the reading
process in a child), in this process, with:

- the loading process's CPU (``time.process_time``: the child's reading is not in it),
- the CPU of every SQL statement summed by its table (a connection ``execute_wrapper``) and of
  the commits (``DatabaseWrapper._commit``),

summed per window of ``--window`` rows loaded, so what grows with the table shows. Not a
benchmark (no baseline, no lock of its own): run it under ``flock /work/bench.lock`` and quote
the load. Decision 0024 has its first figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_TABLE = re.compile(
    r'^\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM|CREATE INDEX \S+ ON|DROP INDEX)\s+"?(\w+)"?', re.S
)


def _kind(sql: str) -> str:
    found = _TABLE.match(sql)
    if found:
        verb = found.group(1).split()[0].lower()
        return f"{found.group(2)} ({verb})"
    return sql.split(None, 1)[0].lower() if sql.strip() else "?"


class Probe:
    """CPU of the loading process, of SQL by table, of commits and of ``contacts_changed`` (its
    listeners, their SQL included), per window of rows loaded."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.sql: Counter[str] = Counter()
        self.windows: list[dict[str, Any]] = []
        self.rows = 0
        self.next = window
        self.cpu = time.process_time()
        self.wall = time.monotonic()

    def timed(self, name: str | None, call: Any, *args: Any) -> Any:
        start = time.process_time()
        try:
            return call(*args)
        finally:
            self.sql[name or _kind(args[0])] += time.process_time() - start

    def loaded(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= self.next:
            self.close()
            self.next += self.window

    def close(self) -> None:
        cpu, wall = time.process_time(), time.monotonic()
        window = {"rows_to": self.rows, "cpu_s": round(cpu - self.cpu, 3), "wall_s": round(wall - self.wall, 3),
                  "load1": os.getloadavg()[0],
                  "sql_s": {k: round(v, 3) for k, v in self.sql.most_common()}}  # fmt: skip
        self.windows.append(window)
        print(json.dumps(window), flush=True)
        self.sql.clear()
        self.cpu, self.wall = time.process_time(), time.monotonic()


def install(probe: Probe) -> None:
    """Wrap the connection's statements and commits, the loader's batches, the fan-out."""
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    from danhba.contacts import writer
    from danhba.ingest import load

    connection.execute_wrappers.append(lambda execute, *args: probe.timed(None, execute, *args))
    commit = BaseDatabaseWrapper._commit
    BaseDatabaseWrapper._commit = lambda self: probe.timed("commit", commit, self)  # type: ignore[method-assign]
    changed = writer.contacts_changed
    writer.contacts_changed = lambda **kw: probe.timed("contacts_changed (listeners, SQL included)",  # type: ignore[assignment]
                                                       lambda: changed(**kw))  # fmt: skip
    loader_load = load.Loader.load

    def counted(self: Any, items: list[Any], last_line: int) -> Any:
        outcome = loader_load(self, items, last_line)
        probe.loaded(len(items))
        return outcome

    load.Loader.load = counted  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.database).resolve()}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    import django

    django.setup()
    from django.core.management import call_command

    from bench.import_bench import MAPPING

    probe = Probe(args.window)
    install(probe)
    mapping = Path(args.database).with_suffix(".mapping.json")
    mapping.write_text(json.dumps(MAPPING, ensure_ascii=False))
    for path in args.files:
        started = time.process_time()
        call_command("import", path, source="import", legal_basis="contract", mapping=str(mapping),
                     no_progress=True, json=True)  # fmt: skip
        print(json.dumps({"file": path, "cpu_s": round(time.process_time() - started, 3)}), flush=True)
    probe.close()  # the rest, and the end of the last import (the list indexes built again)
    if args.out:
        Path(args.out).write_text(json.dumps(probe.windows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
