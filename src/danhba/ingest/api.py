"""REST endpoints of imports: upload a file (and optionally configure and start it at once),
configure a draft, start it, poll it, read its issues and error CSV, cancel, undo; and the
targets a column can be imported into.

A client uploads, then polls ``GET /api/imports/{id}`` until ``status`` is no longer queued,
running or cancelling. Permissions and visibility are the services' (as in the web pages).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import ValidationError as PydanticError

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.contacts.models import Source
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK, paginate
from danhba.ingest import mappings, services
from danhba.ingest.fields import PRESETS, is_multi, target_choices
from danhba.ingest.forms import ENCODINGS
from danhba.ingest.models import Import, LegalBasis, MatchKey, Mode, UpdatePolicy
from danhba.ingest.schemas import (
    ImportConfigIn,
    ImportFieldsOut,
    ImportOut,
    ImportPage,
    ImportPreviewOut,
    ImportUploadForm,
    IssuePage,
)
from danhba.ingest.selectors import ShownIssue, row_view, same_person, shown_issue, shown_item
from danhba.ingest.transform import PlanError, Prepared, Rejected
from danhba.privacy.models import ConsentPurpose

router = Router(tags=["imports"])

MAX_LIMIT = 500


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _get(request: HttpRequest, import_id: int) -> Import:
    return services.import_get(actor=api_actor(request), pk=import_id)


# --- upload and configure --------------------------------------------------------------------


@router.post("/imports", response={201: ImportOut, **ERRORS}, summary="Upload a file to import")
def import_create(
    request: HttpRequest, file: File[UploadedFile], fields: Form[ImportUploadForm]
) -> Status[dict[str, Any]]:
    """Stores the file and detects its format, encoding, headers and a mapping (a draft). The
    other fields configure it as `PATCH` would; with `start=true` it is queued at once. All or
    nothing: if a setting is refused, no draft is kept."""
    actor = api_actor(request)
    config = _upload_config(fields)
    with transaction.atomic():
        run = services.import_create(actor=actor, file=file, file_name=file.name or "")
        try:
            run = _configure(actor, run, config)
            if fields.start:
                run = services.import_start(actor=actor, run=run)
        except BaseException:
            run.file.delete(save=False)
            raise
    return Status(201, _out(run))


@router.patch("/imports/{import_id}", response={200: ImportOut, **ERRORS}, summary="Configure a draft import")
def import_configure(request: HttpRequest, payload: ImportConfigIn, import_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change. A changed encoding or sheet reads the file again (new headers,
    new suggested mapping); then a saved `mapping` or a `preset` is applied, then `columns`."""
    actor = api_actor(request)
    run = _get(request, import_id)
    with transaction.atomic():
        run = _configure(actor, run, payload)
    return _out(run)


@router.post("/imports/{import_id}/start", response={202: ImportOut, **ERRORS}, summary="Start a draft import")
def import_start(request: HttpRequest, import_id: int = _id()) -> Status[dict[str, Any]]:
    """Queues the import for the worker; poll `GET /api/imports/{id}`."""
    actor = api_actor(request)
    run = services.import_start(actor=actor, run=_get(request, import_id))
    return Status(202, _out(run))


def _upload_config(fields: ImportUploadForm) -> ImportConfigIn:
    data: dict[str, Any] = fields.model_dump(exclude_none=True, exclude={"start"})
    errors: dict[str, list[str]] = {}
    for key in ("columns", "options"):
        if key in data:
            try:
                value = json.loads(data[key])
            except ValueError:
                errors[key] = [_("must be a JSON object")]
                continue
            if not isinstance(value, dict):
                errors[key] = [_("must be a JSON object")]
            data[key] = value
    for key in ("match_keys", "consent_purposes"):
        if key in data:
            data[key] = [item.strip() for item in data[key].split(",") if item.strip()]
    if errors:
        raise InvalidInput(errors)
    try:
        return ImportConfigIn.model_validate(data)
    except PydanticError as exc:
        details: dict[str, list[str]] = {}
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ())]
            details.setdefault(loc[0] if loc else "__all__", []).append(
                (".".join(loc[1:]) + ": " if len(loc) > 1 else "") + str(error.get("msg", ""))
            )
        raise InvalidInput(details) from None


def _configure(actor: Actor, run: Import, config: ImportConfigIn) -> Import:
    """Apply a configuration in the order that keeps each part: the file's reading first (it
    re-suggests the mapping), then a saved mapping or preset, then the columns and the rest."""
    data = config.model_dump(exclude_unset=True)
    reading = {key: data.pop(key) for key in ("encoding", "sheet") if key in data}
    if reading:
        run = services.import_configure(actor=actor, run=run, **reading)
    if "mapping" in data:
        name = data.pop("mapping")
        try:
            mapping = mappings.saved_mapping_get(actor=actor, name=name)
        except NotFound:
            raise InvalidInput({"mapping": [_("no saved mapping '%(value)s'") % {"value": name}]}) from None
        run = mappings.saved_mapping_apply(actor=actor, run=run, mapping=mapping)
    if "preset" in data:
        run = services.import_configure(actor=actor, run=run, preset=data.pop("preset"))
    if "columns" in data:
        data["columns"] = {**(run.columns or {}), **data["columns"]}
    if data:
        run = services.import_configure(actor=actor, run=run, **data)
    return run


# --- reading ---------------------------------------------------------------------------------


@router.get("/imports", response={200: ImportPage, **ERRORS}, summary="List imports")
def import_list(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` of the previous page."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """The imports the caller may see (all, or only their own for roles that see their own
    records), newest first."""
    user = api_user(request)
    require(user, "import", perms.VIEW)
    runs = services.visible_imports(user).select_related("created_by")
    page = paginate(runs, "created_at", cursor or None, limit, descending=True)
    return {"items": [_out(run) for run in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/imports/{import_id}", response={200: ImportOut, **ERRORS}, summary="An import and its progress", url_name="import"
)
def import_get(request: HttpRequest, import_id: int = _id()) -> dict[str, Any]:
    return _out(_get(request, import_id))


@router.get(
    "/imports/{import_id}/preview",
    response={200: ImportPreviewOut, **ERRORS},
    summary="The first rows as they would load",
    url_name="import_preview",
)
def import_preview(request: HttpRequest, import_id: int = _id(), rows: int = Query(10, ge=1, le=50)) -> dict[str, Any]:
    """The first rows as read, and what the current mapping makes of each: the normalised
    values, or why it would be rejected. Nothing is written."""
    run = _get(request, import_id)
    try:
        read = services.import_preview(run, rows).rows
        prepared = services.preview_prepared(run, rows)
    except PlanError as exc:
        raise InvalidInput(exc.errors) from None
    except (ValueError, UnicodeError, OSError, KeyError) as exc:
        raise InvalidInput({"file": [_("cannot read this file: %(reason)s") % {"reason": exc}]}) from None
    view = row_view(api_user(request), run)
    same = same_person(prepared, list(run.match_keys or []))
    return {
        "headers": list(run.headers),
        "rows": [
            _preview_row(row.line, view.values(row.values), shown_item(item, view), same.get(row.line))
            for row, item in zip(read, prepared, strict=False)
        ],
    }


@router.get(
    "/imports/{import_id}/issues",
    response={200: IssuePage, **ERRORS},
    summary="Rejected rows and warnings",
    url_name="import_issues",
)
def import_issues(
    request: HttpRequest,
    import_id: int = _id(),
    severity: str = Query("", pattern="^(|error|warning)$", description="`error` (rejected rows) or `warning`."),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    run = _get(request, import_id)
    issues = run.issues.filter(severity=severity) if severity else run.issues.all()
    page = paginate(issues, "line", cursor or None, limit)
    view = row_view(api_user(request), run)
    return {"items": [_issue(shown_issue(issue, view)) for issue in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/imports/{import_id}/errors.csv",
    response={200: None, **ERRORS},
    summary="The rejected rows as CSV, to fix and import again",
    url_name="import_errors_csv",
    # 200 as an int, as ninja keys its own responses: "200" would be a second key in the JSON.
    openapi_extra={"responses": {200: {"description": "UTF-8 CSV with a BOM.", "content": {"text/csv": {}}}}},
)
def import_errors_csv(request: HttpRequest, import_id: int = _id()) -> StreamingHttpResponse:
    """Each rejected row as the file had it, after a `line` and a `problems` column."""
    run = _get(request, import_id)
    response = StreamingHttpResponse(
        services.issues_csv(run, actor=api_actor(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-errors.csv"'
    return response


# --- cancel, undo ----------------------------------------------------------------------------


@router.post(
    "/imports/{import_id}/cancel",
    response={202: ImportOut, **ERRORS},
    summary="Cancel a queued or running import",
    url_name="import_cancel",
)
def import_cancel(request: HttpRequest, import_id: int = _id()) -> Status[dict[str, Any]]:
    """It stops after the batch it is loading (`cancelling`, then `cancelled`); what it loaded
    stays until undone."""
    run = services.import_cancel(actor=api_actor(request), run=_get(request, import_id))
    return Status(202, _out(run))


@router.post(
    "/imports/{import_id}/undo", response={202: ImportOut, **ERRORS}, summary="Undo an import", url_name="import_undo"
)
def import_undo(request: HttpRequest, import_id: int = _id()) -> Status[dict[str, Any]]:
    """Within 30 days of its end: deletes the contacts it created and restores the values it
    changed (unless changed again since), in the background (`undoing`, then `undone`)."""
    run = services.import_undo(actor=api_actor(request), run=_get(request, import_id))
    return Status(202, _out(run))


# --- what a column can be -------------------------------------------------------------------


@router.get("/import-fields", response={200: ImportFieldsOut, **ERRORS}, summary="What a column can be imported into")
def import_fields(request: HttpRequest) -> dict[str, Any]:
    """Targets for `columns` (contact fields, custom fields, social profiles, consent columns),
    presets, encodings and the choices of the other settings."""
    require(api_user(request), "import", perms.VIEW)

    def choices(pairs: Any) -> list[dict[str, str]]:
        return [{"key": str(key), "label": str(label)} for key, label in pairs]

    return {
        "targets": [{"key": k, "label": label, "multi": is_multi(k)} for k, label in target_choices() if k],
        "presets": [{"key": p.key, "label": p.label} for p in PRESETS.values()],
        "encodings": choices(ENCODINGS),
        "modes": choices(Mode.choices),
        "update_policies": choices(UpdatePolicy.choices),
        "match_keys": choices(MatchKey.choices),
        "sources": choices(Source.choices),
        "legal_bases": choices(LegalBasis.choices),
        "consent_purposes": choices((p.key, p.label) for p in ConsentPurpose.objects.filter(is_active=True)),
    }


# --- rendering -------------------------------------------------------------------------------


def _out(run: Import) -> dict[str, Any]:
    pk = {"import_id": run.pk}
    base = reverse("api:import", kwargs=pk)
    return {
        "id": run.pk,
        "status": run.status,
        "dry_run": run.dry_run,
        "file_name": run.file_name,
        "file_size": run.file_size,
        "format": run.format,
        "encoding": run.encoding,
        "detected_encoding": run.detected_encoding,
        "sheet": run.sheet,
        "headers": list(run.headers or []),
        "columns": dict(run.columns or {}),
        "options": dict(run.options or {}),
        "mode": run.mode,
        "update_policy": run.update_policy,
        "match_keys": list(run.match_keys or []),
        "source": run.source,
        "source_detail": run.source_detail,
        "legal_basis": run.legal_basis,
        "consent_purposes": list(run.consent_purposes.values_list("key", flat=True)),
        "consent_proof": run.consent_proof,
        "created_by": run.created_by.email if run.created_by else None,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "undone_at": run.undone_at,
        "rows_estimate": run.rows_estimate,
        "rows_done": run.rows_done,
        "line_done": run.line_done,
        "percent": run.percent,
        "counts": {
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "merged": run.merged,
            "skipped": run.skipped,
            "rejected": run.rejected,
            "warnings": run.warned,
        },
        "error": run.failure,
        "can_undo": run.can_undo,
        "undo_until": run.undo_until,
        "links": {
            "self": base,
            "start": base + "/start",
            "preview": reverse("api:import_preview", kwargs=pk),
            "issues": reverse("api:import_issues", kwargs=pk),
            "errors_csv": reverse("api:import_errors_csv", kwargs=pk),
            "cancel": reverse("api:import_cancel", kwargs=pk),
            "undo": reverse("api:import_undo", kwargs=pk),
            "page": reverse("ingest:detail", kwargs={"pk": run.pk}),
        },
    }


def _issue(issue: ShownIssue) -> dict[str, Any]:
    return {
        "line": issue.line,
        "severity": issue.severity,
        "column": issue.column,
        "value": issue.value,
        "reason": issue.reason,
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _preview_row(
    line: int, values: dict[str, str], item: Prepared | Rejected | None, same_as: int | None
) -> dict[str, Any]:
    def issues(items: Any) -> list[dict[str, str]]:
        return [{"column": i.column, "value": i.value, "reason": str(i.reason)} for i in items]

    if item is None:
        return {"line": line, "values": values, "outcome": "empty", "contact": {}, "errors": [], "warnings": [],
                "same_as_line": None}  # fmt: skip
    if isinstance(item, Rejected):
        return {"line": line, "values": values, "outcome": "rejected", "contact": {},
                "errors": issues(item.errors), "warnings": [], "same_as_line": None}  # fmt: skip
    contact: dict[str, Any] = {key: _plain(value) for key, value in item.fields.items()}
    contact.update(
        emails=item.emails, phones=[e164 for e164, _raw, _kind in item.phones], tags=item.tags,
        company=item.company, external_ids=[list(x) for x in item.external_ids],
        social_profiles=[list(x) for x in item.socials], custom={k: _plain(v) for k, v in item.custom.items()},
        notes=item.notes,
    )  # fmt: skip
    return {"line": line, "values": values, "outcome": "ok", "contact": contact, "errors": [],
            "warnings": issues(item.warnings), "same_as_line": same_as}  # fmt: skip
