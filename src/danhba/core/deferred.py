"""Writes kept for the end of a transaction: the one owner of "collect now, write last".

Some rows are written by many steps of one transaction and locked by several writers at once:
the work marks (``core.claims.mark``: the contacts the segments, scores and freshness jobs must
look at again) and the workflow step counters (``automation.services.counts``). Written as they
come, a transaction takes such a row early and then waits for a contact that another writer
holds while that writer waits for the row: on PostgreSQL, a deadlock. Written once, at the end
of the block, in key order, after every contact lock of the transaction, they cannot be part
of a circle.

A writer of such rows registers a flusher (:func:`register`, with its place in the order) and,
inside a block, puts what it would write in the block's :func:`bucket`. :func:`writes_at_end`
opens the block *inside* the transaction (``with transaction.atomic(), writes_at_end():``); the
outermost block writes every bucket when it ends without an error, flushers in their order.
An exception writes nothing (the transaction or its savepoint rolls back). Outside a block
:func:`bucket` is None and the writer writes at once.

Who opens a block: the event worker's storing transaction (``tracking.inbox``), the engine's
step groups and a version's publish (``automation``), ``scores_update`` (``scoring``), each
batch of an import (``ingest.load``), and the listeners of ``contacts.changed`` that may run
without one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

# key → (place in the order, the flusher). Lower places write first.
_flushers: dict[str, tuple[int, Callable[[Any], None]]] = {}
_state = threading.local()


def register(key: str, flush: Callable[[Any], None], *, order: int) -> None:
    """``flush(bucket)`` writes what a block collected under ``key``; ``order`` places it among
    the others (the step counters go last: 100; work marks: 10)."""
    _flushers[key] = (order, flush)


def bucket(key: str, make: Callable[[], Any], *, in_transaction: bool = False) -> Any | None:
    """The open block's collection for ``key`` (made by ``make`` the first time), or None
    outside a block: then write now. ``in_transaction``: only a block opened inside a
    transaction (a writer that keeps its rows among the transaction's on-commit callbacks would
    lose them to a commit before the block's end)."""
    buckets: dict[str, Any] | None = getattr(_state, "buckets", None)
    if buckets is None or (in_transaction and not _state.in_transaction):
        return None
    if key not in buckets:
        buckets[key] = make()
    return buckets[key]


@contextmanager
def writes_at_end() -> Iterator[None]:
    """Collect the registered writers' rows until the block ends, then write them in order.
    Nested blocks write with the outermost one."""
    if getattr(_state, "buckets", None) is not None:
        yield
        return
    _state.buckets = {}
    _state.in_transaction = connection.in_atomic_block
    try:
        yield
        buckets: dict[str, Any] = _state.buckets
    finally:
        _state.buckets = None
    for key, (_order, flush) in sorted(_flushers.items(), key=lambda item: item[1][0]):
        if key in buckets:
            flush(buckets[key])
