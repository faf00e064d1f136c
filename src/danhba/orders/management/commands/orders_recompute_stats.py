from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from danhba.orders.stats import purchase_stats_recompute, purchase_stats_recompute_all


class Command(BaseCommand):
    help = (
        "Recompute contacts' purchase metrics from their orders (recovery: the metrics are normally "
        "kept current on every order). Without --contact, every contact with orders or metrics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contact", type=int, action="append", default=[], help="a contact id (repeatable)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["contact"]:
            for contact_id in opts["contact"]:
                purchase_stats_recompute(contact_id=contact_id)
            done = len(opts["contact"])
        else:
            done = purchase_stats_recompute_all()
        if opts["verbosity"]:
            self.stdout.write(self.style.SUCCESS(f"Recomputed the purchase metrics of {done} contacts."))
