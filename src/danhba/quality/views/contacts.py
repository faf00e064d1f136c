"""The contact page's "Data quality" panel and its buttons: mark verified, restore from the
archive. Each parses, calls one service, redirects back."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, permission_required
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_get
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError
from danhba.core.views import next_url
from danhba.quality import selectors
from danhba.quality.services.cleaning import contact_restore
from danhba.quality.services.verify import contact_verify


def contact_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    """The contact page's "Data quality" panel: freshness, signals, verify, archive state."""
    user = current_user(request)
    return {"quality": selectors.contact_quality(contact), "quality_can_verify": user.can("contact", perms.EDIT)}


@require_POST
@permission_required(can("contact", perms.EDIT))
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    actor = Actor.from_request(request)
    back = next_url(request, reverse("contacts:detail", args=[pk]))
    try:
        contact = contact_get(actor=actor, pk=pk)
        contact_verify(actor=actor, contact=contact)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, _("Marked as verified: its data counts as fresh from now."))
    return redirect(back)


@require_POST
@permission_required(can("contact", perms.EDIT))
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = Actor.from_request(request)
    back = next_url(request, reverse("contacts:detail", args=[pk]))
    try:
        contact_restore(actor=actor, contact=contact_get(actor=actor, pk=pk))
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, _("Taken out of the archive."))
    return redirect(back)
