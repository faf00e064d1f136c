from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from danhba.segments import services
from danhba.segments.models import DirtyContact, Segment


class Command(BaseCommand):
    help = (
        "Segments: 'list' shows them with their size; 'refresh [ID ...] [--all]' recomputes membership "
        "from scratch (the recovery path); 'process' re-evaluates the contacts whose data changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="segments and lists with their size")
        refresh = sub.add_parser("refresh", help="recompute membership from scratch")
        refresh.add_argument("ids", nargs="*", type=int, help="segment ids (default: --all)")
        refresh.add_argument("--all", action="store_true", help="every dynamic segment")
        refresh.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.add_parser("process", help="re-evaluate contacts whose data changed, now, in this process")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "list":
            for s in Segment.objects.order_by("pk"):
                when = f"{s.refreshed_at:%Y-%m-%d %H:%M}" if s.refreshed_at else "never"
                self.stdout.write(f"{s.pk}\t{s.kind}\t{s.member_count:,}\t{when}\t{s.name}")
            self.stdout.write(f"contacts waiting for re-evaluation: {DirtyContact.objects.count():,}")
        elif opts["action"] == "process":
            started = time.monotonic()
            done = services.dirty_process()
            self.stdout.write(f"re-evaluated {done:,} contacts in {time.monotonic() - started:.1f} s")
        else:
            self._refresh(opts)

    def _refresh(self, opts: dict[str, Any]) -> None:
        if not opts["ids"] and not opts["all"]:
            raise CommandError("name segment ids, or --all")
        segments = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
        if opts["ids"]:
            segments = segments.filter(pk__in=opts["ids"])
            missing = set(opts["ids"]) - set(segments.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no dynamic segment with id {', '.join(map(str, sorted(missing)))}")
        todo = list(segments)
        console = Console(file=getattr(self.stdout, "_out", sys.stdout), highlight=False)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=opts["quiet"],
        ) as progress:
            task = progress.add_task("refreshing", total=len(todo))
            for segment in todo:
                progress.update(task, description=segment.name[:40])
                started = time.monotonic()
                result = services.segment_refresh(segment=segment)
                progress.console.print(
                    f"{segment.pk}\t{segment.name}: {result.size:,} members (+{result.entered:,} −{result.left:,}) "
                    f"in {time.monotonic() - started:.1f} s"
                )
                progress.advance(task)
