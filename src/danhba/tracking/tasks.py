"""Background jobs of the tracking app. Each one re-derives its work from the database (the
partitions that exist, the rules and the events' timestamps), so running one twice does no harm."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.core.actor import Actor
from danhba.tracking import inbox, partitions, retention


@db_task(priority=jobs.INTAKE)
def process_event_inbox() -> int:
    """Store what the event API accepted (woken after each accepting commit); stays a second
    after the inbox runs dry so a burst of requests needs few wake-ups."""
    return inbox.inbox_process(linger=inbox.LINGER_SECONDS, max_seconds=600)


@db_periodic_task(crontab(minute="*"), priority=jobs.INTAKE)
def process_event_inbox_sweep() -> int:
    """The safety net: anything a lost wake-up or a dead worker (its claims' leases run out) left
    in the inbox is processed within a minute or two."""
    inbox.inbox_adopt_legacy()
    return inbox.inbox_process(max_seconds=50)


@db_periodic_task(crontab(minute="*/5"), priority=jobs.INTAKE)
def retry_parked_event_requests() -> int:
    """Parked requests (failed ``MAX_ATTEMPTS`` times) are tried again by themselves, later and
    later (``inbox.park_delay``), never dropped."""
    count = inbox.inbox_retry_parked()
    if count:
        process_event_inbox()
    return count


@db_periodic_task(crontab(hour="2", minute="41"))
def event_partitions_job() -> list[str]:
    """Keep monthly partitions of the events table ready ahead of today (PostgreSQL)."""
    return partitions.partitions_ensure()


@db_periodic_task(crontab(hour="3", minute="37"))
def events_purge_job() -> dict[str, Any]:
    """Apply the event retention rules and forget messageIds past the dedupe window."""
    report = retention.events_purge(actor=Actor.system("job"))
    return {"deleted": report.deleted, "messages": report.messages}
