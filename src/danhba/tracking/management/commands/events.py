import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.core.actor import Actor
from danhba.tracking import partitions, retention


def _month(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"expected a month as YYYY-MM, not {value!r}") from None


class Command(BaseCommand):
    help = (
        "Events at volume: 'partitions [show|ensure] [--since YYYY-MM]' lists or creates the monthly "
        "partitions (PostgreSQL); 'purge [--dry-run]' applies the retention rules; 'inbox "
        "[--retry-failed]' shows the accepted requests waiting for the worker and retries parked ones now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        parts = sub.add_parser("partitions", help="list (show) or create (ensure) monthly partitions")
        parts.add_argument("mode", nargs="?", choices=["show", "ensure"], default="show")
        parts.add_argument("--since", type=_month, help="ensure: also create months from YYYY-MM on")
        parts.add_argument("--ahead", type=int, help="ensure: months ahead of this one (default: the setting)")
        purge = sub.add_parser("purge", help="delete events past their retention rule")
        purge.add_argument("--dry-run", action="store_true", help="count what would be deleted, change nothing")
        purge.add_argument("--quiet", action="store_true", help="no progress bar")
        box = sub.add_parser("inbox", help="accepted requests waiting for the worker, and failed ones")
        box.add_argument("--retry-failed", action="store_true", help="put the parked requests back in line now")
        box.add_argument("--process", action="store_true", help="process what is due now, in this process")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "partitions":
            self._partitions(opts)
        elif opts["action"] == "inbox":
            self._inbox(opts)
        else:
            self._purge(opts)

    def _partitions(self, opts: dict[str, Any]) -> None:
        if not partitions.is_partitioned():
            self.stdout.write("The events table is not partitioned (partitions exist on PostgreSQL only).")
            return
        if opts["mode"] == "ensure":
            if opts["ahead"] is not None and not 0 <= opts["ahead"] <= 120:
                raise CommandError("--ahead takes 0 to 120 months")
            created = partitions.partitions_ensure(since=opts["since"], ahead=opts["ahead"])
            self.stdout.write(f"created {len(created)} partitions" + (": " + ", ".join(created) if created else ""))
        for part in partitions.partitions_list():
            span = "default (outside every month)" if part.is_default else f"{part.start:%Y-%m}"
            self.stdout.write(f"{part.name}\t{span}\t~{part.rows_estimate:,} rows")

    def _inbox(self, opts: dict[str, Any]) -> None:
        from danhba.tracking import inbox

        if opts["retry_failed"]:
            self.stdout.write(f"failed requests put back in line: {inbox.inbox_retry_failed()}")
        if opts["process"]:
            self.stdout.write(f"messages processed: {inbox.inbox_process():,}")
        status = inbox.inbox_status()
        oldest = status["oldest_pending"]
        self.stdout.write(
            f"waiting: {status['pending_requests']:,} requests"
            + (f" (oldest accepted {oldest:%Y-%m-%d %H:%M:%S %Z})" if oldest else "")
            + f"; parked after failing: {status['failed_requests']:,}"
        )
        for row in inbox.inbox_rows():
            if row["failed_at"]:
                retry = row["failed_at"] + timedelta(seconds=inbox.park_delay(row["attempts"]))
                self.stdout.write(
                    f"  #{row['id']}: {row['count']} messages, {row['attempts']} attempts, "
                    f"tried again by itself after {retry:%Y-%m-%d %H:%M:%S %Z}: {row['error']}"
                )

    def _purge(self, opts: dict[str, Any]) -> None:
        actor = Actor.system("cli")
        if opts["quiet"] or not sys.stderr.isatty():
            report = retention.events_purge(actor=actor, dry_run=opts["dry_run"])
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            expected = sum(p.count for p in retention.retention_preview())
            label = "counting" if opts["dry_run"] else "purging"
            with Progress(
                TextColumn(f"[bold]{label} events"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                transient=False,
            ) as bar:  # fmt: skip
                task = bar.add_task("purge", total=max(expected, 1))

                def progress(done: int) -> None:
                    bar.update(task, completed=done, total=max(expected, done, 1))

                report = retention.events_purge(actor=actor, dry_run=opts["dry_run"], progress=progress)
                bar.update(task, completed=report.deleted, total=max(report.deleted, 1))
        verb = "would delete" if report.dry_run else "deleted"
        for part in report.partitions:
            self.stdout.write(f"partition {part['name']}: {verb} {part['rows']:,} events (whole month)")
        for rule in report.rules:
            keep = "forever" if rule["keep_months"] is None else f"{rule['keep_months']} months"
            self.stdout.write(f"{rule['label']} (keep {keep}): {verb} {rule['deleted']:,} events")
        self.stdout.write(f"message ids past the dedupe window: {verb} {report.messages:,}")
        self.stdout.write(f"total: {verb} {report.deleted:,} events")
