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

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.contacts.changes import EVERYTHING, contacts_changed
from danhba.contacts.keys import company_key, name_key, tag_key
from danhba.contacts.models import (
    Company,
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    CustomField,
    ExternalId,
    LifecycleStage,
    SocialProfile,
    Tag,
    TimelineEntry,
)
from danhba.contacts.search import SearchDoc, search_index, search_index_new
from danhba.core.actor import Actor
from danhba.core.audit import jsonable
from danhba.core.bulk import Table, allocate_ids, chunks, json_adapter
from danhba.ingest.models import Import, ImportChange, ImportIssue, Mode, UpdatePolicy, import_proof
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
        self.default_stage = default_stage or (
            LifecycleStage.objects.filter(is_active=True)
            .order_by("position", "key")
            .values_list("pk", flat=True)
            .first()
        )
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
        concrete = [f for f in Contact._meta.concrete_fields if not f.primary_key]
        self.contact_attnames = ["id", *(f.attname for f in concrete)]
        self.contact_table = Table(Contact, self.contact_attnames)
        self.tables = {
            "email": Table(ContactEmail, ["contact_id", "email", "label", "is_primary"]),
            "phone": Table(ContactPhone, ["contact_id", "e164", "raw", "kind", "label", "is_primary"]),
            "external": Table(ExternalId, ["contact_id", "system", "value"]),
            "social": Table(SocialProfile, ["contact_id", "network", "handle"]),
            "tag": Table(ContactTag, ["contact_id", "tag_id"]),
            "company": Table(ContactCompany, ["contact_id", "company_id", "is_primary", "job_title"]),
            "note": Table(TimelineEntry, ["contact_id", "kind", "channel", "subject", "body", "author_id",
                                          "occurred_at", "is_private", "data", "created_at", "updated_at"]),
            "consent": Table(ConsentRecord, ["id", "contact_id", "purpose_id", "status", "recorded_at", "source",
                                             "proof", "text_version", "ip_address", "recorded_by_id"]),
            "consent_state": Table(ConsentState, ["contact_id", "purpose_id", "status", "since", "record_id"]),
            "change": Table(ImportChange, ["run_id", "contact_id", "action", "before", "after", "added"]),
            "audit": Table(AuditEvent, ["at", "actor_id", "actor_label", "via", "action", "object_type", "object_id",
                                        "object_label", "contact_id", "changes", "ip_address", "user_agent"]),
            "issue": Table(ImportIssue, ["run_id", "line", "severity", "column", "value", "reason", "message", "row"]),
        }  # fmt: skip
        self.sensitive = {*perms.SENSITIVE_STANDARD_FIELDS, "owner_id", "lifecycle_stage_id", "buyer_role_id"} | {
            f"custom.{key}"
            for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
        }
        self.name_order = name_order
        self.user_id = actor.user.pk if actor.user else None
        self.defaults = {f.attname: f.get_default() for f in concrete if f.attname not in ("custom",)}

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
                with transaction.atomic():
                    self._apply(prepared, applied, write=True)
            except DatabaseError:
                self.tag_ids.clear()
                self.company_ids.clear()
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
                with transaction.atomic():
                    self._apply([row], single, write=True)
            except DatabaseError as exc:
                self.tag_ids.clear()
                self.company_ids.clear()
                refused = reason(gettext_noop("the database refused the row: %(e)s"), e=str(exc))
                self._reject(keep, row.line, row.raw, [Issue("", "", refused)])
                continue
            keep.counts.update(single.counts)
            keep.issues.extend(single.issues)
        return keep

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
    def _keys(row: Prepared) -> dict[str, list[tuple[str, ...]]]:
        return {
            "external_id": [("x", s, v) for s, v in row.external_ids],
            "email": [("e", e) for e in row.emails],
            "phone": [("p", p[0]) for p in row.phones],
        }

    def _owners(self, rows: list[Prepared]) -> dict[tuple[str, ...], int]:
        """Which existing contact each identity key of the batch belongs to."""
        owners: dict[tuple[str, ...], int] = {}
        externals = {(s, v) for r in rows for s, v in r.external_ids}
        emails = list({e for r in rows for e in r.emails})
        phones = list({p[0] for r in rows for p in r.phones})
        values = list({v for _s, v in externals})
        for chunk in chunks(values):
            for system, value, cid in ExternalId.objects.filter(value__in=chunk).values_list(
                "system", "value", "contact_id"
            ):
                if (system, value) in externals:
                    owners[("x", system, value)] = cid
        for chunk in chunks(emails):
            for email, cid in ContactEmail.objects.filter(email__in=chunk).values_list("email", "contact_id"):
                owners[("e", email)] = cid
        for chunk in chunks(phones):
            found = ContactPhone.objects.filter(e164__in=chunk).order_by("contact_id").values_list("e164", "contact_id")
            for e164, cid in found:
                owners.setdefault(("p", e164), cid)
        return owners

    def _resolve(self, rows: list[Prepared], outcome: Outcome) -> list[Target]:
        owners = self._owners(rows)
        known = {cid for cid in owners.values()}
        touched: set[int] = set()
        for chunk in chunks(list(known)):
            touched.update(
                ImportChange.objects.filter(run=self.run, contact_id__in=chunk).values_list("contact_id", flat=True)
            )
        hidden: set[int] = set()
        user = self.actor.user
        if user is not None and user.role.record_scope != perms.SCOPE_ALL and known:
            visible: set[int] = set()
            for chunk in chunks(list(known)):
                visible.update(Contact.objects.visible_to(user).filter(pk__in=chunk).values_list("pk", flat=True))
            hidden = known - visible
        targets: list[Target] = []
        by_contact: dict[int, Target] = {}
        key_target: dict[tuple[str, ...], Target] = {}
        for key, cid in owners.items():
            if cid not in by_contact:
                by_contact[cid] = Target(cid, touched_before=cid in touched)
            key_target[key] = by_contact[cid]
        guarded = {"external_id", "email"} | ({"phone"} if "phone" in self.match_keys else set())
        for row in rows:
            keys = self._keys(row)
            target = next(
                (key_target[k] for kind in self.match_keys for k in keys.get(kind, []) if k in key_target), None
            )
            if target is None:
                if self.mode == Mode.UPDATE_ONLY:
                    outcome.counts["skipped"] += 1
                    continue
                target = Target(None)
                targets.append(target)
            elif target.contact_id in hidden:
                # Someone else's contact the importer may not see: neither change nor reveal it.
                outside = reason(gettext_noop("matches a contact outside your records"))
                self._reject(outcome, row.line, row.raw, [Issue("", "", outside)])
                continue
            elif target.contact_id is not None and not target.rows:
                # The first row of this batch for a contact that already exists.
                if self.mode == Mode.CREATE_ONLY and not target.touched_before:
                    outcome.counts["skipped"] += 1
                    continue
                targets.append(target)
            # Identities that already belong to someone else stay where they are.
            for kind in ("external_id", "email", "phone"):
                for key in keys[kind]:
                    owner = key_target.get(key)
                    if owner is None:
                        key_target[key] = target
                    elif owner is not target and kind in guarded:
                        self._drop_identity(row, key, owner, owner.contact_id in hidden)
            target.rows.append(row)
        return targets

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

    # --- merging rows into a target -----------------------------------------------------------------

    def _merge_scalars(self, state: dict[str, Any], row: Prepared, changes: dict[str, Any], creating: bool) -> None:
        fields = row.fields
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
        targets = self._resolve(rows, outcome)
        now = timezone.now()
        new = [t for t in targets if t.contact_id is None]
        old = [t for t in targets if t.contact_id is not None]
        for t in new:
            outcome.counts["created"] += 1
            outcome.counts["merged"] += len(t.rows) - 1
        if write:
            created = self._create(new, now)
            updated = self._update(old, now, outcome)
            touched = created + [t.contact_id for t in old if t.contact_id]
            if self.add_to_list is not None:
                from danhba.segments.services import members_add

                members_add(segment_id=self.add_to_list, contact_ids=touched, via="import")
            # Webhooks for what was created and changed; every segment may care about the batch.
            contacts_changed(created=created, updated=updated, reasons=dict.fromkeys(touched, (EVERYTHING,)))
        else:
            for t in old:
                first = 0 if t.touched_before else 1
                outcome.counts["merged"] += len(t.rows) - first
                outcome.counts["updated"] += first
        for t in targets:
            for row in t.rows:
                if row.warnings:
                    outcome.counts["warned"] += 1
                    for w in row.warnings:
                        outcome.issues.append(
                            (row.line, ImportIssue.Severity.WARNING, w.column, w.value, w.reason, None)
                        )

    def _tag_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {tag_key(n): n for n in names}
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
                self._audit_rows(
                    "create", "tag", [(self.tag_ids[k], wanted[k], None, {"name": [None, wanted[k]]}) for k in absent]
                )
        return {k: self.tag_ids[k] for k in wanted}

    def _company_ids(self, names: Iterable[str]) -> dict[str, int]:
        wanted = {company_key(n): n for n in names if n}
        if len(self.company_ids) > CACHE_MAX:
            self.company_ids.clear()
        missing = [k for k in wanted if k not in self.company_ids]
        if missing:
            for chunk in chunks(missing):
                for key, pk in Company.objects.filter(name_key__in=chunk).order_by("-pk").values_list("name_key", "pk"):
                    self.company_ids[key] = pk  # the oldest company of that name wins
            absent = [k for k in missing if k not in self.company_ids]
            if absent:
                made = Company.objects.bulk_create(
                    [Company(name=wanted[k], name_key=k, owner_id=self.default_owner) for k in absent]
                )
                for company in made:
                    self.company_ids[company.name_key] = company.pk
                self._audit_rows("create", "company", [(c.pk, c.name, None, {"name": [None, c.name]}) for c in made])
        return {k: self.company_ids[k] for k in wanted}

    def _audit_rows(self, action: str, object_type: str, rows: Iterable[tuple[Any, str, int | None, dict]]) -> None:
        actor = self.actor
        now = timezone.now()
        self.tables["audit"].insert(
            (now, actor.user.pk if actor.user else None, actor.label, actor.via, action, object_type, str(oid),
             label[:254], cid, changes, actor.ip, actor.user_agent)
            for oid, label, cid, changes in rows
        )  # fmt: skip

    def _create(self, targets: list[Target], now: dt.datetime) -> list[int]:
        if not targets:
            return []
        ids = allocate_ids(Contact, len(targets))
        contact_rows = []
        emails: list[Any] = []
        phones: list[Any] = []
        externals: list[Any] = []
        socials: list[Any] = []
        tags: list[Any] = []
        links: list[Any] = []
        docs: list[SearchDoc] = []
        notes: list[Any] = []
        changes: list[Any] = []
        audits: list[Any] = []
        consents: list[tuple[int, int, str]] = []
        all_tags = {t for target in targets for row in target.rows for t in row.tags} | set(self.add_tags)
        tag_ids = self._tag_ids(all_tags) if all_tags else {}
        company_ids = self._company_ids({row.company for t in targets for row in t.rows if row.company})
        attnames = self.contact_attnames
        run_id = self.run.pk
        for cid, target in zip(ids, targets, strict=True):
            state: dict[str, Any] = {}
            seen: dict[str, Any] = {}
            for row in target.rows:
                self._merge_scalars(state, row, seen, creating=not state)
            first = target.rows[0]
            email_list = list(dict.fromkeys(e for r in target.rows for e in r.emails))
            phone_list = list({p[0]: p for r in target.rows for p in r.phones}.values())
            if not state.get("full_name"):
                state["full_name"] = email_list[0].split("@")[0] if email_list else (
                    phone_list[0][0] if phone_list else f"{first.external_ids[0][1]}" if first.external_ids else "?"
                )  # fmt: skip
                state["given_name"] = state["full_name"]
            values = dict(self.defaults)
            values.update(state)
            values.pop("custom", None)
            values["id"] = cid
            values["custom"] = state.get("custom") or {}
            values["name_key"] = name_key(state["full_name"])
            values["email"] = email_list[0] if email_list else ""
            values["phone"] = phone_list[0][0] if phone_list else ""
            values["source"] = self.run.source
            values["name_order"] = self.name_order
            values["lifecycle_stage_id"] = state.get("lifecycle_stage_id") or self.default_stage
            values["owner_id"] = state.get("owner_id") or self.default_owner
            values["created_at"] = values["updated_at"] = values["last_activity_at"] = now
            contact_rows.append([values[a] for a in attnames])
            for i, email in enumerate(email_list):
                emails.append((cid, email, "personal", i == 0))
            for i, (e164, raw, kind) in enumerate(phone_list):
                phones.append((cid, e164, raw, kind, "mobile" if kind == "mobile" else "home", i == 0))
            externals.extend((cid, s, v) for s, v in dict.fromkeys(x for r in target.rows for x in r.external_ids))
            socials.extend((cid, n, h) for n, h in dict.fromkeys(x for r in target.rows for x in r.socials))
            names = list(dict.fromkeys([*(t for r in target.rows for t in r.tags), *self.add_tags]))
            tag_keys = dict.fromkeys(tag_key(n) for n in names)
            tags.extend((cid, tag_ids[k]) for k in tag_keys)
            company = next((r.company for r in target.rows if r.company), "")
            if company:
                links.append((cid, company_ids[company_key(company)], True, state.get("job_title", "")))
            company_names = [company] if company else []
            docs.append(SearchDoc(cid, state["full_name"], email_list, [p[0] for p in phone_list], company_names))
            for r in target.rows:
                for body in r.notes:
                    notes.append((cid, "note", "", _("Imported note"), body, self.user_id,
                                  now, False, {"import": run_id, "line": r.line}, now, now))  # fmt: skip
            for purpose, status in self._consents(target).items():
                consents.append((cid, purpose, status))
            changes.append((run_id, cid, ImportChange.Action.CREATED, {}, {}, {}))
            audits.append((cid, state["full_name"], cid, {"import": [None, run_id]}))
        self.contact_table.insert(contact_rows)
        self.tables["email"].insert(emails)
        self.tables["phone"].insert(phones)
        self.tables["external"].insert(externals)
        self.tables["social"].insert(socials)
        self.tables["tag"].insert(tags)
        self.tables["company"].insert(links)
        search_index_new(docs)
        self.tables["note"].insert(notes)
        self.tables["change"].insert(changes)
        self._write_consents(consents, {}, now)
        self._audit_rows("create", "contact", audits)
        return ids

    def _consents(self, target: Target) -> dict[int, str]:
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
        self._audit_rows(
            "create",
            "consent",
            [(rid, f"{keys.get(purpose, purpose)}: {status}", cid,
              {"purpose": [None, keys.get(purpose, purpose)], "status": [None, status], "source": [None, "import"]})
             for rid, (cid, purpose, status) in zip(ids, consents, strict=True)],
        )  # fmt: skip

    def _update(self, targets: list[Target], now: dt.datetime, outcome: Outcome) -> dict[int, list[str]]:
        """Apply the rows to existing contacts; returns contact id → changed fields."""
        if not targets:
            return {}
        ids = [t.contact_id for t in targets if t.contact_id is not None]
        current: dict[int, dict[str, Any]] = {}
        for chunk in chunks(ids):
            for values in Contact.objects.filter(pk__in=chunk).values("id", "email", "phone", "custom", *SCALARS):
                current[values["id"]] = values
        have_emails: dict[int, list[str]] = {cid: [] for cid in ids}
        have_phones: dict[int, set[str]] = {cid: set() for cid in ids}
        have_tags: dict[int, set[int]] = {cid: set() for cid in ids}
        have_companies: dict[int, set[int]] = {cid: set() for cid in ids}
        have_external: dict[int, set[tuple[str, str]]] = {cid: set() for cid in ids}
        have_social: dict[int, set[tuple[str, str]]] = {cid: set() for cid in ids}
        for chunk in chunks(ids):
            for cid, email in ContactEmail.objects.filter(contact_id__in=chunk).values_list("contact_id", "email"):
                have_emails[cid].append(email)
            for cid, e164 in ContactPhone.objects.filter(contact_id__in=chunk).values_list("contact_id", "e164"):
                have_phones[cid].add(e164)
            for cid, tag in ContactTag.objects.filter(contact_id__in=chunk).values_list("contact_id", "tag_id"):
                have_tags[cid].add(tag)
            for cid, co in ContactCompany.objects.filter(contact_id__in=chunk).values_list("contact_id", "company_id"):
                have_companies[cid].add(co)
            for cid, s, v in ExternalId.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "system", "value"
            ):
                have_external[cid].add((s, v))
            for cid, n, h in SocialProfile.objects.filter(contact_id__in=chunk).values_list(
                "contact_id", "network", "handle"
            ):
                have_social[cid].add((n, h))
        states = {
            (s.contact_id, s.purpose_id): s
            for chunk in chunks(ids)
            for s in ConsentState.objects.filter(contact_id__in=chunk, purpose_id__in=self._all_purposes(targets))
        }
        all_tags = {t for target in targets for row in target.rows for t in row.tags} | set(self.add_tags)
        tag_ids = self._tag_ids(all_tags) if all_tags else {}
        company_ids = self._company_ids({row.company for t in targets for row in t.rows if row.company})
        emails: list[Any] = []
        phones: list[Any] = []
        externals: list[Any] = []
        socials: list[Any] = []
        tags: list[Any] = []
        links: list[Any] = []
        notes: list[Any] = []
        new_changes: list[Any] = []
        audits: list[Any] = []
        timeline: list[Any] = []
        change_updates: list[list[Any]] = []
        consents: list[tuple[int, int, str]] = []
        reindex: list[int] = []
        updates: dict[tuple[str, ...], list[list[Any]]] = {}
        earlier: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
        touched_ids = [t.contact_id for t in targets if t.touched_before and t.contact_id is not None]
        for chunk in chunks(touched_ids):
            for ch in ImportChange.objects.filter(run=self.run, contact_id__in=chunk):
                earlier[ch.contact_id] = (ch.before, ch.after, ch.added)
        for target in targets:
            if target.contact_id is None or target.contact_id not in current:
                continue  # deleted since the lookup: nothing to update
            cid = target.contact_id
            state = current[cid]
            state["custom"] = dict(state.get("custom") or {})
            before: dict[str, Any] = {}
            for row in target.rows:
                self._merge_scalars(state, row, before, creating=False)
            added: dict[str, Any] = {}
            new_emails = [
                e for e in dict.fromkeys(e for r in target.rows for e in r.emails) if e not in have_emails[cid]
            ]
            for i, email in enumerate(new_emails):
                emails.append((cid, email, "personal", not have_emails[cid] and i == 0))
            new_phones = [
                p for p in {p[0]: p for r in target.rows for p in r.phones}.values() if p[0] not in have_phones[cid]
            ]
            for i, (e164, raw, kind) in enumerate(new_phones):
                phones.append((cid, e164, raw, kind, "mobile" if kind == "mobile" else "home",
                               not have_phones[cid] and i == 0))  # fmt: skip
            new_external = [
                x for x in dict.fromkeys(x for r in target.rows for x in r.external_ids) if x not in have_external[cid]
            ]
            externals.extend((cid, s, v) for s, v in new_external)
            new_social = [
                x for x in dict.fromkeys(x for r in target.rows for x in r.socials) if x not in have_social[cid]
            ]
            socials.extend((cid, n, h) for n, h in new_social)
            names = list(dict.fromkeys([*(t for r in target.rows for t in r.tags), *self.add_tags]))
            new_tags = [n for n in dict.fromkeys(tag_key(n) for n in names) if tag_ids[n] not in have_tags[cid]]
            tags.extend((cid, tag_ids[k]) for k in new_tags)
            company = next((r.company for r in target.rows if r.company), "")
            new_company = company and company_ids[company_key(company)] not in have_companies[cid]
            if new_company:
                links.append(
                    (cid, company_ids[company_key(company)], not have_companies[cid], state.get("job_title") or "")
                )
            for r in target.rows:
                for body in r.notes:
                    notes.append((cid, "note", "", _("Imported note"), body, self.user_id,
                                  now, False, {"import": self.run.pk, "line": r.line}, now, now))  # fmt: skip
            statuses = self._consents(target)
            stated = {p: s for p, s in statuses.items() if (st := states.get((cid, p))) is None or st.status != s}
            consents.extend((cid, p, s) for p, s in stated.items())
            if new_emails:
                added["emails"] = new_emails
            if new_phones:
                added["phones"] = [p[0] for p in new_phones]
            if new_external:
                added["external_ids"] = [list(x) for x in new_external]
            if new_social:
                added["social_profiles"] = [list(x) for x in new_social]
            if new_tags:
                added["tags"] = [tag_ids[k] for k in new_tags]
            if new_company:
                added["companies"] = [company_ids[company_key(company)]]
            has_notes = any(r.notes for r in target.rows)
            if stated:
                added["consents"] = {str(p): (states[(cid, p)].status if (cid, p) in states else None) for p in stated}
            if target.touched_before:
                outcome.counts["merged"] += len(target.rows)
            else:
                outcome.counts["merged"] += len(target.rows) - 1
                outcome.counts["updated" if before or added or has_notes else "unchanged"] += 1
            if not (before or added or has_notes):
                continue
            if set(before) & set(NAMES) or new_emails or new_phones or new_company:
                reindex.append(cid)
            columns = [k for k in before if not k.startswith("custom.")]
            if any(k.startswith("custom.") for k in before):
                columns.append("custom")
            if set(before) & set(NAMES):
                columns.append("name_key")
                state["name_key"] = name_key(state["full_name"])
            if new_emails and not state["email"]:
                state["email"] = new_emails[0]
                columns.append("email")
            if new_phones and not state["phone"]:
                state["phone"] = new_phones[0][0]
                columns.append("phone")
            if columns:
                key = tuple(sorted(columns))
                updates.setdefault(key, []).append([state[c] for c in key] + [now, cid])
            after = {k: (state["custom"].get(k[7:]) if k.startswith("custom.") else state[k]) for k in before}
            audit_changes: dict[str, Any] = {k: [before[k], after[k]] for k in before}
            for kind, values in added.items():
                if kind != "consents":
                    audit_changes[kind] = [None, values]
            if cid in earlier:
                old_before, old_after, old_added = earlier[cid]
                merged_added: dict[str, Any] = {}
                for kind in {*old_added, *added}:
                    if kind == "consents":
                        merged_added[kind] = {**added.get(kind, {}), **old_added.get(kind, {})}
                    else:
                        merged_added[kind] = _union(old_added.get(kind, []), added.get(kind, []))
                change_updates.append(
                    [jsonable({**before, **old_before}), jsonable({**old_after, **after}), merged_added, cid]
                )
            else:
                new_changes.append(
                    (self.run.pk, cid, ImportChange.Action.UPDATED, jsonable(before), jsonable(after), added)
                )
            if before or added.keys() - {"consents"}:
                audits.append(
                    (cid, state["full_name"], cid, jsonable({**audit_changes, "import": [None, self.run.pk]}))
                )
                fields = [*before, *(k for k in added if k != "consents")]
                shown = sorted(k for k in fields if k not in self.sensitive)
                timeline.append(
                    (cid, "system", "", ", ".join(shown)[:200], "", self.user_id, now,
                     False, {"fields": shown, "protected_fields": len(fields) - len(shown), "import": self.run.pk,
                             "via": self.actor.via}, now, now)
                )  # fmt: skip
        quote = connection.ops.quote_name
        table = quote(Contact._meta.db_table)
        for changed, params in updates.items():
            adapt = [self._adapter(c) for c in (*changed, "updated_at")]
            for values in params:
                for i, fn in enumerate(adapt):
                    if fn is not None:
                        values[i] = fn(values[i])
            assignments = ", ".join(f"{quote(c)} = %s" for c in (*changed, "updated_at"))
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", params)  # noqa: S608
        self.tables["email"].insert(emails)
        self.tables["phone"].insert(phones)
        self.tables["external"].insert(externals)
        self.tables["social"].insert(socials)
        self.tables["tag"].insert(tags)
        self.tables["company"].insert(links)
        self.tables["note"].insert([*notes, *timeline])
        self.tables["change"].insert(new_changes)
        if change_updates:
            json_value = json_adapter(ImportChange._meta.get_field("before"))
            quote = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {quote(ImportChange._meta.db_table)} SET {quote('before')} = %s, {quote('after')} = %s, "  # noqa: S608
                    f"{quote('added')} = %s WHERE run_id = %s AND contact_id = %s",
                    [
                        [json_value(b), json_value(a), json_value(d), self.run.pk, cid]
                        for b, a, d, cid in change_updates
                    ],
                )
        self._write_consents(consents, states, now)
        self._audit_rows("update", "contact", audits)
        if reindex:
            search_index(reindex)
        return {cid: list(changes) for cid, _name, _cid, changes in audits}

    def _adapter(self, column: str) -> Callable[[Any], Any] | None:
        f = next(f for f in Contact._meta.concrete_fields if f.attname == column)
        if isinstance(f, models.DateTimeField):
            return connection.ops.adapt_datetimefield_value
        if isinstance(f, models.DateField):
            return connection.ops.adapt_datefield_value
        if isinstance(f, models.JSONField):
            return json_adapter(f)
        return None

    def _all_purposes(self, targets: list[Target]) -> list[int]:
        return list({*self.purposes, *(p for t in targets for r in t.rows for p in r.consents)})


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
