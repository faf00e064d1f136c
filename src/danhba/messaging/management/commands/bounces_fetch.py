from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.messaging import mailbox


class Command(BaseCommand):
    help = (
        "Read the bounce mailbox (BOUNCE_IMAP_URL): parse each unseen message as a bounce, tell the "
        "listeners (hard bounces suppress the address), then mark it seen (or --delete it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--delete", action="store_true", help="delete handled messages instead of marking them seen"
        )
        parser.add_argument("--limit", type=int, default=500, help="at most this many messages per run (500)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.BOUNCE_IMAP_URL:
            raise CommandError("BOUNCE_IMAP_URL is not set (imaps://user:pass@host/INBOX)")
        try:
            result = mailbox.fetch(
                mailbox.parse_url(settings.BOUNCE_IMAP_URL), delete=opts["delete"], limit=opts["limit"]
            )
        except mailbox.MailboxError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.read} read: {result.hard} hard bounces, {result.soft} soft, "
            f"{result.not_bounces} not bounces, {result.errors} left for the next run"
        )
