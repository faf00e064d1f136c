"""``danhba setup``: everything a first start needs, safe to run on every start."""

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from danhba.accounts.services import first_admin_ensure
from danhba.core.maintenance import database_statistics_refresh


class Command(BaseCommand):
    help = "Migrate, create the first admin (printing the login) and load demo data on first start."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo dataset")
        parser.add_argument("--demo-contacts", type=int, default=int(os.getenv("DANHBA_DEMO_CONTACTS", "3000")))

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        email = os.getenv("DANHBA_ADMIN_EMAIL", "admin@example.com")
        user, generated = first_admin_ensure(email, os.getenv("DANHBA_ADMIN_PASSWORD") or None)
        marker = settings.VAR_DIR / "demo-loaded"
        if not opts["no_demo"] and os.getenv("DANHBA_DEMO", "1") != "0" and not marker.exists():
            from danhba.contacts.models import Contact

            if not Contact.objects.exists():
                call_command("demo", contacts=opts["demo_contacts"])
            marker.write_text("loaded\n")
        # Fresh statistics for SQLite's query planner on every start (seconds at most).
        database_statistics_refresh()
        self.stdout.write("")
        if generated:
            self.stdout.write(self.style.SUCCESS("First admin created — this password is shown only once:"))
            self.stdout.write(f"    email:    {user.email}")
            self.stdout.write(f"    password: {generated}")
        elif os.getenv("DANHBA_ADMIN_PASSWORD") and user.email == email:
            self.stdout.write(f"Admin login: {user.email} with the password from DANHBA_ADMIN_PASSWORD")
        else:
            self.stdout.write(
                f"Admin login: {user.email} (password shown at first start; reset it with "
                f"'danhba createadmin --email {user.email} --password …')"
            )
