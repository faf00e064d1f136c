"""``danhba migrate``: Django's migrate, plus the cache table (Django's DatabaseCache), plus the
event inbox's own database file on SQLite (``core/db.py``)."""

from typing import Any

from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections

from danhba.core.db import EVENTS_INBOX, separate_inbox


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if options["database"] == DEFAULT_DB_ALIAS:
            call_command("createcachetable", verbosity=0)
            name = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
            # Not while the test suite creates its in-memory database: the inbox mirrors it.
            if separate_inbox() and "mode=memory" not in name and name != ":memory:":
                super().handle(*args, **{**options, "database": EVENTS_INBOX})
