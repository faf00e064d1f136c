"""Short jobs keep flowing beside long ones (issue 12: a 200,000-row import held the worker for
14 minutes): the queue hands out event intake and dirty contacts before big imports and full
refreshes, and a second long job waits for the long-job slot instead of taking the last thread."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huey import SqliteHuey
from huey.contrib.djhuey import HUEY

from danhba.core import jobs
from danhba.ingest import tasks as ingest_tasks
from danhba.ingest.models import Import
from danhba.segments import tasks as segment_tasks
from danhba.tracking import tasks as tracking_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def slot(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A slot of this test's own in the worker's real storage (the test runs in parallel)."""
    key = f"test.long-job.{uuid.uuid4().hex}"
    monkeypatch.setattr(jobs, "_SLOT", key)
    monkeypatch.setattr(HUEY, "immediate", False)
    yield key
    HUEY.delete(key)


def make_import(admin: Any, rows: int) -> Import:
    return Import.objects.create(
        created_by=admin, file_name="khach-hang.csv", status=Import.Status.QUEUED, rows_estimate=rows
    )


def test_the_queue_hands_out_short_jobs_first(tmp_path: Path, admin: Any) -> None:
    big, small = make_import(admin, 200_000), make_import(admin, 300)
    queue = SqliteHuey("order", filename=str(tmp_path / "queue.sqlite3"))
    queued = [
        segment_tasks.segment_refresh_job.s(1),
        ingest_tasks.import_run.s(big.pk, priority=ingest_tasks.priority(big.pk)),
        segment_tasks.process_dirty_contacts.s(),
        ingest_tasks.import_run.s(small.pk, priority=ingest_tasks.priority(small.pk)),
        tracking_tasks.process_event_inbox.s(),
    ]
    for task in queued:
        queue.storage.enqueue(HUEY.serialize_task(task), task.priority)
    order = []
    while (raw := queue.storage.dequeue()) is not None:
        message = HUEY.serializer.deserialize(raw)
        order.append((message.name.rsplit(".", 1)[-1], message.args))
    assert order == [
        ("process_event_inbox", ()),
        ("process_dirty_contacts", ()),
        ("import_run", (small.pk,)),
        ("segment_refresh_job", (1,)),
        ("import_run", (big.pk,)),
    ]


def test_a_second_long_job_waits_for_the_slot(
    slot: str, admin: Any, monkeypatch: pytest.MonkeyPatch, make_contact: Any
) -> None:
    big = make_import(admin, 200_000)
    again: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(ingest_tasks.import_run, "schedule", lambda args, **kw: again.append((args, kw)))
    with jobs.long_job() as mine:
        assert mine
        # The worker's call (it passes the task): the import is queued again, not run.
        assert ingest_tasks.import_run.call_local(big.pk, task=object()) == "waiting"
    assert again == [((big.pk,), {"delay": jobs.LONG_JOB_RETRY_SECONDS, "priority": jobs.LONG})]
    big.refresh_from_db()
    assert big.status == Import.Status.QUEUED and big.started_at is None
    # Once the slot is free, the next long job takes it.
    with jobs.long_job() as mine:
        assert mine


def test_a_small_import_never_waits_for_the_slot(slot: str, admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    small = make_import(admin, 300)
    ran: list[int] = []
    monkeypatch.setattr(ingest_tasks.services, "import_execute", lambda pk, via: ran.append(pk) or small)
    with jobs.long_job():
        ingest_tasks.import_run.call_local(small.pk, task=object())
    assert ran == [small.pk]


def test_a_dead_jobs_slot_is_taken_over_after_its_lease(slot: str) -> None:
    HUEY.put_if_empty(slot, time.time() - jobs.LONG_JOB_LEASE - 1)
    with jobs.long_job() as mine:
        assert mine
    HUEY.put_if_empty(slot, time.time())
    with jobs.long_job() as mine:
        assert not mine


def test_a_big_import_pauses_for_other_writers_between_batches(
    slot: str, admin: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from danhba.core.actor import Actor
    from danhba.ingest import services as imports

    rows = "name,email\n" + "".join(f"Nguyễn Văn {i},khach{i}@example.vn\n" for i in range(25))
    actor = Actor.system("cli", admin)
    run = imports.import_create(actor=actor, file=rows.encode(), file_name="khach-hang.csv")
    run = imports.import_configure(
        actor=actor, run=run, columns={"name": "full_name", "email": "email"}, source="import", consent_proof="x"
    )
    imports.import_start(actor=actor, run=run, enqueue=False)
    monkeypatch.setattr(ingest_tasks, "SMALL_IMPORT_ROWS", 10)
    settings.IMPORT_BATCH_ROWS = 10
    pauses: list[int] = []
    monkeypatch.setattr(jobs, "yield_to_writers", lambda: pauses.append(Import.objects.get(pk=run.pk).rows_done))
    assert ingest_tasks.import_run.call_local(run.pk, task=object()) == "done"
    # After each committed batch of 10 rows: the rows were written before the pause.
    assert pauses == [10, 20, 25]


def test_a_wake_up_is_queued_once_until_its_job_starts(slot: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"test-{uuid.uuid4().hex}"
    queued: list[int] = []
    for _ in range(5):
        jobs.wake_once(name, lambda: queued.append(1))
    assert queued == [1]
    jobs.woken(name)
    jobs.wake_once(name, lambda: queued.append(2))
    assert queued == [1, 2]
    # A wake-up whose job was lost (the queue flushed) does not block the next ones forever.
    HUEY.delete(f"danhba.waiting.{name}")
    HUEY.put_if_empty(f"danhba.waiting.{name}", time.time() - jobs.WAKE_LOST_SECONDS - 1)
    jobs.wake_once(name, lambda: queued.append(3))
    assert queued == [1, 2, 3]
    jobs.woken(name)
