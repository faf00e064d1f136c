"""Kill the worker in the middle of a large import, start it again: the result must equal an
uninterrupted run of the same file — no contact doubled, no row lost, the same counts. The
uninterrupted run reads the file in-process, the killed one through the second process of
``ingest.pipeline``, so the two paths are compared too."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from danhba.contacts.models import Contact
from danhba.core.tests.live import site_migrate

pytestmark = [pytest.mark.slow]
ROWS = 6000

FINGERPRINT = """
import json
from danhba.contacts.models import Contact
from danhba.ingest.models import Import
run = Import.objects.order_by("-pk").first()
people = sorted(
    (c.full_name, sorted(c.emails.values_list("email", flat=True)), sorted(c.phones.values_list("e164", flat=True)),
     sorted(c.tags.values_list("name", flat=True)), c.province)
    for c in Contact.objects.prefetch_related("emails", "phones", "tags")
)
print(json.dumps({"people": people, "counts": [run.status, run.rows_done, run.created, run.updated, run.merged,
                  run.rejected, run.warned, run.issues.count(), run.changes.count(),
                  sum(r.size for r in run.created_ranges.all())]}))
"""
# Undo of the import resumed after the kill: every contact it created goes, nothing else was there.
UNDO = """
import json
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.ingest import services
from danhba.ingest.models import Import
run = Import.objects.order_by("-pk").first()
services.import_undo(actor=Actor.system("cli"), run=run, enqueue=False)
run = services.undo_execute(run.pk)
print(json.dumps([run.status, run.options["undo_report"], Contact.objects.count()]))
"""


def make_file(path: Path) -> None:
    rng = random.Random(7)
    lines = ["Họ và tên,Email,Số điện thoại,Tỉnh/Thành phố,Nhóm"]
    for i in range(ROWS):
        person = rng.randrange(ROWS * 9 // 10)  # about one row in ten repeats someone
        email = f"khach{person}@example.vn" if person % 3 else ""
        phone = f"09{person:08d}" if person % 3 != 1 else ""
        if i % 97 == 0:
            email = "hỏng@@"  # rejected
        lines.append(f"Khách Hàng {person},{email},{phone},{rng.choice(['HCM', 'Hà Nội', 'Đà Nẵng', 'Bình Dương'])},"
                     f"{rng.choice(['VIP', 'Sỉ', ''])}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def environment(tmp: Path, name: str, pipeline: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / name}.sqlite3",
        "DANHBA_VAR_DIR": str(tmp / name),
        "HUEY_NAME": f"crash-{uuid.uuid4().hex[:8]}",
        "IMPORT_BATCH_ROWS": "150",
        "IMPORT_COMMIT_ROWS": "450",  # three batches per commit: the kill may fall inside one
        "IMPORT_STALE_SECONDS": "2",
        # The reference run reads in-process; the crashed one through the second process.
        "IMPORT_PIPELINE_MIN_ROWS": "1000" if pipeline else "0",
        # The killed run sets the contact list's indexes aside (decision 0009), the reference keeps them.
        "IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS": "1000" if pipeline else "0",
    }
    env.pop("REDIS_URL", None)  # the SQLite queue: nothing but the database file is needed
    env.pop("DJANGO_SETTINGS_MODULE", None)
    (tmp / name).mkdir()
    return env


def danhba(env: dict[str, str], *args: str, code: str | None = None) -> str:
    cmd = [sys.executable, "-m", "danhba.cli", *args] + (["-c", code] if code else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "danhba.cli", "worker", "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip


def progress(env: dict[str, str]) -> tuple[str, int]:
    """Read straight from the database file: a Django process per poll would be too slow to
    catch the import in the middle."""
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        status, line = db.execute("SELECT status, line_done FROM ingest_import").fetchone()
    return status, int(line)


def list_indexes(env: dict[str, str]) -> set[str]:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts_contact'")
        return {name for (name,) in rows if name.startswith("contact_")}


def declared_indexes() -> set[str]:
    """The contacts table's indexes the model declares: all there after an import (a big one sets
    some aside while it loads)."""
    return {index.name for index in Contact._meta.indexes if index.name.startswith("contact_")}


def test_killing_the_worker_mid_import_changes_nothing_in_the_result(tmp_path: Path) -> None:
    data = tmp_path / "khach.csv"
    make_file(data)
    start = (
        "from danhba.core.actor import Actor; from danhba.ingest import services; "
        "actor = Actor.system('cli'); "
        f"run = services.import_create(actor=actor, file={str(data)!r}); "
        "run = services.import_configure(actor=actor, run=run, source='import', consent_purposes=['email_marketing']); "
        "services.import_start(actor=actor, run=run)"
    )

    # The reference: the same file, uninterrupted, on its own database.
    plain = environment(tmp_path, "plain", pipeline=False)
    site_migrate(plain)
    danhba(plain, "shell", code=start)
    w = worker(plain)
    try:
        deadline = time.monotonic() + 240
        while progress(plain)[0] != "done" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        w.terminate()
        w.wait(20)
    expected = json.loads(danhba(plain, "shell", code=FINGERPRINT))
    assert expected["counts"][0] == "done" and (every_index := list_indexes(plain)) == declared_indexes()

    crash = environment(tmp_path, "crash", pipeline=True)
    site_migrate(crash)
    danhba(crash, "shell", code=start)
    w = worker(crash)
    killed_at = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, line = progress(crash)
            if 0 < line < ROWS // 2 and status == "running":
                os.killpg(w.pid, signal.SIGKILL)  # no clean shutdown: the batch in flight is lost
                w.wait(10)
                killed_at = line
                break
            time.sleep(0.02)
        assert killed_at, "the import finished before the worker could be killed"
        assert progress(crash)[0] == "running"
        assert list_indexes(crash) == set()  # killed while the list's indexes were set aside
        time.sleep(2.5)  # the dead worker's heartbeat goes stale
        w = worker(crash)  # on start it takes the import over
        deadline = time.monotonic() + 240
        while progress(crash)[0] != "done" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if w.poll() is None:
            w.terminate()
            w.wait(20)
    got = json.loads(danhba(crash, "shell", code=FINGERPRINT))
    assert got["counts"] == expected["counts"]
    assert got["people"] == expected["people"]
    assert list_indexes(crash) == every_index  # built again by the run that took the import over
    undo_removes_everything(crash, got["counts"])


def undo_removes_everything(env: dict[str, str], counts: list[Any]) -> None:
    created = counts[-1]
    assert created == counts[2]  # the ranges hold every contact the import created
    report = {"deleted": created, "restored": 0, "kept": 0}
    assert json.loads(danhba(env, "shell", code=UNDO)) == ["undone", report, 0]
