"""The search benchmark runs end to end on tiny data: generates, serves, measures, writes its JSON.

Not a performance test: it proves the harness works, so ``make bench`` does not fail after an hour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import REPO_DIR


@pytest.fixture(autouse=True)
def _migrated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmarks' fresh SQLite databases are copies of one migrated once
    (``bench.COPY_MIGRATED``): migrating costs 25-50 CPU s, and this is not what they test."""
    monkeypatch.setenv("DANHBA_BENCH_COPY_MIGRATED", "1")


@pytest.mark.slow
def test_search_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "search", "--contacts", "2000", "--requests", "10", "--warmup", "2",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "search.json").read_text())
    assert result["benchmark"] == "search"
    assert result["method"]["transport"] == "http"
    assert result["dataset"]["contacts"] == 2000 and result["dataset"]["search_entries"] == 2000
    assert result["dataset"]["generation_seconds"] > 0
    assert result["database"]["vendor"] == "sqlite" and result["database"]["size_bytes"] > 0
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["django"]
    assert len(result["kinds"]) >= 10
    for name, kind in result["kinds"].items():
        assert kind["danhba_ms"]["n"] > 0, name
        assert kind["baseline_ms"]["n"] == kind["danhba_ms"]["n"], name
        assert 0 < kind["danhba_ms"]["p50"] <= kind["danhba_ms"]["p95"] <= kind["danhba_ms"]["p99"], name
        # danhba and the baseline answered each request with the same rows.
        assert kind["rows"]["danhba"] == kind["rows"]["baseline"] > 0, name
    assert result["overall"]["ratio_p95"] > 0
    assert not db.exists(), "without --keep the generated database is removed"


@pytest.mark.slow
def test_import_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "import.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "import", "--rows", "300", "--database-url", f"sqlite:///{db}",
        "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "import.json").read_text())
    assert result["benchmark"] == "import"
    ds = result["dataset"]
    assert ds["rows"] == 300 and (ds["unique_people"], ds["duplicates"], ds["invalid"]) == (279, 15, 6)
    assert [(f["encoding"], f["rows"]) for f in ds["files"]] == [("utf-8-sig", 210), ("cp1258", 90)]
    assert result["baseline"]["rows"] == 300 and result["baseline"]["seconds"] > 0
    danhba = result["danhba"]
    assert danhba["rows"] == 300 and len(danhba["files"]) == 2
    assert 0 < danhba["peak_rss_mib"] < 1024 and danhba["seconds"] > 0
    assert result["ratio"] > 0 and set(result["meets"]) == {"seconds", "ratio_to_baseline", "peak_rss_mib"}
    # The import found the people the generator wrote: every one once; an invalid row loads
    # without its bad value while it keeps an email or a phone, the others are rejected.
    summary = danhba["summary"]
    assert 0 < ds["invalid_loaded"] < ds["invalid"]
    assert summary["created"] == ds["unique_people"] + ds["invalid_loaded"] == result["checks"]["contacts"]
    assert summary["rejected"] == ds["invalid"] - ds["invalid_loaded"]
    assert summary["warnings"] >= ds["invalid_loaded"]
    handled = ("created", "updated", "unchanged", "merged", "skipped", "rejected")
    assert sum(summary[k] for k in handled) == 300
    assert summary["updated"] + summary["unchanged"] + summary["merged"] == ds["duplicates"]
    assert result["checks"]["import_issues"] >= ds["invalid"]
    assert result["machine"]["cpu_count"] >= 1
    assert not db.exists(), "without --keep the database is removed"
    assert not list((tmp_path / "data").glob("*.csv")), "without --keep the generated files are removed"


def test_import_generator_rows_are_what_it_counts(tmp_path: Path) -> None:
    """Every row the import benchmark writes is what its counts say: new people with unique identities,
    duplicates that repeat an earlier person's email or phone in another spelling, invalid rows that
    danhba's normalisers refuse; and the files read back in the encodings Excel writes."""
    import csv
    import unicodedata

    from bench.import_bench import HEADERS, MAPPING, MessyCsv, dataset_files
    from danhba.core.normalize import (
        NormalizationError,
        fold,
        normalize_email,
        normalize_phone,
        parse_gender,
        parse_import_date,
    )
    from danhba.core.vn import province_from_text
    from danhba.ingest.extract import detect_encoding
    from danhba.ingest.fields import suggest_columns

    # The mapping the benchmark passes is the one a user would be offered for these headers.
    assert MAPPING["columns"] == suggest_columns(list(HEADERS))
    files = dataset_files(tmp_path, 3000)
    truth: list = []
    meta = MessyCsv(7).write(files, lambda message: None, truth)
    assert (meta["unique_people"], meta["duplicates"], meta["invalid"]) == (2790, 150, 60)
    assert [f["rows"] for f in meta["files"]] == [2100, 900]
    assert meta["unencodable_in_cp1258"] == {}
    assert detect_encoding(files[0][0].read_bytes()[:65536]).name == "utf-8-sig"
    assert detect_encoding(files[1][0].read_bytes()[:65536]).name == "cp1258"

    rows = []
    for path, encoding, _ in files:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh)
            assert [unicodedata.normalize("NFC", h) for h in next(reader)] == list(HEADERS)
            rows += [[unicodedata.normalize("NFC", v) for v in row] for row in reader]
    assert len(rows) == len(truth) == 3000

    seen: set[int] = set()
    emails: set[str] = set()
    phones: set[str] = set()
    kinds: dict[str, int] = {}
    for row, (kind, person) in zip(rows, truth, strict=True):
        kinds[kind] = kinds.get(kind, 0) + 1
        name, email, phone, birthday, gender, _address, province = row[:7]
        if kind in ("new", "duplicate"):
            assert fold(name) == fold(person.name)
            assert email.strip() or phone, "a valid row has an email or a phone"
            if email.strip():
                assert normalize_email(email) == person.email
            if phone:
                assert normalize_phone(phone).e164 == "+84" + person.national[1:], phone
            if birthday:
                assert parse_import_date(birthday) == person.birthday, birthday
            assert parse_gender(gender) == person.gender
            if province:
                match = province_from_text(province)
                assert match is not None and match.key == person.province, province
        if kind == "new":
            seen.add(id(person))
            assert person.email not in emails and person.national not in phones
            emails.add(person.email) if person.email else None
            phones.add(person.national) if person.national else None
        elif kind == "duplicate":
            assert id(person) in seen, "a duplicate repeats someone earlier in the files"
        elif kind == "note_only":
            assert not any(row[:10]) and row[10]
        else:
            field = {"bad_email": (normalize_email, email), "short_phone": (normalize_phone, phone),
                     "impossible_date": (parse_import_date, birthday)}[kind]  # fmt: skip
            with pytest.raises(NormalizationError):
                field[0](field[1])
    assert kinds["new"] == 2790 and kinds["duplicate"] == 150
    assert kinds["bad_email"] + kinds["short_phone"] + kinds["impossible_date"] + kinds["note_only"] == 60
    # Messy the way real files are: old 11-digit mobiles, lost leading zeros, Excel numbers, old provinces.
    detail = meta["detail"]
    assert sum(v for k, v in detail["phone"].items() if k.startswith("old 11-digit")) > 100
    assert detail["phone"]["9.12345678E8 (Excel)"] > 50 and detail["birthday"]["Excel serial"] > 50
    assert detail["province"]["pre-2025 name"] > 50 and detail["email"]["typo domain"] > 0
    assert detail["duplicate_of"]["other file"] > 0 and detail["duplicate"]["same phone"] > 0


@pytest.mark.slow
def test_ingest_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "ingest.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "ingest", "--events", "2000", "--clients", "2", "--devices", "300",
        "--users", "100", "--database-url", f"sqlite:///{db}", "--out", str(tmp_path), "--drain-timeout", "240",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "ingest.json").read_text())
    assert result["benchmark"] == "ingest"
    danhba = result["danhba"]
    # 20 batches and the one retried batch: every request answered, every event stored once.
    assert danhba["requests"] == 21 and danhba["errors"] == 0
    assert danhba["accepted"] + danhba["duplicates"] == 2100
    assert danhba["stored"] == 2000 and result["checks"]["every_event_stored_once"]
    assert result["processing"]["drained"] and result["processing"]["contacts_created"] > 0
    assert result["processing"]["worker_cpu_seconds"] > 0  # the worker process was found and did the storing
    # The worker's drains logged what they stored, their CPU and their wait for the write lock.
    drains = result["processing"]["drains"]
    assert drains["messages"] >= 2000 and drains["cpu_seconds"] > 0, drains
    assert danhba["web_cpu_seconds"] > 0
    assert 0 < danhba["latency_ms"]["p50"] <= danhba["latency_ms"]["p99"]
    assert result["baseline"]["events"] == 2000 and result["baseline"]["events_per_second"] > 0
    assert not db.exists(), "without --keep the generated database is removed"


@pytest.mark.slow
def test_segments_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "segments.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "segments", "--quick", "--runs", "2", "--trials", "2",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "segments.json").read_text())
    assert result["benchmark"] == "segments"
    ds = result["dataset"]
    assert ds["contacts"] == 2000 and ds["events"] > 15_000 and ds["order_lines"] > 2_000
    # One "Order Completed" event per order, and purchase metrics for the buyers only.
    assert ds["order_events"] == ds["orders"] and 0 < ds["purchase_stats"] < ds["contacts"]
    assert result["database"]["vendor"] == "sqlite" and result["database"]["size_bytes"] > 0
    count = result["count"]
    # danhba's compiler and the hand-written SQL found the same contacts, and some.
    assert count["danhba"]["count"] == count["baseline"]["count"] > 0
    assert count["danhba"]["warm_seconds"]["n"] == 2 and count["danhba"]["cold_seconds"] > 0
    assert count["plans"]["danhba"] and count["plans"]["baseline"]
    refresh = result["refresh"]
    assert refresh["first"]["entered"] == refresh["first"]["size"] == count["danhba"]["count"]
    assert (refresh["second"]["entered"], refresh["second"]["left"]) == (0, 0)
    latency = result["latency"]
    assert len(latency["trials"]) == 2 and latency["every_trial_entered"]
    assert all(t["contacts_processed"] >= 1 for t in latency["trials"])
    assert all(result["checks"].values()) and set(result["meets"]) == {"count", "refresh", "event_to_membership"}
    assert not db.exists(), "without --keep the generated database is removed"


@pytest.mark.slow
def test_email_benchmark_end_to_end(tmp_path: Path) -> None:
    """300 recipients: the baseline, a campaign sent by a worker process into the SMTP sink
    process, and the crash phase (the worker killed mid-send, a new one taking over)."""
    cmd = [
        sys.executable, "-m", "bench", "email", "--recipients", "300", "--connections", "2",
        "--data-dir", str(tmp_path), "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "email.json").read_text())
    assert result["baseline_smtplib"]["sent"] == 300
    assert result["danhba"]["sent"] == result["danhba"]["arrived"] == 300
    assert result["danhba"]["per_second"] > 0 and result["danhba"]["peak_rss_bytes"] > 0
    crash = result["crash"]
    assert crash["every_recipient_has_it"] and crash["duplicates_share_message_id"], crash
    assert crash["duplicates_at_most_connections"] and crash["status"] == "sent", crash


def test_ingest_cpu_counts_each_process_by_its_own_argument() -> None:
    """The worker's CPU is that of ``danhba worker`` alone: gunicorn's ``--workers`` argument
    once made the web processes count as the worker."""
    from bench.ingest import WEB_ARGUMENT, has_argument

    gunicorn = b"\0".join([b"python", b"-m", b"gunicorn", b"danhba.wsgi:application", b"--workers", b"2", b""])
    worker = b"\0".join([b"python", b"-m", b"danhba.cli", b"worker", b"--workers", b"2", b""])
    assert not has_argument(gunicorn, "worker") and has_argument(worker, "worker")
    assert has_argument(gunicorn, WEB_ARGUMENT) and not has_argument(worker, WEB_ARGUMENT)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_automation_benchmark_end_to_end(tmp_path: Path, workers: int) -> None:
    db = tmp_path / "automation.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "automation", "--contacts", "300", "--wait", "1",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path), "--workers", str(workers),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "automation.json").read_text())
    assert result["benchmark"] == "automation" and result["baseline"]["rows"] == 300
    danhba = result["danhba"]
    # Five step runs per contact (field, wait started, wait over, branch, tag), every path ended.
    assert danhba["step_runs"] == 1500 and danhba["completed"] == 300
    assert danhba["tagged"] == {"nurtured": 270, "vip-nurtured": 30}
    assert danhba["lag_ms"]["n"] == 1500 and danhba["steps_per_s_busy"] > 0 and danhba["workers"] == workers
    assert danhba["step_counts"]["equal"] is True


@pytest.mark.slow
def test_scoring_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "scoring", "--contacts", "200", "--events", "2000",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "scoring.json").read_text())
    assert result["benchmark"] == "scoring" and result["dataset"] == {**result["dataset"], "events": 2000}
    assert result["score_update"]["contacts"] == result["intake"]["contacts_marked"] > 0
    assert result["bulk_recompute"]["contacts"] == 200 and all(result["checks"].values())
    assert result["baseline_group_by"]["rows"] > 0 and result["machine_load"]["cpus"] >= 1


@pytest.mark.slow
def test_quality_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "quality", "--contacts", "300", "--events", "1000",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "quality.json").read_text())
    assert result["benchmark"] == "quality" and all(result["checks"].values())
    assert sum(result["signals"].values()) > 0


@pytest.mark.slow
def test_duplicates_benchmark_end_to_end(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bench", "duplicates", "--contacts", "2000", "--db", "--out", str(tmp_path)]
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "duplicates.json").read_text())
    assert result["benchmark"] == "duplicates" and result["records"] > 2000 and result["true_pairs"] > 100
    assert result["accuracy"]["0.8"]["f1"] > 0.5 and result["baseline_exact_match"]["pairs"] > 0
    assert result["realtime"]["per_contact_ms"]["n"] > 0
    # --db: every pair found at the review threshold is in the database, grouped into clusters.
    database = result["database"]
    assert database["pairs_in_database"] == result["accuracy"]["0.8"]["pairs"] > 0
    assert 0 < database["clusters_refresh"]["result"] <= database["pairs_in_database"]


@pytest.mark.slow
def test_duplicates_febrl_benchmark(tmp_path: Path) -> None:
    """The duplicates benchmark scores FEBRL's febrl1 (1,000 records, 500 true pairs) with
    danhba's engine, offline, and finds most of its duplicates with few false ones."""
    cmd = [sys.executable, "-m", "bench", "duplicates", "--febrl", "--sets", "febrl1", "--out", str(tmp_path)]
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "duplicates-febrl.json").read_text())
    febrl1 = result["sets"]["febrl1"]
    assert (febrl1["records"], febrl1["true_pairs"]) == (1000, 500)
    assert febrl1["shipped_model"]["f1"] > 0.5


@pytest.mark.django_db
def test_the_automation_benchmark_compares_entered_counts_too() -> None:
    """The per-step check compares every counter with the recount, "entered" included: counters
    that entered a step one time too many are reported as not equal."""
    from bench.automation import step_counts_read, workflow_graph
    from danhba.automation.models import StepCount, Workflow
    from danhba.automation.services import engine
    from danhba.automation.services.enrolments import enrol_many
    from danhba.automation.services.workflows import workflow_create, workflow_set_status
    from danhba.contacts.services.contacts import contact_create
    from danhba.core.actor import Actor

    actor = Actor.system(via="cli")
    wf = workflow_create(actor=actor, data={"name": "Bench", "graph": workflow_graph(3600)})
    wf = workflow_set_status(actor=actor, workflow=wf, status=Workflow.Status.ACTIVE)
    people = [contact_create(actor=actor, data={"full_name": f"Người {i}"}).pk for i in range(3)]
    enrol_many(workflow=wf, contact_ids=people, via="bench")
    engine.run_due()
    assert step_counts_read(wf)["equal"] is True
    counter = StepCount.objects.filter(version=wf.current_version, step="pause").first()
    assert counter is not None
    StepCount.objects.filter(pk=counter.pk).update(entered=counter.entered + 1)
    assert step_counts_read(wf)["equal"] is False
