"""Background jobs of the segments app. Each re-derives its work from the database (dirty
contacts, segments whose refresh was asked for, the conditions themselves): running one twice
does no harm, and a lost one is caught by the next sweep.

Re-evaluating dirty contacts is a short job with a high priority; full refreshes are long jobs
with a low one, and take the worker's one long-job slot (``core.jobs``): while another long job
holds it they are queued again a little later, so a thread stays free for the short jobs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.segments import services
from danhba.segments.models import Segment, SegmentChange

# After the queue runs dry the job waits this long for more: wake-ups are throttled per web
# process (services._wake), so a write right after a wake-up is left to the job already woken.
LINGER_SECONDS = 1.5
# A job hands the thread back after this long even if work remains: the next wake-up (or the
# sweep) carries on, and a queued job of higher priority (event intake) runs first.
MAX_SECONDS = 30
# Batches the minutely sweep takes at most (the woken job does the bulk).
SWEEP_BATCHES = 10


@db_task(priority=jobs.LIVE)
def process_dirty_contacts(linger: float = LINGER_SECONDS, max_seconds: float = MAX_SECONDS) -> int:
    """Re-evaluate the contacts whose data changed (woken after each writing commit)."""
    jobs.woken("dirty-contacts")
    return jobs.drain(lambda: services.dirty_process(max_batches=1), linger=linger, max_seconds=max_seconds)


@db_task(priority=jobs.LONG, context=True)
def segment_refresh_job(segment_id: int, task: Any = None) -> int | None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    with jobs.long_job() as mine:
        if not mine and task is not None:
            segment_refresh_job.schedule((segment_id,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return None
        return services.segment_refresh(segment=segment).size


@db_task(priority=jobs.LONG, context=True)
def segments_refresh_all_job(
    time_dependent_only: bool = False, via: str = SegmentChange.Via.SCHEDULE, task: Any = None
) -> int | None:
    with jobs.long_job() as mine:
        if not mine and task is not None:
            segments_refresh_all_job.schedule(
                (time_dependent_only, via), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG
            )
            return None
        return services.segments_refresh_all(time_dependent_only=time_dependent_only, via=via)


@db_periodic_task(crontab(minute="*"), priority=jobs.LIVE)
def segments_sweep() -> int:
    """The safety net: dirty contacts and asked-for refreshes whose wake-up was lost (the
    refreshes are queued as long jobs, not run here)."""
    done = services.dirty_process(max_batches=SWEEP_BATCHES)
    return done + services.segments_refresh_requested(run=lambda segment: segment_refresh_job(segment.pk))


@db_periodic_task(crontab(minute=f"*/{max(1, min(59, settings.SEGMENTS_TIME_REFRESH_MINUTES))}"))
def segments_time_refresh() -> None:
    """Segments whose conditions move with time ("in the last 30 days") are recomputed."""
    segments_refresh_all_job(True, SegmentChange.Via.SCHEDULE)


@db_periodic_task(crontab(hour="4", minute="13"))
def segments_nightly_refresh() -> None:
    """Every segment from scratch once a night: whatever a missed change left behind is undone."""
    segments_refresh_all_job(False, SegmentChange.Via.REFRESH)
