"""Exports of contact lists as CSV, XLSX, JSON and vCard.

Every format is written from the same rows (:func:`export_rows`): the contacts the user may
see under the list's filters, without the fields the user may not see. Rows are read page by
page (keyset), never all in memory. An export of at most ``EXPORT_INLINE_MAX`` contacts is
streamed in the response; a larger one becomes an :class:`ExportJob` the worker writes into
``MEDIA_ROOT/exports/``, downloadable only by the person who asked for it and deleted after
:data:`KEEP`. Each export is written to the audit log with its format, filters and row count:
an inline export before its first row leaves, a job when its file is complete.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import os
import secrets
import tempfile
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import vobject
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.extensions import CONTACT_EXPORT_COLUMNS, CONTACT_LIST_FILTERS
from danhba.contacts.models import (
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ExportJob,
    display_name,
)
from danhba.contacts.selectors import (
    MAX_LIMIT,
    CompanyFilters,
    ContactFilters,
    active_custom_keys,
    companies_filtered,
    company_page,
    contact_count,
    contact_page,
    hidden_fields,
    visible_custom_fields,
    visible_custom_values,
)
from danhba.core.actor import Actor
from danhba.core.csvsafe import FORMULA_START, csv_cell
from danhba.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from danhba.core.keyset import MAX_PK

logger = logging.getLogger(__name__)

BASE_COLUMNS = [
    "id", "full_name", "family_name", "middle_name", "given_name", "email", "phone", "other_emails", "other_phones",
    "street", "ward", "province", "address_raw", "country", "birthday", "gender", "occupation", "job_title",
    "education", "income_band", "family", "lifestyle", "hobbies", "preferences", "motivations", "likes",
    "dislikes", "lifecycle_stage", "buyer_role", "source", "owner", "tags", "companies", "created_at",
    "updated_at", "last_activity_at",
]  # fmt: skip
# contact_page caps a page at MAX_LIMIT; asking for more would only be cut down.
PAGE = MAX_LIMIT
# The list query's filters an export keeps (paging and sorting are left out), plus custom.<key>
# and the parameters of the filters other apps own (extensions.CONTACT_LIST_FILTERS).
FILTER_KEYS = (
    "q", "lifecycle_stage", "owner", "tag", "source", "province", "buyer_role", "company", "has_email",
    "has_phone", "created_after", "created_before",
)  # fmt: skip


def filter_keys() -> set[str]:
    return {*FILTER_KEYS, *(param for f in CONTACT_LIST_FILTERS for param in f.params)}


KEEP = dt.timedelta(days=7)  # finished exports (rows and files) are deleted after this
STALE = dt.timedelta(minutes=30)  # a running job silent this long died with its worker
MAX_ACTIVE_JOBS = 3  # queued or running exports per person


@dataclass(frozen=True)
class ExportFormat:
    key: str
    extension: str
    content_type: str


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "csv", "text/csv; charset=utf-8"),
    "xlsx": ExportFormat("xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": ExportFormat("json", "json", "application/json; charset=utf-8"),
    "vcard": ExportFormat("vcard", "vcf", "text/vcard; charset=utf-8"),
}


def export_format(key: str) -> ExportFormat:
    spec = FORMATS.get(key)
    if spec is None:
        raise InvalidInput({"format": [gettext("must be one of %(choices)s") % {"choices": ", ".join(FORMATS)}]})
    return spec


def export_filename(fmt: str, day: dt.date | None = None, what: str = "contacts") -> str:
    return f"{what}-{day or timezone.localdate():%Y-%m-%d}.{export_format(fmt).extension}"


# --- rows ------------------------------------------------------------------------------------


def export_params(params: Mapping[str, Any], *, strict: bool = False) -> dict[str, str]:
    """The filters of a list query as an export keeps them: known keys with a value, as text.
    ``strict`` (the API) refuses unknown keys, so a misspelt filter never exports everything."""
    kept: dict[str, str] = {}
    unknown: dict[str, list[str]] = {}
    known = filter_keys()
    for key in params:
        value = params[key]
        if key not in known and not (key.startswith("custom.") and len(key) > 7):
            if strict:
                unknown[f"filters.{key}"] = [gettext("not a filter of the contact list")]
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value if value is not None else "")
        if text.strip():
            kept[key] = text.strip()
    if unknown:
        raise InvalidInput(unknown, gettext("Some filters are not valid."))
    return kept


def export_columns(user: Any) -> list[str]:
    hidden = hidden_fields(user)
    columns = [c for c in BASE_COLUMNS if c not in hidden]
    columns += [f"custom.{cf.key}" for cf in visible_custom_fields(user)]
    for extension in CONTACT_EXPORT_COLUMNS:
        columns += extension.columns(user)
    return columns


def export_rows(
    user: Any, filters: ContactFilters, on_page: Callable[[int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Every contact the user may see under ``filters``, as rows of visible fields with typed
    values (lists, dates, datetimes); each writer flattens them its own way. ``on_page`` is
    called with the number of rows so far after each page (a job's progress)."""
    hidden = hidden_fields(user)
    extensions = [(e, e.columns(user)) for e in CONTACT_EXPORT_COLUMNS]
    extensions = [(e, columns) for e, columns in extensions if columns]
    cursor: str | None = None
    done = 0
    while True:
        page = contact_page(user, filters, sort="created", cursor=cursor, limit=PAGE)
        ids = [c.pk for c in page.items]
        # Plain value lists grouped here: Django's prefetch_related costs about a millisecond
        # per contact in Python, which a million-row export would feel.
        emails = _grouped(ContactEmail.objects.filter(contact_id__in=ids), "email")
        phones = _grouped(ContactPhone.objects.filter(contact_id__in=ids), "e164")
        tags = _grouped(ContactTag.objects.filter(contact_id__in=ids).order_by("tag__name"), "tag__name")
        companies = _grouped(ContactCompany.objects.filter(contact_id__in=ids), "company__name")
        added = [(e.values(ids), e.missing, columns) for e, columns in extensions]
        for contact in page.items:
            pk = contact.pk
            done += 1
            row = _row(contact, hidden, emails.get(pk, []), phones.get(pk, []), tags.get(pk, []), companies.get(pk, []))
            for values, missing, columns in added:
                found = values.get(pk) or missing
                row.update({key: found.get(key) for key in columns})
            yield row
        if on_page is not None:
            on_page(done)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _grouped(qs: QuerySet[Any], field: str) -> dict[int, list[str]]:
    """``field`` of each row by contact, primary rows first where the table has them."""
    if any(f.name == "is_primary" for f in qs.model._meta.get_fields()):
        qs = qs.order_by("-is_primary", "id")
    grouped: dict[int, list[str]] = {}
    for contact_id, value in qs.values_list("contact_id", field):
        grouped.setdefault(contact_id, []).append(value)
    return grouped


def _row(
    c: Contact, hidden: set[str], emails: list[str], phones: list[str], tags: list[str], companies: list[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": c.pk,
        "full_name": c.full_name,
        "family_name": c.family_name,
        "middle_name": c.middle_name,
        "given_name": c.given_name,
        "email": c.email,
        "phone": c.phone,
        "other_emails": [e for e in emails if e != c.email],
        "other_phones": [p for p in phones if p != c.phone],
        "street": c.street,
        "ward": c.ward,
        "province": c.get_province_display() if c.province else "",
        "address_raw": c.address_raw,
        "country": c.country,
        "birthday": c.birthday,
        "gender": c.gender,
        "occupation": c.occupation,
        "job_title": c.job_title,
        "education": c.education,
        "income_band": c.income_band,
        "family": c.family,
        "lifestyle": c.lifestyle,
        "hobbies": c.hobbies,
        "preferences": c.preferences,
        "motivations": c.motivations,
        "likes": c.likes,
        "dislikes": c.dislikes,
        "lifecycle_stage": c.lifecycle_stage.key if c.lifecycle_stage_id else "",
        "buyer_role": c.buyer_role.key if c.buyer_role else "",
        "source": c.source,
        "owner": c.owner.email if c.owner else "",
        "tags": tags,
        "companies": companies,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "last_activity_at": c.last_activity_at,
    }
    for key in hidden:
        row.pop(key, None)
    for key, value in (c.custom or {}).items():
        if f"custom.{key}" not in hidden:
            row[f"custom.{key}"] = value
    return row


# --- writers ---------------------------------------------------------------------------------


def _joined(value: list[Any]) -> str:
    return "; ".join(map(str, value))


def csv_chunks(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    """CSV text, starting with a BOM so Excel reads the UTF-8 as UTF-8 (Vietnamese intact)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    yield "\ufeff"
    writer.writeheader()
    for n, row in enumerate(rows, 1):
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
        if n % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetimes too: ISO 8601 with their UTC offset
        return value.isoformat()
    return value


def json_chunks(rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    """One JSON array of objects keyed like the CSV columns, written as it is read."""
    parts = ["["]
    for n, row in enumerate(rows):
        item = {key: _json_value(row.get(key)) for key in columns}
        parts.append(("," if n else "") + "\n" + json.dumps(item, ensure_ascii=False, default=str))
        if len(parts) >= 200:
            yield "".join(parts)
            parts = []
    parts.append("\n]\n")
    yield "".join(parts)


_VCARD_GENDER = {"female": "F", "male": "M", "other": "O"}


def vcard_text(row: dict[str, Any]) -> str:
    """One vCard 4.0 (RFC 6350) of the row's visible fields; vobject escapes and folds."""
    card = vobject.vCard()
    card.add("version").value = "4.0"
    card.add("prodid").value = "-//danhba//contacts export//EN"
    # The display name as danhba shows it: a contact known only by an identifier is anonymous.
    card.add("fn").value = display_name(row["full_name"], row["id"])
    card.add("n").value = vobject.vcard.Name(
        family=row.get("family_name", ""), given=row.get("given_name", ""), additional=row.get("middle_name", "")
    )
    for n, email in enumerate(_present([row.get("email"), *row.get("other_emails", [])])):
        line = card.add("email")
        line.value = email
        if n == 0 and row.get("email"):
            line.params["PREF"] = ["1"]
    for n, phone in enumerate(_present([row.get("phone"), *row.get("other_phones", [])])):
        line = card.add("tel")
        line.value = f"tel:{phone}"
        line.params["VALUE"] = ["uri"]
        if n == 0 and row.get("phone"):
            line.params["PREF"] = ["1"]
    if row.get("street") or row.get("ward") or row.get("province"):
        card.add("adr").value = vobject.vcard.Address(
            street=row.get("street", ""),
            city=row.get("ward", ""),
            region=row.get("province", ""),
            country=row.get("country", ""),
        )
    if row.get("birthday"):
        card.add("bday").value = row["birthday"].strftime("%Y%m%d")
    if row.get("gender") in _VCARD_GENDER:
        card.add("gender").value = _VCARD_GENDER[row["gender"]]
    if row.get("companies"):
        card.add("org").value = [row["companies"][0]]
    if row.get("job_title"):
        card.add("title").value = row["job_title"]
    if row.get("tags"):
        card.add("categories").value = list(row["tags"])
    if row.get("updated_at"):
        card.add("rev").value = row["updated_at"].astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return str(card.serialize())


def _present(values: Iterable[Any]) -> list[str]:
    return [v for v in values if v]


def vcard_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    parts: list[str] = []
    for row in rows:
        parts.append(vcard_text(row))
        if len(parts) >= 200:
            yield "".join(parts)
            parts = []
    yield "".join(parts)


XLSX_MAX_ROWS = 1_048_576  # rows of one sheet, the header included
XLSX_MAX_TEXT = 32_767  # characters of one cell
XLSX_TEXT_COLUMNS = {"id", "phone", "other_phones"}  # numbers that are names, not quantities
XLSX_WIDTHS = {"full_name": 28, "email": 28, "other_emails": 28, "address_raw": 32, "companies": 28}


def xlsx_write(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    target: str | Path | IO[bytes],
    tz: dt.tzinfo,
    title: str | None = None,
) -> None:
    """An XLSX workbook in openpyxl's write-only mode (memory stays flat): header bold and
    frozen, ids and phones as text, dates and times as real ones (in ``tz``: Excel has no
    time zones), text that looks like a formula kept as text. A list longer than a sheet
    continues on the next sheet."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    title = title or gettext("Contacts")
    sheet_no = 0

    def new_sheet() -> Any:
        nonlocal sheet_no
        sheet_no += 1
        ws = wb.create_sheet(title if sheet_no == 1 else f"{title} ({sheet_no})")
        ws.freeze_panes = "A2"
        for i, column in enumerate(columns, 1):
            ws.column_dimensions[get_column_letter(i)].width = XLSX_WIDTHS.get(column, 16)
        header = []
        for column in columns:
            cell = WriteOnlyCell(ws, value=column)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        return ws

    try:
        ws = new_sheet()
        written = 1
        for row in rows:
            if written >= XLSX_MAX_ROWS:
                ws = new_sheet()
                written = 1
            ws.append([_xlsx_cell(ws, column, row.get(column), tz) for column in columns])
            written += 1
    except BaseException:
        _xlsx_discard(wb)
        raise
    wb.save(target)


def _xlsx_discard(wb: Workbook) -> None:
    """Delete the temporary files of an abandoned write-only workbook (a cancelled or failed
    export); openpyxl removes them only when the process exits, and a worker lives long."""
    for ws in wb.worksheets:
        rows = getattr(ws, "_rows", None)
        if rows is not None:
            # Finish the sheet's row generator while its file is still open; left to the
            # garbage collector it writes into a closed file.
            with contextlib.suppress(Exception):
                rows.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
                writer.cleanup()


def _xlsx_cell(ws: Any, column: str, value: Any, tz: dt.tzinfo) -> Any:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool | float | Decimal) or (isinstance(value, int) and column not in XLSX_TEXT_COLUMNS):
        return value
    if isinstance(value, dt.datetime):
        cell = WriteOnlyCell(ws, value=timezone.localtime(value, tz).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, list):
        value = _joined(value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))[:XLSX_MAX_TEXT]
    if column not in XLSX_TEXT_COLUMNS and not text.startswith(FORMULA_START):
        return text
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if column in XLSX_TEXT_COLUMNS:
        cell.number_format = "@"
    if text.startswith(FORMULA_START):
        # What Excel stores for text typed with a leading apostrophe: shown as typed, and it
        # stays text when the cell is edited.
        cell.quotePrefix = True
    return cell


def _text_chunks(fmt: str, rows: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    if fmt == ExportJob.Format.CSV:
        return csv_chunks(rows, columns)
    if fmt == ExportJob.Format.JSON:
        return json_chunks(rows, columns)
    return vcard_chunks(rows)


def _user_tz(user: User) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone) if user.time_zone else timezone.get_default_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


# --- inline exports --------------------------------------------------------------------------


@dataclass
class InlineExport:
    """A small export, to stream straight into the response."""

    chunks: Iterator[bytes]
    content_type: str
    filename: str


def _audit_export(
    actor: Actor, fmt: str, params: dict[str, str], rows: int, job: ExportJob | None = None, what: str = "contact"
) -> None:
    changes: dict[str, Any] = {"format": [None, fmt], "filters": [None, params], "rows": [None, rows]}
    if job is not None:
        changes["export_job"] = [None, job.pk]
    plural = "companies" if what == "company" else f"{what}s"
    audit_event(
        actor=actor, action=AuditEvent.Action.EXPORT, object_type=what,
        object_label=f"{plural} {fmt.upper()} export", changes=changes,
    )  # fmt: skip


def _require_filter_exports(actor: Actor, filters: ContactFilters) -> None:
    """Exporting with a filter another app owns may take its permission as well (the members of
    a segment or list: "segment: export")."""
    for key in filters.extra:
        list_filter = CONTACT_LIST_FILTERS.get(key)
        if list_filter is not None and list_filter.export_permission is not None:
            require(actor, *list_filter.export_permission)


def contacts_export(*, actor: Actor, fmt: str, params: Mapping[str, Any]) -> InlineExport | ExportJob:
    """Export the contacts of a list query: streamed now when there are at most
    ``EXPORT_INLINE_MAX`` of them, else an export job for the worker (returned)."""
    assert actor.user is not None
    require(actor, "contact", perms.EXPORT)
    spec = export_format(fmt)
    kept = export_params(params)
    filters = ContactFilters.from_params(kept)
    _require_filter_exports(actor, filters)
    user = actor.user
    count, capped = contact_count(user, filters, cap=settings.EXPORT_INLINE_MAX)
    if capped:
        return _job_create(actor, spec, kept, count)
    columns = export_columns(user)
    _audit_export(actor, spec.key, kept, count)
    rows = export_rows(user, filters)
    if spec.key == ExportJob.Format.XLSX:
        chunks = _xlsx_chunks(rows, columns, _user_tz(user))
    else:
        chunks = (chunk.encode("utf-8") for chunk in _text_chunks(spec.key, rows, columns))
    return InlineExport(chunks, spec.content_type, export_filename(spec.key))


def _xlsx_chunks(
    rows: Iterable[dict[str, Any]], columns: list[str], tz: dt.tzinfo, title: str | None = None
) -> Iterator[bytes]:
    # A ZIP file cannot be streamed as it is written; a few thousand rows fit a temporary file.
    with tempfile.TemporaryFile() as fh:
        xlsx_write(rows, columns, fh, tz, title)
        fh.seek(0)
        while chunk := fh.read(64 * 1024):
            yield chunk


def contacts_export_csv(*, actor: Actor, filters: ContactFilters) -> Iterator[str]:
    """CSV text chunks of every contact under ``filters``, whatever their number (the CLI and
    callers that already hold filters). The audit row is written before the first row leaves."""
    assert actor.user is not None
    require(actor, "contact", perms.EXPORT)
    _require_filter_exports(actor, filters)
    user = actor.user
    params = {k: str(v) for k, v in vars(filters).items() if v not in ("", None, {}, [])}
    count, _ = contact_count(user, filters, cap=10**9)
    _audit_export(actor, ExportJob.Format.CSV, params, count)
    return csv_chunks(export_rows(user, filters), export_columns(user))


# --- companies -------------------------------------------------------------------------------

COMPANY_COLUMNS = [
    "id", "name", "domain", "website", "tax_code", "industry", "size", "email", "phone", "street", "ward",
    "province", "description", "owner", "contact_count", "created_at", "updated_at",
]  # fmt: skip
COMPANY_FORMATS = ("csv", "xlsx", "json")  # a vCard is a person's card


def company_export_columns(user: User) -> list[str]:
    return COMPANY_COLUMNS + [f"custom.{cf.key}" for cf in visible_custom_fields(user, "company")]


def company_rows(user: User, filters: CompanyFilters) -> Iterator[dict[str, Any]]:
    """Every company under ``filters``, page by page (keyset), each with the number of its
    contacts the user may see and its custom fields the user may see."""
    hidden = hidden_fields(user)
    active = active_custom_keys("company")
    cursor: str | None = None
    while True:
        page = company_page(user, cursor=cursor, limit=PAGE, filters=filters)
        for company in page.items:
            row = {column: getattr(company, column, None) for column in COMPANY_COLUMNS}
            row.update(
                id=company.pk,
                province=company.get_province_display() if company.province else "",
                owner=company.owner.email if company.owner else "",
            )
            for key, value in visible_custom_values(company.custom, "company", hidden, active).items():
                row[f"custom.{key}"] = value
            yield row
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def companies_export(*, actor: Actor, fmt: str, params: Mapping[str, Any]) -> InlineExport:
    """The companies list under its filters as CSV, XLSX or JSON, streamed (companies are far
    fewer than contacts), with the same writers, field hiding and audit row as contact exports."""
    assert actor.user is not None
    require(actor, "company", perms.EXPORT)
    if fmt not in COMPANY_FORMATS:
        choices = ", ".join(COMPANY_FORMATS)
        raise InvalidInput({"format": [gettext("must be one of %(choices)s") % {"choices": choices}]})
    spec = export_format(fmt)
    user = actor.user
    filters = CompanyFilters.from_params(params)
    count = companies_filtered(user, filters).count()
    _audit_export(actor, spec.key, filters.as_params(), count, what="company")
    columns = company_export_columns(user)
    rows = company_rows(user, filters)
    if spec.key == ExportJob.Format.XLSX:
        chunks = _xlsx_chunks(rows, columns, _user_tz(user), gettext("Companies"))
    else:
        chunks = (chunk.encode("utf-8") for chunk in _text_chunks(spec.key, rows, columns))
    return InlineExport(chunks, spec.content_type, export_filename(spec.key, what="companies"))


# --- export jobs -----------------------------------------------------------------------------


class ExportCancelled(Exception):
    """The job's row left "running" (cancelled) while the file was being written."""


def export_job_create(*, actor: Actor, fmt: str, params: Mapping[str, Any], strict: bool = False) -> ExportJob:
    """Queue an export for the worker. The filters are checked now (a bad one is a 422 here,
    not a failed job later); at most :data:`MAX_ACTIVE_JOBS` may wait or run per person."""
    assert actor.user is not None
    require(actor, "contact", perms.EXPORT)
    spec = export_format(fmt)
    kept = export_params(params, strict=strict)
    filters = ContactFilters.from_params(kept)
    _require_filter_exports(actor, filters)
    estimate, _ = contact_count(actor.user, filters, cap=settings.EXPORT_INLINE_MAX)
    return _job_create(actor, spec, kept, estimate)


def _job_create(actor: Actor, spec: ExportFormat, kept: dict[str, str], estimate: int) -> ExportJob:
    user = actor.user
    assert user is not None
    with transaction.atomic():
        # Locking the requester's row makes the "how many are running" check and the insert one step.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ExportJob.objects.filter(requested_by=user, status__in=ExportJob.ACTIVE).count()
        if active >= MAX_ACTIVE_JOBS:
            raise Conflict(
                gettext("You already have %(n)d exports in progress; wait for one to finish or cancel it.")
                % {"n": active}
            )
        job = ExportJob.objects.create(
            requested_by=user, via=actor.via, ip_address=actor.ip, format=spec.key, filters=kept,
            rows_total=estimate,
        )  # fmt: skip
        transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from danhba.contacts.tasks import export_job_run_job

    export_job_run_job(job_id)


def export_job_get(user: User, pk: int) -> ExportJob:
    """The user's own export job; anyone else's does not exist for them."""
    job = ExportJob.objects.filter(pk=pk, requested_by=user).first() if 0 < pk <= MAX_PK else None
    if job is None:
        raise NotFound(gettext("No such export."))
    return job


def export_jobs_for(user: User, limit: int = 100) -> list[ExportJob]:
    return list(ExportJob.objects.filter(requested_by=user)[:limit])


def export_job_cancel(*, actor: Actor, job: ExportJob) -> ExportJob:
    """Stop a queued or running export; the worker notices at its next page and deletes what
    it had written. A finished export is left as it is."""
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk, status__in=ExportJob.ACTIVE).update(
        status=ExportJob.Status.CANCELLED, finished_at=now, updated_at=now
    )
    job.refresh_from_db()
    return job


def export_file_path(job: ExportJob) -> Path | None:
    """The finished file of a done job, or None (not done, or already deleted)."""
    if job.status != ExportJob.Status.DONE or not job.file:
        return None
    path = Path(settings.MEDIA_ROOT) / job.file.name
    return path if path.is_file() else None


def export_job_run(job_id: int) -> None:
    """Write the job's file. Claiming the row (queued → running) makes a repeated or duplicated
    wake-up call a no-op; the result is re-derived from the database, as the requester may see
    it now (their role and visibility at run time, not at request time)."""
    now = timezone.now()
    if not ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, updated_at=now
    ):
        return
    job = ExportJob.objects.select_related("requested_by__role").get(pk=job_id)
    user = job.requested_by
    actor = Actor(user=user, via=job.via, ip=job.ip_address)
    name = f"exports/{job.pk}-{secrets.token_hex(8)}.{export_format(job.format).extension}"
    final = Path(settings.MEDIA_ROOT) / name
    part = final.with_name(final.name + ".part")
    with translation.override(user.language or settings.LANGUAGE_CODE):
        try:
            require(actor, "contact", perms.EXPORT)
            filters = ContactFilters.from_params(job.filters)
            total, _ = contact_count(user, filters, cap=10**9)
            ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
            part.parent.mkdir(parents=True, exist_ok=True)
            rows = _write_file(job, user, filters, part)
            os.replace(part, final)
            with transaction.atomic():
                done = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
                    status=ExportJob.Status.DONE, file=name, rows_done=rows, rows_total=rows,
                    finished_at=timezone.now(), updated_at=timezone.now(),
                )  # fmt: skip
                if done:
                    _audit_export(actor, job.format, job.filters, rows, job)
            if not done:  # cancelled at the last moment
                final.unlink(missing_ok=True)
        except ExportCancelled:
            part.unlink(missing_ok=True)
        except ServiceError as exc:
            part.unlink(missing_ok=True)
            _fail(job, _error_text(exc))
        except Exception:
            part.unlink(missing_ok=True)
            logger.exception("export job %s failed", job_id)
            _fail(job, gettext("The export failed on our side; it has been logged. Please try again."))


def _write_file(job: ExportJob, user: User, filters: ContactFilters, path: Path) -> int:
    progress = {"rows": 0}

    def on_page(rows: int) -> None:
        progress["rows"] = rows
        alive = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
            rows_done=rows, updated_at=timezone.now()
        )
        if not alive:
            raise ExportCancelled

    columns = export_columns(user)
    rows = export_rows(user, filters, on_page=on_page)
    if job.format == ExportJob.Format.XLSX:
        xlsx_write(rows, columns, path, _user_tz(user))
    else:
        with path.open("w", encoding="utf-8", newline="") as fh:
            for chunk in _text_chunks(job.format, rows, columns):
                fh.write(chunk)
    return progress["rows"]


def _fail(job: ExportJob, message: str) -> None:
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
        status=ExportJob.Status.FAILED, error=message, finished_at=now, updated_at=now
    )


def _error_text(exc: ServiceError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = [f"{k}: {', '.join(map(str, v))}" for k, v in details.items() if isinstance(v, list)]
    return " ".join([exc.message, *parts])


def export_jobs_purge(*, now: dt.datetime | None = None) -> int:
    """Housekeeping for the periodic task: delete exports older than :data:`KEEP` with their
    files, fail jobs whose worker died, queue again jobs whose wake-up call was lost, and
    delete files no job points at any more. Returns the number of jobs deleted."""
    now = now or timezone.now()
    old = ExportJob.objects.filter(created_at__lt=now - KEEP)
    root = Path(settings.MEDIA_ROOT)
    for name in old.exclude(file="").values_list("file", flat=True):
        (root / name).unlink(missing_ok=True)
    deleted, _ = old.delete()
    ExportJob.objects.filter(status=ExportJob.Status.RUNNING, updated_at__lt=now - STALE).update(
        status=ExportJob.Status.FAILED,
        error=gettext("The export stopped (the worker was restarted); please export again."),
        finished_at=now,
    )
    for pk in ExportJob.objects.filter(status=ExportJob.Status.QUEUED, created_at__lt=now - STALE).values_list(
        "pk", flat=True
    ):
        _queue(pk)
    folder = root / "exports"
    if folder.is_dir():
        for path in folder.iterdir():
            age = now.timestamp() - path.stat().st_mtime
            if age > KEEP.total_seconds() or (path.suffix == ".part" and age > STALE.total_seconds()):
                path.unlink(missing_ok=True)
    return deleted
