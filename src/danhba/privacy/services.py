"""Writes to the consent ledger. Only these functions append to it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import contacts_changed
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.privacy.models import ConsentPurpose, ConsentRecord, ConsentSource, ConsentState, ConsentStatus


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
        contacts_changed(reasons={contact.pk: ["consent"]})
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
