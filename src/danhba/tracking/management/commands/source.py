from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.core.actor import Actor
from danhba.core.errors import ServiceError
from danhba.tracking.models import Source
from danhba.tracking.services.sources import source_create, source_disable


class Command(BaseCommand):
    help = "Manage event sources: 'create NAME [--kind K]' prints the write key once; 'list'; 'disable PREFIX'."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a source and print its write key once")
        create.add_argument("name")
        create.add_argument("--kind", default=Source.Kind.SERVER, choices=Source.Kind.values)
        sub.add_parser("list", help="list sources")
        disable = sub.add_parser("disable", help="disable a source by its key prefix")
        disable.add_argument("prefix")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = Actor.system("cli")
        try:
            if opts["action"] == "create":
                source, raw = source_create(actor=actor, name=opts["name"], kind=opts["kind"])
                self.stderr.write(f"Write key of source '{source.name}' (shown once, store it now):")
                self.stdout.write(raw)
            elif opts["action"] == "list":
                for source in Source.objects.all():
                    state = f"disabled {source.disabled_at:%Y-%m-%d}" if source.disabled_at else "active"
                    self.stdout.write(f"{source.key_prefix}…\t{source.name}\t{source.kind}\t{state}")
            else:
                matches = list(Source.objects.filter(key_prefix__startswith=opts["prefix"].rstrip("…")))
                if len(matches) != 1:
                    raise CommandError(f"{len(matches)} sources match that prefix; give more characters.")
                source_disable(actor=actor, source=matches[0])
                self.stdout.write(self.style.SUCCESS(f"Disabled {matches[0]}"))
        except ServiceError as exc:
            raise CommandError(exc.message) from None
