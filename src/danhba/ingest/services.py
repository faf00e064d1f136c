"""Imports from upload to undo: every entry point (wizard, CLI, API, worker) goes through here.

Life of an import: :func:`import_create` stores the file and detects what it is (draft) →
:func:`import_configure` sets the mapping and options, validated by compiling a
:class:`~danhba.ingest.transform.Plan` → :func:`import_start` queues it → :func:`import_execute`
(the worker, or the CLI in-process) streams the rows through transform and load, one committed
batch at a time → done, cancelled or failed → :func:`import_undo` within 30 days.

A running import holds a claim (``run_token``) and beats a heartbeat with every batch. A worker
that finds an import whose heartbeat stopped (the process was killed) takes it over and carries
on after ``line_done``, the last line whose batch committed — so a crash never duplicates nor
loses a row.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import operator
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event, audit_events_bulk
from danhba.contacts.changes import EVERYTHING, contacts_changed
from danhba.contacts.extensions import CONTACTS_KEPT_ON_UNDO
from danhba.contacts.keys import name_key
from danhba.contacts.models import (
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ExternalId,
    SocialProfile,
    Source,
    TimelineEntry,
)
from danhba.contacts.search import search_index
from danhba.contacts.writer import list_indexes_restore, list_indexes_set_aside
from danhba.core.actor import Actor
from danhba.core.csvsafe import csv_cell
from danhba.core.db import analyze, checkpoints_beside
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.ingest import extract, pipeline
from danhba.ingest.fields import PRESETS, detect_preset, suggest_columns
from danhba.ingest.hooks import IMPORT_FINISHED, import_running
from danhba.ingest.load import Loader
from danhba.ingest.models import (
    DEFAULT_MATCH_KEYS,
    UNDO_DAYS,
    Import,
    ImportChange,
    ImportCreated,
    ImportIssue,
    LegalBasis,
    MatchKey,
    Mode,
    UpdatePolicy,
    import_proof,
)
from danhba.ingest.reasons import Reason, reason
from danhba.ingest.selectors import RowView, row_view
from danhba.ingest.transform import Plan, PlanError, Prepared, Rejected, refusal
from danhba.privacy.models import ConsentPurpose, ConsentRecord, ConsentSource, ConsentState

require = perms.require
Status = Import.Status


# --- reading -------------------------------------------------------------------------------


def visible_imports(user: Any) -> Any:
    """Imports a user may see: everyone's for roles that see all records, otherwise their own."""
    if not user.can("import", perms.VIEW):
        return Import.objects.none()
    if user.role.record_scope == perms.SCOPE_ALL:
        return Import.objects.all()
    return Import.objects.filter(created_by=user)


def import_get(*, actor: Actor, pk: int) -> Import:
    require(actor, "import", perms.VIEW)
    qs = visible_imports(actor.user) if actor.user is not None else Import.objects.all()
    run = qs.filter(pk=pk).select_related("created_by").first()
    if run is None:
        raise NotFound(_("No such import."))
    return run


def _reader(run: Import, binary: IO[bytes]) -> extract.RowReader:
    return extract.RowReader(
        binary,
        format=run.format or None,
        encoding=run.encoding or None,
        sheet=run.sheet or None,
        delimiter=run.delimiter or None,
    )


def import_preview(run: Import, n: int = 20) -> extract.Preview:
    with run.file.open("rb") as handle:
        return extract.preview(
            handle,
            n,
            format=run.format or None,
            encoding=run.encoding or None,
            sheet=run.sheet or None,
            delimiter=run.delimiter or None,
        )


def preview_prepared(run: Import, n: int = 10) -> list[Prepared | Rejected | None]:
    """The first rows as they would load under the import's current mapping: for the wizard."""
    plan = Plan(run.columns, run.options, run.headers)
    return [plan.prepare(row) for row in import_preview(run, n).rows]


def _estimate_rows(run: Import) -> int | None:
    """Rows in the file, near enough for a progress bar: newlines for text files, the sheet's
    dimension for XLSX, cards for vCard."""
    fmt = run.format
    with run.file.open("rb") as handle:
        if fmt in ("csv", "tsv", "jsonl", "vcard"):
            count = 0
            needle = b"BEGIN:VCARD" if fmt == "vcard" else b"\n"
            while chunk := handle.read(1 << 20):
                count += chunk.upper().count(needle) if fmt == "vcard" else chunk.count(needle)
            # (UTF-16 newlines are b"\n\x00" or b"\x00\n": still one 0x0a byte each.)
            return max(count - (1 if fmt in ("csv", "tsv") else 0), 0)
        if fmt == "xlsx":
            from openpyxl import load_workbook

            workbook = load_workbook(handle, read_only=True)
            try:
                sheet = workbook[run.sheet] if run.sheet in workbook.sheetnames else workbook.worksheets[0]
                return max((sheet.max_row or 1) - 1, 0)
            finally:
                workbook.close()
    return None


# --- create and configure --------------------------------------------------------------------


def import_create(
    *,
    actor: Actor,
    file: IO[bytes] | bytes | str | Path,
    file_name: str = "",
    encoding: str = "",
    sheet: str = "",
    format: str = "",
) -> Import:
    """Store an uploaded file and detect its format, encoding, sheets and headers (a draft)."""
    require(actor, "import", perms.CREATE)
    if encoding:
        try:
            extract._canonical_encoding(encoding)
        except (LookupError, ValueError):
            raise InvalidInput({"encoding": [_("unknown encoding '%(value)s'") % {"value": encoding}]}) from None
    if isinstance(file, (str, Path)):
        path = Path(file)
        file_name = file_name or path.name
        content: File[Any] = File(path.open("rb"), name=path.name)
    elif isinstance(file, bytes):
        content = ContentFile(file, name=file_name or "import.csv")
    else:
        content = File(file, name=file_name or getattr(file, "name", "") or "import.csv")
    file_name = Path(file_name or content.name or "import").name[:255]
    size = content.size or 0
    if size > settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024:
        raise InvalidInput({"file": [_("larger than %(n)s MB") % {"n": settings.IMPORT_MAX_UPLOAD_MB}]})
    if size == 0:
        raise InvalidInput({"file": [_("the file is empty")]})
    run = Import(
        created_by=actor.user, via=actor.via, file_name=file_name, file_size=size, encoding=encoding,
        sheet=sheet, format=format, match_keys=list(DEFAULT_MATCH_KEYS),
    )  # fmt: skip
    run.file.save(f"{uuid.uuid4().hex}{Path(file_name).suffix.lower()[:10]}", content, save=False)
    if isinstance(file, (str, Path)):
        content.close()
    try:
        _detect(run)
    except (ValueError, UnicodeError, OSError, KeyError, zipfile.BadZipFile) as exc:
        run.file.delete(save=False)
        raise InvalidInput({"file": [_("cannot read this file: %(reason)s") % {"reason": exc}]}) from None
    run.save()
    audit_event(actor=actor, action=AuditEvent.Action.CREATE, object_type="import", object_id=run.pk,
                object_label=run.file_name, changes={"file": [None, run.file_name]})  # fmt: skip
    return run


def _detect(run: Import) -> None:
    """Fill format/encoding/sheet/headers from the file, and suggest a mapping for the headers."""
    preview = import_preview(run, 5)
    if not preview.headers:
        raise ValueError(_("no columns found"))
    run.format = preview.format
    run.detected_encoding = preview.encoding.name if preview.encoding else ""
    run.delimiter = run.delimiter or (preview.delimiter or "")
    if preview.sheets:
        run.sheet = preview.sheet or preview.sheets[0]
    run.headers = preview.headers
    preset = detect_preset(preview.headers)
    run.columns = suggest_columns(preview.headers, preset)
    if preset:
        run.options = {**preset.options, "preset": preset.key}


def import_configure(
    *,
    actor: Actor,
    run: Import,
    columns: dict[str, str] | None = None,
    options: dict[str, Any] | None = None,
    mode: str | None = None,
    update_policy: str | None = None,
    match_keys: list[str] | None = None,
    source: str | None = None,
    source_detail: str | None = None,
    legal_basis: str | None = None,
    consent_purposes: list[str] | None = None,
    consent_proof: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    dry_run: bool | None = None,
    preset: str | None = None,
) -> Import:
    """Set what to do with a draft. Everything is checked now, so a started import cannot fail on
    its settings halfway through."""
    require(actor, "import", perms.CREATE)
    if run.status != Status.DRAFT:
        raise Conflict(_("This import has already started."))
    errors: dict[str, list[str]] = {}
    _configure_file(run, errors, encoding=encoding, sheet=sheet)
    _configure_mapping(run, errors, actor=actor, preset=preset, columns=columns, options=options)
    run.mode = _choice(errors, "mode", mode, Mode.values, run.mode)
    run.update_policy = _choice(errors, "update_policy", update_policy, UpdatePolicy.values, run.update_policy)
    if match_keys is not None:
        keys = list(dict.fromkeys(k for k in match_keys if k))
        if not keys or any(k not in MatchKey.values for k in keys):
            errors["match_keys"] = [_("choose from %(choices)s") % {"choices": ", ".join(MatchKey.values)}]
        run.match_keys = keys
    run.source = _choice(errors, "source", source, Source.values, run.source)
    if source_detail is not None:
        run.source_detail = source_detail.strip()[:255]
    run.legal_basis = _choice(errors, "legal_basis", legal_basis, LegalBasis.values, run.legal_basis)
    if consent_proof is not None:
        run.consent_proof = consent_proof.strip()[:255]
    if dry_run is not None:
        run.dry_run = bool(dry_run)
    purposes = _consent_purposes(consent_purposes, errors)
    try:
        Plan(run.columns, run.options, run.headers)
    except PlanError as exc:
        errors.update(exc.errors)
    if errors:
        run.refresh_from_db()  # a refused change leaves the draft as it was, in memory too
        raise InvalidInput(errors)
    with transaction.atomic():
        run.save()
        if purposes is not None:
            run.consent_purposes.set(purposes)
    return run


def _configure_file(run: Import, errors: dict[str, list[str]], *, encoding: str | None, sheet: str | None) -> None:
    """A new encoding or sheet: read the file's headers again (keeping the mapping when the
    columns are the same)."""
    reread = False
    if encoding is not None and encoding != run.encoding:
        try:
            extract._canonical_encoding(encoding) if encoding else None
        except (LookupError, ValueError):
            errors["encoding"] = [_("unknown encoding '%(value)s'") % {"value": encoding}]
        run.encoding, reread = encoding, True
    if sheet is not None and sheet != run.sheet:
        run.sheet, reread = sheet, True
    if not reread or errors:
        return
    try:
        old_headers, old_columns, old_options = run.headers, run.columns, run.options
        _detect(run)
        if old_headers == run.headers:
            # Same columns read another way: keep what the user mapped so far.
            run.columns, run.options = old_columns, old_options
    except (ValueError, UnicodeError, KeyError, OSError, zipfile.BadZipFile) as exc:
        errors["file"] = [_("cannot read this file: %(reason)s") % {"reason": exc}]


def _configure_mapping(
    run: Import,
    errors: dict[str, list[str]],
    *,
    actor: Actor,
    preset: str | None,
    columns: dict[str, str] | None,
    options: dict[str, Any] | None,
) -> None:
    """A preset, then the columns and options the user chose (each overriding the one before)."""
    if preset:
        if preset not in PRESETS:
            errors["preset"] = [_("unknown preset '%(value)s'") % {"value": preset}]
        else:
            chosen = PRESETS[preset]
            run.columns = suggest_columns(run.headers, chosen)
            run.options = {**run.options, **chosen.options, "preset": preset}
    if columns is not None:
        if not isinstance(columns, dict) or not all(isinstance(t, str) for t in columns.values()):
            errors["columns"] = [_("must map column names to targets")]
        else:
            unknown = [h for h in columns if h not in run.headers]
            if unknown:
                errors["columns"] = [_("no column '%(value)s' in the file") % {"value": h} for h in unknown]
            run.columns = {h: (columns.get(h) or "") for h in run.headers}
    if options is None:
        return
    if not isinstance(options, dict):
        errors["options"] = [_("must be a JSON object")]
        return
    run.options = {**run.options, **options}
    if options.get("add_to_list") and actor.user is not None and not actor.user.can("segment", perms.EDIT):
        errors["add_to_list"] = [_("your role may not change lists")]


def _consent_purposes(keys: list[str] | None, errors: dict[str, list[str]]) -> list[ConsentPurpose] | None:
    if keys is None:
        return None
    found = {p.key: p for p in ConsentPurpose.objects.filter(key__in=keys, is_active=True)}
    missing = [k for k in keys if k not in found]
    if missing:
        errors["consent_purposes"] = [_("unknown consent purpose '%(value)s'") % {"value": k} for k in missing]
    return list(found.values())


def _choice(errors: dict[str, list[str]], key: str, value: str | None, choices: list[str], current: str) -> str:
    """``value`` when given and valid; an error under ``key`` when given and not."""
    if value is None:
        return current
    if value not in choices:
        errors[key] = [_("must be one of %(choices)s") % {"choices": ", ".join(choices)}]
    return value


# --- start, run, cancel ---------------------------------------------------------------------


def import_start(*, actor: Actor, run: Import, enqueue: bool = True) -> Import:
    """Check the import can run and queue it for the worker (after this transaction commits)."""
    require(actor, "import", perms.CREATE)
    if run.mode != Mode.UPDATE_ONLY:
        require(actor, "contact", perms.CREATE)
    if run.mode != Mode.CREATE_ONLY:
        require(actor, "contact", perms.EDIT)
    if run.status != Status.DRAFT:
        raise Conflict(_("This import has already started."))
    errors: dict[str, list[str]] = {}
    targets = set(run.columns.values())
    if not targets & {"full_name", "family_name", "given_name", "email", "phone", "external_id"}:
        errors["columns"] = [_("map at least one column to a name, an email, a phone or an external id")]
    if not run.source:
        errors["source"] = [_("say where the data came from")]
    if run.legal_basis == LegalBasis.CONSENT and not (
        run.consent_purposes.exists() or any(t.startswith("consent.") for t in targets) or run.consent_proof
    ):
        errors["legal_basis"] = [
            _("with consent as the legal basis, name the purposes consented to, map a consent column or give the proof")
        ]
    try:
        Plan(run.columns, run.options, run.headers)
    except PlanError as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    run.rows_estimate = _estimate_rows(run)
    run.status = Status.QUEUED
    run.save(update_fields=["rows_estimate", "status"])
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="import", object_id=run.pk,
                object_label=run.file_name, changes={"status": [Status.DRAFT, Status.QUEUED]})  # fmt: skip
    if enqueue:
        from danhba.ingest.tasks import import_job

        pk = run.pk
        transaction.on_commit(lambda: import_job(pk))
    return run


def _claim(pk: int, statuses: tuple[str, ...], running: str) -> str | None:
    """Take an import for this process unless a live runner holds it; the token proves the claim."""
    token = uuid.uuid4().hex
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    claimed = (
        Import.objects.filter(pk=pk, status__in=statuses)
        .filter(Q(run_token="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        .update(status=running, run_token=token, heartbeat_at=now, started_at=Coalesce(F("started_at"), now))
    )
    return token if claimed else None


class LostClaim(Exception):
    """Another runner took the import over (this one was thought dead): stop without writing."""


def import_execute(
    pk: int, *, via: str = "job", progress: Callable[[Import], None] | None = None, takeover: bool = False
) -> Import:
    """Run (or resume) an import to its end. Safe to call twice: the second call finds the claim
    held and returns; after a crash, the next call carries on where the last commit left off."""
    if takeover:
        Import.objects.filter(pk=pk, status__in=[Status.QUEUED, Status.RUNNING]).update(run_token="")
    token = _claim(pk, (Status.QUEUED, Status.RUNNING), Status.RUNNING)
    run = Import.objects.select_related("created_by").get(pk=pk)
    if token is None:
        return run
    actor = Actor(user=run.created_by, via=via)
    try:
        plan = Plan(run.columns, run.options, run.headers)
    except PlanError as exc:
        return _finish(run, token, Status.FAILED, Reason(str(exc)))
    loader = Loader(
        run, actor, default_stage=plan.default_stage, default_owner=plan.default_owner, add_tags=plan.add_tags,
        name_order=plan.name_order, add_to_list=plan.add_to_list,
    )  # fmt: skip
    batch_size = max(1, settings.IMPORT_BATCH_ROWS)
    last_line = run.line_done
    try:
        # Reasons are stored untranslated (msgids) and read in the reader's language; any text
        # the load still writes as text (audit labels) is in the catalogue's own, English.
        with (
            translation.override("en"),
            pipeline.fewer_collections(),
            _import_pragmas(),
            _list_indexes(run),
            import_running(run.pk),
            _Commits(checkpoints_beside(DEFAULT_DB_ALIAS)) as commits,
        ):
            statistics = _Statistics()
            for last, batch in pipeline.batches(run, plan, batch_size):
                commits.begin()
                _commit(run, token, loader, batch, last)
                commits.done(len(batch))
                statistics.grown(len(batch))
                last_line = last
                if progress:
                    progress(run)
                if _cancel_requested(run):
                    break
        if _cancel_requested(run):
            return _finish(run, token, Status.CANCELLED)
    except LostClaim:
        run.refresh_from_db()
        return run
    except (ValueError, UnicodeError, OSError, KeyError, zipfile.BadZipFile) as exc:
        # The file itself broke (truncated zip, bytes undecodable in the chosen encoding).
        why = refusal(exc) if isinstance(exc, ValueError) else Reason(str(exc))
        return _finish(
            run, token, Status.FAILED,
            reason(gettext_noop("stopped after line %(line)s: %(reason)s"), line=str(last_line), reason=why),
        )  # fmt: skip
    return _finish(run, token, Status.DONE)


@contextmanager
def _import_pragmas() -> Iterator[None]:
    """SQLite, for the length of an import, on this connection (it is kept for other work after
    it, so each setting is put back as it was):

    - a page cache that holds the big indexes (names, search entries) the rows go into, instead
      of the default 64 MB every connection gets;
    - the write-ahead log copied into the database by this connection every 400 MB instead of
      every 4 MB, so an index page written by many batches is copied once (measured: 100,000
      rows 46 s → 40 s at 80 MB; 400 MB: the commits of 1M rows 5.3–5.6 → 4.1–4.3 CPU s,
      decision 0027); the checkpoint thread copies after each commit besides (``_Commits``), so
      that copy finds little left to do. The log file keeps that size on disk until the
      connection's process closes it;
    - statement journals in a file: each row inserted into the search entries fires the FTS5
      trigger, so SQLite gives it a statement savepoint inside the batch's savepoint; with that
      journal in memory (settings: temp_store=MEMORY) releasing one walks a list that grows with
      the batch and the database. In a file it costs the same at any size (measured, 300,000
      rows: 304 s → 73 s). SQLite refuses this change inside a transaction (a caller's, such as
      a test's): there the setting stays."""
    if connection.vendor != "sqlite":
        yield
        return
    wanted = {"cache_size": f"-{settings.IMPORT_SQLITE_CACHE_MB * 1024}", "wal_autocheckpoint": "100000"}
    if not connection.in_atomic_block:
        wanted["temp_store"] = "FILE"
    with connection.cursor() as cursor:
        before = {}
        for name, value in wanted.items():
            cursor.execute(f"PRAGMA {name}")
            before[name] = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in before.items():
                if name != "temp_store" or not connection.in_atomic_block:
                    cursor.execute(f"PRAGMA {name} = {int(value)}")


@contextmanager
def _list_indexes(run: Import) -> Iterator[None]:
    """A big import (``IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS`` rows still to load, and at least a
    quarter of the contacts there are) sets the contact list's indexes by name aside and builds
    them again at its end: one sort of the table instead of an index insert at a random place per
    row (decision 0009); those a load appends to only when it has at least as many rows as there
    are contacts (``LIST_INDEXES_IN_ORDER``, decision 0027). Crash-safe: the indexes only order
    the list pages, no write needs them, and a process killed in between leaves the import stale;
    whoever ends an import, or finds no import running (``imports_resume_stale``, every minute),
    builds what is missing. Every import ends so, unless another one is still running (that one
    will)."""
    remaining = (run.rows_estimate or 0) - run.rows_done
    floor = settings.IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS
    if floor > 0 and remaining >= floor and not run.dry_run:
        contacts = Contact.objects.count()
        if remaining * 4 >= contacts:
            # Those a load appends to cost about 11 CPU-µs a row to keep and 5–6 per contact to
            # build again (measured, decision 0027): kept unless the import is as big as the table.
            list_indexes_set_aside(appended=remaining >= contacts)
    try:
        yield
    finally:
        if not _other_imports_running(run.pk):
            list_indexes_restore()


def _other_imports_running(pk: int | None = None) -> bool:
    fresh = timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    running = Import.objects.filter(status=Status.RUNNING, heartbeat_at__gte=fresh)
    return (running.exclude(pk=pk) if pk is not None else running).exists()


class _Commits:
    """Batches committed together: a transaction around them (each batch in its own savepoint,
    as before) that commits once it holds ``IMPORT_COMMIT_ROWS`` rows or has held the database
    ``IMPORT_COMMIT_SECONDS``, and when the loop ends. A commit writes each page its rows
    changed to the write-ahead log; the random places rows take in the emails' and phones'
    unique indexes (and the search index's segments) make that about a page per row per index
    at a million contacts, so fewer commits write far fewer pages (decision 0024). The cursor
    commits with the rows, so a crash resumes after the last commit, as before; the seconds bound
    keeps other writers' waits (and a cancel's) short.

    After each commit ``checkpoint_soon`` (``core.db.checkpoints_beside``) has another thread
    copy the log into the database while this one goes on loading; the connection's own
    checkpoint, every ``wal_autocheckpoint`` pages, then copies only the rest (decision 0027,
    session 4)."""

    def __init__(self, checkpoint_soon: Callable[[], None] = lambda: None) -> None:
        self.stack: ExitStack | None = None
        self.rows = 0
        self.started = 0.0
        self.checkpoint_soon = checkpoint_soon

    def __enter__(self) -> _Commits:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        """An error of the file or of a batch (an ``Exception``: the failed batch's savepoint is
        already rolled back) keeps the batches loaded before it, as a commit per batch did; a
        stopped process (``SystemExit``, ``KeyboardInterrupt``, like a kill) keeps what was
        committed."""
        stack, self.stack = self.stack, None
        if stack is None:
            return False
        if kind is None or issubclass(kind, Exception):
            stack.close()
            self.checkpoint_soon()
            return False
        return bool(stack.__exit__(kind, exc, tb))

    def begin(self) -> None:
        if self.stack is None:
            stack = ExitStack()
            stack.enter_context(transaction.atomic())
            self.stack, self.rows, self.started = stack, 0, time.monotonic()

    def done(self, rows: int) -> None:
        self.rows += rows
        full = self.rows >= settings.IMPORT_COMMIT_ROWS
        if self.stack is not None and (full or time.monotonic() - self.started >= settings.IMPORT_COMMIT_SECONDS):
            stack, self.stack = self.stack, None
            stack.close()
            self.checkpoint_soon()


class _Statistics:
    """PostgreSQL plans each batch's lookups (thousands of emails, phones, ids: ``core.bulk.
    select_in``) from the tables' statistics. Tables an import grows from a few rows to a million
    have none that fit unless autovacuum came by (a server may run without it), and the planner
    then sorts or scans the whole table for every batch (measured at 340,000 phones: 0.3 s a
    lookup, against a few ms through the index). An import refreshes them (``core.db.analyze``)
    after its first batch and again whenever the contacts have doubled since: about log2(rows /
    batch) times in a load into an empty database, once in one that adds a little."""

    TABLES = (Contact, ContactEmail, ContactPhone, ExternalId, ContactTag, ContactCompany)

    def __init__(self) -> None:
        self.loaded = 0
        self.next = 1
        self.before: int | None = None

    def grown(self, rows: int) -> None:
        if connection.vendor != "postgresql":
            return
        self.loaded += rows
        if self.loaded < self.next:
            return
        if self.before is None:
            self.before = max(0, Contact.objects.count() - self.loaded)
        analyze(*self.TABLES)
        self.next = 2 * self.loaded + self.before


def _commit(run: Import, token: str, loader: Loader, batch: list[Prepared | Rejected | None], last_line: int) -> None:
    with transaction.atomic():
        outcome = loader.load(batch, last_line)
        c = outcome.counts
        updated = Import.objects.filter(pk=run.pk, run_token=token).update(
            line_done=last_line,
            rows_done=F("rows_done") + len(batch),
            created=F("created") + c["created"],
            updated=F("updated") + c["updated"],
            unchanged=F("unchanged") + c["unchanged"],
            merged=F("merged") + c["merged"],
            skipped=F("skipped") + c["skipped"],
            rejected=F("rejected") + c["rejected"],
            warned=F("warned") + c["warned"],
            heartbeat_at=timezone.now(),
        )
        if not updated:
            raise LostClaim
    run.refresh_from_db()


def _cancel_requested(run: Import) -> bool:
    return run.status == Status.CANCELLING


def _finish(run: Import, token: str, status: str, error: Reason | None = None) -> Import:
    """End a run; ``error`` (why it failed) is kept untranslated and read in the reader's language."""
    now = timezone.now()
    Import.objects.filter(pk=run.pk, run_token=token).update(
        status=status, finished_at=now, run_token="", heartbeat_at=now,
        error=error.untranslated() if error else "", error_message=error.to_json() if error else None,
    )  # fmt: skip
    run.refresh_from_db()
    actor = Actor(user=run.created_by, via="job")
    audit_event(
        actor=actor, action=AuditEvent.Action.UPDATE, object_type="import", object_id=run.pk,
        object_label=run.file_name,
        changes={"status": [Status.RUNNING, status], "created": [None, run.created], "updated": [None, run.updated],
                 "rejected": [None, run.rejected]},
    )  # fmt: skip
    # What the apps above gathered over the batches (a rep's new leads) is said once, now.
    IMPORT_FINISHED(run.pk)
    return run


def import_cancel(*, actor: Actor, run: Import) -> Import:
    """Stop a queued or running import after its current batch; what it loaded stays (undo it
    to remove that too)."""
    require(actor, "import", perms.CREATE)
    _check_owner_or_admin(actor, run)
    if run.status == Status.QUEUED and Import.objects.filter(pk=run.pk, status=Status.QUEUED, run_token="").update(
        status=Status.CANCELLED, finished_at=timezone.now()
    ):
        pass
    elif not Import.objects.filter(pk=run.pk, status=Status.RUNNING).update(status=Status.CANCELLING):
        run.refresh_from_db()
        if run.status not in (Status.CANCELLING, Status.CANCELLED):
            raise Conflict(_("This import is not running."))
    run.refresh_from_db()
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="import", object_id=run.pk,
                object_label=run.file_name, changes={"status": [None, run.status]})  # fmt: skip
    return run


def _check_owner_or_admin(actor: Actor, run: Import) -> None:
    user = actor.user
    if user is not None and run.created_by_id != user.pk and user.role.record_scope != perms.SCOPE_ALL:
        raise NotFound(_("No such import."))


def stale_imports() -> list[tuple[int, str]]:
    """Active imports and undos whose runner stopped beating (killed, machine restarted)."""
    stale = timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    dead = Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale)
    return list(Import.objects.filter(dead, status__in=Import.ACTIVE).order_by("pk").values_list("pk", "status"))


def imports_resume_stale() -> list[int]:
    """Queue the stale imports and undos again. Called when a worker starts and every minute."""
    from danhba.ingest.tasks import import_job, undo_job

    resumed = []
    for pk, status in stale_imports():
        if status == Status.CANCELLING:
            Import.objects.filter(pk=pk, status=Status.CANCELLING).update(
                status=Status.CANCELLED, finished_at=timezone.now(), run_token=""
            )
        elif status == Status.UNDOING:
            undo_job(pk)
        else:
            import_job(pk)
        resumed.append(pk)
    if not resumed and not _other_imports_running():
        list_indexes_restore()  # an import killed while it had set them aside, and not resumed
    return resumed


# --- housekeeping ---------------------------------------------------------------------------

DRAFT_KEEP = dt.timedelta(days=7)


def imports_purge(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Uploaded files are personal data: delete drafts nobody started within a week (with their
    file), and the files of imports that ended more than the undo window ago (the import, its
    report and its changes stay; nothing needs the file any more). Returns (drafts deleted,
    files deleted)."""
    now = now or timezone.now()
    drafts = Import.objects.filter(status=Status.DRAFT, created_at__lt=now - DRAFT_KEEP)
    files = 0
    for run in drafts:
        run.file.delete(save=False)
    deleted = drafts.count()
    drafts.delete()
    ended = Import.objects.filter(
        status__in=[Status.DONE, Status.CANCELLED, Status.FAILED, Status.UNDONE],
        finished_at__lt=now - dt.timedelta(days=UNDO_DAYS),
    ).exclude(file="")
    for run in ended:
        run.file.delete(save=False)
        Import.objects.filter(pk=run.pk).update(file="")
        files += 1
    return deleted, files


# --- undo -----------------------------------------------------------------------------------


def import_undo(*, actor: Actor, run: Import, enqueue: bool = True) -> Import:
    """Remove the contacts an import created and put back the values it overwrote (30 days)."""
    require(actor, "import", perms.DELETE)
    _check_owner_or_admin(actor, run)
    if not run.can_undo:
        raise Conflict(_("This import can no longer be undone."))
    if not Import.objects.filter(pk=run.pk, status=run.status).update(status=Status.UNDOING, run_token=""):
        raise Conflict(_("This import changed state; reload and try again."))
    run.refresh_from_db()
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="import", object_id=run.pk,
                object_label=run.file_name, changes={"status": [None, Status.UNDOING]})  # fmt: skip
    if enqueue:
        from danhba.ingest.tasks import undo_job

        pk = run.pk
        transaction.on_commit(lambda: undo_job(pk))
    return run


UNDO_BATCH = 500  # contacts per undo transaction


def undo_execute(pk: int, *, via: str = "job", progress: Callable[[int], None] | None = None) -> Import:
    """Undo in batches; each batch deletes (or shrinks) the records it undid as it commits, so a
    restart carries on with what is left: the changed contacts' records first, then the ranges
    of created ones."""
    token = _claim(pk, (Status.UNDOING,), Status.UNDOING)
    run = Import.objects.select_related("created_by").get(pk=pk)
    if token is None:
        return run
    actor = Actor(user=run.created_by, via=via)
    report = dict(run.options.get("undo_report") or {"deleted": 0, "restored": 0, "kept": 0})
    while True:
        with transaction.atomic():
            done = _undo_changes(run, actor, report) or _undo_created(run, actor, report)
            if not done:
                break
            # The report so far commits with the batch: a resumed undo counts on from it.
            options = {**run.options, "undo_report": report}
            if not Import.objects.filter(pk=pk, run_token=token).update(heartbeat_at=timezone.now(), options=options):
                raise LostClaim
        if progress:
            progress(done)
    TimelineEntry.objects.filter(data__import=run.pk).delete()
    now = timezone.now()
    Import.objects.filter(pk=pk, run_token=token).update(
        status=Status.UNDONE, undone_at=now, run_token="", options={**run.options, "undo_report": report}
    )
    run.refresh_from_db()
    audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="import", object_id=run.pk,
                object_label=run.file_name, changes={"status": [Status.UNDOING, Status.UNDONE], **{
                    k: [None, v] for k, v in report.items()}})  # fmt: skip
    return run


def _undo_changes(run: Import, actor: Actor, report: dict[str, int]) -> int:
    """Undo the next records of contacts the import changed (or, from imports before the ranges,
    created); returns how many were undone (0: none left)."""
    changes = list(ImportChange.objects.filter(run=run).order_by("pk")[:UNDO_BATCH])
    if changes:
        created = [c.contact_id for c in changes if c.action == ImportChange.Action.CREATED]
        _undo_batch(run, actor, created, [c for c in changes if c.action == ImportChange.Action.UPDATED], report)
        ImportChange.objects.filter(pk__in=[c.pk for c in changes]).delete()
    return len(changes)


def _undo_created(run: Import, actor: Actor, report: dict[str, int]) -> int:
    """Delete the next contacts of the import's first range of created ids, and shrink the range
    (or delete it when done); returns how many ids were undone (0: none left)."""
    span = ImportCreated.objects.filter(run=run).order_by("first_id", "pk").first()
    if span is None:
        return 0
    last = min(span.last_id, span.first_id + UNDO_BATCH - 1)
    _undo_batch(run, actor, list(range(span.first_id, last + 1)), [], report)
    if last == span.last_id:
        span.delete()
    else:
        ImportCreated.objects.filter(pk=span.pk).update(first_id=last + 1)
    return last - span.first_id + 1


def _without_merge_survivors(created: list[int], report: dict[str, Any]) -> list[int]:
    """Contacts other contacts were merged into stay (their rows would go with them); the
    report counts them."""
    kept = {cid for ids in CONTACTS_KEPT_ON_UNDO(created) for cid in ids} & set(created)
    if kept:
        report["kept_merged"] = report.get("kept_merged", 0) + len(kept)
    return [cid for cid in created if cid not in kept] if kept else created


_CONTACT_COLUMNS = frozenset(f.attname for f in Contact._meta.concrete_fields)


def _undo_batch(
    run: Import, actor: Actor, created: list[int], updated: list[ImportChange], report: dict[str, int]
) -> None:
    """Delete the contacts the import created (those that still exist) and put back what it
    changed of the others."""
    if created:
        _delete_created(run, actor, created, report)
    # Locked: a merge or an edit meanwhile must not be overwritten with the copy read here (and a
    # contact merged away since is not put back).
    contacts = Contact.objects.select_for_update().in_bulk([c.contact_id for c in updated])
    _remove_added(updated)
    emails_left = _first_left(ContactEmail, "email", contacts)
    phones_left = _first_left(ContactPhone, "e164", contacts)
    restored_ids = []
    audits = []
    for change in updated:
        contact = contacts.get(change.contact_id)
        if contact is None:
            continue
        restored = _restore_fields(contact, change, report)
        for purpose, previous in (change.added.get("consents") or {}).items():
            _undo_consent(run, actor, contact.pk, int(purpose), previous)
        if not restored and not set(change.added) - {"consents"}:
            continue
        _save_restored(contact, restored, email=emails_left.get(contact.pk, ""), phone=phones_left.get(contact.pk, ""))
        restored_ids.append(contact.pk)
        removed = {k: [v, None] for k, v in change.added.items() if k != "consents"}
        audits.append((contact.pk, contact.full_name, contact.pk, {**restored, **removed, "import": [run.pk, None]}))
        report["restored"] += 1
    if audits:
        audit_events_bulk(actor=actor, action=AuditEvent.Action.UPDATE, object_type="contact", rows=audits)
    if restored_ids:
        search_index(restored_ids)
    # Restored fields, removed tags and consents: segments look at these contacts again.
    contacts_changed(reasons=dict.fromkeys(contacts, (EVERYTHING,)))


def _delete_created(run: Import, actor: Actor, created: list[int], report: dict[str, int]) -> None:
    created = _without_merge_survivors(created, report)
    labels = dict(Contact.objects.filter(pk__in=created).values_list("pk", "full_name"))
    contacts_changed(deleted=created)
    Contact.objects.filter(pk__in=created).delete()
    rows = [(cid, label, cid, {"import": [run.pk, None]}) for cid, label in labels.items()]
    audit_events_bulk(actor=actor, action=AuditEvent.Action.DELETE, object_type="contact", rows=rows)
    report["deleted"] += len(labels)


def _first_left(model: type[ContactEmail] | type[ContactPhone], column: str, contacts: Iterable[int]) -> dict[int, str]:
    """Each contact's primary (else first) email or phone left once the import's are removed."""
    first: dict[int, str] = {}
    rows = model.objects.filter(contact_id__in=contacts).order_by("contact_id", "-is_primary", "pk")
    for cid, value in rows.values_list("contact_id", column):
        first.setdefault(cid, value)
    return first


def _restore_fields(contact: Contact, change: ImportChange, report: dict[str, int]) -> dict[str, list[Any]]:
    """Put back on ``contact`` (unsaved) the values the import overwrote, unless changed again
    since (the later value stays: counted as kept); returns key → [value now, value restored]."""
    restored: dict[str, list[Any]] = {}
    for key, old in change.before.items():
        current = _current_value(contact, key)
        if current != change.after.get(key):
            report["kept"] += 1
            continue
        if key.startswith("custom."):
            custom = dict(contact.custom or {})
            if old in (None, ""):
                custom.pop(key[7:], None)
            else:
                custom[key[7:]] = old
            contact.custom = custom
        elif key == "birthday":
            contact.birthday = dt.date.fromisoformat(old) if old else None
        else:
            setattr(contact, key, old)
        restored[key] = [current, old]
    return restored


def _current_value(contact: Contact, key: str) -> Any:
    """A field (or ``custom.<key>``) as an import change records it (dates in ISO)."""
    if key.startswith("custom."):
        return (contact.custom or {}).get(key[7:])
    value = getattr(contact, key)
    return value.isoformat() if isinstance(value, dt.date) else value


def _save_restored(contact: Contact, restored: dict[str, list[Any]], *, email: str, phone: str) -> None:
    """Save the restored fields with the contact's derived ones: name key, primary email and phone."""
    if any(k in restored for k in ("full_name", "family_name", "middle_name", "given_name")):
        contact.name_key = name_key(contact.full_name)
    contact.email, contact.phone = email, phone
    contact.updated_at = timezone.now()
    written = {"custom" if k.startswith("custom.") else k for k in restored} & _CONTACT_COLUMNS
    contact.save(update_fields=sorted(written | {"name_key", "email", "phone", "updated_at"}))


def _remove_added(changes: list[ImportChange]) -> None:
    """Delete what the import added to these contacts: one statement per kind, not per contact."""
    kinds: list[tuple[type[Any], str, Callable[[int, Any], Q]]] = [
        (ContactEmail, "emails", lambda cid, v: Q(contact_id=cid, email__in=v)),
        (ContactPhone, "phones", lambda cid, v: Q(contact_id=cid, e164__in=v)),
        (ContactTag, "tags", lambda cid, v: Q(contact_id=cid, tag_id__in=v)),
        (ContactCompany, "companies", lambda cid, v: Q(contact_id=cid, company_id__in=v)),
        (ExternalId, "external_ids", lambda cid, v: _pairs(cid, "system", "value", v)),
        (SocialProfile, "social_profiles", lambda cid, v: _pairs(cid, "network", "handle", v)),
    ]
    for model, kind, condition in kinds:
        clauses = [condition(c.contact_id, c.added[kind]) for c in changes if c.added.get(kind)]
        if clauses:
            model.objects.filter(functools.reduce(operator.or_, clauses)).delete()


def _pairs(contact_id: int, first: str, second: str, pairs: list[list[str]]) -> Q:
    return functools.reduce(operator.or_, (Q(contact_id=contact_id, **{first: a, second: b}) for a, b in pairs))


def _undo_consent(run: Import, actor: Actor, contact_id: int, purpose_id: int, previous: str | None) -> None:
    """The ledger is never edited: undo appends a statement restoring the earlier status, unless
    a newer statement than the import's has been made since."""
    state = ConsentState.objects.filter(contact_id=contact_id, purpose_id=purpose_id).first()
    record = ConsentRecord.objects.filter(pk=state.record_id).first() if state else None
    started, finished = run.started_at or run.created_at, run.finished_at or timezone.now()
    if (
        state is None
        or record is None
        or record.source != ConsentSource.IMPORT
        or record.proof != import_proof(run)
        or not started <= record.recorded_at <= finished
    ):
        return
    status = previous or "withdrawn"
    now = timezone.now()
    new = ConsentRecord.objects.create(
        contact_id=contact_id, purpose_id=purpose_id, status=status, recorded_at=now, source=ConsentSource.IMPORT,
        proof=_("Undo of import #%(id)s") % {"id": run.pk}, recorded_by=actor.user,
    )  # fmt: skip
    ConsentState.objects.filter(pk=state.pk).update(status=status, since=now, record=new)


# --- the error report -----------------------------------------------------------------------


def issues_csv(run: Import, *, actor: Actor | None = None) -> Iterator[str]:
    """The rejected rows as the file had them, plus line and reason columns: fix and re-import.
    UTF-8 with a BOM so Excel opens Vietnamese text right; every cell through the one CSV guard
    (``core.csvsafe``). The reasons are in the language active now (the downloader's), and the
    columns of fields the downloader may not see are left empty. The rows are personal data
    leaving danhba, so the download is an export in the audit log."""
    if actor is not None:
        audit_event(actor=actor, action=AuditEvent.Action.EXPORT, object_type="import", object_id=run.pk,
                    object_label=run.file_name, changes={"rejected rows": [None, run.rejected]})  # fmt: skip
    view = row_view(actor.user if actor is not None else None, run)
    # The response streams after the view has returned: keep the reader's language for it.
    return _issues_csv_lines(run, view, translation.get_language())


def _issues_csv_lines(run: Import, view: RowView, language: str | None) -> Iterator[str]:
    headers = list(run.headers)
    with translation.override(language):
        yield "\ufeff" + _csv_line([_("line"), _("problems"), *headers])
        current: tuple[int, list[str], dict[str, str] | None] | None = None
        query = run.issues.filter(severity=ImportIssue.Severity.ERROR).order_by("line", "pk")
        for issue in query.iterator(chunk_size=2000):
            if current and current[0] != issue.line:
                yield _issue_line(current, headers, view)
                current = None
            why = str(view.reason(issue.column, issue.why))
            text = f"{issue.column}: {why}" if issue.column else why
            if current is None:
                current = (issue.line, [text], issue.row)
            else:
                current[1].append(text)
        if current:
            yield _issue_line(current, headers, view)


def _issue_line(item: tuple[int, list[str], dict[str, str] | None], headers: list[str], view: RowView) -> str:
    line, reasons, row = item
    shown = view.values(row or {})
    return _csv_line([line, "; ".join(reasons), *(shown.get(h, "") for h in headers)])


def _csv_line(cells: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(cell) for cell in cells])
    return out.getvalue()
