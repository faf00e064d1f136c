"""Typed shapes of the import API (they make the OpenAPI document).

Input schemas check types and sizes and refuse unknown fields; what the values mean (a known
target, an active consent purpose, a readable encoding) is checked by the services, whose
errors come back as ``422 {"code": "invalid", "details": {field: [messages]}}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.models import NameOrder, Source
from danhba.contacts.schemas import In, omittable
from danhba.ingest.models import LegalBasis, MatchKey, Mode, UpdatePolicy

Short = Annotated[str, Field(max_length=60)]
Text = Annotated[str, Field(max_length=255)]
Header = Annotated[str, Field(max_length=255)]
Target = Annotated[str, Field(max_length=100)]
Columns = Annotated[dict[Header, Target], Field(max_length=1000)]
COLUMNS_HELP = (
    '{header: target}: only the headers sent change; `""` skips a column. Targets are listed by '
    "`GET /api/import-fields`."
)


class ImportOptionsIn(In):
    """How values are read. Only the options sent change."""

    name_order: NameOrder = omittable("`vi`: family name first (Nguyễn Văn Đức); `western`: given name first.")
    given_words: Annotated[int, Field(ge=1, le=6)] = omittable(
        "Words in a given name when splitting a full name: 2 keeps 'Minh Khai' together.", [1]
    )
    day_first: bool = omittable("Dates as 31/12/1990 (true, the default) or 12/31/1990 (false).")
    add_tags: Annotated[list[Annotated[str, Field(max_length=80)]], Field(max_length=50)] = omittable(
        "Tags added to every contact the import creates or updates.", [["Hội chợ 2026"]]
    )
    owner: Annotated[str, Field(max_length=254)] = omittable(
        "Email of the user who owns the new contacts; empty: nobody (or the importer, for roles "
        "that see only their own contacts)."
    )
    lifecycle_stage: Short = omittable("Lifecycle stage key of new contacts; empty: the first stage.", ["lead"])
    add_to_list: int | None = omittable("Id of a static list every contact the import creates or updates joins.", [7])
    multi_value_separator: Annotated[str, Field(max_length=10)] = omittable(
        "Separator of several values in one cell (Google Contacts: `:::`)."
    )
    tag_delimiters: Annotated[str, Field(max_length=10)] = omittable("Characters that separate tags in a cell.")
    tag_ignore: Annotated[list[Annotated[str, Field(max_length=80)]], Field(max_length=50)] = omittable(
        "Tags to drop (e.g. Google's `* myContacts`)."
    )
    external_id_system: Short = omittable("Which system the external ids of this file belong to.", ["hubspot"])
    gender_map: Annotated[dict[Short, Literal["female", "male", "other"]], Field(max_length=50)] = omittable(
        'Extra spellings of genders in this file: {"Bà": "female"}.'
    )


class ImportConfigIn(In):
    """What to do with a draft import. Every field is optional; only those sent change."""

    columns: Columns = omittable(COLUMNS_HELP, [{"Họ và tên": "full_name", "SĐT": "phone", "Ghi chú": ""}])
    options: ImportOptionsIn = omittable()
    mode: Mode = omittable()
    update_policy: UpdatePolicy = omittable(
        "`fill_empty` (the default) keeps values the contact has; `overwrite` takes the file's."
    )
    match_keys: Annotated[list[MatchKey], Field(min_length=1, max_length=3)] = omittable(
        "Identity keys to find existing contacts by, in order.", [["external_id", "email", "phone"]]
    )
    source: Source = omittable("Where the contacts came from (required to start).")
    source_detail: Text = omittable(None, ["Registration forms, Hà Nội fair, October 2026"])
    legal_basis: LegalBasis = omittable(
        "Why danhba may hold the data; `consent` needs purposes, a consent column or proof."
    )
    consent_purposes: Annotated[list[Short], Field(max_length=50)] = omittable(
        "Keys of the consent purposes every person in the file agreed to.", [["email_marketing"]]
    )
    consent_proof: Text = omittable("Where the signed forms or records are kept.")
    encoding: Annotated[str, Field(max_length=20)] = omittable(
        "Read the file in this encoding instead of the detected one (utf-8, utf-16, cp1258, tcvn3, vni…); "
        '`""` returns to the detected one.'
    )
    sheet: Annotated[str, Field(max_length=100)] = omittable("The XLSX sheet to read.")
    preset: Short = omittable("Map the columns as an export of `google`, `outlook`, `hubspot` or `mautic`.")
    mapping: Annotated[str, Field(max_length=120)] = omittable("Apply the saved mapping of this name.")
    dry_run: bool = omittable("Check and count every row, change no contact.")


class ImportCounts(Schema):
    created: int
    updated: int
    unchanged: int
    merged: int = Field(description="Rows merged into an earlier row of the same file (same person twice).")
    skipped: int
    rejected: int
    warnings: int = Field(description="Rows loaded with a warning.")


class ImportLinks(Schema):
    self: str
    start: str
    preview: str
    issues: str
    errors_csv: str
    cancel: str
    undo: str
    page: str = Field(description="The import's page in the web UI.")


class ImportOut(Schema):
    id: int
    status: str = Field(
        description="draft, queued, running, cancelling, cancelled, done, failed, undoing or undone. "
        "Poll while queued, running, cancelling or undoing."
    )
    dry_run: bool
    file_name: str
    file_size: int
    format: str
    encoding: str = Field(description="The encoding chosen; empty: the detected one.")
    detected_encoding: str
    sheet: str
    headers: list[str]
    columns: dict[str, str] = Field(description="{header: target}; suggested from the headers until changed.")
    options: dict[str, Any]
    mode: str
    update_policy: str
    match_keys: list[str]
    source: str
    source_detail: str
    legal_basis: str
    consent_purposes: list[str]
    consent_proof: str
    created_by: str | None = Field(description="Email of the user who uploaded the file.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    undone_at: dt.datetime | None
    rows_estimate: int | None
    rows_done: int
    line_done: int = Field(description="The last source line whose batch is committed.")
    percent: int
    counts: ImportCounts
    error: str
    can_undo: bool
    undo_until: dt.datetime | None
    links: ImportLinks


class ImportPage(Schema):
    items: list[ImportOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class IssueOut(Schema):
    line: int = Field(description="Line (record, for JSON and vCard; row, for XLSX) in the file.")
    severity: Literal["error", "warning"] = Field(description="error: the row was rejected; warning: loaded.")
    column: str
    value: str = Field(description="As read; `…` in a column of a field the caller may not see.")
    reason: str = Field(description="In the caller's language (Accept-Language, or the user's).")


class IssuePage(Schema):
    items: list[IssueOut]
    next_cursor: str | None


class PreviewIssue(Schema):
    column: str
    value: str
    reason: str


class PreviewRow(Schema):
    line: int
    values: dict[str, str] = Field(
        description="The row as read, by header; the columns of fields the caller may not see are left out."
    )
    outcome: Literal["ok", "rejected", "empty"]
    contact: dict[str, Any] = Field(description="The normalised values it would load (ok rows).")
    errors: list[PreviewIssue]
    warnings: list[PreviewIssue] = Field(description="Values left out (the row loads without them) and other warnings.")
    same_as_line: int | None = Field(
        None, description="The earlier line of the file this row shares an email, phone or external id with: merged."
    )


class ImportPreviewOut(Schema):
    headers: list[str]
    rows: list[PreviewRow]


class Choice(Schema):
    key: str
    label: str


class TargetOut(Choice):
    multi: bool = Field(description="Several columns may go into it.")


class ImportFieldsOut(Schema):
    targets: list[TargetOut]
    presets: list[Choice]
    encodings: list[Choice]
    modes: list[Choice]
    update_policies: list[Choice]
    match_keys: list[Choice]
    sources: list[Choice]
    legal_bases: list[Choice]
    consent_purposes: list[Choice]


class ImportUploadForm(Schema):
    """The multipart fields sent with the file: those of :class:`ImportConfigIn` as text
    (`columns` and `options` as JSON objects, lists comma separated), and `start`."""

    columns: Annotated[str, Field(max_length=200_000)] | None = Field(
        None, description="JSON object {header: target}.", examples=['{"Họ và tên": "full_name", "SĐT": "phone"}']
    )
    options: Annotated[str, Field(max_length=20_000)] | None = Field(
        None, description="JSON object of import options (see ImportOptionsIn).", examples=['{"given_words": 2}']
    )
    mode: Mode | None = None
    update_policy: UpdatePolicy | None = None
    match_keys: Annotated[str, Field(max_length=100)] | None = Field(None, examples=["email,phone"])
    source: Source | None = None
    source_detail: Text | None = None
    legal_basis: LegalBasis | None = None
    consent_purposes: Annotated[str, Field(max_length=2000)] | None = Field(None, examples=["email_marketing"])
    consent_proof: Text | None = None
    encoding: Annotated[str, Field(max_length=20)] | None = None
    sheet: Annotated[str, Field(max_length=100)] | None = None
    preset: Short | None = None
    mapping: Annotated[str, Field(max_length=120)] | None = Field(None, description="A saved mapping's name.")
    dry_run: bool | None = None
    start: bool = Field(False, description="Start at once (after the settings are checked): 201, then poll.")
