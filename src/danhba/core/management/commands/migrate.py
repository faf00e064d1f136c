"""``danhba migrate``: Django's migrate, plus the cache table (Django's DatabaseCache), plus the
event inbox's own database file on SQLite (``core/db.py``).

A new inbox file is not migrated step by step: it holds one table, which every migration also
made in the main file (the router lets the inbox's operations run on both), but applying 100
migrations to it costs 15-17 s of Django rendering their states. It is made from the main file
instead (``core.db.inbox_from_main``): the inbox table's schema as the main file has it (table,
indexes, triggers) and the same migrations recorded as applied. ``core/tests/test_db.py`` holds
it to a step-by-step migrate.
An inbox file that already has migrations gets only the new ones, step by step."""

from typing import Any

from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.recorder import MigrationRecorder

from danhba.core.db import EVENTS_INBOX, inbox_from_main, separate_inbox

# Options under which the inbox is migrated step by step, as Django would.
_STEP_BY_STEP = ("app_label", "migration_name", "fake", "fake_initial", "plan", "check_unapplied", "prune")


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if options["database"] != DEFAULT_DB_ALIAS:
            return
        call_command("createcachetable", verbosity=0)
        name = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
        # Not while the test suite creates its in-memory database: the inbox mirrors it.
        if not separate_inbox() or "mode=memory" in name or name == ":memory:":
            return
        started = MigrationRecorder(connections[EVENTS_INBOX]).has_table()
        if started or any(options.get(option) for option in _STEP_BY_STEP):
            super().handle(*args, **{**options, "database": EVENTS_INBOX})
            return
        recorded = inbox_from_main()
        if options["verbosity"] >= 1:
            self.stdout.write(f"Event inbox file made from the main database's schema ({recorded} migrations).")
