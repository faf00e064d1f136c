"""REST endpoints for contacts, their timeline, companies, tags and custom field definitions.

Each endpoint parses its input, calls one selector or service with the caller's
:class:`~danhba.core.actor.Actor`, and renders the result. Permissions, record visibility and
field-level hiding are the services' and selectors' (the same as in the web pages).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.contacts import exports, selectors
from danhba.contacts.models import Company, Contact, CustomField, ExportJob, Tag, TimelineEntry
from danhba.contacts.schemas import (
    CompanyIn,
    CompanyOut,
    CompanyPage,
    CompanyQuery,
    ContactIn,
    ContactOut,
    ContactPage,
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPatch,
    ExportIn,
    ExportJobOut,
    TagIn,
    TagOut,
    TagPage,
    TagPatch,
    TimelineIn,
    TimelineOut,
    TimelinePage,
)
from danhba.contacts.services import companies as company_services
from danhba.contacts.services import contacts as contact_services
from danhba.contacts.services import fields as field_services
from danhba.contacts.services import tags as tag_services
from danhba.contacts.services import timeline as timeline_services
from danhba.core.errors import Conflict, NotFound, PermissionDenied
from danhba.core.keyset import CURSOR_MAX, MAX_PK, paginate
from danhba.core.schemas import ErrorOut

# Every error is {"code", "message", "details"}; listed once for the OpenAPI document.
ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}
SORT_HELP = "One of: " + ", ".join(selectors.SORTS) + " (ignored when searching)."

contacts = Router(tags=["contacts"])
timeline = Router(tags=["timeline"])
companies = Router(tags=["companies"])
tags = Router(tags=["tags"])
custom_fields = Router(tags=["custom fields"])


def _id(description: str = "") -> Any:
    return Path(..., ge=1, le=MAX_PK, description=description)


# --- contacts --------------------------------------------------------------------------------


@contacts.get("", response={200: ContactPage, **ERRORS}, exclude_unset=True, summary="List and search contacts")
def contact_list(
    request: HttpRequest,
    q: str = Query("", max_length=1000, description="Name (with or without diacritics), email, phone, company."),
    lifecycle_stage: str = Query("", max_length=60),
    owner: str = Query("", max_length=30, description="A user id, `me` or `none`."),
    tag: str = Query("", max_length=80, description="A tag id or name."),
    source: str = Query("", max_length=30),
    province: str = Query("", max_length=60),
    buyer_role: str = Query("", max_length=60),
    company: int | None = Query(None, ge=1, le=MAX_PK),
    segment: int | None = Query(None, ge=1, le=MAX_PK, description="Members of this segment or list."),
    has_email: bool | None = Query(None),
    has_phone: bool | None = Query(None),
    created_after: str = Query("", max_length=10, description="yyyy-mm-dd"),
    created_before: str = Query("", max_length=10, description="yyyy-mm-dd"),
    orders_min: int | None = Query(None, ge=0, description="Purchase metrics (roles that may see orders)."),
    orders_max: int | None = Query(None, ge=0),
    spent_min: str = Query("", max_length=20, description="Total spent, in the shop currency."),
    spent_max: str = Query("", max_length=20),
    last_order_after: str = Query("", max_length=10, description="yyyy-mm-dd"),
    last_order_before: str = Query("", max_length=10, description="yyyy-mm-dd"),
    favourite_category: str = Query("", max_length=200),
    sort: str = Query("name", max_length=20, description=SORT_HELP),
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` of the previous page."),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Contacts the caller may see, one keyset page at a time. Filters take the values of the
    list page's filters; custom fields filter as `custom.<key>=value`."""
    user = api_user(request)
    require(user, "contact", perms.VIEW)
    # The typed parameters above document and check the filters; the selector reads them (and
    # any custom.<key>) from the query string exactly as the list page does.
    filters = selectors.ContactFilters.from_params(request.GET)
    page = selectors.contact_page(user, filters, sort=sort, cursor=cursor or None, limit=limit)
    hidden = selectors.hidden_fields(user)
    active = selectors.active_custom_keys("contact")
    return {
        "items": [selectors.contact_data(c, user, hidden, full=False, active=active) for c in page.items],
        "next_cursor": page.next_cursor,
    }


@contacts.post("", response={201: ContactOut, **ERRORS}, exclude_unset=True, summary="Create a contact")
def contact_create(request: HttpRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    actor = api_actor(request)
    contact = contact_services.contact_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, selectors.contact_data(_reload(contact), api_user(request)))


@contacts.get("/{int:contact_id}", response={200: ContactOut, **ERRORS}, exclude_unset=True, summary="Get a contact")
def contact_get(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    require(user, "contact", perms.VIEW)
    contact = contact_services.contact_get(actor=api_actor(request), pk=contact_id, audit_view=True)
    return selectors.contact_data(contact, user)


@contacts.patch(
    "/{int:contact_id}", response={200: ContactOut, **ERRORS}, exclude_unset=True, summary="Change a contact"
)
def contact_update(request: HttpRequest, payload: ContactIn, contact_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; a list field sent (emails, tags…) replaces the whole list."""
    actor = api_actor(request)
    user = api_user(request)
    require(user, "contact", perms.EDIT)
    contact = contact_services.contact_get(actor=actor, pk=contact_id)
    contact = contact_services.contact_update(actor=actor, contact=contact, data=payload.model_dump(exclude_unset=True))
    return selectors.contact_data(_reload(contact), user)


@contacts.delete("/{int:contact_id}", response={204: None, **ERRORS}, summary="Delete a contact")
def contact_delete(request: HttpRequest, contact_id: int = _id()) -> Status[None]:
    actor = api_actor(request)
    require(api_user(request), "contact", perms.DELETE)
    contact_services.contact_delete(actor=actor, contact=contact_services.contact_get(actor=actor, pk=contact_id))
    return Status(204, None)


def _reload(contact: Contact) -> Contact:
    """The contact as stored, with its related rows fresh after a write."""
    return Contact.objects.select_related("lifecycle_stage", "buyer_role", "owner").get(pk=contact.pk)


# --- timeline --------------------------------------------------------------------------------


@contacts.get("/{contact_id}/timeline", response={200: TimelinePage, **ERRORS}, summary="A contact's timeline")
def timeline_list(
    request: HttpRequest,
    contact_id: int = _id(),
    kind: str = Query(
        "",
        max_length=20,
        description="Only rows of this kind: an entry kind (`note`, `call`, `system` for changes…), "
        "`pages` or `events` (roles that may see events), `orders` (roles that may see orders).",
    ),
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` of the previous page."),
    limit: int = Query(100, ge=1, le=500),
) -> dict[str, Any]:
    """The contact page's merged timeline, newest first: notes, calls and changes, and the
    contact's events and orders for roles that may see them. Private notes only for roles
    granted them and their authors; event properties named like a sensitive field the role may
    not see are left out."""
    user = api_user(request)
    require(user, "timeline", perms.VIEW)
    contact = contact_services.contact_get(actor=api_actor(request), pk=contact_id)
    page = selectors.timeline_rows(contact, user, kind=kind, cursor=cursor or "", limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@contacts.post("/{contact_id}/timeline", response={201: TimelineOut, **ERRORS}, summary="Add a timeline entry")
def timeline_create(request: HttpRequest, payload: TimelineIn, contact_id: int = _id()) -> Status[dict[str, Any]]:
    actor = api_actor(request)
    require(api_user(request), "timeline", perms.CREATE)
    contact = contact_services.contact_get(actor=actor, pk=contact_id)
    entry = timeline_services.timeline_entry_save(
        actor=actor, contact=contact, entry=None, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, _entry_out(entry))


@timeline.patch("/{entry_id}", response={200: TimelineOut, **ERRORS}, summary="Change a timeline entry")
def timeline_update(request: HttpRequest, payload: TimelineIn, entry_id: int = _id()) -> dict[str, Any]:
    actor = api_actor(request)
    user = api_user(request)
    require(user, "timeline", perms.EDIT)
    entry = _entry_for(request, entry_id)
    if not selectors.timeline_entry_editable(user, entry):
        raise PermissionDenied(_("You can change only your own timeline entries."))
    entry = timeline_services.timeline_entry_save(
        actor=actor, contact=entry.contact, entry=entry, data=payload.model_dump(exclude_unset=True)
    )
    return _entry_out(entry)


@timeline.delete("/{entry_id}", response={204: None, **ERRORS}, summary="Delete a timeline entry")
def timeline_delete(request: HttpRequest, entry_id: int = _id()) -> Status[None]:
    user = api_user(request)
    require(user, "timeline", perms.DELETE)
    entry = _entry_for(request, entry_id)
    if not selectors.timeline_entry_deletable(user, entry):
        raise PermissionDenied(_("You can delete only your own timeline entries."))
    timeline_services.timeline_entry_delete(actor=api_actor(request), entry=entry)
    return Status(204, None)


def _entry_for(request: HttpRequest, entry_id: int) -> TimelineEntry:
    """An entry on a contact the caller may see, which they may see too, or 404."""
    contact_id = TimelineEntry.objects.filter(pk=entry_id).values_list("contact_id", flat=True).first()
    if contact_id is None:
        raise NotFound(_("No such timeline entry."))
    contact = contact_services.contact_get(actor=api_actor(request), pk=contact_id)
    entry = selectors.timeline_entry_get(contact, api_user(request), entry_id)
    entry.contact = contact
    return entry


def _entry_out(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "contact_id": entry.contact_id,
        "kind": entry.kind,
        "channel": entry.channel,
        "subject": entry.subject,
        "body": entry.body,
        "author_id": entry.author_id,
        "author": str(entry.author) if entry.author else None,
        "occurred_at": entry.occurred_at,
        "is_private": entry.is_private,
        "data": entry.data or {},
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


# --- companies -------------------------------------------------------------------------------


def _company_filters(query: CompanyQuery) -> selectors.CompanyFilters:
    return selectors.CompanyFilters.from_params(query.model_dump(exclude_none=True))


@companies.get("", response={200: CompanyPage, **ERRORS}, summary="List and search companies")
def company_list(
    request: HttpRequest,
    query: Query[CompanyQuery],
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Companies by name, each with `contact_count`: how many of its contacts the caller's role
    may see."""
    user = api_user(request)
    require(user, "company", perms.VIEW)
    page = selectors.company_page(user, filters=_company_filters(query), cursor=cursor or None, limit=limit)
    hidden = selectors.hidden_fields(user)
    return {"items": [_company_out(c, hidden) for c in page.items], "next_cursor": page.next_cursor}


@companies.get(
    "/export",
    response={**ERRORS},
    summary="Export companies to a file",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment.",
                "content": {exports.FORMATS[key].content_type.split(";")[0]: {} for key in exports.COMPANY_FORMATS},
            }
        }
    },
)
def company_export(
    request: HttpRequest,
    query: Query[CompanyQuery],
    format: Literal["csv", "xlsx", "json"] = Query("csv"),
) -> StreamingHttpResponse:
    """The companies under the filters, streamed as CSV, XLSX or JSON, with `contact_count` and
    the custom fields the caller may see; needs "company: export" and is written to the audit log."""
    params = query.model_dump(exclude_none=True)
    result = exports.companies_export(actor=api_actor(request), fmt=format, params=params)
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


@companies.post("", response={201: CompanyOut, **ERRORS}, summary="Create a company")
def company_create(request: HttpRequest, payload: CompanyIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    company = company_services.company_save(
        actor=api_actor(request), company=None, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, _company_out(company, selectors.hidden_fields(user)))


@companies.get("/{company_id}", response={200: CompanyOut, **ERRORS}, summary="Get a company")
def company_get(request: HttpRequest, company_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    require(user, "company", perms.VIEW)
    return _company_out(selectors.company_get(company_id), selectors.hidden_fields(user))


@companies.patch("/{company_id}", response={200: CompanyOut, **ERRORS}, summary="Change a company")
def company_update(request: HttpRequest, payload: CompanyIn, company_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    require(user, "company", perms.EDIT)
    company = company_services.company_save(
        actor=api_actor(request),
        company=selectors.company_get(company_id),
        data=payload.model_dump(exclude_unset=True),
    )
    return _company_out(company, selectors.hidden_fields(user))


@companies.delete("/{company_id}", response={204: None, **ERRORS}, summary="Delete a company")
def company_delete(request: HttpRequest, company_id: int = _id()) -> Status[None]:
    require(api_user(request), "company", perms.DELETE)
    company_services.company_delete(actor=api_actor(request), company=selectors.company_get(company_id))
    return Status(204, None)


def _company_out(company: Company, hidden: set[str]) -> dict[str, Any]:
    return {
        "id": company.pk,
        "name": company.name,
        "domain": company.domain,
        "website": company.website,
        "tax_code": company.tax_code,
        "industry": company.industry,
        "size": company.size,
        "email": company.email,
        "phone": company.phone,
        "street": company.street,
        "ward": company.ward,
        "province": company.province,
        "description": company.description,
        "owner": company.owner_id,
        "contact_count": getattr(company, "contact_count", None),
        "custom": selectors.visible_custom_values(company.custom, "company", hidden),
        "created_at": company.created_at,
        "updated_at": company.updated_at,
    }


# --- tags ------------------------------------------------------------------------------------


@tags.get("", response={200: TagPage, **ERRORS}, summary="List tags")
def tag_list(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(200, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    require(api_user(request), "tag", perms.VIEW)
    page = paginate(Tag.objects.all(), "name_key", cursor or None, limit)
    return {"items": [_tag_out(t) for t in page.items], "next_cursor": page.next_cursor}


@tags.post("", response={201: TagOut, **ERRORS}, summary="Create a tag")
def tag_create(request: HttpRequest, payload: TagIn) -> Status[dict[str, Any]]:
    tag = tag_services.tag_save(actor=api_actor(request), tag=None, name=payload.name, color=payload.color or "")
    return Status(201, _tag_out(tag))


@tags.patch("/{tag_id}", response={200: TagOut, **ERRORS}, summary="Rename or recolour a tag")
def tag_update(request: HttpRequest, payload: TagPatch, tag_id: int = _id()) -> dict[str, Any]:
    require(api_user(request), "tag", perms.EDIT)
    tag = _tag_get(tag_id)
    tag = tag_services.tag_save(
        actor=api_actor(request), tag=tag, name=payload.name or tag.name, color=payload.color or ""
    )
    return _tag_out(tag)


@tags.delete("/{tag_id}", response={204: None, **ERRORS}, summary="Delete a tag")
def tag_delete(request: HttpRequest, tag_id: int = _id()) -> Status[None]:
    require(api_user(request), "tag", perms.DELETE)
    tag_services.tag_delete(actor=api_actor(request), tag=_tag_get(tag_id))
    return Status(204, None)


def _tag_get(tag_id: int) -> Tag:
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise NotFound(_("No such tag."))
    return tag


def _tag_out(tag: Tag) -> dict[str, Any]:
    return {"id": tag.pk, "name": tag.name, "color": tag.color}


# --- custom field definitions ----------------------------------------------------------------


@custom_fields.get("", response={200: list[CustomFieldOut], **ERRORS}, summary="List custom fields")
def customfield_list(
    request: HttpRequest,
    entity: Annotated[CustomField.Entity | None, Query(description="Only fields of contacts or of companies.")] = None,
) -> list[CustomField]:
    """Active fields, without the sensitive ones the caller's role may not see."""
    user = api_user(request)
    require(user, "customfield", perms.VIEW)
    entities: list[str] = [entity] if entity else list(CustomField.Entity.values)
    return [cf for e in entities for cf in selectors.visible_custom_fields(user, e)]


@custom_fields.post("", response={201: CustomFieldOut, **ERRORS}, summary="Define a custom field")
def customfield_create(request: HttpRequest, payload: CustomFieldIn) -> Status[CustomField]:
    field = field_services.customfield_save(
        actor=api_actor(request), field=None, data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, field)


@custom_fields.get("/{field_id}", response={200: CustomFieldOut, **ERRORS}, summary="Get a custom field")
def customfield_get(request: HttpRequest, field_id: int = _id()) -> CustomField:
    user = api_user(request)
    require(user, "customfield", perms.VIEW)
    return _field_get(user, field_id)


@custom_fields.patch("/{field_id}", response={200: CustomFieldOut, **ERRORS}, summary="Change a custom field")
def customfield_update(request: HttpRequest, payload: CustomFieldPatch, field_id: int = _id()) -> CustomField:
    """The type and key of a field never change; add a new field instead."""
    user = api_user(request)
    require(user, "customfield", perms.EDIT)
    return field_services.customfield_save(
        actor=api_actor(request), field=_field_get(user, field_id), data=payload.model_dump(exclude_unset=True)
    )


@custom_fields.delete("/{field_id}", response={204: None, **ERRORS}, summary="Retire a custom field")
def customfield_delete(request: HttpRequest, field_id: int = _id()) -> Status[None]:
    """The field stops showing, validating and exporting; stored values stay for the audit trail."""
    user = api_user(request)
    require(user, "customfield", perms.DELETE)
    field_services.customfield_delete(actor=api_actor(request), field=_field_get(user, field_id))
    return Status(204, None)


def _field_get(user: User, field_id: int) -> CustomField:
    """A definition the user may know of: a sensitive field they are not granted is a 404."""
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None or (field.is_sensitive and not user.sees_field(field.permission_key)):
        raise NotFound(_("No such custom field."))
    return field


# --- exports ---------------------------------------------------------------------------------


@contacts.post("/exports", response={202: ExportJobOut, **ERRORS}, summary="Export contacts to a file")
def export_create(request: HttpRequest, payload: ExportIn) -> Status[dict[str, Any]]:
    """Starts an export of the contacts the caller may see under `filters` (without the fields
    their role may not see) and answers at once with the job; poll it until `status` is `done`,
    then GET its `download_url`. Files are kept for a week and only their requester may fetch them."""
    job = exports.export_job_create(actor=api_actor(request), fmt=payload.format, params=payload.filters, strict=True)
    return Status(202, _export_out(job))


@contacts.get("/exports/{job_id}", response={200: ExportJobOut, **ERRORS}, summary="An export's progress")
def export_get(request: HttpRequest, job_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    require(user, "contact", perms.EXPORT)
    return _export_out(exports.export_job_get(user, job_id))


@contacts.get(
    "/exports/{job_id}/download",
    response={200: None, **ERRORS},
    summary="Download an export's file",
    url_name="contact_export_download",
    # 200 as an int, as ninja keys its own responses: "200" would be a second key in the JSON.
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, as an attachment.",
                "content": {spec.content_type.split(";")[0]: {} for spec in exports.FORMATS.values()},
            }
        }
    },
)
def export_download(request: HttpRequest, job_id: int = _id()) -> FileResponse:
    """409 while the export is not done (or failed, or was cancelled); 404 once its file is deleted."""
    user = api_user(request)
    require(user, "contact", perms.EXPORT)
    job = exports.export_job_get(user, job_id)
    if job.status != ExportJob.Status.DONE:
        raise Conflict(_("The export is not ready: its status is %(status)s.") % {"status": job.get_status_display()})
    path = exports.export_file_path(job)
    if path is None:
        raise NotFound(_("The file of this export has been deleted; export again."))
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=exports.export_filename(job.format, timezone.localdate(job.created_at)),
        content_type=exports.export_format(job.format).content_type,
    )


def _export_out(job: ExportJob) -> dict[str, Any]:
    done = job.status == ExportJob.Status.DONE
    return {
        "id": job.pk,
        "format": job.format,
        "status": job.status,
        "filters": job.filters or {},
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "download_url": reverse("api:contact_export_download", kwargs={"job_id": job.pk}) if done else None,
    }
