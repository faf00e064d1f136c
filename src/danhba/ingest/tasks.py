"""Background jobs of imports. Each job only names an import; what to do next is read from the
database (``line_done``, the remaining undo records), so a job lost or run twice does no harm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from danhba.core import jobs
from danhba.ingest import services
from danhba.ingest.models import Import

# An import (or undo) of at most this many rows is a short job: it runs before the queued long
# ones and needs no long-job slot (core.jobs).
SMALL_IMPORT_ROWS = 20_000


def _is_small(pk: int) -> bool:
    sizes = Import.objects.filter(pk=pk).values_list("rows_estimate", "rows_done").first()
    if sizes is None:
        return True  # gone: the job finds nothing to do
    estimate, done = sizes
    return estimate is not None and max(estimate, done or 0) <= SMALL_IMPORT_ROWS


def priority(pk: int) -> int:
    """The queue priority of an import's run or undo: a small one with the short jobs."""
    return jobs.SMALL if _is_small(pk) else jobs.LONG


def import_job(pk: int) -> Any:
    """Queue a run of the import: a small one with the short jobs, a big one as a long job."""
    return import_run(pk, priority=priority(pk))


def undo_job(pk: int) -> Any:
    """Queue the undo of an import, sized like its run."""
    return undo_run(pk, priority=priority(pk))


def _sized(task_fn: Any, pk: int, task: Any, execute: Callable[..., Any]) -> str:
    """Run a small import (or undo) at once; a big one as the one long job at a time, yielding
    to waiting writers between batches (SQLite), or again later while another long job runs."""
    if _is_small(pk):
        return str(execute(pk, via="job").status)
    with jobs.long_job() as mine:
        if not mine and task is not None:
            task_fn.schedule((pk,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return "waiting"
        return str(execute(pk, via="job", progress=lambda _done: jobs.yield_to_writers()).status)


@db_task(priority=jobs.LONG, context=True)
def import_run(pk: int, task: Any = None) -> str:
    return _sized(import_run, pk, task, services.import_execute)


@db_task(priority=jobs.LONG, context=True)
def undo_run(pk: int, task: Any = None) -> str:
    return _sized(undo_run, pk, task, services.undo_execute)


@db_periodic_task(crontab(minute="*"))
def imports_resume_stale_job() -> list[int]:
    return services.imports_resume_stale()


@db_periodic_task(crontab(hour="3", minute="17"))
def imports_purge_job() -> tuple[int, int]:
    return services.imports_purge()


@HUEY.on_startup()
def _resume_on_startup() -> None:
    # A worker that starts after a crash picks up what the dead one was doing.
    from django.db import close_old_connections

    close_old_connections()
    try:
        services.imports_resume_stale()
    finally:
        close_old_connections()
