"""Background jobs of the contacts app. A job is a wake-up call: it re-derives its result from
database state, so running it twice or losing it and running it again changes nothing."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.contacts.exports import export_job_run, export_jobs_purge
from danhba.contacts.search import search_index


@db_task(retries=3, retry_delay=10)
def search_keys_rebuild_job(contact_ids: list[int]) -> int:
    search_index(contact_ids)
    return len(contact_ids)


@db_task()
def export_job_run_job(job_id: int) -> None:
    """Write an export job's file. No retries: a failure is recorded on the job for its owner,
    and the claim (queued → running) makes a duplicate call a no-op."""
    export_job_run(job_id)


@db_periodic_task(crontab(minute="17"))
def export_jobs_purge_job() -> int:
    """Hourly: exports older than a week go, with their files; stuck jobs are failed or re-queued."""
    return export_jobs_purge()
