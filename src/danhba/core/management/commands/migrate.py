"""``danhba migrate``: Django's migrate, plus the cache table (Django's DatabaseCache)."""

from typing import Any

from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        call_command("createcachetable", verbosity=0)
