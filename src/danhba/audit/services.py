"""Writes to the audit log. Only these functions (and the bulk writers that insert raw rows
with ``AUDIT_COLUMNS``) append to it; nothing ever changes a row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from danhba.audit.models import AuditEvent
from danhba.core.actor import Actor
from danhba.core.audit import jsonable


def audit_event(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any = "",
    object_label: str = "",
    contact_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        **_audit_fields(actor, action, object_type, object_id, object_label, contact_id, changes)
    )


def audit_events_bulk(
    *, actor: Actor, action: str, object_type: str, rows: Iterable[tuple[Any, str, int | None, dict[str, Any]]]
) -> None:
    """Many audit rows at once: ``rows`` holds (object_id, label, contact_id, changes)."""
    AuditEvent.objects.bulk_create(
        [AuditEvent(**_audit_fields(actor, action, object_type, oid, label, cid, ch)) for oid, label, cid, ch in rows],
        batch_size=500,
    )


def _audit_fields(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    object_label: str,
    contact_id: int | None,
    changes: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "actor": actor.user,
        "actor_label": actor.label,
        "via": actor.via,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id or ""),
        "object_label": object_label[:254],
        "contact_id": contact_id,
        "changes": jsonable(changes or {}),
        "ip_address": actor.ip,
        "user_agent": actor.user_agent,
    }
