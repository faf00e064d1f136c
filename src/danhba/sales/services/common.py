"""What every sales write shares: the audit row."""

from __future__ import annotations

from typing import Any

from django.db import models

from danhba.audit.services import audit_event
from danhba.core.actor import Actor

AUDIT_TYPES = {
    "Pipeline": "pipeline",
    "Stage": "stage",
    "Deal": "deal",
    "DealLine": "deal_line",
    "LostReason": "lost_reason",
    "Task": "task",
    "AssignmentRule": "assignment_rule",
    "PriceList": "price_list",
}


def audit(
    actor: Actor, action: str, obj: models.Model, changes: dict[str, Any], *, contact_id: int | None = None
) -> None:
    audit_event(
        actor=actor,
        action=action,
        object_type=AUDIT_TYPES[type(obj).__name__],
        object_id=obj.pk,
        object_label=str(obj)[:200],
        contact_id=contact_id,
        changes=changes,
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def snapshot(obj: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in fields}
