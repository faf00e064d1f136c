"""A probe of the import at full size: what the loading process spends, per window of rows.

``python bench/import_profile.py DB.sqlite3 FILE [FILE…] [--window 100000] [--out OUT.json]``
(the loading process), or ``python bench/import_profile.py --reader FILE [--rows N]`` (the
reading process's steps and its costliest functions under cProfile, see ``reader``).

The database must exist and be migrated (copy an empty migrated file; ``danhba migrate`` takes
minutes). Each file is imported as ``danhba import`` does (the benchmark's mapping, the reading
process in a child), in this process, with:

- the loading process's CPU (``time.process_time``: the child's reading is not in it; its
  threads' included) and its main thread's (``main_cpu_s``: the loader's, without the
  checkpoints and the batches unpacked ahead),
- the main thread's CPU in every SQL statement summed by its table (a connection
  ``execute_wrapper``) and in the commits (``DatabaseWrapper._commit``),

summed per window of ``--window`` rows loaded, so what grows with the table shows. Not a
benchmark (no baseline, no lock of its own): run it under ``flock /work/bench.lock`` and quote
the load. Decision 0024 has its first figures.
"""

from __future__ import annotations

import argparse
import functools
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
        self.main_cpu = time.thread_time()
        self.wall = time.monotonic()

    def timed(self, name: str | None, call: Any, *args: Any) -> Any:
        # The calling thread's CPU: the process has other threads (the checkpoints, the batches
        # unpacked ahead) that run while a statement does.
        start = time.thread_time()
        try:
            return call(*args)
        finally:
            self.sql[name or _kind(args[0])] += time.thread_time() - start

    def loaded(self, rows: int) -> None:
        self.rows += rows
        if self.rows >= self.next:
            self.close()
            self.next += self.window

    def close(self) -> None:
        cpu, main_cpu, wall = time.process_time(), time.thread_time(), time.monotonic()
        window = {"rows_to": self.rows, "cpu_s": round(cpu - self.cpu, 3),
                  "main_cpu_s": round(main_cpu - self.main_cpu, 3), "wall_s": round(wall - self.wall, 3),
                  "load1": os.getloadavg()[0],
                  "sql_s": {k: round(v, 3) for k, v in self.sql.most_common()}}  # fmt: skip
        self.windows.append(window)
        print(json.dumps(window), flush=True)
        self.sql.clear()
        self.cpu, self.main_cpu, self.wall = time.process_time(), time.thread_time(), time.monotonic()


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


def _read(path: str, batch_size: int, limit: int, timed: bool) -> tuple[list[bytes], dict[str, float]]:
    """The reading process's loop (``pipeline.produce``) over the first ``limit`` rows: the
    pickled batches, and CPU seconds per step when ``timed``."""
    import pickle

    from bench.import_bench import MAPPING
    from danhba.ingest import pipeline, transport
    from danhba.ingest.extract import RowReader
    from danhba.ingest.transform import Plan

    clock = time.process_time if timed else (lambda: 0.0)
    spent: Counter[str] = Counter()
    sent: list[bytes] = []
    with open(path, "rb") as handle, pipeline.fewer_collections():
        source = RowReader(handle)
        started = clock()
        rows_in = iter(source)
        first = next(rows_in)
        plan = Plan(MAPPING["columns"], MAPPING["options"], source.headers)
        batch = [plan.prepare(first)]
        spent["plan"] += clock() - started
        then = clock()
        for row in rows_in:
            now = clock()
            spent["extract"] += now - then
            batch.append(plan.prepare(row))
            then = clock()
            spent["prepare"] += then - now
            if len(batch) >= batch_size or row.line > limit:
                sent.append(pickle.dumps(transport.pack(batch), protocol=pickle.HIGHEST_PROTOCOL))
                batch = []
                now = clock()
                spent["pack and pickle"] += now - then
                then = now
            if row.line > limit:
                break
        rows_in.close()  # type: ignore[attr-defined]  (a generator: let it close its file now)
    return sent, dict(spent)


def reader(path: str, rows: int, batch_size: int, top: int) -> dict[str, Any]:
    """The reading process's work on the first ``rows`` rows of ``path``, in this process, as the
    child of ``ingest.pipeline`` does it (``RowReader`` → ``Plan.prepare`` → ``transport.pack``
    → pickle per batch, collector as during an import), under cProfile: CPU-µs a row in all and
    per step, and the functions that cost most (own time, µs a row, cProfile's times scaled to
    the run without it). Then the loader's side of
    the same batches: unpickling and ``transport.unpack``."""
    import cProfile
    import pickle
    import pstats

    from danhba.ingest import pipeline, transport

    read = functools.partial(_read, path, batch_size)
    read(min(rows, 5_000), timed=False)  # warm: imports, Django's first translations
    whole = time.process_time()
    sent, _spent = read(rows, timed=False)
    whole = time.process_time() - whole
    _sent, spent = read(rows, timed=True)  # per step (the clock itself costs about 1 µs a row)
    profiler = cProfile.Profile()
    profiler.enable()
    read(rows, timed=False)
    profiler.disable()
    started = time.process_time()
    with pipeline.fewer_collections():
        loaded = sum(len(transport.unpack(pickle.loads(b))) for b in sent)  # noqa: S301 (our own bytes)
    unpickle = time.process_time() - started
    us = 1e6 / loaded
    stats = pstats.Stats(profiler)
    every = stats.stats.items()  # type: ignore[attr-defined]
    total = sum(own_s for (_f, _l, _n), (_cc, _calls, own_s, _cum, _callers) in every)
    # cProfile slows small calls most: its own times are scaled to the run without it (shares).
    scale = whole / total
    own = sorted(every, key=lambda item: -item[1][2])[:top]
    out = {
        "rows": loaded,
        "cpu_us_a_row": {"all, untimed": round(whole * us, 2)}
        | {k: round(v * us, 2) for k, v in spent.items()}
        | {"all, timed per step": round(sum(spent.values()) * us, 2)},
        "loader_unpickle_us_a_row": round(unpickle * us, 2),
        "bytes_a_row": round(sum(map(len, sent)) / loaded, 1),
        "load1": os.getloadavg()[0],
        "profile_own_us_a_row": [
            {"function": f"{Path(f).name}:{line} {name}", "calls_a_row": round(calls / loaded, 2),
             "own_us": round(own_s * scale * us, 2), "cumulative_us": round(cum_s * scale * us, 2)}
            for (f, line, name), (_cc, calls, own_s, cum_s, _callers) in own
        ],
    }  # fmt: skip
    print(json.dumps(out, indent=1, ensure_ascii=False), flush=True)
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["--reader"]:
        return _reader_main(argv[1:])
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


def _reader_main(argv: list[str]) -> int:
    """``python bench/import_profile.py --reader FILE [--rows 50000] [--batch 5000] [--top 30]
    [--out OUT.json]``: the reading process's profile (``reader``). No database is written; the
    settings' default one must be migrated (the plan reads the stages and users)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "danhba.settings")
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    import django

    django.setup()
    from django.utils import translation

    with translation.override("en"):
        out = reader(args.file, args.rows, args.batch, args.top)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
