"""``danhba import PATH --source SOURCE``: import a contact file from the command line, in this
process, with a progress bar and a summary. Interrupted (Ctrl-C, a kill), it can be resumed with
``danhba import --resume ID``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from danhba.contacts.models import Source
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError
from danhba.ingest import services
from danhba.ingest.fields import PRESETS
from danhba.ingest.models import Import, LegalBasis, Mode, SavedMapping, UpdatePolicy


class Command(BaseCommand):
    help = "Import contacts from a CSV/TSV/XLSX/JSON/JSONL/vCard file (streamed, resumable)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="the file to import")
        parser.add_argument(
            "--source", choices=Source.values, help="where the contacts came from (required for a new import)"
        )
        parser.add_argument("--source-detail", default="", help="free text: which form, event or system")
        parser.add_argument(
            "--mapping",
            default="",
            help='a saved mapping\'s name, or a JSON file {"columns": {header: target}, "options": {...}}; '
            "default: suggested from the headers",
        )
        parser.add_argument("--set", action="append", default=[], metavar="HEADER=TARGET", help="map one column")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="the layout of an export from another tool")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.CREATE_UPDATE)
        parser.add_argument("--update", choices=UpdatePolicy.values, default=UpdatePolicy.FILL_EMPTY)
        parser.add_argument("--match", default="external_id,email,phone", help="identity keys in order")
        parser.add_argument("--legal-basis", choices=LegalBasis.values, default=LegalBasis.CONSENT)
        parser.add_argument("--consent", action="append", default=[], metavar="PURPOSE", help="consent given for")
        parser.add_argument("--consent-proof", default="", help="where the proof of consent is kept")
        parser.add_argument("--encoding", default="", help="override the detected encoding (e.g. cp1258, tcvn3)")
        parser.add_argument("--sheet", default="", help="the XLSX sheet (default: the first)")
        parser.add_argument("--tag", action="append", default=[], help="add this tag to every contact")
        parser.add_argument("--owner", default="", help="email of the user who owns new contacts")
        parser.add_argument("--user", default="", help="act as this user (their permissions, their name in the log)")
        parser.add_argument("--dry-run", action="store_true", help="validate and report; write no contacts")
        parser.add_argument("--errors", default="", help="write the rejected rows to this CSV file")
        parser.add_argument("--resume", type=int, default=0, metavar="ID", help="carry on an interrupted import")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON (last line)")

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = self._actor(opts["user"])
        try:
            run = self._resume(opts["resume"]) if opts["resume"] else self._create(actor, opts)
        except ServiceError as exc:
            raise CommandError(_describe(exc)) from None
        if not opts["json"]:
            self._show_mapping(run)
        started = time.monotonic()
        try:
            run = self._execute(run, opts["no_progress"] or opts["json"])
        except KeyboardInterrupt:
            Import.objects.filter(pk=run.pk).update(run_token="")
            raise CommandError(
                f"interrupted after line {Import.objects.get(pk=run.pk).line_done}; "
                f"carry on with: danhba import --resume {run.pk}"
            ) from None
        seconds = time.monotonic() - started
        if opts["errors"]:
            with Path(opts["errors"]).open("w", encoding="utf-8", newline="") as out:
                for chunk in services.issues_csv(run):
                    out.write(chunk)
        self._summary(run, seconds, opts["json"])
        if run.status == Import.Status.FAILED:
            raise CommandError(run.error)

    def _actor(self, email: str) -> Actor:
        if not email:
            return Actor.system("cli")
        from danhba.accounts.models import User

        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {email}")
        return Actor.system("cli", user)

    def _resume(self, pk: int) -> Import:
        run = Import.objects.filter(pk=pk).first()
        if run is None:
            raise CommandError(f"no import #{pk}")
        if run.status not in (Import.Status.QUEUED, Import.Status.RUNNING):
            raise CommandError(f"import #{pk} is {run.get_status_display().lower()}; nothing to resume")
        Import.objects.filter(pk=pk).update(run_token="")
        return run

    def _create(self, actor: Actor, opts: dict[str, Any]) -> Import:
        if not opts["path"]:
            raise CommandError("give the file to import (or --resume ID)")
        if not opts["source"]:
            raise CommandError("--source is required: say where these contacts came from")
        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        run = services.import_create(actor=actor, file=path, encoding=opts["encoding"], sheet=opts["sheet"])
        columns: dict[str, str] | None = None
        options: dict[str, Any] = {}
        if opts["mapping"]:
            columns, options = _load_mapping(opts["mapping"])
        if opts["set"]:
            columns = dict(columns if columns is not None else run.columns)
            for item in opts["set"]:
                header, sep, target = item.partition("=")
                if not sep:
                    raise CommandError(f"--set takes HEADER=TARGET, not {item!r}")
                columns[header] = target
        if columns is not None:
            columns = {h: columns.get(h, "") for h in run.headers} | {
                h: t for h, t in columns.items() if h not in run.headers
            }
        if opts["tag"]:
            options["add_tags"] = opts["tag"]
        if opts["owner"]:
            options["owner"] = opts["owner"]
        run = services.import_configure(
            actor=actor, run=run, columns=columns, options=options, mode=opts["mode"], update_policy=opts["update"],
            match_keys=[k.strip() for k in opts["match"].split(",")], source=opts["source"],
            source_detail=opts["source_detail"], legal_basis=opts["legal_basis"], consent_purposes=opts["consent"],
            consent_proof=opts["consent_proof"], dry_run=opts["dry_run"], preset=opts["preset"],
        )  # fmt: skip
        return services.import_start(actor=actor, run=run, enqueue=False)

    def _show_mapping(self, run: Import) -> None:
        enc = run.encoding or run.detected_encoding or "-"
        self.stderr.write(f"import #{run.pk}: {run.file_name} ({run.format}, {enc}), {len(run.headers)} columns")
        for header in run.headers:
            target = run.columns.get(header) or "(skipped)"
            self.stderr.write(f"  {header!s:>30} → {target}")

    def _execute(self, run: Import, quiet: bool) -> Import:
        if quiet or not sys.stderr.isatty():
            return services.import_execute(run.pk, via="cli", takeover=True)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("[bold]import #{task.fields[pk]}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
            TextColumn("{task.fields[counts]}"), TimeRemainingColumn(), transient=False,
        ) as bar:  # fmt: skip
            task = bar.add_task("import", total=run.rows_estimate, pk=run.pk, counts="")

            def progress(current: Import) -> None:
                bar.update(
                    task,
                    completed=current.rows_done,
                    counts=f"+{current.created} new, {current.updated} updated, {current.rejected} rejected",
                )

            result = services.import_execute(run.pk, via="cli", progress=progress, takeover=True)
            bar.update(task, completed=result.rows_done, total=result.rows_done)
            return result

    def _summary(self, run: Import, seconds: float, as_json: bool) -> None:
        summary = {
            "import_id": run.pk, "status": run.status, "rows": run.rows_done, "created": run.created,
            "updated": run.updated, "unchanged": run.unchanged, "merged": run.merged, "skipped": run.skipped,
            "rejected": run.rejected, "warnings": run.warned, "dry_run": run.dry_run, "seconds": round(seconds, 3),
        }  # fmt: skip
        if as_json:
            self.stdout.write(json.dumps(summary))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(
            title=f"import #{run.pk} {run.get_status_display().lower()}" + (" (dry run)" if run.dry_run else "")
        )
        table.add_column("")
        table.add_column("rows", justify="right")
        for key in ("rows", "created", "updated", "unchanged", "merged", "skipped", "rejected", "warnings"):
            table.add_row(key, f"{summary[key]:,}")
        table.add_row("seconds", f"{seconds:,.1f}")
        Console(file=sys.stdout).print(table)
        if run.rejected:
            self.stdout.write(
                "the rejected rows, with the reasons: run again with --errors FILE, or download them from the web page"
            )


def _load_mapping(value: str) -> tuple[dict[str, str], dict[str, Any]]:
    path = Path(value)
    if path.suffix.lower() == ".json" or path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read mapping {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("columns", {}), dict):
            raise CommandError('a mapping file is {"columns": {header: target}, "options": {...}}')
        return dict(data.get("columns") or {}), dict(data.get("options") or {})
    saved = SavedMapping.objects.filter(name=value).first()
    if saved is None:
        names = ", ".join(SavedMapping.objects.values_list("name", flat=True)) or "none saved yet"
        raise CommandError(f"no saved mapping '{value}' ({names})")
    return dict(saved.columns), dict(saved.options)


def _describe(exc: ServiceError) -> str:
    details = getattr(exc, "details", None)
    if isinstance(details, dict) and details:
        return f"{exc.message}\n" + "\n".join(f"  {k}: {'; '.join(map(str, v))}" for k, v in details.items())
    return str(exc.message)
