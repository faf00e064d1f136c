"""Benchmark ``quality`` — issue 16: freshness and the data-quality dashboard at scale.

1. A fresh database migrated by danhba; ``--contacts`` contacts (bulk insert) with activity
   spread over three years, half with an email (a few at mistyped domains), most with a phone
   (3% in the pre-2018 11-digit form, 1% impossible), and ``--events`` events.
2. Freshness of every contact computed by the worker's code (``freshness_update`` in batches of
   500, as ``dirty_process`` runs them): contacts per second.
3. The dashboard snapshot (``snapshot_data``): every card's figures, the time of each.
4. Reads a page or segment makes, each timed: the segment condition "needs verification" and
   "stale" counted, and the dashboard's API read of the stored snapshot.
5. Baseline in the same run: ``SELECT COUNT(*)`` and one ``GROUP BY source`` over the contacts
   table (what one full pass costs on this machine now).

``python -m bench quality [--contacts N] [--events N] [--database-url URL] [--out DIR]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

from bench import fresh_django_database, machine_info, write_results

NAME = "quality"
SEED = 16
NOISE = "2 shared cores, other work running: absolute figures are noisy; compare with the baseline of the same run"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench quality", description=__doc__)
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--database-url", default="")
    p.add_argument("--out", default="")
    return p.parse_args(argv)


def setup(args: argparse.Namespace) -> str:
    off = {"SCORING_INLINE": "0", "SEGMENTS_REFRESH_INLINE": "0", "QUALITY_INLINE": "0"}
    return fresh_django_database("quality", args.contacts, args.database_url, **off)


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def make_data(n: int, events: int) -> list[int]:
    from django.utils import timezone

    from danhba.contacts.models import Contact, ContactEmail, ContactPhone, LifecycleStage
    from danhba.tracking.models import Event
    from danhba.tracking.services.server import internal_source

    stage = LifecycleStage.objects.order_by("position", "pk").first()
    rng = random.Random(SEED)
    now = timezone.now()
    sources = ["import", "form", "api", "order", "other"]
    rows = []
    for i in range(n):
        email = f"k{i}@{rng.choice(['gmail.com', 'yahoo.com', 'congty.vn', 'gmial.com'])}" if i % 2 else ""
        at = now - dt.timedelta(days=rng.randrange(0, 1100))
        rows.append(Contact(full_name=f"Khách {i}", name_key=f"khach {i}", lifecycle_stage=stage, email=email,
                            source=rng.choice(sources), job_title="Kế toán" if i % 3 else "",
                            created_at=at, updated_at=at, last_activity_at=at))  # fmt: skip
    Contact.objects.bulk_create(rows, batch_size=5000)
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    emails, phones = [], []
    for cid, c in zip(ids, rows, strict=True):
        if c.email:
            emails.append(ContactEmail(contact_id=cid, email=c.email, is_primary=True))
        roll = rng.random()
        if roll < 0.8:
            national = "1662" if roll < 0.03 else "0012" if roll < 0.04 else "912"
            phones.append(ContactPhone(contact_id=cid, e164=f"+84{national}{cid % 10**6:06d}", is_primary=True))
    ContactEmail.objects.bulk_create(emails, batch_size=5000)
    ContactPhone.objects.bulk_create(phones, batch_size=5000)
    source = internal_source("bench-web")
    Event.objects.bulk_create(
        [
            Event(source=source, message_id=f"q{i}", type="track", name="Product Viewed",
                  contact_id=rng.choice(ids), timestamp=now - dt.timedelta(days=rng.randrange(0, 400)), received_at=now)
            for i in range(events)
        ],
        batch_size=5000,
    )  # fmt: skip
    return ids


def compute_all(ids: list[int]) -> int:
    from danhba.core.bulk import chunks
    from danhba.quality.services.freshness import freshness_update

    for chunk in chunks(ids, 500):
        freshness_update(contact_ids=chunk)
    return len(ids)


def snapshot_parts() -> dict[str, dict[str, float]]:
    """Each card of the snapshot timed on its own."""
    from django.utils import timezone

    from danhba.contacts.models import Contact
    from danhba.quality.services import dashboard as d

    now = timezone.now()
    parts = {
        "overview_and_validity": lambda: (Contact.objects.count(), d.DecaySignal.objects.count()),
        "completeness": lambda: d._completeness(0),
        "freshness": lambda: d._freshness(now),
        "sources": d._sources,
        "imports": d._imports,
        "duplicates": lambda: d._duplicates(now),
    }
    out = {}
    for key, fn in parts.items():
        _r, wall, cpu = timed(fn)
        out[key] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    return out


def reads() -> dict[str, dict[str, Any]]:
    from danhba.contacts.models import Contact
    from danhba.quality.conditions import compile_q

    out = {}
    for key, node in (
        ("needs_verification", {"is": "needs_verification"}),
        ("stale", {"is": "freshness", "bucket": "stale"}),
    ):
        n, wall, cpu = timed(lambda node=node: Contact.objects.filter(compile_q(node, None)).count())
        out[f"segment_count_{key}"] = {"contacts": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    from danhba.quality.models import QualitySnapshot

    _r, wall, cpu = timed(lambda: QualitySnapshot.objects.order_by("-day").first())
    out["snapshot_read"] = {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}
    return out


def baseline() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        _r, w1, _c1 = timed(lambda: cursor.execute("SELECT COUNT(*) FROM contacts_contact").fetchall())
        _r, w2, _c2 = timed(
            lambda: cursor.execute("SELECT source, COUNT(*) FROM contacts_contact GROUP BY source").fetchall()
        )
    return {"count_wall_s": round(w1, 3), "group_by_source_wall_s": round(w2, 3)}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    vendor = setup(args)
    from danhba.quality.models import DecaySignal, Freshness
    from danhba.quality.services.dashboard import quality_snapshot_compute

    ids, gen_wall, _cpu = timed(lambda: make_data(args.contacts, args.events))
    done, fresh_wall, fresh_cpu = timed(lambda: compute_all(ids))
    snapshot, snap_wall, snap_cpu = timed(quality_snapshot_compute)
    result = {
        "benchmark": NAME,
        "note": NOISE,
        "machine": machine_info(),
        "database": vendor,
        "dataset": {"contacts": len(ids), "events": args.events, "generation_wall_s": round(gen_wall, 1)},
        "freshness_compute": {"contacts": done, "wall_s": round(fresh_wall, 2), "cpu_s": round(fresh_cpu, 2),
                              "contacts_per_s": round(done / max(fresh_wall, 1e-9), 1),
                              "contacts_per_cpu_s": round(done / max(fresh_cpu, 1e-9), 1)},
        "snapshot": {"wall_s": round(snap_wall, 2), "cpu_s": round(snap_cpu, 2), "parts": snapshot_parts()},
        "reads": reads(),
        "baseline": baseline(),
        "signals": {k: DecaySignal.objects.filter(kind=k).count() for k in DecaySignal.Kind.values},
        "checks": {"every_contact_computed": Freshness.objects.count() == len(ids),
                   "snapshot_counts_contacts": snapshot.data["overview"]["contacts"] == len(ids)},
    }  # fmt: skip
    path = write_results(
        NAME if vendor == "sqlite" else f"{NAME}-{vendor}", result, Path(args.out) if args.out else None
    )
    for key in ("freshness_compute", "snapshot", "reads", "baseline", "signals", "checks"):
        print(f"{key:>18}: {result[key]}")
    print(f"written to {path}")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
