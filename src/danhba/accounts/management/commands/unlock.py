"""``danhba unlock EMAIL [--ip IP]``: lift a login lock, e.g. when someone's mistyped passwords
(or someone else's guesses, from the same address) locked them out."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from danhba.accounts.services import login_locks, login_unlock
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Lift login locks: 'unlock EMAIL' from every address, 'unlock EMAIL --ip IP' from one, "
        "'unlock --ip IP' every lock of an address and its own limit; 'unlock --list' shows the locks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", nargs="?", default="", help="the account's email")
        parser.add_argument("--ip", default="", help="only the lock from this IP address (and that address's limit)")
        parser.add_argument("--list", action="store_true", help="list the locks in force and change nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["list"]:
            self._list()
            return
        email, ip = opts["email"].strip(), opts["ip"].strip()
        try:
            removed = login_unlock(actor=Actor.system("cli"), email=email or None, ip=ip or None)
        except ServiceError as exc:
            raise CommandError(exc.message + " " + " ".join(m for ms in exc.details.values() for m in ms)) from None
        who = " ".join(part for part in (email, f"from {ip}" if ip else "") if part)
        self.stdout.write(self.style.SUCCESS(f"Unlocked {who}: {removed} counter(s) cleared."))

    def _list(self) -> None:
        now = timezone.now()
        rows = login_locks()
        if not rows:
            self.stdout.write("No login locks.")
        for row in rows:
            kind, _sep, who = row.key.partition(":")
            if kind == "pair":
                email, _bar, ip = who.rpartition("|")
                minutes = max(1, round((row.locked_until - now).total_seconds() / 60)) if row.locked_until else 0
                self.stdout.write(f"{email}\tfrom {ip or '?'}\tlocked {minutes} more min\t(lock #{row.lockouts})")
            else:
                self.stdout.write(f"*\tfrom {who}\tover the per-address limit ({row.count} attempts)")
