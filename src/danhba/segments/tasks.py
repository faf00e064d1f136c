"""Background jobs of the segments app. Each re-derives its work from the database (dirty
contacts, segments whose refresh was asked for, the conditions themselves): running one twice
does no harm, and a lost one is caught by the next sweep."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.segments import services
from danhba.segments.models import Segment, SegmentChange


@db_task()
def process_dirty_contacts() -> int:
    """Re-evaluate the contacts whose data changed (woken after each writing commit)."""
    return services.dirty_process()


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
