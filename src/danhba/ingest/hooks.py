"""What an import tells the apps above it, which it does not import: they connect in their
``AppConfig.ready()`` (see ``core/hooks.py``). An import writes its contacts batch by batch,
each batch its own transaction; a listener of ``contacts.changed`` that tells people about new
contacts (sales: a rep given leads) asks :func:`running_import` whether the write is an
import's batch, gathers what it would say under the import's id, and says it once on
:data:`IMPORT_FINISHED`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from danhba.core.hooks import Hook

_RUNNING: ContextVar[int | None] = ContextVar("danhba_import_running", default=None)

IMPORT_FINISHED: Hook[[int], object] = Hook(
    "ingest.import_finished",
    doc="Called with an import's id when it ended (done, cancelled or failed), after its last "
    "batch committed and outside any transaction: listeners say once what they gathered over "
    "its batches (sales: one notice and one email per rep given leads).",
)


def running_import() -> int | None:
    """The id of the import whose batch this thread is writing, or None."""
    return _RUNNING.get()


@contextmanager
def import_running(pk: int) -> Iterator[None]:
    token = _RUNNING.set(pk)
    try:
        yield
    finally:
        _RUNNING.reset(token)
