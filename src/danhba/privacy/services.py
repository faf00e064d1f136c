"""Writes to the consent ledger and the audit log. Only these functions append to them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.privacy.models import AuditEvent, ConsentPurpose, ConsentRecord, ConsentSource, ConsentState, ConsentStatus


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed keys as {key: [before, after]} for an audit row; empty values ("", [], None)
    count as equal."""

    def norm(value: Any) -> Any:
        return None if value in ("", [], {}, None) else value

    keys = list(dict.fromkeys([*before, *after]))
    return {k: [before.get(k), after.get(k)] for k in keys if norm(before.get(k)) != norm(after.get(k))}


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
    *, actor: Actor, action: str, object_type: str, rows: Iterable[tuple[Any, str, int | None, dict]]
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
        "changes": _jsonable(changes or {}),
        "ip_address": actor.ip,
        "user_agent": actor.user_agent,
    }


def consent_record(
    *,
    actor: Actor,
    contact: Contact,
    purpose: ConsentPurpose | str,
    status: str,
    source: str,
    proof: str = "",
    text_version: str = "",
    ip_address: str | None = None,
    recorded_at: dt.datetime | None = None,
) -> ConsentRecord:
    """Append a consent statement and move the contact's current state for that purpose."""
    if actor.user is not None and not actor.user.can("consent", perms.CREATE):
        raise PermissionDenied(_("Your role cannot record consent."))
    if actor.user is not None and not Contact.objects.visible_to(actor.user).filter(pk=contact.pk).exists():
        raise NotFound(_("No such contact."))
    errors: dict[str, list[str]] = {}
    if isinstance(purpose, str):
        found = ConsentPurpose.objects.filter(key=purpose, is_active=True).first()
        if found is None:
            errors["purpose"] = [_("unknown consent purpose '%(value)s'") % {"value": purpose}]
        purpose_obj = found
    else:
        purpose_obj = purpose
    if status not in ConsentStatus.values:
        errors["status"] = [_("must be one of %(choices)s") % {"choices": ", ".join(ConsentStatus.values)}]
    if source not in ConsentSource.values:
        errors["source"] = [_("must be one of %(choices)s") % {"choices": ", ".join(ConsentSource.values)}]
    if len(text_version) > 60:
        errors["text_version"] = [_("at most %(n)s characters") % {"n": 60}]
    when = recorded_at or timezone.now()
    if when > timezone.now() + dt.timedelta(minutes=5):
        errors["recorded_at"] = [_("cannot be in the future")]
    if errors or purpose_obj is None:
        raise InvalidInput(errors)
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            contact=contact,
            purpose=purpose_obj,
            status=status,
            source=source,
            proof=proof,
            text_version=text_version,
            ip_address=ip_address,
            recorded_at=when,
            recorded_by=actor.user,
        )
        # get_or_create survives a concurrent first statement (unique contact+purpose).
        state, created = ConsentState.objects.get_or_create(
            contact=contact, purpose=purpose_obj, defaults={"status": status, "since": when, "record": record}
        )
        state = ConsentState.objects.select_for_update().get(pk=state.pk)
        # A statement back-dated before the current one is kept in the ledger but does not
        # override a newer statement.
        if not created and when >= state.since:
            state.status, state.since, state.record = status, when, record
            state.save(update_fields=["status", "since", "record"])
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE,
            object_type="consent",
            object_id=record.pk,
            object_label=f"{purpose_obj.key}: {status}",
            contact_id=contact.pk,
            changes={"purpose": [None, purpose_obj.key], "status": [None, status], "source": [None, source]},
        )
        from danhba.segments.services import contacts_changed

        contacts_changed(contact_ids=[contact.pk], reasons=["consent"])
    return record


def consent_summary(contact: Contact) -> list[dict[str, Any]]:
    """Every active purpose with the contact's current status; no statement means not granted."""
    states = {s.purpose_id: s for s in ConsentState.objects.filter(contact=contact)}
    out = []
    for purpose in ConsentPurpose.objects.filter(is_active=True):
        state = states.get(purpose.pk)
        out.append(
            {
                "purpose": purpose,
                "status": state.status if state else None,
                "granted": bool(state and state.status == ConsentStatus.GRANTED),
                "since": state.since if state else None,
            }
        )
    return out
