"""``danhba hooks``: every hook a lower app calls, and the listeners of higher apps, in order."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from danhba.core.hooks import hooks, listener_name


class Command(BaseCommand):
    help = "List every hook (core/hooks.py) and who listens to it, in the order they are called."

    def handle(self, *args: Any, **opts: Any) -> None:
        for hook in hooks():
            self.stdout.write(self.style.MIGRATE_HEADING(hook.name))
            summary = hook.doc.strip().splitlines()[0] if hook.doc.strip() else ""
            if summary:
                self.stdout.write(f"  {summary}")
            if not hook.listeners:
                self.stdout.write("    (no listeners)")
            for position, fn in enumerate(hook.listeners, start=1):
                self.stdout.write(f"    {position}. {listener_name(fn)}")
