"""Background jobs of automation. The enrolments are the source of truth: a job only wakes the
engine (``services/engine.py``), which claims what is due; a lost job is caught by the minutely
sweep, a repeated one finds nothing left to claim."""

from __future__ import annotations

import time

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from danhba.automation.services import engine
from danhba.core import jobs

MAX_SECONDS = 30
LINGER_SECONDS = 1.5
# A step due within this many seconds after a job ends gets a job scheduled for its time
# (farther ones are the minutely sweep's).
AHEAD_SECONDS = 70
_NEXT_KEY = "danhba.automation.next"


@db_task(priority=jobs.LIVE)
def automation_run_job(max_seconds: float = MAX_SECONDS) -> int:
    """Run due steps (woken after enrolments, events that end waits, and at due times)."""
    jobs.woken("automation")
    started = time.monotonic()
    idle_since: float | None = None
    done = 0
    while time.monotonic() - started < max_seconds:
        stats = engine.run_due(max_batches=1)
        done += stats.steps
        if stats.claimed:
            idle_since = None
            continue
        now = time.monotonic()
        if idle_since is None:
            idle_since = now
        elif now - idle_since >= LINGER_SECONDS:
            break
        time.sleep(0.2)
    schedule_next()
    return done


def schedule_next() -> None:
    """Queue a job for the next due step if it comes within AHEAD_SECONDS (one such job at a
    time: a key in Huey's storage holds its time)."""
    due = engine.next_due()
    if due is None or HUEY.immediate:
        return
    delay = (due - timezone.now()).total_seconds()
    if delay > AHEAD_SECONDS:
        return
    at = time.time() + max(0.0, delay)
    planned = HUEY.get(_NEXT_KEY, peek=True)
    if isinstance(planned, (int, float)) and time.time() <= planned <= at:
        return
    HUEY.put(_NEXT_KEY, at)
    automation_run_job.schedule(delay=max(0.0, delay) + 0.05)


@db_periodic_task(crontab(minute="*"), priority=jobs.LIVE)
def automation_sweep() -> int:
    """The safety net: steps whose wake-up was lost, long waits that came due, and claims of
    dead workers whose lease ran out."""
    done = engine.run_due(max_batches=20).steps
    schedule_next()
    return done


@db_periodic_task(crontab(minute="7"))
def automation_daily_job() -> int:
    """Daily triggers (no activity, dates), hourly so a new day is picked up within the hour
    of local midnight; each workflow is done once per local day."""
    from danhba.automation.triggers import daily_enrol

    return daily_enrol()
