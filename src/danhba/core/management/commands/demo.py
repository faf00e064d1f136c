"""``danhba demo``: load the Vietnamese demo dataset, every app's part of it (``core/demo.py``)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from danhba.core.demo import DEMO_NEEDS, SEED, demo_installed, demo_labels, demo_present, demo_run


class Command(BaseCommand):
    help = (
        "Load a realistic Vietnamese demo dataset: contacts, companies, timeline, consent, orders, events, "
        "segments and one user per role."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=3000, help="how many contacts (default 3000)")
        parser.add_argument(
            "--seed", type=int, default=SEED, help=f"random seed; the same seed gives the same data (default {SEED})"
        )
        parser.add_argument("--if-empty", action="store_true", help="load nothing if there are contacts already")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = int(opts["contacts"])
        if n < 1 or n > 2_000_000:
            raise CommandError("--contacts must be between 1 and 2,000,000")
        if opts.get("if_empty") and demo_present():
            return
        if not demo_installed():
            raise CommandError(DEMO_NEEDS)
        console = Console(file=getattr(self.stdout, "_out", sys.stdout), highlight=False)
        quiet = int(opts.get("verbosity", 1)) == 0
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]Demo data"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=False,
        ) as bar:
            task = bar.add_task("contacts", total=n)
            result = demo_run(
                contacts=n, seed=opts["seed"], progress=lambda done, total: bar.update(task, completed=done)
            )
        elapsed = time.perf_counter() - started
        if quiet:
            return
        console.print(f"Demo dataset loaded in {elapsed:.1f} s (seed {result['seed']}):")
        table = Table(show_header=False)
        for key, label in demo_labels():
            if key in result:
                table.add_row(label, f"{result[key]:,}")
        console.print(table)
        if result["password"]:
            console.print("Demo users (one per role), all with the password below — shown only now:")
            for email in result["user_emails"]:
                console.print(f"    {email}")
            console.print(f"    password: [bold]{result['password']}[/bold]")
        elif result["user_emails"]:
            console.print("Demo users already existed and keep their passwords: " + ", ".join(result["user_emails"]))
