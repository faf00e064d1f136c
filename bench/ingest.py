"""Benchmark ``ingest`` — TARGETS.md row "event ingestion": Segment-format ``POST /v1/batch`` with
100 events per request, from a separate load process; ≥ 10,000 events/s sustained and p99 per
request ≤ 100 ms.

1. A fresh database migrated by ``danhba migrate`` and one server source with its write key.
2. The real server (``danhba serve --no-worker``: gunicorn) on that database.
3. A separate load process generates the requests from a fixed seed before its clock starts (page
   views from anonymous devices, product and cart events, identifies that name devices with an
   email and phone, events by known user ids, a share of batches sent twice as an SDK retry would),
   then posts them over keep-alive connections from ``--clients`` threads. Every request is timed
   on the client side; the events/s is accepted events over the wall time of the run, and the
   slowest 5-second window is reported too (sustained, not a burst).
4. Checks that the database holds exactly the accepted events and that every retried batch came
   back as duplicates.
5. Baseline, in the same run: the same events as rows, raw bulk INSERT (``executemany``, one
   transaction per 100 rows) into a copy of the events table with its indexes, no HTTP, no
   parsing, no identity resolution.

``python -m bench ingest [--events N] [--quick] [--clients N] [--web-workers N] [--drainers N] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import COPY_MIGRATED, DATA_DIR, REPO_DIR, machine_info, percentiles, write_results
from bench.search import free_port

NAME = "ingest"
TARGET_EVENTS_PER_SECOND = 10_000
TARGET_P99_MS = 100.0
BATCH = 100
DEFAULT_EVENTS = 300_000
QUICK_EVENTS = 20_000
RETRY_SHARE = 0.01  # batches sent a second time, as an SDK does after a timeout
WINDOW_SECONDS = 5.0
WEB_ARGUMENT = "danhba.wsgi:application"  # how the web processes are told from the worker
EVENT_NAMES = ("Product Viewed", "Product Added", "Cart Viewed", "Checkout Started", "Signed Up", "Video Played")
PATHS = ("/", "/san-pham", "/san-pham/ao-thun", "/gio-hang", "/khuyen-mai", "/lien-he", "/blog/meo-hay")


@dataclass
class Target:
    url: str
    vendor: str
    sqlite_path: Path | None
    var_dir: Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None, help=f"events to send (default {DEFAULT_EVENTS:,})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive connections (default 8)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument(
        "--drainers", type=int, default=1, help="PostgreSQL: the worker's inbox drainers (danhba serve --drainers)"
    )
    parser.add_argument("--devices", type=int, default=100_000, help="anonymous devices in the traffic")
    parser.add_argument("--users", type=int, default=30_000, help="known users (user ids) in the traffic")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file under var/bench/")
    parser.add_argument("--out", default="", help="directory for ingest.json (default bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database after the run")
    parser.add_argument(
        "--drain-timeout", type=float, default=3600, help="seconds to wait for the worker after the load (default 3600)"
    )
    # Internal: the load process.
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--report", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else DEFAULT_EVENTS
    args.events = max(BATCH, args.events - args.events % BATCH)
    return args


def resolve_target(args: argparse.Namespace) -> Target:
    url = args.database_url or ""
    if not url:
        url = f"sqlite:///{DATA_DIR / 'ingest.sqlite3'}"
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return Target(f"sqlite:///{path}", "sqlite", path, path.parent / f"{path.stem}-var")
    dbname = urllib.parse.urlparse(url).path.lstrip("/")
    if "bench" not in dbname:
        raise SystemExit(f"refusing to empty database '{dbname}': its name must contain 'bench'")
    return Target(url, "postgresql", None, DATA_DIR / f"{dbname}-var")


def server_env(target: Target) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": target.url,
        "DANHBA_VAR_DIR": str(target.var_dir),
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "DEBUG": "0",
        # The worker's log at INFO: each drain of the event inbox logs its CPU and its wait for
        # the write lock (worker_drains below).
        "WORKER_LOG_LEVEL": "INFO",
    }


def reset_database(target: Target) -> None:
    if target.sqlite_path is not None:
        for path in (target.sqlite_path, target.var_dir / "event-inbox.sqlite3"):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def prepare(target: Target) -> str:
    """Migrate a fresh database and create the server source; returns its write key."""
    reset_database(target)
    target.var_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(target)
    if COPY_MIGRATED and target.sqlite_path is not None:
        from danhba.core.tests.live import site_migrate

        site_migrate(env)
    else:
        subprocess.run([sys.executable, "-m", "danhba.cli", "migrate", "-v", "0"], env=env, cwd=REPO_DIR, check=True)
    code = (
        "import django; django.setup()\n"
        "from danhba.core.actor import Actor\n"
        "from danhba.tracking.services.sources import source_create\n"
        "_, raw = source_create(actor=Actor.system('cli'), name='bench')\n"
        "print(raw)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO_DIR, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


# --- the traffic -----------------------------------------------------------------------------


class Traffic:
    """Batches of Segment messages from a fixed seed. Devices and users are drawn from pools, so
    identity resolution sees returning visitors, devices that get identified, and known users."""

    def __init__(self, seed: int, devices: int, users: int) -> None:
        self.rng = random.Random(seed)
        self.devices = devices
        self.users = users
        self.now = datetime.now(UTC)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def message(self) -> dict[str, Any]:
        rng = self.rng
        device = f"d-{rng.randrange(self.devices):07d}"
        user = rng.randrange(self.users)
        ts = (self.now - timedelta(seconds=rng.uniform(0, 30))).isoformat()
        base = {"messageId": self._uuid(), "timestamp": ts, "context": {"ip": f"113.161.{user % 250}.{user % 199}"}}
        roll = rng.random()
        if roll < 0.55:
            path = rng.choice(PATHS)
            base["context"]["userAgent"] = "Mozilla/5.0 (Linux; Android 14) Chrome/130.0 Mobile"
            if rng.random() < 0.2:
                base["context"]["campaign"] = {"source": "facebook", "medium": "cpc", "name": "tet-2027"}
            return {
                **base,
                "type": "page",
                "anonymousId": device,
                "name": path.strip("/") or "home",
                "properties": {
                    "path": path,
                    "url": f"https://shop.example.vn{path}",
                    "title": "Cửa hàng",
                    "referrer": "",
                },
            }
        if roll < 0.85:
            props = {
                "product_id": f"SP{rng.randrange(5000):05d}",
                "price": rng.randrange(50, 2000) * 1000,
                "currency": "VND",
            }
            message = {**base, "type": "track", "event": rng.choice(EVENT_NAMES), "properties": props}
            if rng.random() < 0.5:
                message["userId"] = f"u{user}"
            else:
                message["anonymousId"] = device
            return message
        return {
            **base,
            "type": "identify",
            "userId": f"u{user}",
            "anonymousId": device,
            "traits": {
                "email": f"khach{user}@example.vn",
                "phone": f"09{user % 100_000_000:08d}",
                "name": f"Khách {user}",
            },
        }

    def batches(self, events: int) -> list[list[dict[str, Any]]]:
        return [[self.message() for _ in range(BATCH)] for _ in range(events // BATCH)]


# --- the load process ------------------------------------------------------------------------


def load_main(args: argparse.Namespace) -> int:
    """Runs in its own process: build every request body, then post them as fast as the server
    answers and write the timings to ``--report``."""
    traffic = Traffic(args.seed, args.devices, args.users)
    batches = traffic.batches(args.events)
    sent_at = datetime.now(UTC).isoformat()
    bodies = [json.dumps({"batch": b, "sentAt": sent_at}, ensure_ascii=False).encode() for b in batches]
    rng = random.Random(args.seed + 1)
    retries = sorted(rng.sample(range(len(bodies)), max(1, int(len(bodies) * RETRY_SHARE))))
    # A retry goes out some requests after the original, like an SDK's backoff.
    plan = list(range(len(bodies)))
    for i in retries:
        plan.insert(min(len(plan), plan.index(i) + 1 + rng.randrange(20)), -(i + 1))
    headers = {
        "Authorization": "Basic " + b64encode(f"{args.key}:".encode()).decode(),
        "Content-Type": "application/json",
    }
    lock = threading.Lock()
    cursor = iter(plan)
    records: list[tuple[float, float, int, int, int, bool]] = []  # start, ms, status, accepted, duplicates, retry
    errors: list[str] = []

    def next_index() -> int | None:
        with lock:
            return next(cursor, None)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        while (index := next_index()) is not None:
            retry = index < 0
            body = bodies[-index - 1 if retry else index]
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/batch", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
                with lock:
                    errors.append(repr(exc))
                continue
            ms = (time.perf_counter() - started) * 1000
            accepted = duplicates = 0
            if response.status == 200:
                answer = json.loads(data)
                accepted, duplicates = answer.get("accepted", 0), answer.get("duplicates", 0)
            else:
                with lock:
                    errors.append(f"HTTP {response.status}: {data[:200]!r}")
            with lock:
                records.append((started, ms, response.status, accepted, duplicates, retry))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    Path(args.report).write_text(
        json.dumps(
            {
                "wall_seconds": wall,
                "began": began,
                "requests": len(plan),
                "retried_batches": len(retries),
                "records": records,
                "errors": errors[:50],
                "error_count": len(errors),
            }
        )
    )
    return 0


# --- the server and the run ------------------------------------------------------------------


@contextlib.contextmanager
def server(target: Target, port: int, workers: int, log: Path, drainers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    # With its worker: the API accepts into the event inbox and the worker stores and resolves.
    cmd = [sys.executable, "-m", "danhba.cli", "serve", "--port", str(port), "--workers", str(workers)]
    cmd += ["--drainers", str(drainers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=server_env(target), stdout=out, stderr=subprocess.STDOUT, cwd=REPO_DIR, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v1/danhba.js")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s; see {log}")


def has_argument(cmdline: bytes, argument: str) -> bool:
    """Whether a process's ``/proc/PID/cmdline`` (NUL-separated) has ``argument`` as one of its
    arguments, whole."""
    return argument.encode() in cmdline.split(b"\0")


def worker_cpu_seconds(server_pid: int, argument: str = "worker") -> float:
    """CPU seconds (user + system) used so far by the processes under the server that have
    ``argument`` among their arguments: the background worker (``danhba worker``) by default,
    its own cost, which the machine's other work does not inflate the way it stretches wall
    time; the web processes with ``danhba.wsgi:application``. 0 where /proc is not readable."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    under = {server_pid}
    for _ in range(4):  # serve → worker (→ its children)
        under |= {pid for pid, parent in parents.items() if parent in under}
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in under:
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The argument itself: gunicorn's "--workers" contains "worker" too, and counting
            # the web processes made the API's CPU look like the worker's.
            if not has_argument(Path(f"/proc/{pid}/cmdline").read_bytes(), argument):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


DRAIN_LOG = re.compile(
    r"event inbox(?: partition (\d+))?: (\d+) messages in ([\d.]+) s, ([\d.]+) s CPU, "
    r"([\d.]+) s waiting for the write lock"
)


def worker_drains(log: Path) -> dict[str, Any]:
    """What the worker's drains of the event inbox logged (``inbox.inbox_drain``): messages,
    seconds, the drainer threads' own CPU and their wait for the write lock, summed."""
    totals = {"drains": 0, "messages": 0, "seconds": 0.0, "cpu_seconds": 0.0, "lock_wait_seconds": 0.0}
    for match in DRAIN_LOG.finditer(log.read_text(errors="replace") if log.exists() else ""):
        totals["drains"] += 1
        totals["messages"] += int(match[2])
        totals["seconds"] += float(match[3])
        totals["cpu_seconds"] += float(match[4])
        totals["lock_wait_seconds"] += float(match[5])
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in totals.items()}


def scalar(target: Target, sql: str) -> int:
    if target.sqlite_path is not None:
        with contextlib.closing(sqlite3.connect(target.sqlite_path, timeout=60)) as conn:
            return int(conn.execute(sql).fetchone()[0])
    import psycopg

    with psycopg.connect(target.url) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


def inbox_count(target: Target, failed: bool) -> int:
    """Requests in the event inbox: a database file of its own beside SQLite (the
    ``events_inbox`` alias), a table of the main database on PostgreSQL."""
    condition = "failed_at IS NOT NULL" if failed else "failed_at IS NULL"
    separate = os.getenv("EVENT_INBOX_SEPARATE", "1").strip().lower() in {"1", "true", "yes", "on"}
    if target.sqlite_path is not None and separate:
        path = target.var_dir / "event-inbox.sqlite3"
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(path, timeout=60)) as conn:
            sql = f"SELECT count(*) FROM tracking_eventinbox WHERE {condition}"  # noqa: S608
            return int(conn.execute(sql).fetchone()[0])
    return scalar(target, f"SELECT count(*) FROM tracking_eventinbox WHERE {condition}")  # noqa: S608


def wait_drained(target: Target, timeout: float) -> tuple[float, bool]:
    """Seconds until the worker has processed every accepted request (the inbox holds no pending
    row), and whether that happened within ``timeout``."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if inbox_count(target, failed=False) == 0:
            return time.perf_counter() - started, True
        time.sleep(0.5)
    return time.perf_counter() - started, False


class LoadSampler:
    """The machine's 1-minute load average every few seconds while the benchmark runs: the
    machine is shared, and a figure means little without what else was running."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        return {
            "load_average_1m": {
                "start": round(self.samples[0], 2),
                "mean": round(sum(self.samples) / len(self.samples), 2),
                "max": round(max(self.samples), 2),
                "end": round(self.samples[-1], 2),
            },
            "cpu_count": cores,
            # The run itself keeps about two processes busy (server + load), on a 2-core machine.
            "other_work_competed": self.samples[0] > 1.0,
        }


def windows(records: list[list[Any]], began: float) -> list[float]:
    """Accepted events/s in each full ``WINDOW_SECONDS`` window of the run, by request end."""
    if not records:
        return []
    buckets: dict[int, int] = {}
    last = 0.0
    for start, ms, _status, accepted, _dup, _retry in records:
        end = start + ms / 1000 - began
        last = max(last, end)
        buckets[int(end // WINDOW_SECONDS)] = buckets.get(int(end // WINDOW_SECONDS), 0) + accepted
    full = int(last // WINDOW_SECONDS)
    return [buckets.get(i, 0) / WINDOW_SECONDS for i in range(full)]


# --- the baseline ----------------------------------------------------------------------------


def baseline_rows(args: argparse.Namespace) -> list[tuple[Any, ...]]:
    traffic = Traffic(args.seed, args.devices, args.users)
    received = datetime.now(UTC).isoformat()
    rows = []
    for batch in traffic.batches(args.events):
        for m in batch:
            rows.append(
                (
                    1,
                    m["messageId"],
                    m["type"],
                    m.get("event") or m.get("name") or "",
                    None,
                    m.get("anonymousId", ""),
                    m.get("userId", ""),
                    m["timestamp"],
                    m["timestamp"],
                    received,
                    received,
                    json.dumps(m.get("properties", {}), ensure_ascii=False),
                    json.dumps(m.get("context", {}), ensure_ascii=False),
                    json.dumps(m.get("traits", {}), ensure_ascii=False),
                )
            )
    return rows


COLUMNS = (
    "source_id, message_id, type, name, contact_id, anonymous_id, user_id, timestamp, original_timestamp, "
    "sent_at, received_at, properties, context, traits"
)


def run_baseline(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """Raw bulk INSERT of the same events into a copy of the events table (same columns and
    indexes), 100 rows per transaction as the API writes them, in this process."""
    rows = baseline_rows(args)
    if target.sqlite_path is not None:
        path = target.sqlite_path.with_name(target.sqlite_path.stem + "-baseline.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(target.sqlite_path)) as src:
            ddl = [
                r[0].replace("tracking_event", "baseline_event")
                for r in src.execute(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'tracking_event' AND sql IS NOT NULL "
                    "ORDER BY type = 'index'"
                )
            ]
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in ddl:
            conn.execute(_strip_fk(statement))  # the copy has no other tables to point at
        placeholders = ", ".join("?" * 14)
        sql = f"INSERT INTO baseline_event ({COLUMNS}) VALUES ({placeholders})"  # noqa: S608
        started = time.perf_counter()
        for i in range(0, len(rows), BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows[i : i + BATCH])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(target.url) as conn:
            conn.execute("DROP TABLE IF EXISTS baseline_event")
            conn.execute("CREATE TABLE baseline_event (LIKE tracking_event INCLUDING DEFAULTS INCLUDING INDEXES)")
            conn.commit()
            sql = f"INSERT INTO baseline_event ({COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"  # noqa: S608
            started = time.perf_counter()
            with conn.cursor() as cur:
                for i in range(0, len(rows), BATCH):
                    cur.executemany(sql, rows[i : i + BATCH])
                    conn.commit()
            seconds = time.perf_counter() - started
            conn.execute("DROP TABLE baseline_event")
            conn.commit()
    return {"events": len(rows), "seconds": round(seconds, 3), "events_per_second": round(len(rows) / seconds)}


def _strip_fk(statement: str) -> str:
    """``CREATE TABLE`` of the events table without its foreign keys (the copy stands alone)."""
    import re

    return re.sub(r'\s+REFERENCES\s+"[^"]+"\s*\("[^"]+"\)(\s+DEFERRABLE INITIALLY DEFERRED)?', "", statement)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.load:
        return load_main(args)
    from rich.console import Console

    console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 130)
    target = resolve_target(args)
    console.log(f"migrating a fresh {target.vendor} database")
    key = prepare(target)
    port = free_port()
    log = target.var_dir / "server.log"
    report_path = target.var_dir / "load.json"
    with server(target, port, args.web_workers, log, args.drainers) as proc, LoadSampler() as load_average:
        wait_ready(port, proc, log)
        worker_cpu_at_start = worker_cpu_seconds(proc.pid)
        web_cpu_at_start = worker_cpu_seconds(proc.pid, WEB_ARGUMENT)
        console.log(f"server up; the load process sends {args.events:,} events from {args.clients} connections")
        load = [
            sys.executable, "-m", "bench", NAME, "--load", "--port", str(port), "--key", key,
            "--events", str(args.events), "--clients", str(args.clients), "--devices", str(args.devices),
            "--users", str(args.users), "--seed", str(args.seed), "--report", str(report_path),
        ]  # fmt: skip
        subprocess.run(load, cwd=REPO_DIR, check=True)
        web_cpu = worker_cpu_seconds(proc.pid, WEB_ARGUMENT) - web_cpu_at_start
        console.log("load done; waiting for the worker to process the inbox")
        drain_seconds, drained = wait_drained(target, args.drain_timeout)
        worker_cpu = worker_cpu_seconds(proc.pid) - worker_cpu_at_start
        time.sleep(2)  # the drain lingers a second after the inbox runs dry, then logs its figures
        run = json.loads(report_path.read_text())
        contacts = scalar(target, "SELECT count(*) FROM contacts_contact")
        attached = scalar(target, "SELECT count(*) FROM tracking_event WHERE contact_id IS NOT NULL")
        failed = inbox_count(target, failed=True)
    records = run["records"]
    accepted = sum(r[3] for r in records)
    duplicates = sum(r[4] for r in records)
    stored = scalar(target, "SELECT count(*) FROM tracking_event")
    stored_duplicates = accepted - stored
    console.log("baseline: raw bulk INSERT of the same events")
    baseline = run_baseline(args, target)
    rate = accepted / run["wall_seconds"] if run["wall_seconds"] else 0.0
    per_window = windows(records, run["began"])
    latency = percentiles([r[1] for r in records])
    result = {
        "target": {
            "events_per_second": TARGET_EVENTS_PER_SECOND,
            "p99_ms": TARGET_P99_MS,
            "row": "event ingestion: POST /v1/batch, 100 events per request, from a separate load process",
        },
        "machine": {**machine_info(), **load_average.summary()},
        "database": {"vendor": target.vendor},
        "method": {
            "endpoint": "POST /v1/batch",
            "events_per_request": BATCH,
            "clients": args.clients,
            "web_workers": args.web_workers,
            "drainers": args.drainers if target.vendor == "postgresql" else 1,
            "threads_per_worker": 4,
            "devices": args.devices,
            "users": args.users,
            "retried_batch_share": RETRY_SHARE,
            "seed": args.seed,
        },
        "danhba": {
            "events_sent": args.events,
            "requests": len(records),
            "errors": run["error_count"],
            "error_samples": run["errors"][:5],
            "accepted": accepted,
            "duplicates": duplicates,
            "duplicates_caught_by_worker": stored_duplicates,
            "stored": stored,
            "wall_seconds": round(run["wall_seconds"], 3),
            "events_per_second": round(rate),
            "slowest_window_events_per_second": round(min(per_window)) if per_window else None,
            "window_seconds": WINDOW_SECONDS,
            "latency_ms": latency,
            # The web processes' CPU while the load ran (accepting into the inbox).
            "web_cpu_seconds": round(web_cpu, 2),
            "web_cpu_us_per_event": round(web_cpu / accepted * 1e6) if accepted else None,
        },
        # The worker's side: from the first request until every accepted event was stored with
        # its contact resolved.
        "processing": {
            "drained": drained,
            "seconds_after_load": round(drain_seconds, 3),
            "seconds_total": round(run["wall_seconds"] + drain_seconds, 3),
            "events_per_second": round(stored / (run["wall_seconds"] + drain_seconds)) if stored else 0,
            # The worker processes' CPU over the run (from /proc): what storing cost, less
            # dependent on what else the machine ran than the wall time above.
            "worker_cpu_seconds": round(worker_cpu, 2),
            # The drainer threads alone, from the worker's log: their CPU, and the time they
            # waited for the main database's write lock (SQLite: the worker's other drains).
            "drains": worker_drains(log),
            "worker_cpu_us_per_event": round(worker_cpu / stored * 1e6) if stored else None,
            "contacts_created": contacts,
            "events_with_contact": attached,
            "failed_requests": failed,
        },
        "checks": {
            # A retried batch can be accepted while its first copy still waits in the inbox; the
            # worker then stores it once. Every event is stored exactly once either way.
            "every_event_stored_once": stored == args.events,
            "all_events_accepted_or_duplicate": accepted + duplicates == args.events + run["retried_batches"] * BATCH,
            "no_failed_requests": failed == 0 and run["error_count"] == 0,
        },
        "baseline": baseline,
        "ratio": round(baseline["events_per_second"] / rate, 1) if rate else None,
        "meets_target": {
            "events_per_second": rate >= TARGET_EVENTS_PER_SECOND,
            "p99": latency.get("p99", 1e9) <= TARGET_P99_MS,
        },
    }
    # The PostgreSQL run is kept beside the SQLite one: ingest-postgresql.json.
    name = NAME if target.vendor == "sqlite" else f"{NAME}-{target.vendor}"
    path = write_results(name, result, Path(args.out) if args.out else None)
    print_table(result, console)
    console.print(f"wrote {path}")
    if not args.keep and target.sqlite_path is not None:
        reset_database(target)
    ok = all(result["checks"].values()) and run["error_count"] == 0
    return 0 if ok else 1


def print_table(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    d, b = result["danhba"], result["baseline"]
    table = Table(title=f"ingest on {result['database']['vendor']}: {d['events_sent']:,} events, 100 per request")
    for col in ("", "events/s", "slowest 5 s", "p50 ms", "p95 ms", "p99 ms", "seconds", "target"):
        table.add_column(col, justify="left" if not col else "right")
    lat = d["latency_ms"]
    met = result["meets_target"]
    table.add_row(
        "danhba /v1/batch",
        f"{d['events_per_second']:,}",
        f"{d['slowest_window_events_per_second'] or 0:,}",
        f"{lat.get('p50', 0):.1f}",
        f"{lat.get('p95', 0):.1f}",
        f"{lat.get('p99', 0):.1f}",
        f"{d['wall_seconds']:.1f}",
        ("[green]ok[/green]" if met["events_per_second"] else "[red]missed[/red]")
        + " / "
        + ("[green]ok[/green]" if met["p99"] else "[red]missed[/red]"),
    )
    p = result["processing"]
    table.add_row(
        "worker: stored + resolved", f"{p['events_per_second']:,}", "", "", "", "", f"{p['seconds_total']:.1f}", ""
    )
    table.add_row("baseline INSERT", f"{b['events_per_second']:,}", "", "", "", "", f"{b['seconds']:.1f}", "")
    console.print(table)
    console.print(
        f"accepted {d['accepted']:,}, duplicates {d['duplicates']:,}, stored {d['stored']:,}, errors {d['errors']}; "
        f"worker done {p['seconds_after_load']:.1f} s after the load; contacts {p['contacts_created']:,}; "
        f"checks: {result['checks']}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
