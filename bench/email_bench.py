"""Benchmark ``email`` — TARGETS.md row "email": a personalised campaign to 100,000 recipients
into a local SMTP server in another process, ≥ 500 messages/s; after ``kill -9`` of the worker
mid-send and a restart every recipient has the message, and only those in flight at the kill
(≤ one per open connection) may arrive twice, with the same Message-ID.

1. Generates N contacts (``PeopleGenerator``, fixed seed) with an email address, granted
   email-marketing consent and membership of one static list, straight into a fresh database.
2. Starts the SMTP sink (``bench/email_sink.py``, aiosmtpd) in its own process.
3. Baseline: raw ``smtplib``, the same number of connections as danhba, each in a thread,
   sending a message formatted per recipient with ``str.format`` (no database, no template
   engine) to the same sink.
4. danhba: a marketing campaign (Liquid subject and body with tokens, CSS to inline, footer,
   List-Unsubscribe headers) scheduled to the list: the audience is queued in this process
   (timed), then a worker process runs ``services.sending.campaign_run`` until the campaign is
   sent; messages/s over the send, and the worker's peak RSS.
5. Crash: a second campaign to the same list; its worker is killed with SIGKILL when about half
   the messages have arrived, and a new worker takes over once the lease has passed. The sink's
   log must hold every recipient, duplicates only for messages in flight (≤ connections), each
   duplicate with one Message-ID, and the campaign's ``resent`` count.

``python -m bench email [--recipients N] [--quick] [--connections N]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import DATA_DIR, REPO_DIR, machine_info, migrate_fresh, write_results

NAME = "email"
TARGET_PER_SECOND = 500
SEED = 1313
LEASE_SECONDS = 2
NOISE = "2 shared cores, other work running: absolute figures are noisy; compare with the baseline of the same run"
SUBJECT = "{{ xung_ho | capitalize | default: 'Bạn' }} {{ contact.given_name }} ơi, ưu đãi tháng 12"
BODY = """<html><head><style>
p { color: #1f2937; font-family: Arial, sans-serif; } .cta { background: #0f766e; color: #fff; padding: 10px 16px; }
@media (max-width: 480px) { p { font-size: 16px; } }
</style></head><body>
<p>Chào {{ xung_ho | default: "bạn" }} {{ contact.given_name | default: "bạn" }},</p>
<p>Cảm ơn {{ xung_ho | default: "bạn" }} đã mua sắm tại Ánh Dương
{%- if contact.province != "" %} ở {{ contact.province }}{% endif %}.
Tuần này giảm 20% cho mọi đơn từ 500.000 ₫.</p>
<p><a class="cta" href="https://shop.example.vn/uu-dai?utm_source=email">Xem ưu đãi</a></p>
</body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_django(db: Path, port: int, connections: int) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["DANHBA_VAR_DIR"] = str(db.parent / f"{db.stem}-var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "danhba.settings"
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    os.environ["MESSAGING_SEND_CONNECTIONS"] = str(connections)
    os.environ["MESSAGING_SEND_LEASE_SECONDS"] = str(LEASE_SECONDS)
    os.environ["MESSAGING_FREQUENCY_CAP"] = "0"
    os.environ["MESSAGING_SENDER_IDENTITY"] = "Công ty TNHH Ánh Dương"
    os.environ["MESSAGING_POSTAL_ADDRESS"] = "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
    Path(os.environ["DANHBA_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def generate(n: int, say: Any) -> dict[str, int]:
    """N contacts with an address, consent and one list; straight inserts, no per-row services."""
    from django.db import transaction
    from django.utils import timezone

    from danhba.contacts.demo import PeopleGenerator
    from danhba.contacts.keys import name_key
    from danhba.contacts.models import Contact, LifecycleStage
    from danhba.privacy.models import ConsentPurpose, ConsentState
    from danhba.segments.models import Segment, SegmentMember

    migrate_fresh()
    people = PeopleGenerator(seed=SEED)
    stage = LifecycleStage.objects.order_by("position").first()
    purpose = ConsentPurpose.objects.get(key="email_marketing")
    audience = Segment.objects.create(name="Bench list", kind=Segment.Kind.STATIC)
    now = timezone.now()
    started = time.perf_counter()
    for first in range(0, n, 5000):
        with transaction.atomic():
            rows = []
            for i in range(first, min(n, first + 5000)):
                p = people.person()
                rows.append(
                    Contact(
                        full_name=p.full_name,
                        family_name=p.family_name,
                        middle_name=p.middle_name,
                        given_name=p.given_name,
                        name_key=name_key(p.full_name),
                        gender=p.gender,
                        province=p.province,
                        email=f"r{i}@bench.example.vn",
                        lifecycle_stage=stage,
                    )
                )
            made = Contact.objects.bulk_create(rows, batch_size=1000)
            ConsentState.objects.bulk_create(
                [ConsentState(contact=c, purpose=purpose, status="granted", since=now, record_id=0) for c in made],
                batch_size=1000,
            )
            SegmentMember.objects.bulk_create(
                [SegmentMember(segment=audience, contact=c) for c in made], batch_size=1000
            )
    say(f"generated {n:,} contacts in {time.perf_counter() - started:.1f} s")
    return {"segment_id": audience.pk}


def campaign(segment_id: int, name: str) -> int:
    from danhba.core.actor import Actor
    from danhba.messaging.models import EmailTemplate
    from danhba.messaging.services import campaigns

    template, _ = EmailTemplate.objects.get_or_create(
        name="Bench", defaults={"subject": SUBJECT, "body": BODY, "sender_name": "Ánh Dương",
                                "sender_email": "news@anhduong.example.vn"},
    )  # fmt: skip
    actor = Actor.system("cli")
    made = campaigns.campaign_create(
        actor=actor, data={"name": name, "template_id": template.pk, "segment_ids": [segment_id]}
    )
    return made.pk


def schedule(campaign_id: int) -> float:
    """Queue the audience (one Send row per recipient)."""
    from danhba.core.actor import Actor
    from danhba.messaging.models import Campaign
    from danhba.messaging.services import campaigns

    started = time.perf_counter()
    # The wake-up it queues for Huey after the commit stays in the bench's own queue file: the
    # bench runs the send itself, in a worker process.
    campaigns.campaign_schedule(actor=Actor.system("cli"), campaign=Campaign.objects.get(pk=campaign_id))
    return time.perf_counter() - started


def worker(argv: list[str]) -> int:
    """``python -m bench email --worker DB PORT CONNECTIONS CAMPAIGN``: send until done."""
    import resource

    db, port, connections, campaign_id = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    setup_django(db, port, connections)
    from danhba.messaging.models import Campaign
    from danhba.messaging.services import sending

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime  # Django's start-up is not the send
    started = time.perf_counter()
    sent = resent = 0
    while True:
        result = sending.campaign_run(campaign_id=campaign_id, max_seconds=3600)
        sent += result.sent
        resent += result.resent
        status = Campaign.objects.values_list("status", flat=True).get(pk=campaign_id)
        if status != Campaign.Status.SENDING:
            break
        time.sleep(0.5)  # another run holds it (the lease), or rows left in flight
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = round(usage.ru_utime + usage.ru_stime - cpu_before, 2)
    out = {
        "sent": sent,
        "resent": resent,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_bytes": usage.ru_maxrss * 1024,
    }
    print(json.dumps(out), flush=True)
    return 0


def run_worker(db: Path, port: int, connections: int, campaign_id: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", NAME, "--worker", str(db), str(port), str(connections), str(campaign_id)],
        cwd=REPO_DIR, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def sink_log(path: Path) -> list[tuple[str, str]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def wait_for(count: int, path: Path, campaign_id: int, timeout: float) -> int:
    prefix = f"<c{campaign_id}."
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = sum(1 for _r, mid in sink_log(path) if mid.startswith(prefix))
        if got >= count:
            return got
        time.sleep(0.2)
    return got


def baseline(n: int, port: int, connections: int) -> dict[str, Any]:
    """Raw smtplib: ``connections`` threads, one connection each, a formatted message per recipient."""
    template = (
        "From: Anh Duong <news@anhduong.example.vn>\r\nTo: {to}\r\nSubject: =?utf-8?b?QW5oIER1b25n?= {i}\r\n"
        "Message-ID: <base.{i}@anhduong.example.vn>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Chào bạn {i},</p><p>Tuần này giảm 20% cho mọi đơn từ 500.000 ₫.</p>\r\n"
    )

    def lane(k: int) -> int:
        done = 0
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(k, n, connections):
                to = f"r{i}@bench.example.vn"
                smtp.sendmail("news@anhduong.example.vn", [to], template.format(to=to, i=i).encode())
                done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        sent = sum(pool.map(lane, range(connections)))
    seconds = time.perf_counter() - started
    return {"sent": sent, "seconds": round(seconds, 2), "per_second": round(sent / seconds, 1)}


def crash_check(log: list[tuple[str, str]], campaign_id: int, n: int, connections: int) -> dict[str, Any]:
    prefix = f"<c{campaign_id}."
    ids_by_rcpt: dict[str, list[str]] = defaultdict(list)
    for rcpt, mid in log:
        if mid.startswith(prefix):
            ids_by_rcpt[rcpt].append(mid)
    twice = {r: ids for r, ids in ids_by_rcpt.items() if len(ids) > 1}
    return {
        "recipients_with_the_message": len(ids_by_rcpt),
        "every_recipient_has_it": len(ids_by_rcpt) == n,
        "duplicates": len(twice),
        "duplicates_at_most_connections": len(twice) <= connections,
        "duplicates_share_message_id": all(len(set(ids)) == 1 for ids in twice.values()),
        "most_copies": max((len(ids) for ids in ids_by_rcpt.values()), default=0),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench email")
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 recipients")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="where NAME.json goes (default bench/results)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where the database and the sink's log go")
    args = parser.parse_args(argv)
    if args.quick:
        args.recipients = 5_000
    return args


def main(argv: list[str]) -> int:  # noqa: PLR0915 - one linear script of phases
    if argv and argv[0] == "--worker":
        return worker(argv[1:])
    args = parse_args(argv)
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    say = console.log
    n, connections = args.recipients, args.connections
    db = args.data_dir / f"email-{n}.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    port = free_port()
    log_path = args.data_dir / f"email-{n}-sink.jsonl"
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench.email_sink", str(port), str(log_path)],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
        setup_django(db, port, connections)
        data = generate(n, say)

        base = baseline(n, port, connections)
        say(f"baseline smtplib: {base['per_second']:,} msg/s")

        first = campaign(data["segment_id"], "Bench send")
        queue_seconds = schedule(first)
        say(f"audience queued in {queue_seconds:.1f} s")
        proc = run_worker(db, port, connections, first)
        out, _ = proc.communicate()
        run = json.loads(out.strip().splitlines()[-1])
        arrived = wait_for(n, log_path, first, timeout=30)
        per_second = run["sent"] / run["seconds"]
        mib = run["peak_rss_bytes"] / 2**20
        say(f"danhba: {run['sent']:,} sent in {run['seconds']:.1f} s = {per_second:,.0f} msg/s, peak RSS {mib:.0f} MiB")

        second = campaign(data["segment_id"], "Bench crash")
        schedule(second)
        victim = run_worker(db, port, connections, second)
        at_kill = wait_for(n // 2, log_path, second, timeout=600)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        say(f"worker killed (SIGKILL) after {at_kill:,} messages arrived")
        time.sleep(LEASE_SECONDS + 1)
        restart = run_worker(db, port, connections, second)
        out, _ = restart.communicate()
        after = json.loads(out.strip().splitlines()[-1])
        wait_for(n, log_path, second, timeout=30)
        time.sleep(1)
        from danhba.messaging.models import Campaign

        crashed = Campaign.objects.get(pk=second)
        check = crash_check(sink_log(log_path), second, n, connections)
        check.update(resent_counted=crashed.resent, status=crashed.status, arrived_at_kill=at_kill, restart=after)
        check.update(duplicates_counted=check["duplicates"] <= crashed.resent, sent=crashed.status == "sent")
        say(f"crash: {check}")
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=30)
    result = {
        "target": {
            "messages_per_second": TARGET_PER_SECOND,
            "row": "email: personalised campaign to 100,000 recipients",
        },
        "note": NOISE,
        "machine": machine_info(),
        "dataset": {"recipients": n, "seed": SEED, "connections": connections},
        "baseline_smtplib": base,
        "danhba": {
            "queue_seconds": round(queue_seconds, 2),
            "send_seconds": round(run["seconds"], 2),
            "sent": run["sent"],
            "arrived": arrived,
            "per_second": round(per_second, 1),
            "ratio_to_baseline": round(base["per_second"] / per_second, 2) if per_second else None,
            # CPU of the worker process per message: what other work on a shared machine
            # disturbs least.
            "worker_cpu_seconds": run["cpu_seconds"],
            "worker_cpu_us_per_message": round(run["cpu_seconds"] / run["sent"] * 1e6) if run["sent"] else None,
            "peak_rss_bytes": run["peak_rss_bytes"],
        },
        "crash": check,
        "meets": {"throughput": per_second >= TARGET_PER_SECOND, "crash": crash_ok(check)},
    }
    path = write_results(NAME, result, args.out)
    say(f"wrote {path}")
    if not crash_ok(check):
        say(f"[bold red]CRASH CHECK FAILED[/]: {crash_failures(check)}")
        return 1
    return 0


def crash_failures(check: dict[str, Any]) -> list[str]:
    """What the kill -9 phase broke of the durability rule (empty: nothing)."""
    rules = {
        "every_recipient_has_it": "a recipient never got the message",
        "duplicates_at_most_connections": "more duplicates than open connections",
        "duplicates_share_message_id": "a duplicate came with another Message-ID",
        "duplicates_counted": "more duplicates than the campaign counted as resent",
        "sent": "the campaign did not finish",
    }
    return [text for key, text in rules.items() if not check.get(key)]


def crash_ok(check: dict[str, Any]) -> bool:
    return not crash_failures(check)
