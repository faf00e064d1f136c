"""Import pages: the history, the upload, the wizard of a draft (mapping, options, provenance,
run), then on the same address the progress and report of a started import, with cancel, undo
and the error report.

Each view parses a form, calls one service from :mod:`danhba.ingest.services` (or
:mod:`~danhba.ingest.mappings`) and renders; htmx requests get the partial the page
swaps in. Permissions: the role's "import" object (view: history and reports, create: upload
and run, delete: undo); someone else's import outside the user's visibility is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from danhba.accounts.forms import apply_service_error
from danhba.audit.models import AuditEvent
from danhba.contacts.models import BuyerRole, LifecycleStage
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, ServiceError
from danhba.core.keyset import Page, paginate
from danhba.core.views import AuthedRequest, role_required
from danhba.core.vn import PROVINCE_NAMES
from danhba.ingest import mappings, services
from danhba.ingest.fields import STANDARD_TARGETS, target_choices
from danhba.ingest.forms import FORM_OPTIONS, UploadForm, WizardForm, headers_signature
from danhba.ingest.models import Import, ImportIssue
from danhba.ingest.selectors import row_view, same_person, shown_issue, shown_item
from danhba.ingest.transform import Issue, PlanError, Prepared, Rejected

PAGE_SIZE = 50
ISSUES_PAGE = 50
PREVIEW_ROWS = 20
PREPARED_ROWS = 10
SEVERITIES = ImportIssue.Severity.values
UNSTORABLE_FILE = gettext_lazy("cannot read this file: it holds characters no database can store; is it a text file?")
UNSTORABLE = gettext_lazy(
    "cannot read this file in this encoding: it gives characters no database can store; choose another encoding"
)


def _actor(request: AuthedRequest) -> Actor:
    return Actor.from_request(request)


def _require(request: AuthedRequest, action: str) -> None:
    if not request.user.can("import", action):
        raise DjangoPermissionDenied


# --- history --------------------------------------------------------------------------------


@require_GET
@role_required("import", "view")
def import_list(request: AuthedRequest) -> HttpResponse:
    """Every import the user may see, newest first, a keyset page at a time. While one of them
    is running, the table refreshes itself."""
    runs = services.visible_imports(request.user).select_related("created_by")
    error = ""
    try:
        page = paginate(runs, "created_at", request.GET.get("cursor") or None, PAGE_SIZE, descending=True)
    except ServiceError as exc:
        error = exc.message
        page = paginate(runs, "created_at", None, PAGE_SIZE, descending=True)
    context = {
        "nav": "imports",
        "page": page,
        "error": error,
        "cursor": request.GET.get("cursor", "") if not error else "",
        "polling": any(run.is_active for run in page.items),
    }
    if request.htmx:
        return render(request, "ingest/_history.html", context)
    return render(request, "ingest/list.html", context)


# --- upload ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required("import", "create")
def import_new(request: AuthedRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            with transaction.atomic():
                run = services.import_create(actor=_actor(request), file=upload, file_name=upload.name)
        except ServiceError as exc:
            apply_service_error(form, exc)
        except DataError:
            form.add_error("file", UNSTORABLE_FILE)
        else:
            return redirect("ingest:detail", pk=run.pk)
    status = 422 if form.is_bound and form.errors else 200
    return render(request, "ingest/new.html", {"nav": "imports", "form": form}, status=status)


# --- one import -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required("import", "view")
def import_detail(request: AuthedRequest, pk: int) -> HttpResponseBase:
    """A draft: the wizard (for users who may run imports). Started: progress, then the report;
    htmx polls this address for the status part while the import runs."""
    run = services.import_get(actor=_actor(request), pk=pk)
    if run.status == Import.Status.DRAFT and request.user.can("import", "create"):
        return _wizard(request, run)
    if request.method == "POST":
        # The draft was started meanwhile (another tab): show where it is.
        messages.info(request, _("This import has already started."))
        return redirect("ingest:detail", pk=run.pk)
    context = _report_context(request, run)
    if request.htmx:
        return render(request, "ingest/_status.html", context)
    return render(request, "ingest/detail.html", context)


@require_GET
@role_required("import", "view")
def import_issues(request: AuthedRequest, pk: int) -> HttpResponse:
    """One page of the rejected and warned rows, filtered by severity (the report's table)."""
    run = services.import_get(actor=_actor(request), pk=pk)
    context = _report_context(request, run)
    if request.htmx:
        return render(request, "ingest/_issues.html", context)
    return render(request, "ingest/detail.html", context)


@require_GET
@role_required("import", "view")
def import_errors_csv(request: AuthedRequest, pk: int) -> StreamingHttpResponse:
    run = services.import_get(actor=_actor(request), pk=pk)
    response = StreamingHttpResponse(
        services.issues_csv(run, actor=_actor(request)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-errors.csv"'
    return response


@require_POST
@role_required("import", "create")
def import_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    run = services.import_get(actor=actor, pk=pk)
    try:
        run = services.import_cancel(actor=actor, run=run)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The import stops after the rows it is loading now."))
    if request.htmx:
        return render(request, "ingest/_status.html", {**_report_context(request, run), "oob_messages": True})
    return redirect("ingest:detail", pk=run.pk)


@require_http_methods(["GET", "POST"])
@role_required("import", "delete")
def import_undo(request: AuthedRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST undoes (in the background)."""
    actor = _actor(request)
    run = services.import_get(actor=actor, pk=pk)
    if request.method == "POST":
        try:
            services.import_undo(actor=actor, run=run)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Undoing the import; this page shows when it is done."))
        return redirect("ingest:detail", pk=run.pk)
    if not run.can_undo:
        messages.error(request, _("This import can no longer be undone."))
        return redirect("ingest:detail", pk=run.pk)
    return render(request, "ingest/undo.html", {"nav": "imports", "run": run})


def _report_context(request: AuthedRequest, run: Import) -> dict[str, Any]:
    user = request.user
    labels = dict(target_choices())
    severity = request.GET.get("severity", "")
    if severity not in SEVERITIES:
        severity = ""
    issues = run.issues.filter(severity=severity) if severity else run.issues.all()
    issues_error = ""
    try:
        page: Page[ImportIssue] = paginate(issues, "line", request.GET.get("cursor") or None, ISSUES_PAGE)
    except ServiceError as exc:
        issues_error = exc.message
        page = paginate(issues, "line", None, ISSUES_PAGE)
    view = row_view(user, run)
    return {
        "nav": "imports",
        "run": run,
        "purposes": list(run.consent_purposes.all()),
        "issues": page,
        "shown_issues": [shown_issue(issue, view) for issue in page.items],
        "issues_error": issues_error,
        "severity": severity,
        "severities": ImportIssue.Severity.choices,
        "may_cancel": user.can("import", "create") and run.status in (Import.Status.QUEUED, Import.Status.RUNNING),
        "may_undo": user.can("import", "delete") and run.can_undo,
        "mapped": [(h, labels.get(t, t)) for h, t in (run.columns or {}).items() if t],
        "via_label": dict(AuditEvent.Via.choices).get(run.via, run.via),
    }


# --- the wizard -----------------------------------------------------------------------------


def _wizard(request: AuthedRequest, run: Import) -> HttpResponseBase:
    if request.method != "POST":
        return _render_wizard(request, run, None)
    _require(request, "create")
    actor = _actor(request)
    action = request.POST.get("action", "")
    data = request.POST.copy()
    form = _form(run, data)
    form.is_valid()
    if action == "preview":
        return render(request, "ingest/_prepared.html", _prepared_context(request, run, form))
    if form.headers_changed():
        # Posted for other headers (the file was read again in another tab): start from the draft.
        messages.warning(request, _("The file's columns changed; check the mapping again."))
        return _render_wizard(request, run, None)
    status = 200
    refused = False
    try:
        if action in ("reread", "preset", "apply_mapping"):
            return _reread(request, run, form, action)
        if action == "save_mapping":
            mapping = mappings.saved_mapping_save(
                actor=actor,
                name=form.cleaned_data.get("mapping_name") or "",
                columns=form.columns(),
                options={**(run.options or {}), **form.options()},
            )
            messages.success(request, _("Mapping “%(name)s” saved.") % {"name": mapping.name})
            data["saved_mapping"] = str(mapping.pk)
            data["mapping_name"] = ""
        elif action == "delete_mapping":
            mapping = mappings.saved_mapping_get(actor=actor, pk=_int(data.get("saved_mapping")))
            mappings.saved_mapping_delete(actor=actor, mapping=mapping)
            messages.success(request, _("Mapping “%(name)s” deleted.") % {"name": mapping.name})
            data["saved_mapping"] = ""
        elif action == "run":
            if _file_controls_changed(run, form):
                # Without JavaScript the encoding/sheet selects come with the Run button: read
                # the file again first and let the user check the mapping it gives.
                return _reread(request, run, form, "reread")
            if form.errors:
                raise InvalidInput({})
            run = services.import_configure(actor=actor, run=run, **form.configure_kwargs())
            run = services.import_start(actor=actor, run=run)
            if run.dry_run:
                messages.success(request, _("Dry run started: every row is checked, no contact is changed."))
            else:
                messages.success(request, _("Import started. You can leave this page; it goes on in the background."))
            return redirect("ingest:detail", pk=run.pk)
    except ServiceError as exc:
        form = _form(run, data)
        form.is_valid()
        form.apply_errors(exc.details)
        if not exc.details or not isinstance(exc.details, dict):
            form.add_error(None, exc.message)
        status = 422
        refused = action == "run"
    else:
        form = _form(run, data)
        form.is_valid()
    return _render_wizard(request, run, form, status=status, run_refused=refused)


def _form(run: Import, data: Any) -> WizardForm:
    return WizardForm(data, run=run, sheets=_sheets(run))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _file_controls_changed(run: Import, form: WizardForm) -> bool:
    data = form.cleaned_data
    return (run.format != "xlsx" and "encoding" in data and data["encoding"] != run.encoding) or (
        run.format == "xlsx" and "sheet" in data and bool(data["sheet"]) and data["sheet"] != run.sheet
    )


def _reread(request: AuthedRequest, run: Import, form: WizardForm, action: str) -> HttpResponse:
    """Apply a file control (encoding, sheet, preset or a saved mapping) and show the wizard again
    with what the user typed elsewhere kept."""
    data = form.data.copy()  # type: ignore[attr-defined]
    old_headers = list(run.headers)
    posted_columns = form.columns()
    try:
        with transaction.atomic():
            run, keep_columns = _apply_file_control(request, run, form, action)
    except (ServiceError, DataError) as exc:
        # DataError: text PostgreSQL cannot store (NUL characters, as when UTF-16 is read as a
        # one-byte encoding) — the encoding is wrong.
        details = exc.details if isinstance(exc, ServiceError) else {"encoding": [UNSTORABLE]}
        run.refresh_from_db()
        form = _form(run, _restore_file_controls(data, run))
        form.is_valid()
        form.apply_errors(details)
        if not details and isinstance(exc, ServiceError):
            form.add_error(None, exc.message)
        return _render_wizard(request, run, form, status=422)
    if run.headers != old_headers or not keep_columns:
        # New headers or a new mapping: the draft's suggestions (and options) replace what was posted.
        initial = WizardForm.initial_for(run)
        for index in range(len(run.headers)):
            data[f"col_{index}"] = initial[f"col_{index}"]
        if not keep_columns:
            for name in FORM_OPTIONS:
                data[name] = initial[name]
    else:
        for index, header in enumerate(run.headers):
            data[f"col_{index}"] = posted_columns.get(header, "")
    data["headers_sig"] = headers_signature(list(run.headers))
    form = _form(run, _restore_file_controls(data, run))
    form.is_valid()
    return _render_wizard(request, run, form)


def _apply_file_control(request: AuthedRequest, run: Import, form: WizardForm, action: str) -> tuple[Import, bool]:
    """Call the service for one file control; says whether the posted mapping still holds."""
    actor = _actor(request)
    if action == "preset":
        preset = form.cleaned_data.get("preset", "")
        # No preset: the mapping stays as it is, only the choice is remembered.
        options = None if preset else {"preset": ""}
        return services.import_configure(actor=actor, run=run, preset=preset, options=options), not preset
    if action == "apply_mapping":
        mapping = mappings.saved_mapping_get(actor=actor, pk=_int(form.data.get("saved_mapping")))
        run = mappings.saved_mapping_apply(actor=actor, run=run, mapping=mapping)
        messages.success(request, _("Mapping “%(name)s” applied.") % {"name": mapping.name})
        return run, False
    kwargs: dict[str, Any] = {}
    if run.format != "xlsx" and "encoding" in form.cleaned_data:
        kwargs["encoding"] = form.cleaned_data["encoding"]
    if run.format == "xlsx" and form.cleaned_data.get("sheet"):
        kwargs["sheet"] = form.cleaned_data["sheet"]
    return services.import_configure(actor=actor, run=run, **kwargs), True


def _restore_file_controls(data: Any, run: Import) -> Any:
    data["encoding"], data["sheet"] = run.encoding, run.sheet
    data["preset"] = (run.options or {}).get("preset", "")
    return data


def _sheets(run: Import) -> list[str]:
    return _read(run).sheets if run.format == "xlsx" else []


@dataclass
class _Read:
    sheets: list[str] = field(default_factory=list)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    encoding_reason: str = ""
    error: str = ""


def _read(run: Import) -> _Read:
    """The first rows of the file as it is read now; kept on the instance for the rest of the
    request (the form's sheet list and the page both need them)."""
    key = (run.encoding, run.sheet, tuple(run.headers))
    cached: tuple[Any, _Read] | None = run.__dict__.get("_wizard_read")
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        preview = services.import_preview(run, PREVIEW_ROWS)
    except (ValueError, UnicodeError, OSError, KeyError) as exc:
        result = _Read(error=str(exc))
    else:
        result = _Read(
            sheets=preview.sheets,
            rows=[(row.line, [row.values.get(h, "") for h in run.headers]) for row in preview.rows],
            lines=[row.line for row in preview.rows],
            encoding_reason=preview.encoding.reason if preview.encoding else "",
        )
    run.__dict__["_wizard_read"] = (key, result)
    return result


def _render_wizard(
    request: AuthedRequest, run: Import, form: WizardForm | None, status: int = 200, run_refused: bool = False
) -> HttpResponse:
    """The wizard; ``run_refused``: Run was pressed and refused, so every reason is listed at
    the top of the page (which reloads there), each linking to its field further down."""
    if form is None:
        form = _form(run, None)
    read = _read(run)
    prepared = _prepared_context(request, run, form)  # sets the form's mapping on run, unsaved
    view = row_view(request.user, run)
    context = {
        "nav": "imports",
        "run": run,
        "form": form,
        "read": read,
        "rows": [
            (line, [view.value(h, v) for h, v in zip(run.headers, cells, strict=False)]) for line, cells in read.rows
        ],
        "oob_messages": bool(request.htmx),
        "run_refused": run_refused,
        **prepared,
    }
    template = "ingest/_wizard.html" if request.htmx else "ingest/wizard.html"
    return render(request, template, context, status=status)


# --- "how it will load": the first rows through the transform, nothing written -------------------


@dataclass
class PreparedRow:
    line: int
    state: str  # "ok", "rejected" or "empty"
    same_as: int | None = None  # merges into this earlier line of the file (same person)
    name: str = ""
    name_parts: list[tuple[str, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    province: str = ""
    other: list[tuple[str, str]] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


def _prepared_context(request: AuthedRequest, run: Import, form: WizardForm) -> dict[str, Any]:
    """Run the first rows through the mapping as the form has it, without saving the draft."""
    run.columns = form.columns()
    run.options = {**(run.options or {}), **form.options()}
    try:
        items = services.preview_prepared(run, PREPARED_ROWS)
    except PlanError as exc:
        return {"prepared": [], "prepared_errors": [t for texts in exc.errors.values() for t in texts]}
    except (ValueError, UnicodeError, OSError, KeyError) as exc:
        return {"prepared": [], "prepared_errors": [str(exc)]}
    same = same_person(items, form.match_keys() or list(run.match_keys or []))
    view = row_view(request.user, run)
    rows = _present([shown_item(item, view) for item in items], _read(run).lines)
    for row in rows:
        row.same_as = same.get(row.line)
    return {"prepared": rows, "prepared_errors": []}


def _present(items: list[Prepared | Rejected | None], lines: list[int]) -> list[PreparedRow]:
    labels = {key: str(label) for key, label in STANDARD_TARGETS}
    names = _id_names()
    out: list[PreparedRow] = []
    for index, item in enumerate(items):
        if item is None:
            out.append(PreparedRow(line=lines[index] if index < len(lines) else 0, state="empty"))
        elif isinstance(item, Rejected):
            out.append(PreparedRow(line=item.line, state="rejected", errors=item.errors))
        else:
            out.append(_prepared_row(item, labels, names))
    return out


# The fields of a prepared row that hold an id, and the target whose label they show under.
_ID_FIELDS = {"lifecycle_stage_id": "lifecycle_stage", "buyer_role_id": "buyer_role", "owner_id": "owner"}


def _id_names() -> dict[str, dict[int, str]]:
    """What the preview shows for an id field's value: the stage's or buyer role's name, the
    owner's email."""
    from danhba.accounts.models import User

    return {
        "lifecycle_stage_id": dict(LifecycleStage.objects.values_list("pk", "name")),
        "buyer_role_id": dict(BuyerRole.objects.values_list("pk", "name")),
        "owner_id": dict(User.objects.values_list("pk", "email")),
    }


def _prepared_row(item: Prepared, labels: dict[str, str], names: dict[str, dict[int, str]]) -> PreparedRow:
    fields = dict(item.fields)
    row = PreparedRow(
        line=item.line,
        state="ok",
        name=fields.pop("full_name", ""),
        emails=list(item.emails),
        phones=[e164 for e164, _raw, _kind in item.phones],
        province=PROVINCE_NAMES.get(fields.pop("province", ""), ""),
        warnings=list(item.warnings),
    )
    for part in ("family_name", "middle_name", "given_name"):
        if value := fields.pop(part, ""):
            row.name_parts.append((labels[part], value))
    row.other = [*_field_values(fields, labels, names), *_collected_values(item, labels)]
    return row


def _field_values(
    fields: dict[str, Any], labels: dict[str, str], names: dict[str, dict[int, str]]
) -> list[tuple[str, str]]:
    out = []
    for key, value in fields.items():
        label = _("Address as written") if key == "address_raw" else labels.get(_ID_FIELDS.get(key, key), key)
        shown = names[key].get(value, value) if key in names else value
        out.append((str(label), str(shown)))
    return out


def _collected_values(item: Prepared, labels: dict[str, str]) -> list[tuple[str, str]]:
    """The row's company, tags, external ids, social profiles, custom fields, notes and consents."""
    out = []
    if item.company:
        out.append((labels["company"], item.company))
    if item.tags:
        out.append((labels["tags"], ", ".join(item.tags)))
    out += [(labels["external_id"], f"{system}: {value}") for system, value in item.external_ids]
    out += [(network, handle) for network, handle in item.socials]
    out += [(key, str(value)) for key, value in item.custom.items()]
    if item.notes:
        out.append((labels["note"], " / ".join(item.notes)))
    if item.consents:
        out.append((_("Consent"), ", ".join(str(v) for v in item.consents.values())))
    return out
