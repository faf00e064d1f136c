"""Privacy pages: the global audit log (read-only, always) and recording consent."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from danhba.contacts import selectors
from danhba.contacts import services as contact_services
from danhba.contacts.models import Contact
from danhba.contacts.views import CHANGED, AuthedRequest, role_required
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, ServiceError
from danhba.core.keyset import Page
from danhba.privacy import services
from danhba.privacy.forms import AuditFilterForm, ConsentForm


def consent_panel_context(request: HttpRequest, contact: Contact, form: ConsentForm | None = None) -> dict[str, Any]:
    """What the consent panel of a contact page shows: every purpose and its status (no
    statement means not given), the ledger, and the form for those who may record."""
    user: Any = request.user
    return {
        "consent": services.consent_summary(contact),
        "consent_history": selectors.consent_history(contact),
        "consent_form": form or (ConsentForm() if user.can("consent", "create") else None),
    }


@require_POST
@role_required("consent", "create")
def consent_record(request: AuthedRequest, pk: int) -> HttpResponse:
    actor = Actor.from_request(request)
    contact = contact_services.contact_get(actor=actor, pk=pk)
    form = ConsentForm(request.POST)
    status = 200
    if form.is_valid():
        cd = form.cleaned_data
        try:
            services.consent_record(
                actor=actor,
                contact=contact,
                purpose=cd["purpose"],
                status=cd["status"],
                source=cd["source"],
                proof=cd["proof"],
                text_version=cd["text_version"],
                ip_address=actor.ip,
            )
        except InvalidInput as exc:
            form.apply_errors(exc.details)
        else:
            messages.success(request, _("Consent statement recorded."))
            form = ConsentForm()
    if form.errors:
        status = 422
        if not request.htmx:
            texts = " ".join(str(e) for errors in form.errors.values() for e in errors)
            messages.error(request, _("The consent statement was not recorded: %(errors)s") % {"errors": texts})
    if not request.htmx:
        return redirect(reverse("contacts:detail", kwargs={"pk": pk}) + "#consent")
    context = {
        "contact": contact,
        "oob_messages": True,
        **consent_panel_context(request, contact, form if status != 200 else None),
    }
    response = render(request, "privacy/_consent_panel.html", context, status=status)
    return trigger_client_event(response, CHANGED) if status == 200 else response


@require_http_methods(["GET"])
@role_required("audit", "view")
def audit_log(request: AuthedRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page: Page[Any] = Page([])
    error = ""
    if form.is_valid():
        try:
            page = selectors.audit_page(form.filters(), cursor=request.GET.get("cursor") or None, user=request.user)
        except ServiceError as exc:
            error = exc.message
    context = {
        "nav": "audit",
        "form": form,
        "page": page,
        "rows": selectors.audit_rows(page.items, selectors.hidden_fields(request.user)),
        "labels": selectors.field_labels(),
        "error": error,
    }
    template = "privacy/_audit_results.html" if request.htmx else "privacy/audit.html"
    return render(request, template, context)
