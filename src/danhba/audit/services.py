"""Writes to the audit log. Only these functions (and the bulk writers that insert raw rows
with ``AUDIT_COLUMNS``) append to it; nothing ever changes a row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from danhba.audit.models import AUDIT_COLUMNS, AuditEvent
from danhba.core.actor import Actor
from danhba.core.audit import jsonable
from danhba.core.bulk import Table


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
    """Many audit rows at once: ``rows`` holds (object_id, label, contact_id, changes). One raw
    insert (``core.bulk.Table``): the ORM's bulk_create spent more time preparing values than
    the database inserting them (a bulk edit of 1,000 contacts, or a workflow step's batch)."""
    at = timezone.now()
    user_id = actor.user.pk if actor.user is not None else None
    Table(AuditEvent, AUDIT_COLUMNS).insert(
        [
            at, user_id, actor.label, actor.via, action, object_type, str(oid or ""), label[:254], cid,
            jsonable(changes or {}), actor.ip, actor.user_agent,
        ]
        for oid, label, cid, changes in rows
    )  # fmt: skip


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
