"""Many contacts at once, as the one-contact services write them (the event worker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_events_bulk
from danhba.contacts.changes import contacts_changed, reasons_for_changes
from danhba.contacts.custom_fields import clean_custom_values
from danhba.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    CustomField,
    ExternalId,
    LifecycleStage,
    Source,
    TimelineEntry,
    display_name,
)
from danhba.contacts.search import SearchDoc, search_index, search_index_new
from danhba.contacts.services.cleaning import (
    NAME_FIELDS,
    apply_names,
    check_sensitive,
    clean_contact,
    clean_emails,
    clean_pairs,
    clean_phones,
    name_or_identity,
)
from danhba.contacts.services.contacts import contact_snapshot
from danhba.core.actor import Actor
from danhba.core.audit import changes_between, jsonable
from danhba.core.bulk import Table, allocate_ids
from danhba.core.errors import InvalidInput, NotFound

# --- many contacts at once (the event worker) ----------------------------------------------


# An unsaved contact with its cleaned emails, phones and external ids.
ContactDraft = tuple[Contact, list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, str]]]


class ContactsBulk:
    """``contact_create``, and the kind of ``contact_update`` that only adds emails, phones and
    external ids, for many contacts in a few multi-row statements: the event worker creates and
    extends contacts by the dozen per request. Same validation and the same rows as the
    one-at-a-time services — contact, emails, phones, external ids, search keys, audit log,
    timeline, webhooks — where ``contact_update`` would delete and re-insert the identity rows,
    this only inserts the new ones (same content). Not for tags, companies or custom values."""

    def __init__(self, actor: Actor) -> None:
        require(actor, "contact", perms.CREATE)
        require(actor, "contact", perms.EDIT)
        self.actor = actor
        self.stage = LifecycleStage.objects.filter(is_active=True).order_by("position").first()
        self.custom, self.custom_errors = clean_custom_values(CustomField.Entity.CONTACT, {}, None, creating=True)

    def draft(self, data: dict[str, Any]) -> ContactDraft:
        """Validate ``data`` as ``contact_create`` does (raising InvalidInput); returns the unsaved
        contact with its cleaned emails, phones and external ids. Writes nothing."""
        unsupported = {"tags", "companies", "social_profiles", "custom"} & set(data)
        if unsupported:
            raise ValueError(f"ContactsBulk does not write {sorted(unsupported)}")
        check_sensitive(self.actor, data)
        errors: dict[str, list[str]] = {}
        cleaned = clean_contact(data, errors)
        emails = clean_emails(data["emails"], errors) if "emails" in data else []
        phones = clean_phones(data["phones"], errors) if "phones" in data else []
        external_ids = (
            clean_pairs(data["external_ids"], "system", "value", errors, "external_ids")
            if "external_ids" in data
            else []
        )
        errors.update(self.custom_errors)
        name_or_identity(cleaned, emails, phones, external_ids, errors)
        if "lifecycle_stage" not in cleaned:
            cleaned["lifecycle_stage"] = self.stage
        if "source" not in cleaned:
            cleaned["source"] = Source.API if self.actor.via == "api" else Source.OTHER
        user = self.actor.user
        if "owner" not in cleaned and user is not None and user.role.record_scope != perms.SCOPE_ALL:
            cleaned["owner"] = user
        if errors:
            raise InvalidInput(errors)
        now = timezone.now()
        contact = Contact(created_at=now)
        apply_names(contact, cleaned, True)
        for key, value in cleaned.items():
            if key not in NAME_FIELDS:
                setattr(contact, key, value)
        contact.custom = dict(self.custom)
        contact.updated_at = now
        contact.email = next((e["email"] for e in emails if e["is_primary"]), "")
        contact.phone = next((p["e164"] for p in phones if p["is_primary"]), "")
        return contact, emails, phones, external_ids

    def create(self, items: Sequence[dict[str, Any] | ContactDraft]) -> list[int]:
        """Create a contact from each of ``items`` (``contact_create`` data, or what ``draft``
        made of it); returns their ids in order. Raises InvalidInput (nothing written then) if
        any item is not valid."""
        # Raw multi-row inserts (ids allocated up front, values adapted as the ORM would): the
        # ORM's bulk_create spends more time preparing 40 columns than SQL takes.
        drafts = [item if isinstance(item, tuple) else self.draft(item) for item in items]
        if not drafts:
            return []
        ids = allocate_ids(Contact, len(drafts))
        attnames = ["id", *(f.attname for f in Contact._meta.concrete_fields if not f.primary_key)]
        rows: list[list[Any]] = []
        emails: list[tuple[Any, ...]] = []
        phones: list[tuple[Any, ...]] = []
        externals: list[tuple[Any, ...]] = []
        docs: list[SearchDoc] = []
        audits: list[tuple[Any, ...]] = []
        actor = self.actor
        now = timezone.now()
        for cid, (contact, contact_emails, contact_phones, pairs) in zip(ids, drafts, strict=True):
            contact.pk = cid
            rows.append([getattr(contact, a) for a in attnames])
            emails += [(cid, e["email"], e["label"], e["is_primary"]) for e in contact_emails]
            phones += [(cid, p["e164"], p["raw"], p["kind"], p["label"], p["is_primary"]) for p in contact_phones]
            externals += [(cid, s, v) for s, v in pairs]
            docs.append(SearchDoc(cid, contact.full_name, [e["email"] for e in contact_emails],
                                  [p["e164"] for p in contact_phones]))  # fmt: skip
            related = {
                "emails": [e["email"] for e in contact_emails],
                "phones": [p["e164"] for p in contact_phones],
                "tags": [],
                "companies": [],
                "external_ids": sorted(str(ExternalId(system=s, value=v)) for s, v in pairs),
                "social_profiles": [],
            }
            changes = jsonable(changes_between({}, contact_snapshot(contact, related)))
            audits.append(
                (now, actor.user.pk if actor.user else None, actor.label, actor.via, AuditEvent.Action.CREATE,
                 "contact", str(cid), display_name(contact.full_name, cid)[:254], cid, changes, actor.ip,
                 actor.user_agent)
            )  # fmt: skip
        Table(Contact, attnames).insert(rows)
        Table(ContactEmail, ["contact_id", "email", "label", "is_primary"]).insert(emails)
        Table(ContactPhone, ["contact_id", "e164", "raw", "kind", "label", "is_primary"]).insert(phones)
        Table(ExternalId, ["contact_id", "system", "value"]).insert(externals)
        search_index_new(docs)
        audit_columns = ["at", "actor_id", "actor_label", "via", "action", "object_type", "object_id",
                         "object_label", "contact_id", "changes", "ip_address", "user_agent"]  # fmt: skip
        Table(AuditEvent, audit_columns).insert(audits)
        contacts_changed(created=ids)  # as _contact_save
        return ids

    def add_identifiers(self, additions: dict[int, dict[str, list[Any]]]) -> None:
        """Add to existing contacts identifiers nobody has: ``additions`` maps a contact id to
        {"emails": [email…], "phones": [raw phone…], "external_ids": [(system, value)…]}, each
        already known to be free. A contact without a primary email (phone) gets the first new
        one as primary, as ``contact_update`` with the list extended would. Raises NotFound if a
        contact is gone, InvalidInput for a value that does not normalise."""
        if not additions:
            return
        ids = sorted(additions)
        contacts = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        if len(contacts) != len(ids):
            raise NotFound(_("No such contact."))
        before = self._identities(ids)
        errors: dict[str, list[str]] = {}
        emails, phones, externals = [], [], []
        now = timezone.now()
        for cid in ids:
            add = additions[cid]
            contact = contacts[cid]
            has_email, has_phone = bool(before[cid]["emails"]), bool(before[cid]["phones"])
            for e in clean_emails([{"email": e} for e in add.get("emails", ())], errors):
                e["is_primary"] = not has_email
                has_email = True
                emails.append(ContactEmail(contact_id=cid, **e))
                contact.email = contact.email if not e["is_primary"] else e["email"]
            for p in clean_phones([{"phone": p} for p in add.get("phones", ())], errors):
                p["is_primary"] = not has_phone
                has_phone = True
                phones.append(ContactPhone(contact_id=cid, **p))
                contact.phone = contact.phone if not p["is_primary"] else p["e164"]
            pairs = clean_pairs(
                [{"system": s, "value": v} for s, v in add.get("external_ids", ())],
                "system",
                "value",
                errors,
                "external_ids",
            )
            externals += [ExternalId(contact_id=cid, system=s, value=v) for s, v in pairs]
            contact.updated_at = now
        if errors:
            raise InvalidInput(errors)
        ContactEmail.objects.bulk_create(emails)
        ContactPhone.objects.bulk_create(phones)
        ExternalId.objects.bulk_create(externals)
        Contact.objects.bulk_update(list(contacts.values()), ["email", "phone", "updated_at"])
        search_index(ids)
        after = self._identities(ids)
        changes = {cid: changes_between(before[cid], after[cid]) for cid in ids}
        changed = [cid for cid in ids if changes[cid]]
        audit_events_bulk(
            actor=self.actor,
            action=AuditEvent.Action.UPDATE,
            object_type="contact",
            rows=[(cid, display_name(contacts[cid].full_name, cid), cid, changes[cid]) for cid in changed],
        )
        sensitive = set(perms.SENSITIVE_STANDARD_FIELDS) | {
            f"custom.{key}"
            for key in CustomField.objects.filter(entity="contact", is_sensitive=True).values_list("key", flat=True)
        }
        entries = []
        for cid in changed:  # as _timeline_change writes them
            shown = sorted(k for k in changes[cid] if k not in sensitive)
            entries.append(
                TimelineEntry(
                    contact_id=cid,
                    kind=TimelineEntry.Kind.SYSTEM,
                    author=self.actor.user,
                    subject=", ".join(shown)[:200],
                    data={"fields": shown, "protected_fields": len(changes[cid]) - len(shown), "via": self.actor.via},
                )
            )
        TimelineEntry.objects.bulk_create(entries)
        # Segments hear the reasons of the whole batch for each changed contact.
        why = reasons_for_changes({k for cid in changed for k in changes[cid]})
        contacts_changed(updated={cid: list(changes[cid]) for cid in changed}, reasons=dict.fromkeys(changed, why))

    @staticmethod
    def _identities(ids: list[int]) -> dict[int, dict[str, list[str]]]:
        """The identity lists of ``contact_snapshot`` for these contacts, in a query each."""
        out: dict[int, dict[str, list[str]]] = {cid: {"emails": [], "phones": [], "external_ids": []} for cid in ids}
        for cid, email in ContactEmail.objects.filter(contact_id__in=ids).values_list("contact_id", "email"):
            out[cid]["emails"].append(email)
        for cid, e164 in ContactPhone.objects.filter(contact_id__in=ids).values_list("contact_id", "e164"):
            out[cid]["phones"].append(e164)
        for x in ExternalId.objects.filter(contact_id__in=ids):
            out[x.contact_id]["external_ids"].append(str(x))
        for lists in out.values():
            lists["external_ids"].sort()
        return out
