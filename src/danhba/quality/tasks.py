"""Background jobs of the quality app. Each re-derives its work from the database (dirty rows,
cursors, due dates): running one twice does no harm, and the sweeps catch a lost wake-up."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.quality.services import domains, duplicates, freshness

LINGER_SECONDS = 1.5
MAX_SECONDS = 30
SWEEP_BATCHES = 10


@db_task(priority=jobs.LIVE)
def process_freshness_dirty(linger: float = LINGER_SECONDS, max_seconds: float = MAX_SECONDS) -> int:
    """Compute the freshness of marked contacts (woken after each writing commit)."""
    jobs.woken("freshness-dirty")
    return jobs.drain(lambda: freshness.dirty_process(max_batches=1), linger=linger, max_seconds=max_seconds)


@db_periodic_task(crontab(minute="*"), priority=jobs.LIVE)
def quality_sweep() -> int:
    """Marked contacts whose wake-up was lost."""
    return freshness.dirty_process(max_batches=SWEEP_BATCHES)


@db_periodic_task(crontab(minute="*/5"))
def quality_signals_sweep() -> int:
    """New import changes (job titles, companies) and email domains due for an MX lookup."""
    # At most 50 lookups a pass (each up to QUALITY_DNS_TIMEOUT): the rest wait for the next one.
    return freshness.import_signals_scan() + domains.mail_domains_check(limit=50)


@db_periodic_task(crontab(hour="2", minute="23"))
def quality_nightly() -> int:
    """Data ages: contacts that crossed a freshness boundary, and any without a row yet."""
    return freshness.time_mark()


@db_task(priority=jobs.LONG)
def quality_snapshot_job() -> int:
    """Compute today's dashboard figures (asked from the page or the API)."""
    from danhba.quality.services.dashboard import quality_snapshot_compute

    return quality_snapshot_compute().pk


@db_periodic_task(crontab(hour="3", minute="17"))
def quality_snapshot_nightly() -> int:
    """A snapshot a day: the dashboard's figures and its charts over time."""
    from danhba.quality.services.dashboard import quality_snapshot_compute

    return quality_snapshot_compute().pk


@db_task(priority=jobs.LONG, context=True)
def cleaning_run_job(run_id: int, task: Any = None) -> str | None:
    """Work on a cleaning run for a while (one long job at a time: ``core.jobs``), then queue
    itself again until it is done."""
    from danhba.quality.models import CleaningRun
    from danhba.quality.services.cleaning import cleaning_run_execute

    with jobs.long_job() as mine:
        if not mine and task is not None:
            cleaning_run_job.schedule((run_id,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return None
        status = cleaning_run_execute(run_id=run_id)
    if status in CleaningRun.ACTIVE:
        cleaning_run_job(run_id)
    return status


@db_periodic_task(crontab(minute="*/10"))
def cleaning_sweep() -> int:
    """Start the scheduled cleaning runs that are due; take over runs whose worker stopped."""
    from danhba.quality.services.cleaning import cleaning_due

    return len(cleaning_due())


# --- duplicate detection ----------------------------------------------------------------------
# Background jobs of duplicate detection. A run row says what to do (``DuplicateRun``); the job


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


@db_task(priority=jobs.LONG)
def bulk_merge_job(pk: int) -> int:
    """Run a bulk merge from where it stands (services/bulk.py)."""
    from danhba.quality.services.bulk import bulk_merge_run

    job = bulk_merge_run(pk)
    return job.position if job is not None else 0


@db_periodic_task(crontab(minute="*/5"))
def bulk_merges_resume() -> int:
    """Bulk merges whose worker died or whose wake-up was lost go on."""
    from danhba.quality.models import BulkMerge

    stale = BulkMerge.objects.filter(status__in=[BulkMerge.Status.QUEUED, BulkMerge.Status.RUNNING])
    ids = list(stale.values_list("pk", flat=True)[:10])
    for pk in ids:
        bulk_merge_job(pk)
    return len(ids)


@db_periodic_task(crontab(hour="3", minute="41"))
def merges_purge_nightly() -> int:
    """Merges past their undo window lose the contacts' values they kept for undo."""
    from danhba.quality.services.merge_purge import merges_purge

    return merges_purge()
