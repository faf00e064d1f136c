"""Privacy pages: recording consent (the consent panel of a contact page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from danhba.contacts.models import Contact
from danhba.contacts.services import contacts as contact_services
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.views import CHANGED, AuthedRequest, role_required
from danhba.privacy import selectors, services
from danhba.privacy.forms import ConsentForm


def consent_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    """The consent panel of a contact page (``contacts.extensions.CONTACT_PANELS``), for roles
    that may see consent."""
    user: Any = request.user
    return consent_panel_context(request, contact) if user.can("consent", "view") else None


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
