"""Background jobs of the segments app. Each re-derives its work from the database (dirty
contacts, segments whose refresh was asked for, the conditions themselves): running one twice
does no harm, and a lost one is caught by the next sweep."""

from __future__ import annotations

import time

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.segments import services
from danhba.segments.models import Segment, SegmentChange

# After the queue runs dry the job waits this long for more: wake-ups are throttled per web
# process (services._wake), so a write right after a wake-up is left to the job already woken.
LINGER_SECONDS = 1.5


@db_task()
def process_dirty_contacts(linger: float = LINGER_SECONDS, max_seconds: float = 300) -> int:
    """Re-evaluate the contacts whose data changed (woken after each writing commit)."""
    started = time.monotonic()
    idle_since: float | None = None
    done = 0
    while time.monotonic() - started < max_seconds:
        n = services.dirty_process()
        done += n
        if n:
            idle_since = None
            continue
        now = time.monotonic()
        if idle_since is None:
            idle_since = now
        elif now - idle_since >= linger:
            break
        time.sleep(0.2)
    return done


@db_task()
def segment_refresh_job(segment_id: int) -> int | None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return None
    return services.segment_refresh(segment=segment).size


@db_periodic_task(crontab(minute="*"))
def segments_sweep() -> int:
    """The safety net: dirty contacts and asked-for refreshes whose wake-up was lost."""
    return services.dirty_process() + services.segments_refresh_requested()


@db_periodic_task(crontab(minute=f"*/{max(1, min(59, settings.SEGMENTS_TIME_REFRESH_MINUTES))}"))
def segments_time_refresh() -> int:
    """Segments whose conditions move with time ("in the last 30 days") are recomputed."""
    return services.segments_refresh_all(time_dependent_only=True)


@db_periodic_task(crontab(hour="4", minute="13"))
def segments_nightly_refresh() -> int:
    """Every segment from scratch once a night: whatever a missed change left behind is undone."""
    return services.segments_refresh_all(via=SegmentChange.Via.REFRESH)
