"""The one writer of contacts in bulk: the rules of storing a contact, applied once.

Imports (``ingest.load``), the event worker (``services.bulk.ContactsBulk``) and the demo loader
decide *what* to write (validation, merging, policies stay theirs); :class:`ContactWriter` writes
it, with every rule of a contact write in one place:

- the name key (``keys.name_key``) follows the full name;
- the primary email and phone: the contact's ``email``/``phone`` columns hold the primary one; a
  contact without any gets the first one added;
- the search index: new contacts indexed by ``search.search_index_new``, contacts whose name,
  emails, phones or companies changed re-indexed by ``search.search_index``;
- the audit log: one row per created or changed contact, or one row for a whole batch (an
  import's batch: the import's own records, ``ImportCreated`` id ranges, say which contacts it created);
- the timeline: the entries a write brings (notes, history) and, for a change, a system entry
  naming the changed fields (sensitive fields only counted, as ``_timeline_change`` does);
- :meth:`ContactWriter.done` ends the write in one ``contacts_changed`` call.

Rows go in with ``core.bulk.Table`` (``executemany``, ids allocated up front), never per-row ORM.
The caller holds the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, models
from django.utils import timezone

from danhba.accounts import permissions as perms
from danhba.audit.models import AUDIT_COLUMNS, AuditEvent
from danhba.contacts.changes import contacts_changed
from danhba.contacts.keys import name_key
from danhba.contacts.models import (
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomField,
    ExternalId,
    LifecycleStage,
    SocialProfile,
    TimelineEntry,
    display_name,
)
from danhba.contacts.search import SearchDoc, search_index, search_index_rows, search_row
from danhba.core.actor import Actor
from danhba.core.audit import jsonable
from danhba.core.bulk import Table, allocate_ids, chunks, indexes_drop, indexes_ensure, json_adapter

NAMES = ("full_name", "family_name", "middle_name", "given_name")
TIMES = ("created_at", "updated_at", "last_activity_at")
TIMELINE_COLUMNS = ["contact_id", "kind", "channel", "subject", "body", "author_id", "occurred_at", "is_private",
                    "data", "created_at", "updated_at"]  # fmt: skip


@dataclass
class Entry:
    """A timeline entry a write brings (an imported note, the demo's history)."""

    kind: str
    author_id: int | None  # the writer does not guess it
    subject: str = ""
    body: str = ""
    channel: str = ""
    occurred_at: dt.datetime | None = None  # default: the write's time
    is_private: bool = False
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Identities:
    """Rows about a contact besides its own: what a new contact has, or what a change adds."""

    emails: list[tuple[str, str]] = field(default_factory=list)  # (address, label)
    phones: list[tuple[str, str, str, str]] = field(default_factory=list)  # (e164, raw, kind, label)
    external_ids: list[tuple[str, str]] = field(default_factory=list)  # (system, value)
    socials: list[tuple[str, str]] = field(default_factory=list)  # (network, handle)
    tag_ids: list[int] = field(default_factory=list)
    companies: list[tuple[int, str, str]] = field(default_factory=list)  # (company id, its name, job title)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class NewContact(Identities):
    """A contact to create: ``values`` are Contact columns by attname (the rest get their
    defaults; ``name_key``, ``email`` and ``phone`` are derived). The first email, phone and
    company are the primary ones. ``audit``: the changes of its own audit row (None: the batch's
    row covers it)."""

    values: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] | None = None
    folded_name: str | None = None  # fold(values["full_name"]), when the caller has it
    # Made ahead by the caller (an import's reading process) from values["full_name"] and the
    # identities above, with the rules' own functions: keys.name_key and search.search_texts.
    name_key: str | None = None
    search: tuple[str, str, str, str] | None = None
    # Its contacts-table row made ahead (``ContactRows.make`` of ``values``, which then may stay
    # empty), when the caller has it: the writer adds the id, the default stage and the times.
    row: list[Any] | None = None


class MadeContact(NamedTuple):
    """A new contact whose contacts-table row and search texts the caller made ahead
    (``ContactRows.make`` and ``search.search_texts``: an import's reading process), with its
    identities in the shapes of :class:`Identities` but for emails and phones, which come as
    an import reads them: addresses (labelled "personal") and (e164, raw, kind) (labelled by
    :func:`phone_label`): the common case of a bulk create, a tuple instead of a
    :class:`NewContact` (no object and no copy of the values per contact, no pair per
    identity). The writer adds the id, the default stage if none and the write's time, and
    applies every other rule as for a :class:`NewContact` (primary email, phone and company,
    search entry, audit, ``done``)."""

    row: list[Any]
    search: tuple[str, str, str, str]
    emails: list[str]
    phones: list[tuple[str, str, str]]
    external_ids: list[tuple[str, str]]
    socials: list[tuple[str, str]]
    tag_ids: list[int]
    companies: list[tuple[int, str, str]]
    entries: list[Entry]


@dataclass
class ContactChange(Identities):
    """A change of an existing contact: ``columns`` are the new values of changed Contact columns
    (attnames; ``name_key`` follows ``full_name``), the identities are additions, ``changes`` the
    audit diff ({field: [before, after]}, additions included) that names what changed."""

    contact_id: int = 0
    label: str = ""
    columns: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)


class ContactRows:
    """New contacts' rows of the contacts table, in column order: the model's defaults with a
    contact's own values over them and the columns those values give (name key, primary email
    and phone). Pure, no database: an import's reading process makes them with the same rule
    (``ingest.transform``), and :class:`ContactWriter` adds what only a write knows (the id, the
    default stage, the write's time)."""

    def __init__(self) -> None:
        concrete = [f for f in Contact._meta.concrete_fields if not f.primary_key]
        self.attnames = ["id", *(f.attname for f in concrete)]
        # The times are the write's (the writer sets them), not this object's birth.
        defaults = {f.attname: f.get_default() for f in concrete if f.attname not in TIMES}
        self.column = {a: i for i, a in enumerate(self.attnames)}
        # One list copy per contact, not a 45-key dict merged and read back.
        self.template: list[Any] = [defaults.get(a) for a in self.attnames]
        self._custom = self.column["custom"]
        self._full_name = self.column["full_name"]
        self._derived = (self.column["name_key"], self.column["email"], self.column["phone"])

    def make(self, values: Mapping[str, Any], *, key: str | None = None, folded: str | None = None, email: str = "",
             phone: str = "") -> list[Any]:  # fmt: skip
        """The row of a contact with these column values (attnames; others are ignored), its
        name key (``key``, or ``keys.name_key`` of its full name, ``folded`` when known) and
        its primary email and phone."""
        column = self.column
        row = self.template.copy()
        for name, value in values.items():
            at = column.get(name)
            if at is not None:
                row[at] = value
        if not row[self._custom]:
            row[self._custom] = {}
        at_key, at_email, at_phone = self._derived
        row[at_key] = key or name_key(row[self._full_name], folded=folded)
        row[at_email] = email
        row[at_phone] = phone
        return row


class ContactWriter:
    """Creates and changes contacts in bulk for one actor; :meth:`done` tells the listeners."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.user_id = actor.user.pk if actor.user else None
        self.rows = ContactRows()
        self.attnames = self.rows.attnames
        self.column = self.rows.column
        # Where ``_stamp`` writes: the id, the stage, the times.
        self.stamped = (self.column["id"], self.column["lifecycle_stage_id"], [(at, self.column[at]) for at in TIMES])
        self.contact_table = Table(Contact, self.attnames)
        self.tables = {
            "email": Table(ContactEmail, ["contact_id", "email", "label", "is_primary"]),
            "phone": Table(ContactPhone, ["contact_id", "e164", "raw", "kind", "label", "is_primary"]),
            "external": Table(ExternalId, ["contact_id", "system", "value"]),
            "social": Table(SocialProfile, ["contact_id", "network", "handle"]),
            "tag": Table(ContactTag, ["contact_id", "tag_id"]),
            "company": Table(ContactCompany, ["contact_id", "company_id", "is_primary", "job_title"]),
            "timeline": Table(TimelineEntry, TIMELINE_COLUMNS),
            "audit": Table(AuditEvent, AUDIT_COLUMNS),
        }
        self._sensitive: set[str] | None = None
        self._stage: int | None = None
        self.created: list[int] = []
        self.search_rows = 0  # index rows written for new contacts (the demo's summary counts them)
        self.updated: dict[int, list[str]] = {}

    # --- creating -------------------------------------------------------------------------------

    def create(self, contacts: Sequence[NewContact | MadeContact], *,
               batch_of: tuple[str, Any, str] | None = None) -> list[int]:  # fmt: skip
        """Create ``contacts``; returns their ids in order. ``batch_of`` = (object type, id,
        label): audit the whole batch as one row about that object (an import), instead of one
        row per contact."""
        if not contacts:
            return []
        ids = allocate_ids(Contact, len(contacts))
        now = timezone.now()
        rows: list[list[Any]] = []
        entries: list[tuple[int, str, str, str, str]] = []
        audits: list[tuple[Any, str, int | None, dict[str, Any]]] = []
        added = _Rows()
        add = added.add
        add_made = added.add_made
        full_name = self.column["full_name"]
        at_id, at_stage, times = self.stamped
        at_times = [at for _name, at in times]
        for cid, new in zip(ids, contacts, strict=True):
            if type(new) is MadeContact:
                # The common case: a row made ahead, no values given (``_stamp`` written out).
                row = new.row
                row[at_id] = cid
                if not row[at_stage]:
                    row[at_stage] = self.default_stage()
                for at in at_times:
                    row[at] = now
                rows.append(row)
                add_made(cid, new, now)
                entries.append((cid, *new.search))
                continue
            assert isinstance(new, NewContact)
            row = self._row(cid, new, now)
            rows.append(row)
            add(cid, new, has_email=False, has_phone=False, has_company=False, now=now)
            if new.search is not None:
                entries.append((cid, *new.search))
            else:
                doc = SearchDoc(cid, row[full_name], [e for e, _l in new.emails], [p[0] for p in new.phones],
                                [name for _c, name, _j in new.companies], new.folded_name)  # fmt: skip
                entries.append(search_row(doc))
            if new.audit is not None:
                audits.append((cid, display_name(row[full_name], cid), cid, jsonable(new.audit)))
        self.contact_table.insert(rows)
        self._insert(added)
        self.search_rows += search_index_rows(entries)
        if batch_of is not None:
            object_type, object_id, label = batch_of
            self.audit(
                AuditEvent.Action.UPDATE,
                object_type,
                [(object_id, label, None, {"contacts_created": [None, len(ids)]})],
            )
        self.audit(AuditEvent.Action.CREATE, "contact", audits)
        self.created.extend(ids)
        return ids

    def _row(self, cid: int, new: NewContact, now: dt.datetime) -> list[Any]:
        """The contacts table row of a new contact: its values over the defaults, and the derived
        columns (id, name key, default stage, primary email and phone, the write's time)."""
        given = new.values
        row = new.row
        if row is None:
            row = self.rows.make(given, key=new.name_key, folded=new.folded_name,
                                 email=new.emails[0][0] if new.emails else "",
                                 phone=new.phones[0][0] if new.phones else "")  # fmt: skip
        return self._stamp(row, cid, now, given)

    def _stamp(self, row: list[Any], cid: int, now: dt.datetime, given: Mapping[str, Any]) -> list[Any]:
        """What every new contact's row gets from the write: its id, the default stage if it has
        none, and the write's time (unless ``given``)."""
        at_id, at_stage, times = self.stamped
        row[at_id] = cid
        if not row[at_stage]:
            row[at_stage] = self.default_stage()
        if given:
            for name, at in times:
                row[at] = given.get(name) or now
        else:
            for _name, at in times:
                row[at] = now
        return row

    # --- changing ---------------------------------------------------------------------------------

    def update(self, changes: Sequence[ContactChange], *, entry_data: Mapping[str, Any] | None = None) -> None:
        """Apply ``changes``: column updates, added identities and entries, search keys, one audit
        row and one timeline entry (naming the changed fields, with ``entry_data``) per contact
        whose ``changes`` say something changed."""
        if not changes:
            return
        now = timezone.now()
        with_emails = self._having(ContactEmail, [c.contact_id for c in changes if c.emails])
        with_phones = self._having(ContactPhone, [c.contact_id for c in changes if c.phones])
        with_companies = self._having(ContactCompany, [c.contact_id for c in changes if c.companies])
        updates: dict[tuple[str, ...], list[list[Any]]] = {}
        added = _Rows()
        reindex: list[int] = []
        audits: list[tuple[Any, str, int | None, dict[str, Any]]] = []
        timeline: list[tuple[Any, ...]] = []
        for change in changes:
            cid = change.contact_id
            columns = _columns(change, has_email=cid in with_emails, has_phone=cid in with_phones)
            if columns or change.changes or _adds(change):  # a changed contact's updated_at is the write's
                key = tuple(sorted(columns))
                updates.setdefault(key, []).append([columns[c] for c in key] + [now, cid])
            added.add(cid, change, has_email=cid in with_emails, has_phone=cid in with_phones,
                      has_company=cid in with_companies, now=now)  # fmt: skip
            if _found_by_changes(change, columns):
                reindex.append(cid)
            if not change.changes:
                continue
            audits.append((cid, display_name(change.label, cid), cid, jsonable(change.changes)))
            timeline.append(self._change_entry(cid, change.changes, entry_data, now))
        self._update_columns(updates)
        self._insert(added)
        self.tables["timeline"].insert(timeline)
        self.audit(AuditEvent.Action.UPDATE, "contact", audits)
        if reindex:
            search_index(reindex)

    def record(self, *, contact_id: int, label: str, changes: dict[str, Any], created: bool) -> None:
        """A contact the single-contact service saved itself (under a row lock, replacing its
        lists): the rules that follow its rows — search keys, the audit row, the timeline's
        change entry — and its part of :meth:`done`."""
        search_index([contact_id])
        if not (created or changes):
            return
        action = AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE
        row = (contact_id, display_name(label, contact_id), contact_id, jsonable(changes))
        self.audit(action, "contact", [row])
        if created:
            self.created.append(contact_id)
            return
        self.tables["timeline"].insert([self._change_entry(contact_id, changes, None, timezone.now())])

    def _change_entry(self, cid: int, changes: Mapping[str, Any], entry_data: Mapping[str, Any] | None,
                      now: dt.datetime) -> tuple[Any, ...]:  # fmt: skip
        """The timeline's entry for a change: it names the fields (values stay in the audit log,
        which respects sensitive-field permissions); sensitive fields are only counted, the
        timeline is read by roles that may not even know such a field changed."""
        fields = [k for k in changes if k not in AUDIT_ONLY]
        shown = sorted(k for k in fields if k not in self.sensitive())
        data = {"fields": shown, "protected_fields": len(fields) - len(shown), **(entry_data or {}),
                "via": self.actor.via}  # fmt: skip
        self.updated[cid] = [*self.updated.get(cid, []), *fields]
        subject = ", ".join(shown)[:200]
        return (cid, TimelineEntry.Kind.SYSTEM, "", subject, "", self.user_id, now, False, data, now, now)

    def default_stage(self) -> int | None:
        """The lifecycle stage of a new contact that names none: the first active one."""
        if self._stage is None:
            self._stage = (
                LifecycleStage.objects.filter(is_active=True)
                .order_by("position", "key")
                .values_list("pk", flat=True)
                .first()
            )
        return self._stage

    def sensitive(self) -> set[str]:
        """Fields a change entry on the timeline only counts (it is read by roles that may not
        even know such a field changed)."""
        if self._sensitive is None:
            self._sensitive = set(perms.SENSITIVE_STANDARD_FIELDS) | {
                f"custom.{key}"
                for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
            }
        return self._sensitive

    # --- the end ----------------------------------------------------------------------------------

    def done(self, *, reasons: Mapping[int, Iterable[str]] | None = None) -> None:
        """One ``contacts_changed`` for everything this writer created and changed since the last
        call (plus ``reasons`` for these or other contacts)."""
        contacts_changed(created=self.created, updated=self.updated, reasons=reasons)
        self.created = []
        self.updated = {}

    # --- rows -------------------------------------------------------------------------------------

    def discard(self) -> None:
        """Forget what was written since :meth:`done`: its transaction rolled back."""
        self.created = []
        self.updated = {}

    def _insert(self, rows: _Rows) -> None:
        self.tables["email"].insert(rows.emails)
        self.tables["phone"].insert(rows.phones)
        self.tables["external"].insert(rows.externals)
        self.tables["social"].insert(rows.socials)
        self.tables["tag"].insert(rows.tags)
        self.tables["company"].insert(rows.companies)
        self.tables["timeline"].insert(rows.entries)

    def audit(self, action: str, object_type: str, rows: Iterable[tuple[Any, str, int | None, dict[str, Any]]]) -> None:
        """Audit rows of this writer's actor: ``rows`` holds (object id, label, contact id, changes)."""
        actor = self.actor
        now = timezone.now()
        self.tables["audit"].insert(
            (now, self.user_id, actor.label, actor.via, action, object_type, str(oid), label[:254], cid, changes,
             actor.ip, actor.user_agent)
            for oid, label, cid, changes in rows
        )  # fmt: skip

    @staticmethod
    def _having(model: type[models.Model], ids: list[int]) -> set[int]:
        """Which of these contacts have at least one row of ``model``."""
        found: set[int] = set()
        for chunk in chunks(sorted(set(ids))):
            found.update(model.objects.filter(contact_id__in=chunk).values_list("contact_id", flat=True))  # type: ignore[attr-defined]
        return found

    def _update_columns(self, updates: dict[tuple[str, ...], list[list[Any]]]) -> None:
        quote = connection.ops.quote_name
        table = quote(Contact._meta.db_table)
        for columns, params in updates.items():
            adapt = [_adapter(c) for c in (*columns, "updated_at")]
            for values in params:
                for i, fn in enumerate(adapt):
                    if fn is not None:
                        values[i] = fn(values[i])
            assignments = ", ".join(f"{quote(c)} = %s" for c in (*columns, "updated_at"))
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", params)  # noqa: S608


# The list indexes a new contact enters at one of a few places: keyed by when it was made or
# changed, by the purchase metrics a new contact has none of, or by an owner or a province first
# and one of those next, each with the ids (which grow) last. A load appends to them, at pages it
# holds in its cache; the others (by name) take each row at a random place (decision 0027).
LIST_INDEXES_IN_ORDER = frozenset({
    "contact_created_id", "contact_updated_id", "contact_activity_id", "contact_owner_created",
    "contact_owner_updated", "contact_owner_activity", "contact_province_spent", "contact_orders", "contact_aov",
    "contact_first_order", "contact_last_order",
})  # fmt: skip


def list_indexes_set_aside(*, appended: bool = True) -> list[str]:
    """Drop the contact list's indexes (``Contact.Meta.indexes``: sort orders of the list pages,
    none unique, none read by a write) for a big load: those by name, and those a load appends
    to (``LIST_INDEXES_IN_ORDER``) unless ``appended`` is false; :func:`list_indexes_restore`
    builds them again. Until then the list pages sort without them (slower, same rows). Returns
    the names dropped."""
    names = [i.name for i in Contact._meta.indexes if appended or i.name not in LIST_INDEXES_IN_ORDER]
    return indexes_drop(Contact, names)


def list_indexes_restore() -> list[str]:
    """Build whichever of the contact list's indexes is missing; returns their names."""
    return indexes_ensure(Contact)


def _columns(change: ContactChange, *, has_email: bool, has_phone: bool) -> dict[str, Any]:
    """The contact columns a change writes: its own, the name key following the full name, and
    the first added email (phone) as the primary one of a contact that has none."""
    columns = dict(change.columns)
    if "full_name" in columns:
        columns["name_key"] = name_key(columns["full_name"])
    if change.emails and not has_email:
        columns["email"] = change.emails[0][0]
    if change.phones and not has_phone:
        columns["phone"] = change.phones[0][0]
    return columns


def _found_by_changes(change: ContactChange, columns: dict[str, Any]) -> bool:
    """Whether what the contact is found by (name, emails, phones, companies) changes."""
    return bool(set(columns) & set(NAMES) or change.emails or change.phones or change.companies)


def _adds(change: Identities) -> bool:
    return bool(change.emails or change.phones or change.external_ids or change.socials or change.tag_ids
                or change.companies)  # fmt: skip


# Keys of an audit diff that are not fields of the contact (an import's id).
AUDIT_ONLY = {"import"}


class _Rows:
    """Identity and timeline rows of many contacts, collected for one insert per table."""

    def __init__(self) -> None:
        self.emails: list[tuple[Any, ...]] = []
        self.phones: list[tuple[Any, ...]] = []
        self.externals: list[tuple[Any, ...]] = []
        self.socials: list[tuple[Any, ...]] = []
        self.tags: list[tuple[Any, ...]] = []
        self.companies: list[tuple[Any, ...]] = []
        self.entries: list[tuple[Any, ...]] = []

    def add(self, cid: int, new: Identities, *, has_email: bool, has_phone: bool, has_company: bool,
            now: dt.datetime) -> None:  # fmt: skip
        # Plain loops behind emptiness checks: most contacts bring one email, one phone, a tag
        # (a generator per list cost more than the rows it made, measured per import row).
        primary = not has_email
        for address, label in new.emails:
            self.emails.append((cid, address, label, primary))
            primary = False
        primary = not has_phone
        for e164, raw, kind, label in new.phones:
            self.phones.append((cid, e164, raw, kind, label, primary))
            primary = False
        self._links(cid, new, primary_company=not has_company, now=now)

    def add_made(self, cid: int, new: MadeContact, now: dt.datetime) -> None:
        """``add`` of a new contact made ahead (nothing before it: the first of each is the
        primary one), its emails and phones labelled here."""
        emails = new.emails
        if emails:
            self.emails.append((cid, emails[0], "personal", True))
            for address in emails[1:]:
                self.emails.append((cid, address, "personal", False))
        primary = True
        for e164, raw, kind in new.phones:
            self.phones.append((cid, e164, raw, kind, phone_label(kind), primary))
            primary = False
        self._links(cid, new, primary_company=True, now=now)

    def _links(self, cid: int, new: Identities | MadeContact, *, primary_company: bool, now: dt.datetime) -> None:
        """``add``'s rows after the emails and phones: external ids, social profiles, tags,
        companies (the first one primary when ``primary_company``), timeline entries."""
        if new.external_ids:
            self.externals.extend((cid, s, v) for s, v in new.external_ids)
        if new.socials:
            self.socials.extend((cid, n, h) for n, h in new.socials)
        for t in new.tag_ids:
            self.tags.append((cid, t))
        primary = primary_company
        for co, _name, job in new.companies:
            self.companies.append((cid, co, primary, job))
            primary = False
        if new.entries:
            self._entries(cid, new.entries, now)

    def _entries(self, cid: int, entries: list[Entry], now: dt.datetime) -> None:
        for e in entries:
            at = e.occurred_at or now
            self.entries.append((cid, e.kind, e.channel, e.subject[:200], e.body, e.author_id, at, e.is_private, e.data,
                                 at, at))  # fmt: skip


def phone_label(kind: str) -> str:
    """The label of an imported phone: by its kind."""
    return "mobile" if kind == "mobile" else "home"


def _adapter(column: str) -> Callable[[Any], Any] | None:
    f = next(f for f in Contact._meta.concrete_fields if f.attname == column)
    if isinstance(f, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(f, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(f, models.JSONField):
        return json_adapter(f)
    return None
