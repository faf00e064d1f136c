"""Background jobs of duplicate detection. A run row says what to do (``DuplicateRun``); the job
claims it, so a repeated job does nothing. The nightly run only predicts with the stored model."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.quality.services import duplicates


@db_task(priority=jobs.LONG, context=True)
def duplicate_run_job(run_id: int, task: Any = None) -> None:
    with jobs.long_job() as mine:
        if not mine and task is not None:
            duplicate_run_job.schedule((run_id,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return
        duplicates.run_execute(run_id)


@db_task()
def duplicates_check_job(contact_ids: list[int]) -> int:
    """New contacts of an import checked against their candidates (set-based)."""
    return duplicates.pairs_check(contact_ids)


@db_periodic_task(crontab(minute="*/5"))
def duplicates_identity_sweep() -> int:
    """Identity resolution's suspicions into the review queue."""
    return duplicates.suspected_absorb()


@db_periodic_task(crontab(hour="2", minute="17"))
def duplicates_nightly() -> None:
    duplicates.nightly_predict()
