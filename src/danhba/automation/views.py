"""Pages of automation: the workflow list, a workflow's flow diagram with its step counts, the
editor (a form per step), enrolments with each contact's path, and the contact page's panel."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from danhba.automation import selectors
from danhba.contacts.models import Contact


def contact_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.can("workflow", "view"):
        return None
    return {"workflow_enrolments": selectors.contact_enrolments(contact.pk)[:10]}
