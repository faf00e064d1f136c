"""Database aliases beyond ``default``.

On SQLite the event inbox (``tracking.EventInbox``) lives in a database file of its own, the
``events_inbox`` alias (settings.py; docs/decisions/0002-event-inbox-file.md): SQLite has one
writer at a time per file, and in the main file an event request would wait behind the worker's
transactions, which create contacts. On PostgreSQL (row locks) there is no such alias and the
table is in the main database.

The table is created in both files (every migration runs on ``default``; ``danhba migrate``
then runs the inbox's migrations on ``events_inbox``), so the main file's copy stays empty.
In the test suite the alias mirrors ``default`` (its ``TEST: MIRROR``), and the router then
sends the inbox to ``default`` too: one connection, one transaction per test.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

EVENTS_INBOX = "events_inbox"
_MODELS = frozenset({"tracking.eventinbox"})


def separate_inbox() -> bool:
    """Whether the ``events_inbox`` alias is a database of its own (not absent, not a mirror)."""
    if EVENTS_INBOX not in connections.settings:
        return False
    return bool(connections[EVENTS_INBOX].settings_dict["NAME"] != connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])


class Router:
    def _db(self, model: type[Model]) -> str | None:
        # getattr: the database cache asks with a stand-in model whose _meta has no label.
        if getattr(model._meta, "label_lower", "") in _MODELS and separate_inbox():
            return EVENTS_INBOX
        return None

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._db(model)

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if db == EVENTS_INBOX:
            return f"{app_label}.{model_name}" in _MODELS
        return None
