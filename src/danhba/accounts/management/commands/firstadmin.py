"""``danhba firstadmin``: the first admin of a new installation, and how to log in (``danhba setup``)."""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from danhba.accounts.services import first_admin_ensure


class Command(BaseCommand):
    help = (
        "Make sure an admin exists (the first one gets DANHBA_ADMIN_PASSWORD, or a generated password "
        "printed once) and print the admin login."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=os.getenv("DANHBA_ADMIN_EMAIL", "admin@example.com"))

    def handle(self, *args: Any, **opts: Any) -> None:
        email = opts["email"]
        user, generated = first_admin_ensure(email, os.getenv("DANHBA_ADMIN_PASSWORD") or None)
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
