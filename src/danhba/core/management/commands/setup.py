"""``danhba setup``: everything a first start needs, safe to run on every start."""

import os
from io import StringIO
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from danhba.core.demo import DEMO_NEEDS, demo_installed
from danhba.core.maintenance import database_statistics_refresh


class Command(BaseCommand):
    help = "Migrate, create the first admin (printing the login) and load demo data on first start."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo dataset")
        parser.add_argument("--demo-contacts", type=int, default=int(os.getenv("DANHBA_DEMO_CONTACTS", "3000")))

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        # The apps' own commands (core imports no app): the admin's login is printed last.
        login = StringIO()
        call_command("firstadmin", email=os.getenv("DANHBA_ADMIN_EMAIL", "admin@example.com"), stdout=login)
        marker = settings.VAR_DIR / "demo-loaded"
        if not opts["no_demo"] and os.getenv("DANHBA_DEMO", "1") != "0" and not marker.exists():
            if demo_installed():
                call_command("demo", contacts=opts["demo_contacts"], if_empty=True)
                marker.write_text("loaded\n")
            else:
                self.stdout.write(f"No demo data: {DEMO_NEEDS}")
        # Fresh statistics for SQLite's query planner on every start (seconds at most).
        database_statistics_refresh()
        self.stdout.write("")
        self.stdout.write(login.getvalue(), ending="")
