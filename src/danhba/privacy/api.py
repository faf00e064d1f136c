"""REST endpoints for the consent ledger: read a contact's consent, append a statement."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.services.contacts import contact_get
from danhba.core.errors import NotFound
from danhba.core.keyset import MAX_PK
from danhba.core.schemas import ErrorOut
from danhba.privacy import selectors
from danhba.privacy.models import ConsentPurpose, ConsentRecord
from danhba.privacy.purposes import consent_purpose_save
from danhba.privacy.schemas import (
    ConsentIn,
    ConsentOut,
    ConsentPurposeIn,
    ConsentPurposeOut,
    ConsentPurposePatch,
    ConsentRecordOut,
)
from danhba.privacy.services import consent_record, consent_summary

ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}

router = Router(tags=["consent"])


@router.get("/contacts/{contact_id}/consent", response={200: ConsentOut, **ERRORS}, summary="A contact's consent")
def consent_get(
    request: HttpRequest,
    contact_id: int = Path(..., ge=1, le=MAX_PK),
    limit: int = Query(50, ge=1, le=500, description="How many ledger statements, newest first."),
) -> dict[str, Any]:
    """The current status for every active purpose (null: never stated, so not granted) and the
    newest statements of the insert-only ledger."""
    user = api_user(request)
    require(user, "consent", perms.VIEW)
    contact = contact_get(actor=api_actor(request), pk=contact_id)
    return {
        "current": [
            {
                "purpose": s["purpose"].key,
                "label": s["purpose"].label,
                "status": s["status"],
                "granted": s["granted"],
                "since": s["since"],
                "until": s["until"],
            }
            for s in consent_summary(contact)
        ],
        "ledger": [_record_out(r) for r in selectors.consent_history(contact, limit=limit)],
    }


@router.post("/contacts/{contact_id}/consent", response={201: ConsentRecordOut, **ERRORS}, summary="Record consent")
def consent_create(
    request: HttpRequest, payload: ConsentIn, contact_id: int = Path(..., ge=1, le=MAX_PK)
) -> Status[dict[str, Any]]:
    """Append a statement (granted or withdrawn) for one purpose. The ledger is insert-only: a
    mistake is corrected by a newer statement."""
    actor = api_actor(request)
    require(api_user(request), "consent", perms.CREATE)
    contact = contact_get(actor=actor, pk=contact_id)
    record = consent_record(
        actor=actor,
        contact=contact,
        purpose=payload.purpose,
        status=payload.status,
        source=payload.source,
        proof=payload.proof,
        text_version=payload.text_version,
        ip_address=str(payload.ip_address) if payload.ip_address else actor.ip,
        recorded_at=payload.recorded_at,
    )
    return Status(201, _record_out(record))


@router.get("/consent-purposes", response={200: list[ConsentPurposeOut], **ERRORS}, summary="Consent purposes")
def purpose_list(
    request: HttpRequest,
    email_topic: bool | None = Query(None, description="true: only the email topics; false: only the others."),
) -> list[ConsentPurpose]:
    """The active purposes; the email topics are those the preference centre offers."""
    require(api_user(request), "consent", perms.VIEW)
    rows = ConsentPurpose.objects.filter(is_active=True)
    if email_topic is not None:
        rows = rows.filter(email_topic=email_topic)
    return list(rows)


@router.post("/consent-purposes", response={201: ConsentPurposeOut, **ERRORS}, summary="Add a consent purpose")
def purpose_create(request: HttpRequest, payload: ConsentPurposeIn) -> Status[ConsentPurpose]:
    """Admins only. With `email_topic` it is an email topic (a subscription type)."""
    data = payload.model_dump(exclude_none=True)
    return Status(201, consent_purpose_save(actor=api_actor(request), purpose=None, data=data))


@router.patch(
    "/consent-purposes/{key}", response={200: ConsentPurposeOut, **ERRORS}, summary="Change a consent purpose"
)
def purpose_update(
    request: HttpRequest, payload: ConsentPurposePatch, key: str = Path(..., max_length=60)
) -> ConsentPurpose:
    """Admins only; the fields sent change, the key never does."""
    purpose = ConsentPurpose.objects.filter(key=key).first()
    if purpose is None:
        raise NotFound(_("No such consent purpose."))
    return consent_purpose_save(actor=api_actor(request), purpose=purpose, data=payload.model_dump(exclude_unset=True))


def _record_out(record: ConsentRecord) -> dict[str, Any]:
    return {
        "id": record.pk,
        "purpose": record.purpose.key,
        "status": record.status,
        "source": record.source,
        "recorded_at": record.recorded_at,
        "proof": record.proof,
        "text_version": record.text_version,
        "ip_address": record.ip_address,
        "recorded_by": record.recorded_by_id,
        "until": record.until,
    }
