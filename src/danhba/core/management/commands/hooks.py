"""``danhba hooks``: every hook a lower app calls and every registry it walks, with the listeners
and contributions of higher apps, in order."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from danhba.core.hooks import hooks, listener_name, registries


class Command(BaseCommand):
    help = "List every hook and registry (core/hooks.py) and who listens or adds to it, in order."

    def handle(self, *args: Any, **opts: Any) -> None:
        for hook in hooks():
            self.stdout.write(self.style.MIGRATE_HEADING(hook.name))
            if hook.doc.strip():
                self.stdout.write(f"  {' '.join(hook.doc.split())}")
            if not hook.listeners:
                self.stdout.write("    (no listeners)")
            for position, fn in enumerate(hook.listeners, start=1):
                self.stdout.write(f"    {position}. {listener_name(fn)}")
        for registry in registries():
            self.stdout.write(self.style.MIGRATE_HEADING(f"{registry.name} (registry)"))
            if registry.doc.strip():
                self.stdout.write(f"  {' '.join(registry.doc.split())}")
            if not registry.keys():
                self.stdout.write("    (nothing added)")
            for position, key in enumerate(registry.keys(), start=1):
                self.stdout.write(f"    {position}. {key} ({registry.added_by(key)})")
