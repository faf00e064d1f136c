"""Template helpers of the import pages, and the imports panel of the contact page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from danhba.ingest.models import Import, ImportChange
from danhba.ingest.services import visible_imports

register = template.Library()

CONTACT_IMPORTS_SHOWN = 10


@dataclass(frozen=True)
class ContactImport:
    run: Import
    action: str  # ImportChange.Action
    linked: bool  # the user may open the import's page


@register.simple_tag(takes_context=True)
def contact_imports(context: Any, contact: Any) -> list[ContactImport]:
    """The imports that created or changed ``contact``, newest first (undone ones leave no trace)."""
    user = context.get("user")
    changes = list(
        ImportChange.objects.filter(contact_id=contact.pk)
        .select_related("run")
        .order_by("-run__created_at", "-run_id")[:CONTACT_IMPORTS_SHOWN]
    )
    if not changes:
        return []
    visible: set[int] = set()
    if user is not None and user.is_authenticated:
        ids = [c.run_id for c in changes]
        visible = set(visible_imports(user).filter(pk__in=ids).values_list("pk", flat=True))
    return [ContactImport(c.run, c.action, c.run_id in visible) for c in changes]
