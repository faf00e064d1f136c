"""Benchmark ``automation`` — TARGETS.md row "automation": 100,000 contacts enrolled in a 3-step
workflow (update a field, wait, branch and tag); step executions per second and the lag from a
step's due time to its run (p50, p99), against the raw UPDATE rate of the same database in the
same run. Targets: ≥ 2,000 steps/s, lag p99 ≤ 60 s.

1. A fresh database migrated by danhba; N contacts (10 % tagged "vip") written raw.
2. Baseline: ``UPDATE contacts_contact SET job_title = ? WHERE id = ?`` for every contact through
   the plain driver, 500 rows per transaction.
3. A workflow through danhba's services: update ``job_title`` → wait ``--wait`` seconds → branch
   on the tag "vip" → tag "vip-nurtured" or "nurtured". All N contacts enrolled at once
   (``enrol_many``), then one worker drains them as the Huey job does (``engine.run_due``),
   until no enrolment is active (``--workers N``: N such workers at once, each a thread with its
   own connection). Every step run is a ``StepRun`` row: 5 per contact (field,
   wait started, wait over, branch, tag). Lag = the batch's claim time − the step's due time,
   from the StepRun rows.
4. The diagram's per-step counts: read from the counters (``StepCount``) against counting the
   version's StepRuns and active enrolments (the read before them: runs by outcome, entered),
   and whether every counter agrees.

``python -m bench automation [--contacts N] [--wait S] [--quick] [--database-url URL] [--keep] [--out DIR]``
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench import DATA_DIR, machine_info, migrate_fresh, percentiles, write_results

NAME = "automation"
TARGET_STEPS_PER_S = 2000
TARGET_LAG_P99_S = 60.0
NOISE = "2 shared cores, other work running: absolute figures are noisy; compare with the baseline of the same run"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench automation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=None, help="default 100,000 (2,000 with --quick)")
    parser.add_argument("--wait", type=int, default=30, help="the workflow's wait in seconds (default 30)")
    parser.add_argument("--quick", action="store_true", help="2,000 contacts, a 2-second wait")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker threads draining at once (PostgreSQL: SKIP LOCKED claims)"
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file under var/bench/")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--out", default="", help="directory for automation.json (default bench/results)")
    args = parser.parse_args(argv)
    if args.contacts is None:
        args.contacts = 2_000 if args.quick else 100_000
    if args.quick:
        args.wait = min(args.wait, 2)
    return args


def setup(args: argparse.Namespace) -> tuple[str, Path | None]:
    url = args.database_url or f"sqlite:///{DATA_DIR / f'automation-{args.contacts}.sqlite3'}"
    path: Path | None = None
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    elif "bench" not in urllib.parse.urlparse(url).path:
        raise SystemExit("refusing to empty a database whose name does not contain 'bench'")
    var = (path.parent / f"{path.stem}-var") if path else DATA_DIR / "automation-pg-var"
    var.mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=url, DANHBA_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="danhba.settings")
    os.environ["SEGMENTS_REFRESH_INLINE"] = "0"
    import django

    django.setup()
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE")
            cur.execute("CREATE SCHEMA public")
    migrate_fresh()
    return connection.vendor, path


def load_contacts(n: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.segments import Clock, Loader, _column_defaults
    from danhba.contacts.models import Contact, LifecycleStage, Tag

    started = time.perf_counter()
    vendor = connection.vendor
    clock = Clock(timezone.now(), vendor)
    defaults = _column_defaults(Contact, clock)
    defaults["lifecycle_stage_id"] = LifecycleStage.objects.order_by("position").values_list("pk", flat=True)[0]
    vip = Tag.objects.create(name="vip", name_key="vip")
    columns = ["id", *defaults]
    loader = Loader(vendor)
    with transaction.atomic():
        for start in range(1, n + 1, 10_000):
            rows = []
            for cid in range(start, min(n, start + 9_999) + 1):
                values = {**defaults, "full_name": f"Khách hàng {cid}", "name_key": f"khach hang {cid}"}
                rows.append((cid, *values.values()))
            loader.write("contacts_contact", columns, rows)
        tags = [(cid, cid, vip.pk) for cid in range(1, n + 1) if cid % 10 == 0]
        loader.write("contacts_contacttag", ["id", "contact_id", "tag_id"], tags)
        if vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", [n])
                cur.execute("SELECT setval(pg_get_serial_sequence('contacts_contacttag', 'id'), %s)", [n])
                cur.execute("ANALYZE")
    return {"contacts": n, "vip": len(tags), "seconds": round(time.perf_counter() - started, 2)}


def baseline(n: int) -> dict[str, Any]:
    """The raw UPDATE rate: one statement per contact, 500 per transaction, plain driver."""
    from django.db import connection

    raw = connection.connection
    mark = "?" if connection.vendor == "sqlite" else "%s"
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(1, n + 1, 500):
        rows = [("Khách quen", cid) for cid in range(start, min(n, start + 499) + 1)]
        cur = raw.cursor()
        cur.executemany(f"UPDATE contacts_contact SET job_title = {mark} WHERE id = {mark}", rows)  # noqa: S608
        cur.close()
        raw.commit()
    seconds = time.perf_counter() - wall
    with connection.cursor() as cur:
        cur.execute("UPDATE contacts_contact SET job_title = ''")
    return {
        "rows": n,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "updates_per_s": round(n / seconds, 1),
    }


def workflow_graph(wait: int) -> dict[str, Any]:
    vip = {"op": "all", "conditions": [{"kind": "tag", "operator": "any", "tags": ["vip"]}]}
    return {
        "start": "title",
        "steps": {
            "title": {"kind": "update_field", "params": {"field": "job_title", "value": "Khách quen"}, "next": "pause"},
            "pause": {"kind": "wait", "params": {"seconds": wait}, "next": "vip"},
            "vip": {"kind": "branch", "params": {"branches": [{"condition": vip, "next": "a"}], "otherwise": "b"}},
            "a": {"kind": "tag", "params": {"add": ["vip-nurtured"]}},
            "b": {"kind": "tag", "params": {"add": ["nurtured"]}},
        },
    }


def run_workflow(n: int, wait: int, workers: int = 1) -> dict[str, Any]:
    from django.db import transaction
    from django.db.models import Count

    from danhba.automation.models import Enrolment, StepRun, Workflow
    from danhba.automation.services import engine
    from danhba.automation.services.enrolments import enrol_many
    from danhba.automation.services.workflows import workflow_create, workflow_set_status
    from danhba.contacts.models import ContactTag
    from danhba.core.actor import Actor

    actor = Actor.system(via="cli")
    wf = workflow_create(actor=actor, data={"name": "Bench", "graph": workflow_graph(wait)})
    wf = workflow_set_status(actor=actor, workflow=wf, status=Workflow.Status.ACTIVE)
    t0 = time.perf_counter()
    with transaction.atomic():
        enrolled = enrol_many(workflow=wf, contact_ids=range(1, n + 1), via="bench")
    enrol_s = time.perf_counter() - t0
    wall, cpu = time.perf_counter(), time.process_time()
    idles = [0.0] * workers
    counts = [0] * workers

    def work(n: int) -> None:
        from django.db import connection

        try:
            while Enrolment.objects.filter(workflow=wf, status=Enrolment.Status.ACTIVE).exists():
                stats = engine.run_due(max_batches=1)
                counts[n] += 1 if stats.claimed else 0
                if not stats.claimed:
                    time.sleep(0.2)  # nothing to claim: the worker lingers, as the job does
                    idles[n] += 0.2
        finally:
            if workers > 1:
                connection.close()

    if workers == 1:
        work(0)
    else:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Busy time: the run less the time the least idle worker found nothing to claim.
    idle, batches = min(idles), sum(counts)
    seconds = time.perf_counter() - wall
    cpu_s = time.process_time() - cpu
    steps = StepRun.objects.filter(enrolment__workflow=wf).count()
    lags = [
        (at - due).total_seconds() * 1000
        for at, due in StepRun.objects.filter(enrolment__workflow=wf).values_list("at", "due_at")
        if due is not None
    ]
    busy = seconds - idle
    tags = dict(
        ContactTag.objects.filter(tag__name__in=["vip-nurtured", "nurtured"])
        .values_list("tag__name")
        .annotate(n=Count("id"))
    )
    return {
        "step_counts": step_counts_read(wf),
        "workers": workers,
        "enrolled": enrolled,
        "enrol_seconds": round(enrol_s, 2),
        "step_runs": steps,
        "batches": batches,
        "seconds": round(seconds, 2),
        "idle_seconds_all_waiting": round(idle, 2),
        "cpu_seconds": round(cpu_s, 2),
        "steps_per_s_busy": round(steps / busy, 1) if busy > 0 else None,
        "steps_per_cpu_s": round(steps / cpu_s, 1) if cpu_s > 0 else None,
        "lag_ms": percentiles(lags),
        "completed": Enrolment.objects.filter(workflow=wf, status=Enrolment.Status.COMPLETED).count(),
        "tagged": tags,
    }


def step_counts_read(wf: Any) -> dict[str, Any]:
    """The diagram's per-step counts as read now (the counters, ``StepCount``) against counting
    them from every StepRun and active enrolment (the read before: runs by outcome, entered),
    and whether every counter agrees, "entered" included."""
    from danhba.automation.selectors import step_counts, step_counts_kept, step_counts_recount

    version = wf.current_version
    t0 = time.perf_counter()
    step_counts(version)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    recount = step_counts_recount(version)
    recount_s = time.perf_counter() - t0
    equal = step_counts_kept(version) == recount
    return {"read_ms": round(read_s * 1000, 1), "recount_ms": round(recount_s * 1000, 1), "equal": equal}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    vendor, path = setup(args)
    print(f"automation benchmark: {args.contacts:,} contacts on {vendor}, wait {args.wait} s", flush=True)
    data = load_contacts(args.contacts)
    print(f"  contacts loaded in {data['seconds']} s", flush=True)
    base = baseline(args.contacts)
    print(f"  baseline raw UPDATE: {base['updates_per_s']:,} rows/s", flush=True)
    result = run_workflow(args.contacts, args.wait, args.workers)
    steps_s = result["steps_per_s_busy"] or 0.0
    lag = result["lag_ms"]
    idle = result["idle_seconds_all_waiting"]
    print(
        f"  danhba: {result['step_runs']:,} steps in {result['seconds']} s ({idle} s all waiting) = {steps_s:,} "
        f"steps/s busy, {result['cpu_seconds']} CPU s; lag p50 {lag.get('p50', 0) / 1000:.1f} s"
        f" p99 {lag.get('p99', 0) / 1000:.1f} s",
        flush=True,
    )
    read = result["step_counts"]
    print(
        f"  per-step counts: {read['read_ms']} ms from the counters, {read['recount_ms']} ms counting the"
        f" StepRuns and enrolments; equal (entered and outcomes): {read['equal']}",
        flush=True,
    )
    out = {
        "target": {"steps_per_s": TARGET_STEPS_PER_S, "lag_p99_s": TARGET_LAG_P99_S},
        "met": {
            "steps_per_s": steps_s >= TARGET_STEPS_PER_S,
            "lag_p99": lag.get("p99", 0) / 1000 <= TARGET_LAG_P99_S,
        },
        "database": {"vendor": vendor},
        "dataset": data,
        "workflow": {"wait_seconds": args.wait, "graph": workflow_graph(args.wait)},
        "baseline": base,
        "danhba": result,
        "ratio_steps_to_raw_updates": round(steps_s / base["updates_per_s"], 3) if base["updates_per_s"] else None,
        "machine": machine_info(),
        "note": NOISE,
    }
    written = write_results(
        NAME + ("" if vendor == "sqlite" else "-postgresql"), out, Path(args.out) if args.out else None
    )
    print(f"  wrote {written}")
    if path is not None and not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return 0
