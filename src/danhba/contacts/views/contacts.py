"""Contact and company pages.

Each view parses its input with a form, calls one service or selector and renders. An htmx
request gets the partial the page swaps in from the same view. Role checks: a missing object
permission is a 403; a record outside the user's visibility is a 404, never a 403, so a page
does not reveal that the record exists.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from danhba.audit.selectors import audit_rows, contact_audit
from danhba.contacts import exports, selectors
from danhba.contacts.extensions import CONTACT_LIST_ACTIONS, CONTACT_MOVED, panels_context
from danhba.contacts.forms import (
    SECTIONS,
    BulkActionForm,
    CompanyFilterForm,
    CompanyForm,
    ContactCreateForm,
    ContactFilterForm,
    TimelineEntryForm,
)
from danhba.contacts.models import Contact, ExportJob
from danhba.contacts.services import companies as company_services
from danhba.contacts.services import contacts as contact_services
from danhba.contacts.services import timeline as timeline_services
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from danhba.core.formatting import number
from danhba.core.keyset import BadCursor, Page
from danhba.core.views import AuthedRequest, changed, next_url, require, role_required

PAGE_SIZE = 50


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


_require = require
_next_url = next_url
_changed = changed


# --- contact list ---------------------------------------------------------------------------


@role_required("contact", "view")
def contact_list(request: AuthedRequest) -> HttpResponse:
    user = request.user
    page: Page[Contact] = Page([])
    count, capped = 0, False
    errors: dict[str, Any] = {}
    filters = None
    try:
        filters = selectors.ContactFilters.from_params(request.GET)
        sort = request.GET.get("sort") or "name"
        page = selectors.contact_page(
            user, filters, sort=sort, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
        count, capped = selectors.contact_count(user, filters)
    except ServiceError as exc:
        errors = exc.details or {"cursor": [exc.message]}
    context = {
        "nav": "contacts",
        "page": page,
        "contacts": selectors.list_rows(page.items),
        "count": count,
        "capped": capped,
        "errors": errors,
        "searching": bool(filters and filters.q),
        "filters_active": bool(filters and filters.active),
        "sort": request.GET.get("sort") or "name",
        "can_bulk": user.can("contact", "edit"),
    }
    if request.htmx:  # live search and paging swap the results only
        return render(request, "contacts/_list_results.html", context)
    context["filter_form"] = ContactFilterForm(request.GET, user=user)
    context["bulk_form"] = BulkActionForm() if context["can_bulk"] else None
    context["list_actions"] = [
        (a.label, reverse(a.url_name)) for a in CONTACT_LIST_ACTIONS if all(user.can(*p) for p in a.permissions)
    ]
    return render(request, "contacts/list.html", context)


@require_POST
@role_required("contact", "edit")
def contact_bulk(request: AuthedRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    if form.is_valid():
        try:
            changed = contact_services.contacts_bulk_update(actor=_actor(request), **form.to_kwargs())
        except ServiceError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(
                request, ngettext("%(n)s contact updated.", "%(n)s contacts updated.", changed) % {"n": number(changed)}
            )
    else:
        texts = [str(e) for errors in form.errors.values() for e in errors]
        messages.error(request, " ".join(texts))
    return redirect(_next_url(request, reverse("contacts:list")))


@require_http_methods(["GET"])
@role_required("contact", "export")
def contact_export(request: AuthedRequest, fmt: str = "csv") -> HttpResponseBase:
    """The list as it is filtered, in ``fmt``: downloaded at once when small, else an export
    job whose progress page the browser is sent to."""
    try:
        result = exports.contacts_export(actor=_actor(request), fmt=fmt, params=request.GET)
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return redirect(reverse("contacts:list") + "?" + request.GET.urlencode())
    if isinstance(result, ExportJob):
        messages.info(request, _("This export is large, so it is prepared in the background; you can leave this page."))
        return redirect("contacts:export_job", pk=result.pk)
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


def _error_text(exc: ServiceError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    parts = [f"{k}: {', '.join(map(str, v))}" for k, v in details.items() if isinstance(v, list)]
    return " ".join([exc.message, *parts])


# --- contact creation -----------------------------------------------------------------------


@role_required("contact", "create")
def contact_create(request: AuthedRequest) -> HttpResponse:
    form = ContactCreateForm(request.POST if request.method == "POST" else None, user=request.user)
    conflict_id = None
    if form.is_bound and form.is_valid():
        try:
            contact = contact_services.contact_create(actor=_actor(request), data=form.to_data())
        except Conflict as exc:
            form.apply_errors(exc.details)
            conflict_id = exc.details.get("contact_id")
            form.add_error(None, exc.message)
        except InvalidInput as exc:
            form.apply_errors(exc.details)
        else:
            messages.success(request, _("Contact “%(name)s” created.") % {"name": contact.display_name})
            return redirect("contacts:detail", pk=contact.pk)
    failed = form.is_bound and (bool(form.errors) or bool(form.row_errors))
    context = {"nav": "contacts", "form": form, "conflict_id": conflict_id}
    return render(request, "contacts/create.html", context, status=422 if failed else 200)


# --- one contact ----------------------------------------------------------------------------


def _detail_context(
    request: AuthedRequest,
    contact: Contact,
    *,
    edit_section: str = "",
    section_form: Any = None,
    timeline_form: TimelineEntryForm | None = None,
) -> dict[str, Any]:
    user = request.user
    view = selectors.contact_view(contact, user)
    can_edit = user.can("contact", "edit")
    sections = []
    for name, (title, form_class) in SECTIONS.items():
        if name == "custom" and not view.custom:
            continue
        form = None
        if name == edit_section and can_edit:
            form = section_form or form_class.for_contact(view, user)
        sections.append({"name": name, "title": title, "form": form})
    context: dict[str, Any] = {
        "nav": "contacts",
        "contact": contact,
        "view": view,
        "sections": sections,
        "can_edit": can_edit,
        "labels": selectors.field_labels(),
    }
    if user.can("timeline", "view"):
        context.update(_timeline_context(request, contact, form=timeline_form))
    # Panels of the apps above contacts (purchases, consent, imports): extensions.CONTACT_PANELS.
    context.update(panels_context(request, contact))
    if user.can("audit", "view"):
        context["activity"] = audit_rows(contact_audit(contact.pk), view.hidden)
    return context


@role_required("contact", "view")
def contact_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        contact = contact_services.contact_get(actor=_actor(request), pk=pk, audit_view=True)
    except NotFound:
        # A contact merged into another: its old address shows the survivor.
        moved = next((m for m in CONTACT_MOVED(pk) if m is not None), None)
        if moved is None or Contact.objects.filter(pk=pk).exists():
            raise
        return redirect("contacts:detail", pk=moved)
    edit = request.GET.get("edit", "")
    return render(request, "contacts/detail.html", _detail_context(request, contact, edit_section=edit))


@role_required("contact", "view")
def contact_section(request: AuthedRequest, pk: int, section: str) -> HttpResponse:
    """One section of a contact page: shown (GET), as a form (GET ?edit=1), saved (POST)."""
    if section != "header" and section not in SECTIONS:
        raise Http404
    user, actor = request.user, _actor(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    view = selectors.contact_view(contact, user)
    form = None
    status = 200
    if request.method == "POST" and section != "header":
        _require(request, "contact", "edit")
        form = SECTIONS[section][1].for_contact(view, user, request.POST)
        if form.is_valid():
            try:
                contact_services.contact_update(actor=actor, contact=contact, data=form.to_data())
            except (InvalidInput, Conflict) as exc:
                form.apply_errors(exc.details)
                if isinstance(exc, Conflict):
                    form.add_error(None, exc.message)
            else:
                messages.success(request, _("Changes saved."))
                if not request.htmx:
                    return redirect("contacts:detail", pk=pk)
                contact = contact_services.contact_get(actor=actor, pk=pk)
                view = selectors.contact_view(contact, user)
                form = None
        if form is not None:
            status = 422
            if not request.htmx:
                context = _detail_context(request, contact, edit_section=section, section_form=form)
                return render(request, "contacts/detail.html", context, status=status)
    elif request.GET.get("edit") and section != "header":
        _require(request, "contact", "edit")
        form = SECTIONS[section][1].for_contact(view, user)
    if not request.htmx:
        url = reverse("contacts:detail", kwargs={"pk": pk})
        return redirect(f"{url}?edit={section}#section-{section}" if form else url)
    context = {
        "contact": contact,
        "view": view,
        "can_edit": user.can("contact", "edit"),
        "labels": selectors.field_labels(),
    }
    if section == "header":
        return render(request, "contacts/_header.html", context)
    context["section"] = {"name": section, "title": SECTIONS[section][0], "form": form}
    context["oob_messages"] = request.method == "POST"
    response = render(request, f"contacts/sections/{section}.html", context, status=status)
    return _changed(response) if request.method == "POST" and status == 200 else response


@role_required("contact", "delete")
def contact_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    if request.method == "POST":
        name = contact.display_name
        contact_services.contact_delete(actor=actor, contact=contact)
        messages.success(request, _("Contact “%(name)s” deleted.") % {"name": name})
        return redirect("contacts:list")
    return render(request, "contacts/delete.html", {"nav": "contacts", "contact": contact})


@role_required("audit", "view")
def contact_activity(request: AuthedRequest, pk: int) -> HttpResponse:
    contact = contact_services.contact_get(actor=_actor(request), pk=pk)
    rows = audit_rows(contact_audit(contact.pk), selectors.hidden_fields(request.user))
    context = {"contact": contact, "activity": rows, "labels": selectors.field_labels()}
    return render(request, "contacts/_activity.html", context)


# --- timeline -------------------------------------------------------------------------------


def _timeline_context(
    request: AuthedRequest,
    contact: Contact,
    *,
    form: TimelineEntryForm | None = None,
    kind: str = "",
    cursor: str = "",
) -> dict[str, Any]:
    user = request.user
    kind = selectors.timeline_kind(user, kind)
    # Events and orders join the timeline through extensions.TIMELINE_SOURCES.
    page = selectors.contact_timeline(contact, user, kind=kind, cursor=cursor)
    return {
        "timeline": page.items,
        "timeline_next": page.next_cursor,
        "timeline_more": bool(cursor),
        "timeline_kind": kind,
        "timeline_kinds": selectors.timeline_kinds(user),
        "timeline_footers": selectors.timeline_footers(user),
        "labels": selectors.field_labels(),
        "timeline_form": form or (TimelineEntryForm.for_user(user) if user.can("timeline", "create") else None),
    }


@role_required("timeline", "view")
def contact_timeline(request: AuthedRequest, pk: int) -> HttpResponse:
    """GET: the timeline list (filtered by ``kind``); POST: add an entry."""
    user, actor = request.user, _actor(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    if request.method == "POST":
        _require(request, "timeline", "create")
        form = TimelineEntryForm.for_user(user, request.POST)
        if form.is_valid():
            try:
                timeline_services.timeline_entry_save(actor=actor, contact=contact, entry=None, data=form.to_data())
            except InvalidInput as exc:
                form.apply_errors(exc.details)
            else:
                messages.success(request, _("Added to the timeline."))
                if not request.htmx:
                    return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#timeline")
                fresh = {"contact": contact, "timeline_form": TimelineEntryForm.for_user(user), "oob_messages": True}
                return _changed(render(request, "contacts/_timeline_form.html", fresh))
        if not request.htmx:
            context = _detail_context(request, contact, timeline_form=form)
            return render(request, "contacts/detail.html", context, status=422)
        return render(request, "contacts/_timeline_form.html", {"contact": contact, "timeline_form": form}, status=422)
    if not request.htmx:
        return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#timeline")
    kind, cursor = request.GET.get("kind", ""), request.GET.get("cursor", "")
    try:
        context = {"contact": contact, **_timeline_context(request, contact, kind=kind, cursor=cursor)}
    except BadCursor as exc:
        return HttpResponse(exc.message, status=400)
    return render(request, "contacts/_timeline_list.html", context)


@role_required("timeline", "view")
def timeline_entry(request: AuthedRequest, pk: int, entry_id: int) -> HttpResponse:
    """One timeline entry: shown, as a form (?edit=1), saved (POST). Only its author (or an
    admin) edits it; change records are never edited."""
    user, actor = request.user, _actor(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    entry = selectors.timeline_entry_get(contact, user, entry_id)
    editable = selectors.timeline_entry_editable(user, entry)
    form = None
    status = 200
    if request.method == "POST":
        if not editable:
            raise DjangoPermissionDenied
        form = TimelineEntryForm.for_user(user, request.POST, entry)
        if form.is_valid():
            try:
                entry = timeline_services.timeline_entry_save(
                    actor=actor, contact=contact, entry=entry, data=form.to_data()
                )
            except InvalidInput as exc:
                form.apply_errors(exc.details)
            else:
                messages.success(request, _("Timeline entry saved."))
                if not request.htmx:
                    return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#timeline")
                form = None
        status = 422 if form is not None else 200
    elif request.GET.get("edit"):
        if not editable:
            raise DjangoPermissionDenied
        form = TimelineEntryForm.for_user(user, entry=entry)
    item = selectors.TimelineItem(entry, editable, selectors.timeline_entry_deletable(user, entry))
    context = {
        "nav": "contacts",
        "contact": contact,
        "item": item,
        "form": form,
        "labels": selectors.field_labels(),
        "oob_messages": request.method == "POST",
    }
    if not request.htmx:
        if form is None:
            return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#timeline")
        return render(request, "contacts/timeline_entry_edit.html", context, status=status)
    response = render(request, "contacts/_timeline_entry.html", context, status=status)
    return _changed(response) if request.method == "POST" and status == 200 else response


@require_POST
@role_required("timeline", "delete")
def timeline_entry_delete(request: AuthedRequest, pk: int, entry_id: int) -> HttpResponse:
    user, actor = request.user, _actor(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    entry = selectors.timeline_entry_get(contact, user, entry_id)
    if not selectors.timeline_entry_deletable(user, entry):
        raise DjangoPermissionDenied
    timeline_services.timeline_entry_delete(actor=actor, entry=entry)
    messages.success(request, _("Timeline entry deleted."))
    if request.htmx:
        return _changed(render(request, "contacts/_messages_oob.html"))
    return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#timeline")


# --- companies ------------------------------------------------------------------------------


@role_required("company", "view")
def company_list(request: AuthedRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:200]
    error = ""
    page: Page[Any] = Page([])
    try:
        filters = selectors.CompanyFilters.from_params(request.GET)
        page = selectors.company_page(
            request.user, filters=filters, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except ServiceError as exc:
        error = _error_text(exc)
    context = {
        "nav": "companies",
        "page": page,
        "q": q,
        "error": error,
        "industries": selectors.industry_choices(),
        "filter_form": CompanyFilterForm(request.GET),
        "filters_active": any(request.GET.get(k) for k in ("industry", "province", "has_contacts")),
    }
    template = "contacts/_company_results.html" if request.htmx else "contacts/company_list.html"
    return render(request, template, context)


@require_http_methods(["GET"])
@role_required("company", "export")
def company_export(request: AuthedRequest, fmt: str = "csv") -> HttpResponseBase:
    """The companies list as it is filtered, streamed in ``fmt``."""
    try:
        result = exports.companies_export(actor=_actor(request), fmt=fmt, params=request.GET)
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return redirect(reverse("contacts:company_list") + "?" + request.GET.urlencode())
    response = StreamingHttpResponse(result.chunks, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


@role_required("company", "create")
def company_create(request: AuthedRequest) -> HttpResponse:
    form = CompanyForm.for_company(request.user, None, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            company = company_services.company_save(actor=_actor(request), company=None, data=form.to_data())
        except InvalidInput as exc:
            form.apply_errors(exc.details)
        else:
            messages.success(request, _("Company “%(name)s” created.") % {"name": company.name})
            return redirect("contacts:company_detail", pk=company.pk)
    context = {"nav": "companies", "form": form, "company": None}
    return render(request, "contacts/company_form.html", context, status=422 if form.errors else 200)


@role_required("company", "view")
def company_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(pk)
    custom = [
        (cf, (company.custom or {}).get(cf.key)) for cf in selectors.visible_custom_fields(request.user, "company")
    ]
    context = {
        "nav": "companies",
        "company": company,
        "custom": custom,
        "contacts": selectors.company_contacts(company, request.user),
    }
    return render(request, "contacts/company_detail.html", context)


@role_required("company", "edit")
def company_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(pk)
    form = CompanyForm.for_company(request.user, company, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            company_services.company_save(actor=_actor(request), company=company, data=form.to_data())
        except InvalidInput as exc:
            form.apply_errors(exc.details)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("contacts:company_detail", pk=pk)
    context = {"nav": "companies", "form": form, "company": company}
    return render(request, "contacts/company_form.html", context, status=422 if form.errors else 200)


@role_required("company", "delete")
def company_delete(request: AuthedRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(pk)
    if request.method == "POST":
        name = company.name
        company_services.company_delete(actor=_actor(request), company=company)
        messages.success(request, _("Company “%(name)s” deleted.") % {"name": name})
        return redirect("contacts:company_list")
    return render(request, "contacts/company_delete.html", {"nav": "companies", "company": company})
