"""Load: upsert a batch of prepared rows into contacts, in one transaction with the import's
cursor, so a batch is either wholly committed (and the job resumes after it) or not at all.

Per batch: find the contacts the rows' identity keys already belong to (external id, email,
phone, in the import's order) with a few ``IN`` queries; merge rows that are the same person
(in the file or in the database); then write with multi-row statements — new contacts get ids
allocated up front so their emails, phones, tags, search keys, consent records and undo records
go in as flat ``executemany`` inserts, not one ORM round trip per object. That is what lets a
million-row file load in about a minute.

Rows were validated before they got here (``transform``), so a batch only fails on a database
error nobody could foresee (a concurrent writer took an email); it is then retried row by row,
each in its own savepoint, and the row that still fails is rejected with the reason.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.accounts import permissions as perms
from danhba.contacts.changes import EVERYTHING
from danhba.contacts.keys import company_key, tag_key
from danhba.contacts.models import (
    Company,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomField,
    ExternalId,
    SocialProfile,
    Tag,
)
from danhba.contacts.writer import ContactChange, ContactWriter, Entry, MadeContact, NewContact, phone_label
from danhba.core.actor import Actor
from danhba.core.audit import jsonable
from danhba.core.bulk import Table, allocate_ids, chunks, json_adapter, select_in
from danhba.core.deferred import writes_at_end
from danhba.ingest.models import (
    Import,
    ImportChange,
    ImportCreated,
    ImportIssue,
    Mode,
    UpdatePolicy,
    id_ranges,
    import_proof,
)
from danhba.ingest.reasons import Reason, reason
from danhba.ingest.transform import Issue, Prepared, Rejected
from danhba.privacy.models import ConsentPurpose, ConsentRecord, ConsentSource, ConsentState

# Contact columns an import may set; the rest are derived (name_key, email, phone) or fixed.
SCALARS = (
    "full_name", "family_name", "middle_name", "given_name", "street", "ward", "province", "address_raw",
    "country", "birthday", "gender", "occupation", "job_title", "education", "income_band", "family",
    "lifestyle", "hobbies", "preferences", "motivations", "likes", "dislikes", "lifecycle_stage_id",
    "buyer_role_id", "owner_id",
)  # fmt: skip
NAMES = ("full_name", "family_name", "middle_name", "given_name")
KINDS = ("external_id", "email", "phone")  # the identity keys, in the order a row's are taken
CACHE_MAX = 100_000  # tag and company ids remembered across batches


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


# --- the batch ------------------------------------------------------------------------------


@dataclass
class Target:
    """A contact rows are merged into: an existing one (``contact_id``) or one to create."""

    contact_id: int | None
    rows: list[Prepared] = field(default_factory=list)
    touched_before: bool = False  # this import already created or changed it (earlier batch)
    created_here: bool = False  # this import created it (earlier batch): undo deletes it, no record


@dataclass
class Outcome:
    counts: Counter[str] = field(default_factory=Counter)
    issues: list[tuple[int, str, str, str, Reason, dict[str, str] | None]] = field(default_factory=list)
    last_line: int = 0


class Loader:
    """Loads batches for one import. Caches tags and companies across batches."""

    def __init__(self, run: Import, actor: Actor, *, default_stage: int | None = None,
                 default_owner: int | None = None, add_tags: list[str] | None = None,
                 name_order: str = "vi", add_to_list: int | None = None) -> None:  # fmt: skip
        self.run = run
        self.actor = actor
        self.overwrite = run.update_policy == UpdatePolicy.OVERWRITE
        self.mode = run.mode
        self.match_keys = list(run.match_keys or ["external_id", "email", "phone"])
        self.default_stage = default_stage  # None: the writer's (the first active stage)
        user = actor.user
        self.default_owner = default_owner
        if default_owner is None and user is not None and user.role.record_scope != perms.SCOPE_ALL:
            self.default_owner = user.pk  # like a form: a sales rep owns what they add, or loses sight of it
        self.add_tags = add_tags or []
        self.add_to_list = add_to_list
        self.purposes = list(run.consent_purposes.values_list("pk", flat=True)) if run.pk else []
        self.proof = import_proof(run)
        self.tag_ids: dict[str, int] = {}
        self.company_ids: dict[str, int] = {}
        self.keys: dict[str, str] = {}  # tag and company names → their keys
        self.writer = ContactWriter(actor)
        self.at = _Columns(self.writer.column)
        company_fields = [f for f in Company._meta.concrete_fields if not f.primary_key]
        self.company_attnames = ["id", *(f.attname for f in company_fields)]
        self.company_table = Table(Company, self.company_attnames)
        self.company_defaults = {f.attname: f.get_default() for f in company_fields}
        self.tables = {
            "consent": Table(ConsentRecord, ["id", "contact_id", "purpose_id", "status", "recorded_at", "source",
                                             "proof", "text_version", "ip_address", "recorded_by_id"]),
            "consent_state": Table(ConsentState, ["contact_id", "purpose_id", "status", "since", "record_id"]),
            "change": Table(ImportChange, ["run_id", "contact_id", "action", "before", "after", "added"]),
            "issue": Table(ImportIssue, ["run_id", "line", "severity", "column", "value", "reason", "message", "row"]),
        }  # fmt: skip
        self.sensitive = {*perms.SENSITIVE_STANDARD_FIELDS, "owner_id", "lifecycle_stage_id", "buyer_role_id"} | {
            f"custom.{key}"
            for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
        }
        self.name_order = name_order
        self.source = run.source
        self.user_id = actor.user.pk if actor.user else None
        self.note_subject = ""  # ``_apply`` translates it for its batch

    # --- entry point ---------------------------------------------------------------------------

    def load(self, items: list[Prepared | Rejected | None], last_line: int) -> Outcome:
        """Apply a batch. The caller holds the transaction and commits it with the cursor."""
        outcome = Outcome(last_line=last_line)
        prepared: list[Prepared] = []
        for item in items:
            if item is None:
                outcome.counts["skipped"] += 1
            elif isinstance(item, Rejected):
                self._reject(outcome, item.line, item.raw, item.errors)
            else:
                prepared.append(item)
        applied = Outcome()
        if self.run.dry_run:
            # A dry run validates and resolves identities; it writes nothing but its report.
            self._apply(prepared, applied, write=False)
        else:
            try:
                with transaction.atomic(), writes_at_end():
                    self._apply(prepared, applied, write=True)
            except DatabaseError:
                self._forget()
                applied = self._row_by_row(prepared)
        outcome.counts.update(applied.counts)
        outcome.issues.extend(applied.issues)
        self._write_issues(outcome)
        return outcome

    def _row_by_row(self, prepared: list[Prepared]) -> Outcome:
        """After a batch failed in the database: each row alone, in its own savepoint."""
        keep = Outcome()
        for row in prepared:
            single = Outcome()
            try:
                with transaction.atomic(), writes_at_end():
                    self._apply([row], single, write=True)
            except DatabaseError as exc:
                self._forget()
                refused = reason(gettext_noop("the database refused the row: %(e)s"), e=str(exc))
                self._reject(keep, row.line, row.cells(), [Issue("", "", refused)])
                continue
            keep.counts.update(single.counts)
            keep.issues.extend(single.issues)
        return keep

    def _forget(self) -> None:
        """After a rolled-back batch: nothing it wrote exists, so nothing of it is remembered."""
        self.tag_ids.clear()
        self.company_ids.clear()
        self.writer.discard()

    def _reject(self, outcome: Outcome, line: int, raw: dict[str, str], errors: list[Issue]) -> None:
        outcome.counts["rejected"] += 1
        for i, issue in enumerate(errors):
            outcome.issues.append(
                (line, ImportIssue.Severity.ERROR, issue.column, issue.value, issue.reason, raw if i == 0 else None)
            )

    def _write_issues(self, outcome: Outcome) -> None:
        # The reason is kept untranslated (``message``) and in English (``reason``, for readers
        # that predate ``message``): the report is shown later, in each reader's language.
        self.tables["issue"].insert(
            (self.run.pk, line, sev, col[:255], str(val)[:2000], why.untranslated(), why.to_json(), raw)
            for line, sev, col, val, why, raw in outcome.issues
        )

    # --- identity resolution ---------------------------------------------------------------------

    @staticmethod
    def _keys(row: Prepared) -> tuple[list[Any], list[str], list[str]]:
        """The row's identity keys by kind, in ``KINDS`` order: (system, value) pairs, emails,
        phones (e164). The first two are the row's own lists (read, not changed, while resolving)."""
        phones = row.phones
        return row.external_ids, row.emails, [p[0] for p in phones] if phones else []

    def _owners(self, rows: list[Prepared]) -> tuple[dict[Any, int], ...]:
        """Which existing contact each identity key of the batch belongs to, by kind (``KINDS``)."""
        by_external: dict[Any, int] = {}
        by_email: dict[Any, int] = {}
        by_phone: dict[Any, int] = {}
        externals = {(s, v) for r in rows for s, v in r.external_ids}
        emails = list({e for r in rows for e in r.emails})
        phones = list({p[0] for r in rows for p in r.phones})
        values = list({v for _s, v in externals})
        for system, value, cid in select_in(ExternalId, ["system", "value", "contact_id"], "value", values):
            if (system, value) in externals:
                by_external[(system, value)] = cid
        for email, cid in select_in(ContactEmail, ["email", "contact_id"], "email", emails):
            by_email[email] = cid
        # A phone several contacts share belongs to the oldest of them.
        for e164, cid in select_in(ContactPhone, ["e164", "contact_id"], "e164", phones, order_by="contact_id"):
            by_phone.setdefault(e164, cid)
        return by_external, by_email, by_phone

    def _resolve(self, rows: list[Prepared], outcome: Outcome) -> list[Target]:
        owners = self._owners(rows)
        known = {cid for found in owners for cid in found.values()}
        created_here = self._created_here(known)
        hidden = self._hidden(known)
        # The target each key belongs to so far, by kind (``KINDS``): no key tuple per identity.
        key_target = _key_targets(owners, self._touched(known, created_here), created_here)
        order = [KINDS.index(kind) for kind in self.match_keys if kind in KINDS]
        guarded = (True, True, "phone" in self.match_keys)
        targets: list[Target] = []
        for row in rows:
            keys = self._keys(row)
            target = self._target_for(row, _first_target(keys, order, key_target), hidden, outcome, targets)
            if target is not None:
                self._claim(row, keys, target, key_target, guarded, hidden)
                target.rows.append(row)
        return targets

    def _target_for(
        self, row: Prepared, target: Target | None, hidden: set[int], outcome: Outcome, targets: list[Target]
    ) -> Target | None:
        """The row's target (``target``: the one its keys found), added to ``targets`` when it
        is new to this batch; None when the row is skipped or rejected."""
        if target is None:
            if self.mode == Mode.UPDATE_ONLY:
                outcome.counts["skipped"] += 1
                return None
            target = Target(None)
            targets.append(target)
        elif target.contact_id in hidden:
            # Someone else's contact the importer may not see: neither change nor reveal it.
            outside = reason(gettext_noop("matches a contact outside your records"))
            self._reject(outcome, row.line, row.cells(), [Issue("", "", outside)])
            return None
        elif target.contact_id is not None and not target.rows:
            # The first row of this batch for a contact that already exists.
            if self.mode == Mode.CREATE_ONLY and not target.touched_before:
                outcome.counts["skipped"] += 1
                return None
            targets.append(target)
        return target

    def _claim(
        self,
        row: Prepared,
        keys: tuple[list[Any], list[str], list[str]],
        target: Target,
        key_target: tuple[dict[Any, Target], ...],
        guarded: tuple[bool, ...],
        hidden: set[int],
    ) -> None:
        """The row's keys now lead to ``target``; identities that already belong to someone
        else stay where they are (taken away after the keys are read: two of the key lists are
        the row's own)."""
        taken: list[tuple[tuple[str, ...], Target]] = []
        for kind, into in enumerate(key_target):
            for key in keys[kind]:
                owner = into.get(key)
                if owner is None:
                    into[key] = target
                elif owner is not target and guarded[kind]:
                    taken.append((_key_tuple(kind, key), owner))
        for key, owner in taken:
            self._drop_identity(row, key, owner, owner.contact_id in hidden)

    def _touched(self, known: set[int], created_here: set[int]) -> set[int]:
        """Which of these existing contacts this import created or changed (in an earlier batch)."""
        touched = set(created_here)
        for chunk in chunks(list(known - created_here)):
            touched.update(
                ImportChange.objects.filter(run=self.run, contact_id__in=chunk).values_list("contact_id", flat=True)
            )
        return touched

    def _hidden(self, known: set[int]) -> set[int]:
        """Which of these existing contacts the importer may not see."""
        user = self.actor.user
        if user is None or user.role.record_scope == perms.SCOPE_ALL or not known:
            return set()
        visible: set[int] = set()
        for chunk in chunks(list(known)):
            visible.update(Contact.objects.visible_to(user).filter(pk__in=chunk).values_list("pk", flat=True))
        return known - visible

    def _created_here(self, known: set[int]) -> set[int]:
        """Which of these existing contacts this import created (in an earlier batch)."""
        if not known:
            return set()
        ranges = list(ImportCreated.objects.filter(run=self.run).values_list("first_id", "last_id"))
        if not ranges:
            return set()
        ranges.sort()
        firsts = [first for first, _last in ranges]
        found = set()
        for cid in known:
            at = bisect.bisect_right(firsts, cid) - 1
            if at >= 0 and cid <= ranges[at][1]:
                found.add(cid)
        return found

    @staticmethod
    def _drop_identity(row: Prepared, key: tuple[str, ...], owner: Target, hidden: bool) -> None:
        if owner.contact_id is None:
            who = reason(gettext_noop("another row of this file"))
        elif hidden:
            who = reason(gettext_noop("another contact"))
        else:
            who = reason(gettext_noop("contact #%(id)s"), id=str(owner.contact_id))
        if key[0] == "e":
            row.emails.remove(key[1])
            taken = reason(gettext_noop("email already belongs to %(who)s; not added"), who=who)
        elif key[0] == "p":
            row.phones = [p for p in row.phones if p[0] != key[1]]
            taken = reason(gettext_noop("phone already belongs to %(who)s; not added"), who=who)
        else:
            row.external_ids.remove((key[1], key[2]))
            taken = reason(gettext_noop("external id already belongs to %(who)s; not added"), who=who)
        row.warnings.append(Issue("", key[-1], taken))
        row.restore_fields()
        row.search = row.row = None  # made by the reader with the identity just taken away

    # --- merging rows into a target -----------------------------------------------------------------

    def _merge_scalars(self, state: dict[str, Any], row: Prepared, changes: dict[str, Any], creating: bool) -> None:
        fields = row.fields
        if creating and not state:
            _first_row(state, row)  # most contacts: one row, nothing to compare with
            return
        overwrite = self.overwrite or creating
        # A name is one value: its parts change together, never mixed from two sources.
        if "full_name" in fields and (
            (overwrite and fields["full_name"] != state.get("full_name")) or not state.get("full_name")
        ):
            for key in NAMES:
                if state.get(key, "") != fields.get(key, ""):
                    changes.setdefault(key, state.get(key, ""))
                    state[key] = fields.get(key, "")
        for key, value in fields.items():
            if key in NAMES:
                continue
            current = state.get(key)
            if current == value or (not overwrite and not _empty(current)):
                continue
            changes.setdefault(key, current)
            state[key] = value
        if row.custom:
            custom = state.setdefault("custom", {})
            for key, value in row.custom.items():
                current = custom.get(key)
                if current == value or (not overwrite and not _empty(current)):
                    continue
                changes.setdefault(f"custom.{key}", current)
                custom[key] = value

    # --- the writes ---------------------------------------------------------------------------------

    def _apply(self, rows: list[Prepared], outcome: Outcome, *, write: bool) -> None:
        # Translated once a batch, not once a note (gettext costs more than the note's row).
        self.note_subject = _("Imported note")
        targets = self._resolve(rows, outcome)
        new: list[Target] = []
        old: list[Target] = []
        merged = 0
        for target in targets:
            if target.contact_id is None:
                new.append(target)
                if len(target.rows) == 1:
                    continue
                merged += len(target.rows) - 1
            else:
                old.append(target)
            for row in target.rows:  # merged or updating: their fields are compared (``_merge_scalars``)
                row.restore_fields()
        if new:
            outcome.counts["created"] += len(new)
            outcome.counts["merged"] += merged
        now = timezone.now()
        if write:
            created = self._create(new, now)
            self._update(old, now, outcome)
            changed = [t.contact_id for t in old if t.contact_id]
            if self.add_to_list is not None:
                from danhba.segments.services import members_add

                members_add(segment_id=self.add_to_list, contact_ids=created + changed, via="import")
            # Webhooks for what was created and changed; every segment may care about the batch
            # (a created contact's reason is "everything" already: the writer names it created).
            self.writer.done(reasons=dict.fromkeys(changed, (EVERYTHING,)))
        else:
            for t in old:
                first = 0 if t.touched_before else 1
                outcome.counts["merged"] += len(t.rows) - first
                outcome.counts["updated"] += first
        warned = [row for t in targets for row in t.rows if row.warnings]
        if warned:
            outcome.counts["warned"] += len(warned)
            outcome.issues.extend(
                (row.line, ImportIssue.Severity.WARNING, w.column, w.value, w.reason, None)
                for row in warned
                for w in row.warnings
            )

    def _tag_key(self, name: str) -> str:
        """``keys.tag_key``, remembered: a file names the same few tags on most rows."""
        key = self.keys.get(name)
        if key is None:
            if len(self.keys) > CACHE_MAX:
                self.keys.clear()
            key = self.keys[name] = tag_key(name)
        return key

    def _company_key(self, name: str) -> str:
        key = self.keys.get("\0" + name)  # its own space: a tag and a company may share a name
        if key is None:
            if len(self.keys) > CACHE_MAX:
                self.keys.clear()
            key = self.keys["\0" + name] = company_key(name)
        return key

    def _tag_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {self._tag_key(n): n for n in names}
        if len(self.tag_ids) > CACHE_MAX:
            self.tag_ids.clear()  # a file of millions of distinct values must not grow memory for ever
        missing = [k for k in wanted if k not in self.tag_ids]
        if missing:
            for chunk in chunks(missing):
                self.tag_ids.update(Tag.objects.filter(name_key__in=chunk).values_list("name_key", "pk"))
            absent = [k for k in missing if k not in self.tag_ids]
            if absent:
                Tag.objects.bulk_create([Tag(name=wanted[k][:80], name_key=k) for k in absent], ignore_conflicts=True)
                for chunk in chunks(absent):
                    self.tag_ids.update(Tag.objects.filter(name_key__in=chunk).values_list("name_key", "pk"))
                self.writer.audit(
                    "create", "tag", [(self.tag_ids[k], wanted[k], None, {"name": [None, wanted[k]]}) for k in absent]
                )
        return {k: self.tag_ids[k] for k in wanted}

    def _company_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {self._company_key(n): n for n in names if n}
        if len(self.company_ids) > CACHE_MAX:
            self.company_ids.clear()
        missing = [k for k in wanted if k not in self.company_ids]
        if missing:
            for chunk in chunks(missing):
                for key, pk in Company.objects.filter(name_key__in=chunk).order_by("-pk").values_list("name_key", "pk"):
                    self.company_ids[key] = pk  # the oldest company of that name wins
            absent = [k for k in missing if k not in self.company_ids]
            if absent:
                ids = allocate_ids(Company, len(absent))
                now = timezone.now()
                values = {**self.company_defaults, "owner_id": self.default_owner, "created_at": now, "updated_at": now}
                self.company_table.insert(
                    [
                        {**values, "id": pk, "name": wanted[k], "name_key": k, "custom": {}}[a]
                        for a in self.company_attnames
                    ]
                    for pk, k in zip(ids, absent, strict=True)
                )
                self.company_ids.update(zip(absent, ids, strict=True))
                self.writer.audit("create", "company", [(pk, wanted[k], None, {"name": [None, wanted[k]]})
                                                        for pk, k in zip(ids, absent, strict=True)])  # fmt: skip
        return {k: self.company_ids[k] for k in wanted}

    def _create(self, targets: list[Target], now: dt.datetime) -> list[int]:
        if not targets:
            return []
        tag_ids, company_ids = self._links(targets)
        made = self._made_contact
        contacts = [
            made(target, tag_ids, company_ids, now)
            if len(target.rows) == 1 and target.rows[0].row is not None  # most: ``_new_contact``'s first case
            else self._new_contact(target, tag_ids, company_ids, now)
            for target in targets
        ]
        run = self.run
        ids = self.writer.create(contacts, batch_of=("import", run.pk, run.file_name or str(run.pk)))
        # Undo's record of them: the ids as ranges (one per batch, as a rule), not a row per contact.
        ImportCreated.objects.bulk_create(
            ImportCreated(run_id=run.pk, first_id=first, last_id=last) for first, last in id_ranges(ids)
        )
        consents = [
            (cid, p, s) for cid, target in zip(ids, targets, strict=True) for p, s in self._consents(target).items()
        ]
        self._write_consents(consents, {}, now)
        return ids

    def _new_contact(self, target: Target, tag_ids: dict[str, int], company_ids: dict[str, int],
                     now: dt.datetime) -> NewContact | MadeContact:  # fmt: skip
        rows = target.rows
        if len(rows) == 1 and rows[0].row is not None:
            return self._made_contact(target, tag_ids, company_ids, now)
        state: dict[str, Any] = {}
        if len(rows) == 1:
            _first_row(state, rows[0])  # most new contacts: one row, nothing to merge
        else:
            seen: dict[str, Any] = {}
            for row in rows:
                self._merge_scalars(state, row, seen, creating=not state)
        brought = self._brought(rows, tag_ids, company_ids)
        if not state.get("full_name"):
            state["full_name"] = state["given_name"] = _stand_in_name(brought, target.rows[0])
        state["source"] = self.run.source
        state["name_order"] = self.name_order
        state.setdefault("lifecycle_stage_id", self.default_stage)
        state["owner_id"] = state.get("owner_id") or self.default_owner
        companies = [(*brought.company, state.get("job_title", ""))] if brought.company else []
        name = state["full_name"]
        folded = next((r.folded_name for r in rows if r.folded_name and r.fields["full_name"] == name), None)
        # One row with a name (most contacts): its name key and search texts were made by the reader.
        made = rows[0] if len(rows) == 1 and rows[0].search is not None else None
        return NewContact(
            values=state,
            folded_name=folded,
            name_key=made.name_key if made else None,
            search=made.search if made else None,
            emails=[(e, "personal") for e in brought.emails],
            phones=[(e164, raw, kind, phone_label(kind)) for e164, raw, kind in brought.phones],
            external_ids=brought.external_ids, socials=brought.socials, tag_ids=brought.tag_ids, companies=companies,
            entries=self._notes(target, now),
        )  # fmt: skip

    def _made_contact(self, target: Target, tag_ids: dict[str, int], company_ids: dict[str, int],
                      now: dt.datetime) -> MadeContact:  # fmt: skip
        """A new contact of one row whose contacts-table row, name key and search texts the
        reading process made (most of them): what ``_new_contact`` would give, the import's
        source and defaults added to that row, as the writer's tuple (``MadeContact``)."""
        first = target.rows[0]
        row = first.row
        assert row is not None and first.search is not None
        at = self.at
        row[at.source] = self.source
        row[at.name_order] = self.name_order
        if row[at.stage] is None:
            row[at.stage] = self.default_stage
        if not row[at.owner]:
            row[at.owner] = self.default_owner
        # ``_brought`` of one row, written out: no ``_Brought`` between (the loader's commonest path).
        emails, phones, externals, socials = first.emails, first.phones, first.external_ids, first.socials
        if len(emails) > 1:
            emails = list(dict.fromkeys(emails))
        if len(phones) > 1:
            phones = list({p[0]: p for p in phones}.values())
        tags = [*first.tags, *self.add_tags] if self.add_tags else first.tags
        ids = [tag_ids[name] for name in tags]
        company = first.company
        return MadeContact(
            row,
            first.search,
            emails,
            phones,
            list(dict.fromkeys(externals)) if externals else [],
            list(dict.fromkeys(socials)) if socials else [],
            list(dict.fromkeys(ids)) if len(ids) > 1 else ids,
            [(company_ids[company], company, row[at.job_title] or "")] if company else [],
            self._notes(target, now) if first.notes else [],
        )

    def _links(self, targets: list[Target]) -> tuple[dict[str, int], dict[str, int]]:
        """The ids of the tags and companies the rows name, by the name they give (the same
        tag or company as its key's), made if new."""
        rows = [row for t in targets for row in t.rows]
        all_tags = {t for row in rows for t in row.tags} | set(self.add_tags)
        companies = {r.company for r in rows if r.company}
        by_key = self._tag_ids(all_tags) if all_tags else {}
        tag_ids = {name: by_key[self._tag_key(name)] for name in all_tags}
        by_key = self._company_ids(companies)
        return tag_ids, {name: by_key[self._company_key(name)] for name in companies}

    def _brought(self, rows: list[Prepared], tag_ids: dict[str, int], company_ids: dict[str, int]) -> _Brought:
        """What rows merged into one contact bring besides its fields, without repeats (a new
        contact of one row is made by ``_made_contact``, which applies the same rules to it)."""
        names = [*(t for r in rows for t in r.tags), *self.add_tags]
        company = next((r.company for r in rows if r.company), "")
        return _Brought(
            emails=list(dict.fromkeys(e for r in rows for e in r.emails)),
            phones=list({p[0]: p for r in rows for p in r.phones}.values()),
            external_ids=list(dict.fromkeys(x for r in rows for x in r.external_ids)),
            socials=list(dict.fromkeys(x for r in rows for x in r.socials)),
            tag_ids=list(dict.fromkeys(tag_ids[n] for n in names)),
            company=(company_ids[company], company) if company else None,
        )

    def _notes(self, target: Target, now: dt.datetime) -> list[Entry]:
        rows = target.rows
        if not (rows[0].notes if len(rows) == 1 else any(r.notes for r in rows)):
            return []
        subject = self.note_subject
        return [
            Entry(kind="note", author_id=self.user_id, subject=subject, body=body, occurred_at=now,
                  data={"import": self.run.pk, "line": r.line})
            for r in target.rows
            for body in r.notes
        ]  # fmt: skip

    def _consents(self, target: Target) -> dict[int, str]:
        if not self.purposes and len(target.rows) == 1 and not target.rows[0].consents:
            return {}  # most imports state no consent (a legal basis other than consent)
        statuses = dict.fromkeys(self.purposes, "granted")
        for row in target.rows:
            statuses.update(row.consents)
        return statuses

    def _write_consents(self, consents: list[tuple[int, int, str]], states: dict[tuple[int, int], ConsentState],
                        now: dt.datetime) -> None:  # fmt: skip
        """Ledger records for the statements the file makes, and the current state they give."""
        if not consents:
            return
        ids = allocate_ids(ConsentRecord, len(consents))
        user_id = self.user_id
        self.tables["consent"].insert(
            (rid, cid, purpose, status, now, ConsentSource.IMPORT, self.proof, "", None, user_id)
            for rid, (cid, purpose, status) in zip(ids, consents, strict=True)
        )
        fresh = []
        moved = []
        for rid, (cid, purpose, status) in zip(ids, consents, strict=True):
            state = states.get((cid, purpose))
            if state is None:
                fresh.append((cid, purpose, status, now, rid))
            elif state.since <= now:
                moved.append([status, connection.ops.adapt_datetimefield_value(now), rid, state.pk])
        self.tables["consent_state"].insert(fresh)
        if moved:
            table = connection.ops.quote_name(ConsentState._meta.db_table)
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET status = %s, since = %s, record_id = %s WHERE id = %s", moved)  # noqa: S608
        # The same row as consent_record writes from the UI: the purpose by its key, not its id.
        keys = dict(ConsentPurpose.objects.filter(pk__in={p for _c, p, _s in consents}).values_list("pk", "key"))
        self.writer.audit(
            "create",
            "consent",
            [(rid, f"{keys.get(purpose, purpose)}: {status}", cid,
              {"purpose": [None, keys.get(purpose, purpose)], "status": [None, status], "source": [None, "import"]})
             for rid, (cid, purpose, status) in zip(ids, consents, strict=True)],
        )  # fmt: skip

    def _update(self, targets: list[Target], now: dt.datetime, outcome: Outcome) -> None:
        """Apply the rows to existing contacts (what the file adds or, by the update policy,
        changes), and keep the import's own record of each change for undo."""
        if not targets:
            return
        ids = [t.contact_id for t in targets if t.contact_id is not None]
        have = _Existing(self.run, ids, self._all_purposes(targets))
        tag_ids, company_ids = self._links(targets)
        changes: list[ContactChange] = []
        records: list[tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]] = []
        consents: list[tuple[int, int, str]] = []
        for target in targets:
            if target.contact_id is None or target.contact_id not in have.current:
                continue  # deleted since the lookup: nothing to update
            change, before, after, added = self._change(target, have, tag_ids, company_ids, now)
            stated = self._stated(target, have.states)
            consents.extend((change.contact_id, p, s) for p, s in stated.items())
            if stated:
                added["consents"] = have.consent_before(change.contact_id, stated)
            something = bool(before or added or change.entries)
            _count(outcome, target, something)
            if something:
                change.changes = self._audited(before, after, added)
                changes.append(change)
                if not target.created_here:  # undo deletes what this import created: nothing to restore
                    records.append((change.contact_id, before, after, added))
        self.writer.update(changes, entry_data={"import": self.run.pk})
        self._record_changes(records, have.earlier)
        self._write_consents(consents, have.states, now)

    def _change(self, target: Target, have: _Existing, tag_ids: dict[str, int], company_ids: dict[str, int],
                now: dt.datetime) -> tuple[ContactChange, dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
        """What the rows change of one existing contact: the change to write, the values before
        and after, and what they add."""
        cid = target.contact_id
        assert cid is not None
        state = have.current[cid]
        state["custom"] = dict(state.get("custom") or {})
        before: dict[str, Any] = {}
        for row in target.rows:
            self._merge_scalars(state, row, before, creating=False)
        new = self._brought(target.rows, tag_ids, company_ids).without(have, cid)
        companies = [(*new.company, state.get("job_title") or "")] if new.company else []
        columns = {k: state[k] for k in before if not k.startswith("custom.")}
        if any(k.startswith("custom.") for k in before):
            columns["custom"] = state["custom"]
        after = {k: (state["custom"].get(k[7:]) if k.startswith("custom.") else state[k]) for k in before}
        change = ContactChange(
            contact_id=cid, label=state["full_name"], columns=columns,
            emails=[(e, "personal") for e in new.emails],
            phones=[(e164, raw, kind, phone_label(kind)) for e164, raw, kind in new.phones],
            external_ids=new.external_ids, socials=new.socials, tag_ids=new.tag_ids, companies=companies,
            entries=self._notes(target, now),
        )  # fmt: skip
        return change, before, after, new.added()

    def _audited(self, before: dict[str, Any], after: dict[str, Any], added: dict[str, Any]) -> dict[str, Any]:
        """The audit diff of a change: fields from/to, additions; nothing when only consent
        changed (the consent ledger audits itself)."""
        if not before and not added.keys() - {"consents"}:
            return {}
        changes: dict[str, Any] = {k: [before[k], after[k]] for k in before}
        changes.update((kind, [None, v]) for kind, v in added.items() if kind != "consents")
        changes["import"] = [None, self.run.pk]
        return changes

    def _stated(self, target: Target, states: dict[tuple[int, int], ConsentState]) -> dict[int, str]:
        """The consent statements of the rows that change the contact's current state."""
        cid = target.contact_id
        return {
            p: s for p, s in self._consents(target).items()
            if (st := states.get((cid, p))) is None or st.status != s  # type: ignore[arg-type]
        }  # fmt: skip

    def _record_changes(self, records: list[tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]],
                        earlier: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]) -> None:  # fmt: skip
        """The import's own record of each change (what undo restores): a contact this import
        changed before keeps its first "before" and gets the latest "after"."""
        fresh = []
        merged = []
        for cid, before, after, added in records:
            if cid not in earlier:
                fresh.append((self.run.pk, cid, ImportChange.Action.UPDATED, jsonable(before), jsonable(after), added))
                continue
            old_before, old_after, old_added = earlier[cid]
            both: dict[str, Any] = {}
            for kind in {*old_added, *added}:
                if kind == "consents":
                    both[kind] = {**added.get(kind, {}), **old_added.get(kind, {})}
                else:
                    both[kind] = _union(old_added.get(kind, []), added.get(kind, []))
            merged.append([jsonable({**before, **old_before}), jsonable({**old_after, **after}), both, cid])
        self.tables["change"].insert(fresh)
        if merged:
            json_value = json_adapter(ImportChange._meta.get_field("before"))
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {quote(ImportChange._meta.db_table)} SET {quote('before')} = %s, {quote('after')} = %s, "  # noqa: S608
                    f"{quote('added')} = %s WHERE run_id = %s AND contact_id = %s",
                    [[json_value(b), json_value(a), json_value(d), self.run.pk, cid] for b, a, d, cid in merged],
                )

    def _all_purposes(self, targets: list[Target]) -> list[int]:
        return list({*self.purposes, *(p for t in targets for r in t.rows for p in r.consents)})


class _Columns:
    """Where the columns the loader sets in a row made ahead are (``ContactRows.column``)."""

    def __init__(self, column: dict[str, int]) -> None:
        self.source = column["source"]
        self.name_order = column["name_order"]
        self.stage = column["lifecycle_stage_id"]
        self.owner = column["owner_id"]
        self.job_title = column["job_title"]


class _Existing:
    """What the contacts a batch updates hold now: their values, identities, links, consent
    states, and what this import already changed of them."""

    def __init__(self, run: Import, ids: list[int], purposes: list[int]) -> None:
        self.current: dict[int, dict[str, Any]] = {}
        for chunk in chunks(ids):
            for values in Contact.objects.filter(pk__in=chunk).values("id", "email", "phone", "custom", *SCALARS):
                self.current[values["id"]] = values
        self.emails: dict[int, set[str]] = {cid: set() for cid in ids}
        self.phones: dict[int, set[str]] = {cid: set() for cid in ids}
        self.tags: dict[int, set[int]] = {cid: set() for cid in ids}
        self.companies: dict[int, set[int]] = {cid: set() for cid in ids}
        self.external: dict[int, set[tuple[str, str]]] = {cid: set() for cid in ids}
        self.social: dict[int, set[tuple[str, str]]] = {cid: set() for cid in ids}
        self.earlier: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
        for chunk in chunks(ids):
            _collect(self.emails, ContactEmail.objects.filter(contact_id__in=chunk).values_list("contact_id", "email"))
            _collect(self.phones, ContactPhone.objects.filter(contact_id__in=chunk).values_list("contact_id", "e164"))
            _collect(self.tags, ContactTag.objects.filter(contact_id__in=chunk).values_list("contact_id", "tag_id"))
            _collect(
                self.companies,
                ContactCompany.objects.filter(contact_id__in=chunk).values_list("contact_id", "company_id"),
            )
            for cid, s, v in ExternalId.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "system", "value"
            ):
                self.external[cid].add((s, v))
            for cid, n, h in SocialProfile.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "network", "handle"
            ):
                self.social[cid].add((n, h))
            for ch in ImportChange.objects.filter(run=run, contact_id__in=chunk):
                self.earlier[ch.contact_id] = (ch.before, ch.after, ch.added)
        self.states = {
            (s.contact_id, s.purpose_id): s
            for chunk in chunks(ids)
            for s in ConsentState.objects.filter(contact_id__in=chunk, purpose_id__in=purposes)
        }

    def consent_before(self, cid: int, stated: dict[int, str]) -> dict[str, str | None]:
        """The consent states the rows' statements replace (None: none yet), by purpose."""
        return {str(p): (self.states[(cid, p)].status if (cid, p) in self.states else None) for p in stated}


@dataclass
class _Brought:
    """What rows bring a contact besides its fields: identities, tags, a company (id, name)."""

    emails: list[str]
    phones: list[tuple[str, str, str]]
    external_ids: list[tuple[str, str]]
    socials: list[tuple[str, str]]
    tag_ids: list[int]
    company: tuple[int, str] | None

    def without(self, have: _Existing, cid: int) -> _Brought:
        """Only what contact ``cid`` does not have yet."""
        return _Brought(
            emails=[e for e in self.emails if e not in have.emails[cid]],
            phones=[p for p in self.phones if p[0] not in have.phones[cid]],
            external_ids=[x for x in self.external_ids if x not in have.external[cid]],
            socials=[x for x in self.socials if x not in have.social[cid]],
            tag_ids=[t for t in self.tag_ids if t not in have.tags[cid]],
            company=self.company if self.company and self.company[0] not in have.companies[cid] else None,
        )

    def added(self) -> dict[str, Any]:
        """The additions as the import's record and the audit row name them."""
        kinds = {
            "emails": self.emails, "phones": [p[0] for p in self.phones],
            "external_ids": [list(x) for x in self.external_ids], "social_profiles": [list(x) for x in self.socials],
            "tags": self.tag_ids, "companies": [self.company[0]] if self.company else [],
        }  # fmt: skip
        return {kind: values for kind, values in kinds.items() if values}


def _first_row(state: dict[str, Any], row: Prepared) -> None:
    """``Loader._merge_scalars`` of the first row of a new contact, without comparing: every
    value that is not None; the name parts only with a full name (a name is one value), and
    then only those that are not empty."""
    fields = row.fields
    named = "full_name" in fields
    for key, value in fields.items():
        if key in NAMES:
            if named and value != "":
                state[key] = value
        elif value is not None:
            state[key] = value
    if row.custom:
        custom = {key: value for key, value in row.custom.items() if value is not None}
        if custom:
            state["custom"] = custom


def _stand_in_name(brought: _Brought, first: Prepared) -> str:
    """The name of a contact the rows give none: its email's local part, phone or external id."""
    if brought.emails:
        return brought.emails[0].split("@")[0]
    if brought.phones:
        return brought.phones[0][0]
    return first.external_ids[0][1] if first.external_ids else "?"


def _count(outcome: Outcome, target: Target, something: bool) -> None:
    """Rows merged into a contact; the contact updated or unchanged (once per import)."""
    if target.touched_before:
        outcome.counts["merged"] += len(target.rows)
        return
    outcome.counts["merged"] += len(target.rows) - 1
    outcome.counts["updated" if something else "unchanged"] += 1


def _key_targets(
    owners: tuple[dict[Any, int], ...], touched: set[int], created_here: set[int]
) -> tuple[dict[Any, Target], ...]:
    """One target per existing contact the batch's keys found, and each found key leading to it."""
    by_contact: dict[int, Target] = {}
    key_target: tuple[dict[Any, Target], ...] = ({}, {}, {})
    for found, into in zip(owners, key_target, strict=True):
        for key, cid in found.items():
            if cid not in by_contact:
                by_contact[cid] = Target(cid, touched_before=cid in touched, created_here=cid in created_here)
            into[key] = by_contact[cid]
    return key_target


def _first_target(keys: tuple[list[Any], ...], order: list[int],
                  key_target: tuple[dict[Any, Target], ...]) -> Target | None:  # fmt: skip
    """The target of the row's first key (in the import's match order) that has one."""
    for kind in order:
        into = key_target[kind]
        for key in keys[kind]:
            target = into.get(key)
            if target is not None:
                return target
    return None


def _key_tuple(kind: int, key: Any) -> tuple[str, ...]:
    """A key as ``_drop_identity`` names it: ("x", system, value), ("e", email), ("p", e164)."""
    if kind == 0:
        return ("x", *key)
    return ("e" if kind == 1 else "p", key)


def _collect(into: dict[int, set[Any]], pairs: Iterable[tuple[int, Any]]) -> None:
    for cid, value in pairs:
        into[cid].add(value)


def _union(first: list[Any], second: list[Any]) -> list[Any]:
    """Both lists without repeats, in order; items may be lists (external ids as [system, value])."""
    seen: set[Any] = set()
    out = []
    for item in [*first, *second]:
        key = tuple(item) if isinstance(item, list) else item
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
