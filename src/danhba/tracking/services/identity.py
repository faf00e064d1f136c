"""Identity resolution: who an event belongs to. userId is the external id of system "segment",
then traits.email, then traits.phone (normalised by ``core.normalize``); junk identifiers never
match; an anonymous device joins its contact on identify or alias, its events with it.
:class:`BatchResolver` decides for a batch of messages (a request, several requests, or one
message) in memory, in message order, and writes in a few statements."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from danhba.contacts.changes import ANY_EVENT, contacts_changed
from danhba.contacts.models import ContactEmail, ContactPhone, ExternalId
from danhba.contacts.models import Source as ContactSource
from danhba.contacts.services.bulk import ContactsBulk
from danhba.core.actor import Actor
from danhba.core.bulk import Table, chunks, select_in
from danhba.core.errors import InvalidInput
from danhba.core.normalize import (
    NormalizationError,
    clean_text,
    normalize_email,
    normalize_phone,
    parse_date,
    parse_gender,
    split_name,
)
from danhba.core.vn import province_key
from danhba.tracking.hooks import DEVICES_IDENTIFIED
from danhba.tracking.models import AnonymousIdentity, Event, Source, SuspectedDuplicate
from danhba.tracking.services.messages import Message

logger = logging.getLogger(__name__)

# Segment user ids live in one namespace per workspace, whatever source sends them: a user id from
# the website and from the backend is the same person. So one external-id system for all sources.
USER_ID_SYSTEM = "segment"

# Identifiers that broken integrations send for everyone; matching on them would merge strangers.
JUNK_IDS = frozenset(
    {
        "", "null", "nil", "none", "undefined", "anonymous", "anon", "unknown", "guest", "user",
        "0", "-1", "nan", "true", "false", "[object object]", "{}", "[]", "n/a", "na", "test",
        "00000000-0000-0000-0000-000000000000", "id", "userid", "user_id", "anonymousid",
    }
)  # fmt: skip
JUNK_EMAILS = frozenset(
    {
        "test@test.com", "test@example.com", "example@example.com", "email@example.com",
        "user@example.com", "a@a.com", "abc@abc.com", "no@email.com", "noemail@noemail.com",
        "none@none.com", "null@null.com", "test@gmail.com", "asd@asd.com", "admin@admin.com",
    }
)  # fmt: skip
# Phone numbers typed to get past a required field, as digits typed (before normalisation, which
# would turn some of them into plausible numbers); plus any run of one repeated digit.
JUNK_PHONE_DIGITS = frozenset({"0123456789", "1234567890", "123456789", "0987654321", "9876543210", "12345678"})
_JUNK_DIGITS = re.compile(r"^(\d)\1+$")


def is_junk_id(value: str) -> bool:
    return value.strip().lower() in JUNK_IDS


# PostgreSQL advisory lock namespace ("devi") of :func:`lock_devices`.
DEVICE_LOCKS = 0x64657669


def lock_devices(devices: Iterable[str]) -> None:
    """Serialise, per device id, joining a device to a contact and storing the device's
    unattached events, until the transaction ends (PostgreSQL; on SQLite a writing transaction
    already holds the only write lock). Without it, an anonymous event stored while the identify
    that links its device commits stays unattached: neither transaction sees the other's rows.
    With it, whichever comes second sees the first one's commit. Locks are taken in key order,
    so two batches cannot deadlock on them."""
    if connection.vendor != "postgresql":
        return
    keys = sorted({zlib.crc32(device.encode()) & 0x7FFFFFFF for device in devices})
    if not keys:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, k)) FROM (SELECT unnest(%s::int[]) AS k ORDER BY 1) AS keys",
            [DEVICE_LOCKS, keys],
        )


def device_identified(anonymous_id: str, contact_id: int) -> int:
    """A device joined a contact: what it did (its events, and what listens to
    ``DEVICES_IDENTIFIED``: its orders) moves to the contact."""
    DEVICES_IDENTIFIED({anonymous_id: contact_id})
    return move_anonymous_events({anonymous_id: contact_id})


def move_anonymous_events(moves: dict[str, int]) -> int:
    """Attach the unattached events of each device id to its contact, one UPDATE per 500 ids.
    Raw SQL: SQLite must be told to use the partial index on unattached events' device ids;
    left alone it walks every unattached event through the (contact, timestamp) index."""
    table = connection.ops.quote_name(Event._meta.db_table)
    hint = " INDEXED BY event_anon_unassigned" if connection.vendor == "sqlite" else ""
    moved = 0
    with connection.cursor() as cursor:
        for chunk in chunks(list(moves), 500):
            cases = " ".join(["WHEN %s THEN %s"] * len(chunk))
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {table}{hint} SET contact_id = CASE anonymous_id {cases} END "  # noqa: S608
                f"WHERE anonymous_id IN ({marks}) AND contact_id IS NULL",
                [*(v for d in chunk for v in (d, moves[d])), *chunk],
            )
            moved += cursor.rowcount
    if moved:
        # Which events moved is not known here: segments on any event re-read these contacts.
        contacts_changed(reasons=dict.fromkeys(set(moves.values()), (ANY_EVENT,)))
    return moved


# --- identity resolution --------------------------------------------------------------------


@dataclass
class Identity:
    user_id: str = ""
    email: str = ""
    phone: str = ""
    phone_raw: str = ""
    anonymous_id: str = ""
    previous_id: str = ""
    traits: dict[str, Any] = field(default_factory=dict)

    @property
    def identified(self) -> bool:
        return bool(self.user_id or self.email or self.phone)


def message_identity(message: Message) -> Identity:
    """Who a message names: its ids and the traits that identify, junk left out."""
    # Segment lets any call carry the user's traits in context.traits; group traits
    # describe the company, never the person.
    traits = message.traits if message.type == Event.Type.IDENTIFY else message.context.get("traits") or {}
    identity = Identity(
        user_id=_real_id(message.user_id),
        anonymous_id=_real_id(message.anonymous_id),
        previous_id=_real_id(message.previous_id),
        traits=traits,
    )
    if traits:  # most events (track, page) carry none: the event worker's common case
        identity.email = _identifying_email(traits.get("email"))
        identity.phone, identity.phone_raw = _identifying_phone(traits.get("phone"))
    return identity


def _real_id(value: str) -> str:
    return value if value and not is_junk_id(value) else ""


def _identifying_email(value: Any) -> str:
    """The trait's email normalised, unless it is unreadable or one typed by everyone."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        email = normalize_email(value)
    except NormalizationError:
        return ""
    return email if email not in JUNK_EMAILS and not is_junk_id(email.split("@")[0]) else ""


def _identifying_phone(value: Any) -> tuple[str, str]:
    """The trait's phone in E.164 and as sent, unless it is unreadable or typed to get past a
    form (judged on the digits typed)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        return "", ""
    try:
        e164 = normalize_phone(str(value)).e164
    except NormalizationError:
        return "", ""
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    if not e164 or _JUNK_DIGITS.match(digits) or digits in JUNK_PHONE_DIGITS:
        return "", ""
    return e164, clean_text(value)[:40]


class _New:
    """A contact the batch creates: what ``ContactsBulk.draft`` made of its first message, and
    its id once written."""

    __slots__ = ("draft", "has_user", "pk")

    def __init__(self, draft: Any, has_user: bool) -> None:
        self.draft = draft
        self.pk: int | None = None
        self.has_user = has_user


Ref = int | _New


def _pk(ref: Ref | None) -> int | None:
    return ref.pk if isinstance(ref, _New) else ref


class _Found(NamedTuple):
    """The contacts a message's identifiers point at, before it is resolved."""

    user: Ref | None
    email: Ref | None
    phone: Ref | None
    anonymous: Ref | None
    previous: Ref | None  # an alias's previous id, as a user id or else a device id
    # The device's contact is known by a user id and the message names one: another person may
    # use the device (a shared computer), so the device is no clue to who this one is.
    other_person: bool

    def contact(self) -> Ref | None:
        """The contact they name: by user id, email or phone, else by an alias's previous id,
        else the device's."""
        contact = self.user or self.email or self.phone
        if contact is None:
            contact = self.previous
        if contact is None and not self.other_person:
            contact = self.anonymous
        return contact


class BatchResolver:
    """Identity decisions for a batch of messages, taken in memory in message order and then
    written with a few multi-row statements, with the outcome of the same messages resolved one
    at a time (``tests/test_batch_resolver.py``). Identities are looked up with one ``IN`` query
    per kind (user ids, emails, phones, device ids); new contacts are created and extended
    through ``contacts.services.ContactsBulk`` (validation, search keys, audit, timeline and
    webhooks as one at a time); device links, moved events and suspected duplicates go in at
    once. Anything unexpected while writing (an identifier a concurrent writer just took)
    raises; the caller then resolves the messages again, one batch of one at a time."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.actor = Actor.system("api")
        self.bulk = ContactsBulk(self.actor)
        self.users: dict[str, Ref | None] = {}
        self.emails: dict[str, Ref | None] = {}
        self.phones: dict[str, Ref | None] = {}
        self.links: dict[str, Ref] = {}  # device id → contact (AnonymousIdentity)
        self.with_user: set[int] = set()  # existing contacts that have a user id
        self.new: list[_New] = []
        self.additions: dict[Ref, dict[str, list[Any]]] = {}
        self.new_links: list[tuple[str, Ref]] = []
        self.suspects: list[tuple[Ref, Ref, str, dict[str, Any]]] = []

    def resolve_all(self, messages: list[Message]) -> dict[str, int]:
        """Set ``contact_id`` on each message; returns the device → contact links afterwards."""
        pairs = [(m, message_identity(m)) for m in messages]
        self._prefetch([identity for _, identity in pairs])
        refs: list[Ref | None] = []
        for message, identity in pairs:
            if message.known_contact is not None:
                refs.append(message.known_contact)
            elif not identity.identified and message.type != Event.Type.ALIAS:
                refs.append(self.links.get(identity.anonymous_id) if identity.anonymous_id else None)
            else:
                refs.append(self._resolve_identified(identity, message))
        self._write()
        for message, ref in zip(messages, refs, strict=True):
            message.contact_id = _pk(ref)
        return {device: pk for device, ref in self.links.items() if (pk := _pk(ref)) is not None}

    def _prefetch(self, identities: list[Identity]) -> None:
        users = {i.user_id for i in identities if i.user_id} | {i.previous_id for i in identities if i.previous_id}
        emails = {i.email for i in identities if i.email}
        phones = {i.phone for i in identities if i.phone}
        devices = {i.anonymous_id for i in identities if i.anonymous_id} | {
            i.previous_id for i in identities if i.previous_id
        }
        self.users.update(dict.fromkeys(users))
        self.emails.update(dict.fromkeys(emails))
        self.phones.update(dict.fromkeys(phones))
        # Raw IN queries (core.bulk.select_in): the ORM spent more building them than SQLite
        # answering them (thousands of values per batch).
        segment = {"system": USER_ID_SYSTEM}
        self.users.update(select_in(ExternalId, ("value", "contact_id"), "value", users, where=segment))
        self.emails.update(select_in(ContactEmail, ("email", "contact_id"), "email", emails))
        by_phone: list[tuple[Any, ...]] = list(select_in(ContactPhone, ("e164", "contact_id"), "e164", phones))
        by_phone.sort(key=lambda row: -row[1])  # the lowest contact id last: it wins
        self.phones.update(by_phone)
        self.links.update(select_in(AnonymousIdentity, ("anonymous_id", "contact_id"), "anonymous_id", devices))
        known = {c for c in (*self.emails.values(), *self.phones.values(), *self.links.values()) if isinstance(c, int)}
        self.with_user.update(c for c in self.users.values() if isinstance(c, int))
        others = sorted(known - self.with_user)
        self.with_user.update(
            cid for (cid,) in select_in(ExternalId, ("contact_id",), "contact_id", others, where=segment)
        )

    def _has_user(self, ref: Ref) -> bool:
        return ref.has_user if isinstance(ref, _New) else ref in self.with_user

    def _resolve_identified(self, identity: Identity, message: Message) -> Ref | None:
        found = self._found(identity)
        contact = found.contact()
        if contact is None:
            contact = self._create(identity)
            if contact is None:
                return self.links.get(identity.anonymous_id) if identity.anonymous_id else None
        else:
            self._attach(contact, identity, found.user, found.email, found.phone)
        self._suspect_duplicates(contact, found, identity, message)
        if identity.user_id:
            self.users[identity.user_id] = self.users.get(identity.user_id) or contact
        if identity.anonymous_id and found.anonymous is None:
            self._link(identity.anonymous_id, contact)
        if identity.previous_id and found.previous is None:
            self._link(identity.previous_id, contact)
        return contact

    def _found(self, identity: Identity) -> _Found:
        anonymous = self.links.get(identity.anonymous_id) if identity.anonymous_id else None
        return _Found(
            self.users.get(identity.user_id) if identity.user_id else None,
            self.emails.get(identity.email) if identity.email else None,
            self.phones.get(identity.phone) if identity.phone else None,
            anonymous,
            (self.users.get(identity.previous_id) or self.links.get(identity.previous_id))
            if identity.previous_id
            else None,
            anonymous is not None and bool(identity.user_id) and self._has_user(anonymous),
        )

    def _suspect_duplicates(self, contact: Ref, found: _Found, identity: Identity, message: Message) -> None:
        """Identifiers of the message that point at another contact than the one it resolved to:
        perhaps one person twice (``SuspectedDuplicate``, the quality app's review)."""
        details = {"message_id": message.message_id, "source": self.source.pk}
        if found.email and found.email != contact:
            self.suspects.append(
                (contact, found.email, SuspectedDuplicate.Reason.EMAIL, {**details, "email": identity.email})
            )
        if found.phone and found.phone not in (contact, found.email):
            self.suspects.append(
                (contact, found.phone, SuspectedDuplicate.Reason.PHONE, {**details, "phone": identity.phone})
            )
        if found.previous and found.previous != contact:
            self.suspects.append(
                (contact, found.previous, SuspectedDuplicate.Reason.ALIAS,
                 {**details, "previous_id": identity.previous_id})
            )  # fmt: skip
        if found.anonymous and found.anonymous != contact and not found.other_person:
            self.suspects.append(
                (contact, found.anonymous, SuspectedDuplicate.Reason.ANONYMOUS_ID,
                 {**details, "anonymous_id": identity.anonymous_id})
            )  # fmt: skip

    def _create(self, identity: Identity) -> _New | None:
        data = new_contact_data(identity, self.source)
        try:
            draft = self.bulk.draft(data)
        except InvalidInput:
            data = without_names(data)
            try:
                draft = self.bulk.draft(data)
            except InvalidInput:
                return None  # the message stays unattached rather than lost
        new = _New(draft, has_user=bool(identity.user_id))
        self.new.append(new)
        if identity.email:
            self.emails[identity.email] = new
        if identity.phone:
            self.phones[identity.phone] = new
        return new

    def _attach(
        self, contact: Ref, identity: Identity, by_user: Ref | None, by_email: Ref | None, by_phone: Ref | None
    ) -> None:
        add_user = bool(identity.user_id) and by_user is None
        add_email = bool(identity.email) and by_email is None
        add_phone = bool(identity.phone) and by_phone is None
        phone = identity.phone_raw or identity.phone
        if not (add_user or add_email or add_phone):
            return
        # A contact created earlier in the batch is extended after it is written, as a later
        # request would extend it: its name stays what its first message made of it.
        additions = self.additions.setdefault(contact, {"emails": [], "phones": [], "external_ids": []})
        if add_user:
            additions["external_ids"].append((USER_ID_SYSTEM, identity.user_id))
            if isinstance(contact, _New):
                contact.has_user = True
            else:
                self.with_user.add(contact)
        if add_email:
            additions["emails"].append(identity.email)
        if add_phone:
            additions["phones"].append(phone)
        if add_email:
            self.emails[identity.email] = contact
        if add_phone:
            self.phones[identity.phone] = contact

    def _link(self, device: str, contact: Ref) -> None:
        self.links[device] = contact
        self.new_links.append((device, contact))

    def _write(self) -> None:
        ids = self.bulk.create([n.draft for n in self.new])
        for new, new_id in zip(self.new, ids, strict=True):
            new.pk = new_id
        self.bulk.add_identifiers({pk: add for ref, add in self.additions.items() if (pk := _pk(ref)) is not None})
        moves: dict[str, int] = {}
        for device, ref in self.new_links:
            pk = _pk(ref)
            assert pk is not None
            moves[device] = pk
        if moves and connection.vendor == "postgresql":
            lock_devices(moves)
            # A device another drainer linked since our look-up (it held the lock until its
            # commit): its first link stays, as it would had that drainer stored first. (SQLite:
            # one writer, nothing changed since the look-up.)
            for device, contact_id in select_in(
                AnonymousIdentity, ("anonymous_id", "contact_id"), "anonymous_id", moves
            ):
                del moves[device]
                self.links[device] = contact_id
        if moves:
            now = timezone.now()
            Table(AnonymousIdentity, ("anonymous_id", "contact_id", "source_id", "created_at")).insert(
                [(d, c, self.source.pk, now) for d, c in moves.items()]
            )
            DEVICES_IDENTIFIED(moves)
            move_anonymous_events(moves)
        rows: dict[tuple[int, int, str], dict[str, Any]] = {}
        for one, other, reason, details in self.suspects:
            a, b = sorted((_pk(one) or 0, _pk(other) or 0))
            rows.setdefault((a, b, reason), details)
        SuspectedDuplicate.objects.bulk_create(
            [SuspectedDuplicate(contact_a_id=a, contact_b_id=b, reason=r, details=d) for (a, b, r), d in rows.items()],
            ignore_conflicts=True,
        )


def new_contact_data(identity: Identity, source: Source) -> dict[str, Any]:
    """``contact_create`` data for the person an identified message names for the first time."""
    traits = identity.traits
    data: dict[str, Any] = {
        "source": ContactSource.WEB_ANALYTICS if source.kind == Source.Kind.WEBSITE else ContactSource.API
    }
    name = traits.get("name")
    first, last = (
        traits.get("firstName") or traits.get("first_name"),
        traits.get("lastName") or traits.get("last_name"),
    )
    if isinstance(name, str) and name.strip():
        full = clean_text(name)[:200]
        # A name whose parts do not fit the contact's name fields (a run of 100 letters) is no
        # one's name: the trait stays in the event rather than failing the contact's creation.
        parts = split_name(full)
        if len(parts.family) <= 80 and len(parts.given) <= 80 and len(parts.middle) <= 120:
            data["full_name"] = full
    elif isinstance(first, str) or isinstance(last, str):
        data["given_name"] = clean_text(first if isinstance(first, str) else "")[:80]
        data["family_name"] = clean_text(last if isinstance(last, str) else "")[:80]
    if identity.email:
        data["emails"] = [{"email": identity.email, "is_primary": True}]
    if identity.phone:
        data["phones"] = [{"phone": identity.phone_raw or identity.phone, "is_primary": True}]
    if identity.user_id:
        data["external_ids"] = [{"system": USER_ID_SYSTEM, "value": identity.user_id}]
    # Known only by the sender's user id, the contact has no name: it shows as "Anonymous #id".
    data.update(contact_fields_from_traits(traits))
    return data


def without_names(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the names the contact model refused (the second try of a creation)."""
    return {k: v for k, v in data.items() if k not in ("full_name", "given_name", "family_name")}


def contact_fields_from_traits(traits: dict[str, Any]) -> dict[str, Any]:
    """Contact fields from Segment's reserved identify traits beyond name, email and phone:
    birthday, gender, title, address (street, city or state as the province, country). Each is
    taken only if it normalises; a trait danhba cannot read is left in the event, never a reason
    to lose the contact."""
    fields = {
        "birthday": _birthday(traits.get("birthday")),
        "gender": _gender(traits.get("gender")),
        "job_title": _clean_text(traits.get("title"), 120),
    }
    address = traits.get("address")
    if isinstance(address, dict):
        fields.update(_address_fields(address))
    return {key: value for key, value in fields.items() if value}


def _birthday(value: Any) -> str:
    """An ISO date from 1900 to today, else ""."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        day = parse_date(value.strip()[:10])
    except NormalizationError:
        return ""
    return day.isoformat() if day.year >= 1900 and day <= timezone.localdate() else ""


def _gender(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        return parse_gender(value)
    except NormalizationError:
        return ""


def _clean_text(value: Any, limit: int) -> str:
    return clean_text(value)[:limit] if isinstance(value, str) else ""


def _address_fields(address: dict[str, Any]) -> dict[str, str]:
    """street, the province (from the city, else the state) and a two-letter country code."""
    provinces = (province_key(v) for v in (address.get("city"), address.get("state")) if isinstance(v, str))
    country = address.get("country")
    country = country.strip() if isinstance(country, str) else ""
    return {
        "street": _clean_text(address.get("street"), 255),
        "province": next((p for p in provinces if p), ""),
        "country": country.upper() if len(country) == 2 and country.isalpha() else "",
    }
