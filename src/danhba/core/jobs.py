"""How background jobs share the worker: priorities, and one long job at a time.

The worker runs two threads (``danhba worker --workers 2``). Short jobs — storing accepted
events, re-evaluating dirty contacts, small imports — must keep flowing while a big import or
a full segment refresh runs (issue 12: one 200,000-row import held the worker for 14 minutes).
Two rules see to it:

- **Priorities** (Huey's ``priority=``, higher first): a queued short job runs before a queued
  long one.
- **One long job at a time** (:func:`long_job`): a big import, an undo of one, or a full
  refresh first takes the "long job" slot; when another long job holds it, the job is queued
  again a little later instead of taking the second thread. So one thread is always free for
  short jobs. The slot is a key in Huey's storage with the time it was taken; a slot older
  than ``LONG_JOB_LEASE`` (its job died with the worker) is taken over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection
from huey.contrib.djhuey import HUEY

from danhba.core.db import write_turn

log = logging.getLogger(__name__)

# Huey priorities (higher runs first; a task without one has 0).
INTAKE = 100  # storing the events the API accepted
LIVE = 90  # re-evaluating the contacts whose data changed (segments)
SMALL = 50  # small imports and undos
LONG = -10  # big imports and undos, full segment refreshes

# A long job that waits for the slot is queued again after this many seconds.
LONG_JOB_RETRY_SECONDS = 10
# A slot held longer than this is taken over: the job that took it is presumed dead. A long job
# that runs longer only loses its exclusivity (two long jobs at once, as before this rule).
LONG_JOB_LEASE = 30 * 60

_SLOT = "danhba.long-job"
# A wake-up job noted as waiting in the queue for longer than this is presumed lost (a queue
# flushed by hand): the next write queues another.
WAKE_LOST_SECONDS = 120

# The pause between two transactions of a long job on SQLite (yield_to_writers): a writer
# waiting for the lock sleeps in SQLite's busy handler and looks again at most every 100 ms, so
# a shorter gap is often missed and the long job takes the lock again before it.
YIELD_SECONDS = 0.1


def _take_slot(now: float) -> bool:
    if HUEY.put_if_empty(_SLOT, now):
        return True
    taken_at = HUEY.get(_SLOT, peek=True)
    if isinstance(taken_at, (int, float)) and now - taken_at < LONG_JOB_LEASE:
        return False
    log.warning("taking over the long-job slot held since %s", taken_at)
    HUEY.delete(_SLOT)
    return bool(HUEY.put_if_empty(_SLOT, now))


@contextmanager
def long_job() -> Iterator[bool]:
    """``with long_job() as mine:`` — ``mine`` is False when another long job holds the slot (the
    caller then queues itself again and returns). Immediate mode (tests, no worker) has no
    second thread to protect: the slot is always free there."""
    if HUEY.immediate:
        yield True
        return
    if not _take_slot(time.time()):
        yield False
        return
    try:
        yield True
    finally:
        HUEY.delete(_SLOT)


def yield_to_writers() -> None:
    """Between two transactions of a long job (a refresh's chunks, an import's batches): on
    SQLite, one writer at a time, give the writers waiting for the lock a moment to take it.
    PostgreSQL locks rows, so nobody waits there; inside an outer transaction there is nothing
    to give."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        time.sleep(YIELD_SECONDS)


def wake_once(name: str, enqueue: Callable[[], object]) -> bool:
    """Queue a wake-up job (``enqueue``) unless one of the same name is already waiting in the
    queue. Writes wake their worker job after every commit; without this, a steady load queued
    hundreds of copies of the same job, which then held both threads in turn and kept the long
    jobs (and anything of lower priority) waiting. The job calls :func:`woken` when it starts,
    so a write after that queues the next one."""
    if HUEY.immediate:
        enqueue()
        return True
    key = f"danhba.waiting.{name}"
    now = time.time()
    if not HUEY.put_if_empty(key, now):
        queued_at = HUEY.get(key, peek=True)
        if isinstance(queued_at, (int, float)) and now - queued_at < WAKE_LOST_SECONDS:
            return False
        HUEY.delete(key)
        if not HUEY.put_if_empty(key, now):
            return False
    enqueue()
    return True


def drain(step: Callable[[], int], *, linger: float, max_seconds: float) -> int:
    """Run ``step`` (one batch of a queue; returns how much it did) until the queue stays empty for
    ``linger`` seconds or ``max_seconds`` have passed: a woken job that waits a little for more
    work, and hands its thread back after a while (the next wake-up carries on). Returns the sum."""
    started = time.monotonic()
    idle_since: float | None = None
    done = 0
    while time.monotonic() - started < max_seconds:
        with write_turn():  # the worker's other drains (events) go in turn, not by busy waits
            n = step()
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


_last_wake: dict[str, float] = {}
# A burst of writes needs one wake-up: writers ask at most this often per process.
WAKE_EVERY_SECONDS = 0.25


def wake_soon(name: str, enqueue: Callable[[], object]) -> None:
    """:func:`wake_once`, asked at most every ``WAKE_EVERY_SECONDS`` per process (after each
    writing commit: a burst of writes needs one job)."""
    now = time.monotonic()
    if now - _last_wake.get(name, -WAKE_EVERY_SECONDS) < WAKE_EVERY_SECONDS:
        return
    _last_wake[name] = now
    wake_once(name, enqueue)


def woken(name: str) -> None:
    """The first thing a wake-up job does (see :func:`wake_once`)."""
    HUEY.delete(f"danhba.waiting.{name}")
