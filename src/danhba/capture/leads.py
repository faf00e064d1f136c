"""Create or update the contact a captured lead is about: the one writer of every capture door
(Facebook and Zalo leads, web form submissions).

Identity matching, in this order: the contact the lead is known to be (its channel key; a web
form's device id or visitor token when it gives no email or phone), an external id (a Zalo user
id), an email, a phone (the oldest contact holding it) — each normalised by ``core.normalize``
as every other door does (Vietnamese phones in any format: "84912345678", "0912 345 678"). The
write itself is the contacts service's (``contact_create`` / ``contact_update``: validation,
search keys, audit, timeline, the ``contacts_changed`` fan-out that segments, webhooks and lead
assignment follow).

What a lead may change on a contact it matched, at every door:
- a value it leaves empty never erases one;
- a name only when it completes the stored one (``names.is_fuller_name``: "Minh" never replaces
  "Nguyễn Văn Minh");
- identifiers (emails, phones, external ids) are added only when nobody holds them: one held by
  another contact is not taken, the two are recorded as a suspected duplicate for the review
  queue (``tracking.SuspectedDuplicate``, as the event tracker records them);
- a lead whose door does not vouch for the person (a web form: anyone may type anyone's phone or
  email) adds no identifier to the contact it matched by an email or phone unless it proves it is
  that contact (``proof_contact_id``: the signed visitor token that only the browser which made the
  contact holds). Unproven, a lead bringing new identifiers makes a new contact with them, and the
  pair is a suspected duplicate; a reviewer merges them when it was the same person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from danhba.capture.names import NAME_FIELDS, is_fuller_name, lead_name
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, ExternalId
from danhba.contacts.services.contacts import contact_create, contact_update
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput
from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone
from danhba.tracking.models import SuspectedDuplicate

MAX_RETRIES = 4


@dataclass
class LeadIn:
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    external_ids: list[tuple[str, str]] = field(default_factory=list)
    company: str = ""  # given to a contact that has no company yet
    tags: list[str] = field(default_factory=list)  # added to the contact's
    # The contact this lead is known to be (a channel's lead key, a form's device or token).
    contact_id: int | None = None
    # Whether the door vouches that the lead's identifiers are one person's (a Facebook or Zalo
    # account does; a public web form does not) and, if not, the contact it proves to be.
    vouched: bool = True
    proof_contact_id: int | None = None
    # A value the contact service refuses is left out and reported (channels: the rest of the lead
    # is kept); False: the whole lead is refused (a form submission stays failed and is retried).
    leave_out_refused: bool = True


@dataclass
class LeadOut:
    contact: Contact
    created: bool
    left_out: dict[str, list[str]] = field(default_factory=dict)
    # The contact matched by an email or phone that the lead could not prove to be (a new contact
    # was made for it instead).
    unproven_match: int | None = None


@dataclass
class _Holders:
    """Who holds each of the lead's identifiers now (the oldest contact for a phone)."""

    emails: dict[str, int]
    phones: dict[str, int]
    external_ids: dict[tuple[str, str], int]

    @classmethod
    def of(cls, lead: LeadIn, emails: list[str], phones: list[tuple[str, str]]) -> _Holders:
        by_email = dict(ContactEmail.objects.filter(email__in=emails).values_list("email", "contact_id"))
        by_phone: dict[str, int] = {}
        rows = ContactPhone.objects.filter(e164__in=[e164 for e164, _raw in phones]).order_by("contact_id")
        for e164, contact_id in rows.values_list("e164", "contact_id"):
            by_phone.setdefault(e164, contact_id)
        by_external: dict[tuple[str, str], int] = {}
        if lead.external_ids:
            q = Q()
            for system, value in lead.external_ids:
                q |= Q(system=system, value=value)
            for system, value, contact_id in (
                ExternalId.objects.filter(q).order_by("contact_id").values_list("system", "value", "contact_id")
            ):
                by_external.setdefault((system, value), contact_id)
        return cls(by_email, by_phone, by_external)


def _identities(lead: LeadIn, left_out: dict[str, list[str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """The lead's emails and phones normalised (phones as (E.164, as typed)), unreadable ones left out."""
    emails: list[str] = []
    phones: list[tuple[str, str]] = []
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
        if phone not in {e164 for e164, _raw in phones}:
            phones.append((phone, raw))
    return emails, phones


def _match(lead: LeadIn, emails: list[str], phones: list[tuple[str, str]], holders: _Holders) -> tuple[int | None, str]:
    """The contact this lead is about, if danhba knows it already, and what matched it."""
    if lead.contact_id is not None and Contact.objects.filter(pk=lead.contact_id).exists():
        return lead.contact_id, "key"
    for pair in lead.external_ids:
        if pair in holders.external_ids:
            return holders.external_ids[pair], "external_id"
    for email in emails:
        if email in holders.emails:
            return holders.emails[email], "email"
    for e164, _raw in phones:
        if e164 in holders.phones:
            return holders.phones[e164], "phone"
    return None, ""


@dataclass
class _Free:
    """The lead's identifiers nobody holds yet: the only ones it may add."""

    emails: list[str]
    phones: list[tuple[str, str]]
    external_ids: list[tuple[str, str]]

    @classmethod
    def of(cls, lead: LeadIn, emails: list[str], phones: list[tuple[str, str]], holders: _Holders) -> _Free:
        return cls(
            [e for e in emails if e not in holders.emails],
            [p for p in phones if p[0] not in holders.phones],
            [pair for pair in lead.external_ids if pair not in holders.external_ids],
        )

    def __bool__(self) -> bool:
        return bool(self.emails or self.phones or self.external_ids)


def _values(lead: LeadIn) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in lead.fields.items() if v not in ("", None, [])}
    custom = {k: v for k, v in lead.custom.items() if v not in ("", None, [])}
    if custom:
        data["custom"] = custom
    return data


def _create_data(lead: LeadIn, free: _Free) -> dict[str, Any]:
    data: dict[str, Any] = {**_values(lead), "source": lead.source}
    if free.emails:
        data["emails"] = [{"email": e} for e in free.emails]
    if free.phones:
        data["phones"] = [{"phone": raw} for _e164, raw in free.phones]
    if free.external_ids:
        data["external_ids"] = [{"system": s, "value": v} for s, v in free.external_ids]
    if lead.company:
        data["companies"] = [{"company": lead.company, "is_primary": True}]
    if lead.tags:
        data["tags"] = list(dict.fromkeys(lead.tags))
    return data


def _update_data(contact: Contact, lead: LeadIn, free: _Free) -> dict[str, Any]:
    """The lead's values over the contact's, as the module says; identities added to the ones it
    has (the contact service replaces a list it is given, so the stored ones are given back)."""
    data = _values(lead)
    if contact.full_name and not is_fuller_name(lead_name(data), contact.full_name):
        for key in NAME_FIELDS:
            data.pop(key, None)
    if free.emails:
        data["emails"] = [*contact.emails.values("email", "label", "is_primary"), *({"email": e} for e in free.emails)]
    if free.phones:
        stored = [
            {"phone": p["e164"], "label": p["label"], "is_primary": p["is_primary"]}
            for p in contact.phones.values("e164", "label", "is_primary")
        ]
        data["phones"] = [*stored, *({"phone": raw} for _e164, raw in free.phones)]
    if free.external_ids:
        stored_ids = list(contact.external_ids.values_list("system", "value"))
        data["external_ids"] = [{"system": s, "value": v} for s, v in [*stored_ids, *free.external_ids]]
    if lead.company and not contact.company_links.exists():
        data["companies"] = [{"company": lead.company, "is_primary": True}]
    if lead.tags:
        have = list(contact.tags.values_list("name", flat=True))
        if set(lead.tags) - set(have):
            data["tags"] = list(dict.fromkeys([*have, *lead.tags]))
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


def _write(
    actor: Actor, lead: LeadIn, contact: Contact | None, data: dict[str, Any], left_out: dict[str, list[str]]
) -> Contact:
    for _attempt in range(MAX_RETRIES):
        try:
            if contact is None:
                return contact_create(actor=actor, data=data)
            return contact_update(actor=actor, contact=contact, data=data) if data else contact
        except (InvalidInput, Conflict) as exc:
            if not lead.leave_out_refused or not _leave_out(data, exc, left_out):
                raise
    raise InvalidInput(left_out)


def _suspects_record(lead: LeadIn, contact_id: int, holders: _Holders) -> None:
    """The other contacts holding the lead's emails and phones: suspected duplicates of its
    contact (the review queue reads them, as it reads the event tracker's)."""
    rows: dict[tuple[int, int, str], dict[str, Any]] = {}
    found = [(SuspectedDuplicate.Reason.EMAIL, "email", e, c) for e, c in holders.emails.items()]
    found += [(SuspectedDuplicate.Reason.PHONE, "phone", p, c) for p, c in holders.phones.items()]
    for reason, key, value, other in found:
        if other != contact_id:
            a, b = sorted((contact_id, other))
            rows.setdefault((a, b, reason), {"lead_source": lead.source, key: value})
    if rows:
        SuspectedDuplicate.objects.bulk_create(
            [SuspectedDuplicate(contact_a_id=a, contact_b_id=b, reason=r, details=d) for (a, b, r), d in rows.items()],
            ignore_conflicts=True,
        )


def lead_upsert(*, actor: Actor, lead: LeadIn) -> LeadOut:
    left_out: dict[str, list[str]] = {}
    emails, phones = _identities(lead, left_out)
    holders = _Holders.of(lead, emails, phones)
    free = _Free.of(lead, emails, phones, holders)
    contact_id, matched_by = _match(lead, emails, phones, holders)
    unproven = None
    if (
        contact_id is not None
        and matched_by in ("email", "phone")
        and not lead.vouched
        and contact_id != lead.proof_contact_id
        and free
    ):
        unproven, contact_id = contact_id, None
    contact = Contact.objects.get(pk=contact_id) if contact_id is not None else None
    data = _create_data(lead, free) if contact is None else _update_data(contact, lead, free)
    written = _write(actor, lead, contact, data, left_out)
    _suspects_record(lead, written.pk, holders)
    return LeadOut(written, contact is None, left_out, unproven)
