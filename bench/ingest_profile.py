"""A probe of the event worker in-process: what the drain and the follow-up jobs it wakes cost.

``python bench/ingest_profile.py [--events 100000] [--dir DIR] [--template DIR] [--out OUT.json]``

1. A fresh SQLite database (copied from ``--template`` when it holds a migrated one, else
   migrated with ``danhba migrate`` and kept there: migrating takes minutes) and the bench's
   server source.
2. The inbox filled through ``events_accept`` with ``bench ingest``'s traffic (same seed, devices,
   users; no retried batches), as the API does it.
3. The inbox stored group by group as ``inbox_drain`` does, and after each group (``--every``)
   each follow-up job (``dirty_process`` of quality's freshness, segments, scoring) drained until
   its queue is empty, as the worker's other thread does between the drain's turns at the write
   lock; each part timed by its thread's CPU (``time.thread_time``) and wall clock, with the CPU
   of its SQL statements summed by table (a connection ``execute_wrapper``) and of its commits.

Prints and writes (``--out``) CPU-µs an event per part. Not a benchmark (no baseline): run it
under ``flock /work/bench.lock`` and quote the load. Decision 0007 has its figures.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from bench.import_profile import _kind  # noqa: E402  (after the path)

FILES = ("danhba.sqlite3", "event-inbox.sqlite3")


class Probe:
    """CPU of SQL statements by table and of commits, for the part being timed."""

    def __init__(self) -> None:
        self.sql: Counter[str] = Counter()

    def timed(self, name: str | None, call: Callable[..., Any], *args: Any) -> Any:
        start = time.thread_time()
        try:
            return call(*args)
        finally:
            self.sql[name or _kind(args[0])] += time.thread_time() - start


def install(probe: Probe) -> None:
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    for alias in connections:
        connections[alias].execute_wrappers.append(lambda execute, *args: probe.timed(None, execute, *args))
    commit = BaseDatabaseWrapper._commit
    BaseDatabaseWrapper._commit = lambda self: probe.timed(f"commit {self.alias}", commit, self)  # type: ignore[method-assign]


def prepare(var: Path, template: Path | None) -> None:
    """A migrated database in ``var`` (from ``template`` when it has one; else migrated, and
    kept in ``template``)."""
    if var.exists():
        shutil.rmtree(var)
    var.mkdir(parents=True)
    if template is not None and all((template / f).exists() for f in FILES):
        for name in FILES:
            shutil.copy(template / name, var / name)
        return
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run([sys.executable, "-m", "danhba.cli", "migrate", "-v", "0"], env=env, cwd=REPO, check=True)
    if template is not None:
        template.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copy(var / name, template / name)


def fill(events: int, seed: int, devices: int, users: int) -> int:
    """The inbox filled as the API fills it; returns the events accepted."""
    from django.utils import timezone

    from bench.ingest import Traffic
    from danhba.core.actor import Actor
    from danhba.tracking.inbox import events_accept
    from danhba.tracking.services.messages import parse_message
    from danhba.tracking.services.sources import source_create

    source, _raw = source_create(actor=Actor.system("cli"), name="bench")
    accepted = 0
    for batch in Traffic(seed, devices, users).batches(events):
        now = timezone.now()
        messages = [parse_message(raw, index=i, received_at=now) for i, raw in enumerate(batch)]
        accepted += events_accept(source=source, messages=messages, received_at=now).accepted
    return accepted


class Parts:
    """CPU, wall time and SQL of each part, summed over its runs."""

    def __init__(self, probe: Probe, profiled: str = "") -> None:
        self.probe = probe
        self.parts: dict[str, dict[str, Any]] = {}
        self.profiled = profiled
        self.profiler = cProfile.Profile(time.thread_time)

    def run(self, name: str, call: Callable[[], Any]) -> Any:
        self.probe.sql.clear()
        cpu, wall = time.thread_time(), time.monotonic()
        profiled = self.profiled and name.startswith(self.profiled)
        result = self.profiler.runcall(call) if profiled else call()
        part = self.parts.setdefault(name, {"done": 0, "runs": 0, "cpu_s": 0.0, "wall_s": 0.0, "sql": Counter()})
        part["cpu_s"] += time.thread_time() - cpu
        part["wall_s"] += time.monotonic() - wall
        part["runs"] += 1
        part["sql"].update(self.probe.sql)
        return result

    def report(self, events: int) -> list[dict[str, Any]]:
        us = 1e6 / events
        return [{"part": name, "done": p["done"], "runs": p["runs"], "cpu_s": round(p["cpu_s"], 3),
                 "wall_s": round(p["wall_s"], 3), "cpu_us_an_event": round(p["cpu_s"] * us, 1),
                 "sql_us_an_event": {k: round(v * us, 1) for k, v in p["sql"].most_common(14)}}
                for name, p in self.parts.items()]  # fmt: skip


def drain_all(parts: Parts, jobs: dict[str, Callable[[], int]], every: int) -> None:
    """Store the inbox group by group (as ``inbox_drain``); after every ``every`` groups (0: only
    at the end) drain each follow-up job until its queue is empty, as the worker's other thread
    does between the drain's turns at the write lock."""
    from django.db import DEFAULT_DB_ALIAS

    from danhba.core.db import background_checkpoints
    from danhba.tracking.inbox import _process_next, inbox_database

    def follow_up() -> None:
        for name, step in jobs.items():
            while n := parts.run(name, step):
                parts.parts[name]["done"] += n

    groups = 0
    with background_checkpoints(DEFAULT_DB_ALIAS, inbox_database()) as checkpoint_soon:
        while (stored := parts.run("event drain", _process_next)) is not None:
            parts.parts["event drain"]["done"] += stored.accepted + stored.duplicates
            checkpoint_soon()
            groups += 1
            if every and groups % every == 0:
                follow_up()
    follow_up()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--dir", default=str(REPO / "var" / "bench" / "ingest-profile"))
    parser.add_argument("--template", default="", help="a folder keeping a migrated database between runs")
    parser.add_argument(
        "--every", type=int, default=1, help="drain the follow-up jobs after every N stored groups (0: only at the end)"
    )
    parser.add_argument("--cprofile", default="", help="a part (its name's start) run under cProfile (OUT.prof)")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    var = Path(args.dir).resolve()
    os.environ.update(
        DANHBA_VAR_DIR=str(var), DATABASE_URL=f"sqlite:///{var / FILES[0]}", DJANGO_SETTINGS_MODULE="danhba.settings"
    )
    for name in ("EVENTS_PROCESS_INLINE", "QUALITY_INLINE", "SCORING_INLINE", "SEGMENTS_REFRESH_INLINE"):
        os.environ.pop(name, None)
    prepare(var, Path(args.template).resolve() if args.template else None)
    import django

    django.setup()
    from danhba.quality.services import freshness
    from danhba.scoring.services import dirty as scoring_dirty
    from danhba.segments import services as segments

    started = time.monotonic()
    accepted = fill(args.events, args.seed, args.devices, args.users)
    print(json.dumps({"filled": accepted, "wall_s": round(time.monotonic() - started, 1)}), flush=True)
    probe = Probe()
    install(probe)
    parts = Parts(probe, args.cprofile)
    jobs = {
        "freshness (quality)": lambda: freshness.dirty_process(max_batches=1),
        "dirty contacts (segments)": lambda: segments.dirty_process(max_batches=1),
        "scores (scoring)": lambda: scoring_dirty.dirty_process(max_batches=1),
    }
    drain_all(parts, jobs, args.every)
    report = parts.report(accepted)
    if args.cprofile:
        pstats.Stats(parts.profiler).sort_stats("cumulative").print_stats("danhba", 40)
        if args.out:
            parts.profiler.dump_stats(f"{args.out}.prof")
    for part in report:
        print(json.dumps(part, ensure_ascii=False), flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contact")
        contacts = cursor.fetchone()[0]
    total = sum(p["cpu_us_an_event"] for p in report)
    out = {"events": accepted, "contacts": contacts, "follow_up_every_groups": args.every, "load1": os.getloadavg()[0],
           "cpu_us_an_event": {p["part"]: p["cpu_us_an_event"] for p in report} | {"sum": round(total, 1)},
           "parts": report}  # fmt: skip
    print(json.dumps(out["cpu_us_an_event"] | {"contacts": contacts, "load1": out["load1"]}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
