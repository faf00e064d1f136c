"""Template helpers of the import pages, and the imports panel of the contact page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from danhba.ingest.models import Import, ImportChange, ImportCreated
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
    actions = dict(
        ImportChange.objects.filter(contact_id=contact.pk)
        .order_by("-run__created_at", "-run_id")
        .values_list("run_id", "action")[:CONTACT_IMPORTS_SHOWN]
    )
    for run_id in ImportCreated.objects.holding(contact.pk).values_list("run_id", flat=True):
        actions[run_id] = ImportChange.Action.CREATED
    if not actions:
        return []
    runs = list(Import.objects.filter(pk__in=actions).order_by("-created_at", "-id")[:CONTACT_IMPORTS_SHOWN])
    visible: set[int] = set()
    if user is not None and user.is_authenticated:
        visible = set(visible_imports(user).filter(pk__in=actions).values_list("pk", flat=True))
    return [ContactImport(run, actions[run.pk], run.pk in visible) for run in runs]
