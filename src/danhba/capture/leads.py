"""Create or update the contact a captured lead is about: one place for every capture door
(channel webhooks; web forms may call it too).

Identity matching, in this order: the contact the lead made before (its channel key), an
external id (a Zalo user id), an email, a phone — each normalised by ``core.normalize`` as
every other door does (Vietnamese phones in any format: "84912345678", "0912 345 678"). The
write itself is the contacts service's (``contact_create`` / ``contact_update``: validation,
search keys, audit, timeline, the ``contacts_changed`` fan-out that segments, webhooks and
lead assignment follow). A value the contact service refuses (an unknown province, an email
another contact holds) is left out and reported, never the whole lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from danhba.contacts.models import Contact, ContactEmail, ContactPhone, ExternalId
from danhba.contacts.services.contacts import contact_create, contact_update
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput
from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone

MAX_RETRIES = 4


@dataclass
class LeadIn:
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    external_ids: list[tuple[str, str]] = field(default_factory=list)
    contact_id: int | None = None


@dataclass
class LeadOut:
    contact: Contact
    created: bool
    left_out: dict[str, list[str]] = field(default_factory=dict)


def _identities(lead: LeadIn, left_out: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    emails: list[str] = []
    phones: list[str] = []
    for raw in lead.emails:
        try:
            email = normalize_email(raw)
        except NormalizationError as exc:
            left_out.setdefault("email", []).append(f"{raw!r}: {exc}")
            continue
        if email not in emails:
            emails.append(email)
    for raw in lead.phones:
        try:
            phone = normalize_phone(raw).e164
        except NormalizationError as exc:
            left_out.setdefault("phone", []).append(f"{raw!r}: {exc}")
            continue
        if phone not in phones:
            phones.append(phone)
    return emails, phones


def lead_match(lead: LeadIn, emails: list[str], phones: list[str]) -> Contact | None:
    """The contact this lead is about, if danhba knows it already."""
    if lead.contact_id is not None:
        found = Contact.objects.filter(pk=lead.contact_id).first()
        if found is not None:
            return found
    if lead.external_ids:
        q = Q()
        for system, value in lead.external_ids:
            q |= Q(system=system, value=value)
        hit = ExternalId.objects.filter(q).order_by("contact_id").values_list("contact_id", flat=True).first()
        if hit is not None:
            return Contact.objects.get(pk=hit)
    by_email = ContactEmail.objects.filter(email__in=emails).order_by("contact_id") if emails else None
    by_phone = ContactPhone.objects.filter(e164__in=phones).order_by("contact_id") if phones else None
    for rows in (by_email, by_phone):
        contact_id = rows.values_list("contact_id", flat=True).first() if rows is not None else None
        if contact_id is not None:
            return Contact.objects.get(pk=contact_id)
    return None


def _create_data(lead: LeadIn, emails: list[str], phones: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {**lead.fields, "source": lead.source}
    if emails:
        data["emails"] = [{"email": e} for e in emails]
    if phones:
        data["phones"] = [{"phone": p} for p in phones]
    if lead.custom:
        data["custom"] = dict(lead.custom)
    if lead.external_ids:
        data["external_ids"] = [{"system": s, "value": v} for s, v in lead.external_ids]
    return data


def _update_data(contact: Contact, lead: LeadIn, emails: list[str], phones: list[str]) -> dict[str, Any]:
    """The lead's values over the contact's; identities added to the ones it has (the contact
    service replaces a list it is given, so the stored ones are given back with the new)."""
    data: dict[str, Any] = {k: v for k, v in lead.fields.items() if v not in ("", None)}
    stored_emails = list(contact.emails.values("email", "label", "is_primary"))
    new_emails = [e for e in emails if e not in {s["email"] for s in stored_emails}]
    if new_emails:
        data["emails"] = stored_emails + [{"email": e} for e in new_emails]
    stored_phones = [
        {"phone": p["e164"], "label": p["label"], "is_primary": p["is_primary"]}
        for p in contact.phones.values("e164", "label", "is_primary")
    ]
    new_phones = [p for p in phones if p not in {s["phone"] for s in stored_phones}]
    if new_phones:
        data["phones"] = stored_phones + [{"phone": p} for p in new_phones]
    stored_ids = list(contact.external_ids.values_list("system", "value"))
    new_ids = [pair for pair in lead.external_ids if pair not in stored_ids]
    if new_ids:
        data["external_ids"] = [{"system": s, "value": v} for s, v in stored_ids + new_ids]
    if lead.custom:
        data["custom"] = dict(lead.custom)
    return data


def _leave_out(data: dict[str, Any], exc: InvalidInput | Conflict, left_out: dict[str, list[str]]) -> bool:
    """Take out of ``data`` what the contact service refused ("emails.0" is the emails,
    "custom.size" that custom value); False when it refused nothing it was given."""
    details = exc.details if isinstance(exc.details, dict) else {}
    dropped = False
    for key, messages in details.items():
        top, _dot, sub = str(key).partition(".")
        reasons = [str(m) for m in messages] if isinstance(messages, list) else [exc.message]
        if top == "custom" and sub and sub in data.get("custom", {}):
            data["custom"].pop(sub)
            if not data["custom"]:
                data.pop("custom")
        elif top in data and top != "source":
            data.pop(top)
        else:
            continue
        left_out.setdefault(str(key), []).extend(reasons)
        dropped = True
    return dropped


def lead_upsert(*, actor: Actor, lead: LeadIn) -> LeadOut:
    left_out: dict[str, list[str]] = {}
    emails, phones = _identities(lead, left_out)
    contact = lead_match(lead, emails, phones)
    data = _create_data(lead, emails, phones) if contact is None else _update_data(contact, lead, emails, phones)
    for _attempt in range(MAX_RETRIES):
        try:
            if contact is None:
                return LeadOut(contact_create(actor=actor, data=data), True, left_out)
            if data:
                contact = contact_update(actor=actor, contact=contact, data=data)
            return LeadOut(contact, False, left_out)
        except (InvalidInput, Conflict) as exc:
            if not _leave_out(data, exc, left_out):
                raise
    raise InvalidInput(left_out)
