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
    until: dt.datetime | None = None,
) -> ConsentRecord:
    """Append a consent statement and move the contact's current state for that purpose.

    ``until`` (a withdrawal only): a pause, the consent is withdrawn until then and
    :func:`consent_pauses_end` records it as granted again afterwards."""
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
    if until is not None and (status != ConsentStatus.WITHDRAWN or until <= when):
        errors["until"] = [_("only a withdrawal can have an end, and it must come after it")]
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
            until=until,
        )
        # get_or_create survives a concurrent first statement (unique contact+purpose).
        state, created = ConsentState.objects.get_or_create(
            contact=contact,
            purpose=purpose_obj,
            defaults={"status": status, "since": when, "record": record, "until": until},
        )
        state = ConsentState.objects.select_for_update().get(pk=state.pk)
        # A statement back-dated before the current one is kept in the ledger but does not
        # override a newer statement.
        if not created and when >= state.since:
            state.status, state.since, state.record, state.until = status, when, record, until
            state.save(update_fields=["status", "since", "record", "until"])
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE,
            object_type="consent",
            object_id=record.pk,
            object_label=f"{purpose_obj.key}: {status}",
            contact_id=contact.pk,
            changes={"purpose": [None, purpose_obj.key], "status": [None, status], "source": [None, source]}
            | ({"until": [None, until.isoformat()]} if until else {}),
        )
        contacts_changed(reasons={contact.pk: ["consent"]})
    return record


def consent_pauses_end(now: dt.datetime | None = None) -> int:
    """Pauses whose time is over: the consent is granted again, as the person asked when they
    paused (the ledger says so, naming the statement of the pause). Returns how many."""
    now = now or timezone.now()
    ended = 0
    due = ConsentState.objects.filter(status=ConsentStatus.WITHDRAWN, until__lte=now).select_related(
        "contact", "purpose"
    )
    for state in due.order_by("until", "pk")[:1000]:
        with transaction.atomic():
            # A newer statement (say an unsubscribe) since the query: it stands.
            if not ConsentState.objects.select_for_update().filter(pk=state.pk, record_id=state.record_id).exists():
                continue
            consent_record(
                actor=Actor.system("job"),
                contact=state.contact,
                purpose=state.purpose,
                status=ConsentStatus.GRANTED,
                source=ConsentRecord.objects.get(pk=state.record_id).source,
                proof=f"end of the pause asked for in statement {state.record_id}",
                # In effect from the end of the pause (never later than the clock: it is no forecast).
                recorded_at=max(min(state.until or now, timezone.now()), state.since),
            )
            ended += 1
    return ended


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
                "until": state.until if state else None,
            }
        )
    return out
