"""Benchmark ``scoring`` — issue 14: "report the score update rate for 100,000 events".

1. A fresh database migrated by danhba; ``--contacts`` contacts (bulk insert) and one score
   model of 2 fit rules, 4 engagement rules (page views by URL pattern with a per-period cap,
   "Product Viewed" with a cap, orders, email opens) and a fast-track rule, half-life 14 days.
2. Bulk recompute of the model over every contact (``services.models.recompute_run``): contacts/s.
3. ``--events`` events over those contacts, stored through the real intake
   (``events_ingest_many``, 100 messages a request, as the event worker stores them), whose
   ``contacts.changed`` marks the contacts in ``ScoreDirty`` — the intake's time is reported
   with that marking in it.
4. The worker's pass (``dirty.dirty_process``): every marked contact's scores computed from
   scratch with items, history and grades. The score update rate is events / this pass.
5. Baseline in the same run: one hand-written ``GROUP BY`` over the same events summing points
   per contact (no caps, no decay, no items, nothing written): what the raw aggregate costs.
6. Check: for a sample of contacts the items add up to the stored total.

``python -m bench scoring [--contacts N] [--events N] [--database-url URL] [--out DIR]``
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

NAME = "scoring"
SEED = 14
NOISE = "2 shared cores, other work running: absolute figures are noisy; compare with the baseline of the same run"
PAGES = ["/pricing", "/pricing/enterprise", "/blog/a", "/blog/b", "/", "/san-pham/x"]
TRACKS = ["Product Viewed", "Product Viewed", "Order Completed", "Newsletter Read", "Signed Up"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench scoring", description=__doc__)
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--database-url", default="")
    p.add_argument("--out", default="")
    return p.parse_args(argv)


def setup(args: argparse.Namespace) -> str:
    off = {"SCORING_INLINE": "0", "SEGMENTS_REFRESH_INLINE": "0"}
    return fresh_django_database("scoring", args.contacts, args.database_url, **off)


def make_contacts(n: int) -> list[int]:
    from danhba.contacts.models import Contact, LifecycleStage

    stage = LifecycleStage.objects.order_by("position", "pk").first()
    rng = random.Random(SEED)
    titles = ["Giám đốc", "Trưởng phòng", "Nhân viên", "Kế toán"]
    provinces = ["ha-noi", "ho-chi-minh", "da-nang", "can-tho"]
    Contact.objects.bulk_create(
        [
            Contact(full_name=f"Khách {i}", name_key=f"khach {i}", lifecycle_stage=stage,
                    job_title=rng.choice(titles), province=rng.choice(provinces))
            for i in range(n)
        ],
        batch_size=5000,
    )  # fmt: skip
    return list(Contact.objects.order_by("pk").values_list("pk", flat=True))


def make_model() -> Any:
    from danhba.core.actor import Actor
    from danhba.scoring.services import models as services

    actor = Actor.system("cli")
    model = services.score_model_create(actor=actor, data={"name": "Bench", "decay": "half_life", "decay_days": 14})
    field = lambda f, op, v: {"op": "all", "conditions": [{"kind": "field", "field": f, "operator": op, "value": v}]}  # noqa: E731
    rules = [
        {"kind": "fit", "name": "Director", "points": 20, "condition": field("job_title", "eq", "Giám đốc")},
        {"kind": "fit", "name": "Big cities", "points": 10,
         "condition": field("province", "in", ["ha-noi", "ho-chi-minh"])},
        {"kind": "engagement", "name": "Pricing", "points": 5, "trigger": {"on": "page", "url": "*/pricing*"},
         "period_days": 1, "period_max": 15},
        {"kind": "engagement", "name": "Products", "points": 2, "trigger": {"on": "event", "name": "Product Viewed"},
         "max_points": 40},
        {"kind": "engagement", "name": "Orders", "points": 15, "trigger": {"on": "order"}},
        {"kind": "engagement", "name": "Opens", "points": 3, "trigger": {"on": "email_opened"}, "max_points": 15},
        {"kind": "fast_track", "name": "Signed up", "condition": {"op": "all", "conditions": [
            {"kind": "event", "name": "Signed Up", "count": {"operator": "gte", "value": 1}}]}},
    ]  # fmt: skip
    for rule in rules:
        services.score_rule_create(actor=actor, model=model, data=rule)
    model.refresh_from_db()
    return model


def messages(ids: list[int], n: int, now: dt.datetime) -> tuple[list[Any], list[Any]]:
    """(web messages, email messages), in time order."""
    from danhba.tracking.services.messages import Message

    rng = random.Random(SEED)
    web, email = [], []
    for i in range(n):
        at = now - dt.timedelta(seconds=rng.randrange(0, 60 * 86400))
        contact = rng.choice(ids)
        roll = rng.random()
        kind, name, props = "track", rng.choice(TRACKS), {}
        if name == "Order Completed":
            props = {"order_id": f"o{i}", "total": 150000 + i % 7 * 10000, "currency": "VND"}
        if roll < 0.45:
            kind, name, props = "page", "", {"url": "https://shop.vn" + rng.choice(PAGES)}
        elif roll < 0.55:
            name, props = "Email Opened", {"campaign_id": 1, "machine": rng.random() < 0.2}
        m = Message(
            index=i, type=kind, message_id=f"b{i}", name=name, user_id="", anonymous_id="", previous_id="",
            timestamp=at, original_timestamp=at, sent_at=None, properties=props, context={}, traits={},
            known_contact=contact,
        )  # fmt: skip
        (email if name == "Email Opened" else web).append(m)
    return web, email


def store(batch: list[Any], source: Any, now: dt.datetime) -> None:
    from danhba.tracking.services.intake import events_ingest_many

    for i in range(0, len(batch), 1000):
        chunk = batch[i : i + 1000]
        events_ingest_many(source=source, requests=[(chunk[j : j + 100], now) for j in range(0, len(chunk), 100)])


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def baseline(vendor: str) -> tuple[int, float, float]:
    """One GROUP BY over the events, summing the rules' points per contact (no caps, no decay)."""
    from django.db import connection

    url = "properties->>'url'" if vendor == "postgresql" else "json_extract(properties, '$.url')"
    sql = f"""
        SELECT contact_id, SUM(CASE
            WHEN type = 'page' AND {url} LIKE '%/pricing%' THEN 5
            WHEN name = 'Product Viewed' THEN 2 WHEN name = 'Order Completed' THEN 15
            WHEN name = 'Email Opened' THEN 3 ELSE 0 END)
        FROM tracking_event WHERE contact_id IS NOT NULL GROUP BY contact_id"""  # noqa: S608 - constants only

    def run() -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return len(cursor.fetchall())

    return timed(run)


def check_sums(sample: list[int], model: Any) -> bool:
    from decimal import Decimal

    from danhba.scoring.models import ContactScore, ScoreItem

    for contact_id in sample:
        score = ContactScore.objects.filter(contact_id=contact_id, model=model).first()
        items = ScoreItem.objects.filter(contact_id=contact_id, model=model).values_list("current", flat=True)
        if score is not None and score.total != sum(items, Decimal(0)):
            return False
    return True


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    vendor = setup(args)
    from django.db.models import Count
    from django.utils import timezone

    from danhba.scoring.models import ContactScore, ScoreDirty
    from danhba.scoring.services import dirty
    from danhba.scoring.services.models import recompute_run
    from danhba.tracking.services.server import internal_source

    ids, t_contacts, _cpu = timed(lambda: make_contacts(args.contacts))
    model = make_model()
    done, bulk_wall, bulk_cpu = timed(lambda: recompute_run(model_id=model.pk))
    now = timezone.now()
    web, email = messages(ids, args.events, now)
    _r, intake_wall, intake_cpu = timed(
        lambda: (store(web, internal_source("bench-web"), now), store(email, internal_source("email"), now))
    )
    marked = ScoreDirty.objects.count()
    scored, pass_wall, pass_cpu = timed(lambda: dirty.dirty_process())
    rows, base_wall, base_cpu = baseline(vendor)
    sample = random.Random(SEED).sample(ids, min(200, len(ids)))
    grades = dict(ContactScore.objects.filter(model=model).values_list("grade").annotate(n=Count("id")))
    result = {
        "benchmark": NAME,
        "note": NOISE,
        "machine": machine_info(),
        "database": vendor,
        "dataset": {"contacts": len(ids), "events": args.events, "rules": 7, "contacts_generation_seconds": round(t_contacts, 2)},  # noqa: E501
        "bulk_recompute": {"contacts": done, "wall_s": round(bulk_wall, 2), "cpu_s": round(bulk_cpu, 2),
                           "contacts_per_s": round(done / bulk_wall, 1)},
        "intake": {"events": args.events, "wall_s": round(intake_wall, 2), "cpu_s": round(intake_cpu, 2),
                   "contacts_marked": marked},
        "score_update": {"contacts": scored, "wall_s": round(pass_wall, 2), "cpu_s": round(pass_cpu, 2),
                         "events_per_s": round(args.events / pass_wall, 1),
                         "events_per_cpu_s": round(args.events / max(pass_cpu, 1e-9), 1),
                         "contacts_per_s": round(scored / pass_wall, 1)},
        "baseline_group_by": {"rows": rows, "wall_s": round(base_wall, 3), "cpu_s": round(base_cpu, 3),
                              "events_per_s": round(args.events / max(base_wall, 1e-9), 1)},
        "ratio_score_update_to_baseline_wall": round(pass_wall / max(base_wall, 1e-9), 1),
        "grades": grades,
        "checks": {"items_add_up_to_totals": check_sums(sample, model),
                   "every_marked_contact_scored": scored == marked},
    }  # fmt: skip
    path = write_results(
        NAME if vendor == "sqlite" else f"{NAME}-{vendor}", result, Path(args.out) if args.out else None
    )
    for key in ("bulk_recompute", "intake", "score_update", "baseline_group_by", "checks"):
        print(f"{key:>18}: {result[key]}")
    print(f"written to {path}")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
