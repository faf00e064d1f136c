"""Many contacts at once, as the one-contact services write them (the event worker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.permissions import require
from danhba.contacts.changes import reasons_for_changes
from danhba.contacts.custom_fields import clean_custom_values
from danhba.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    CustomField,
    ExternalId,
    LifecycleStage,
    Source,
)
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
from danhba.contacts.writer import ContactChange, ContactWriter, NewContact
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
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
        self.writer = ContactWriter(actor)
        # Drafts are copies of one blank contact: building a Contact runs every field's default
        # (45 of them), several times the cost of a copy, once per new contact.
        self._blank = Contact()

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
        # copy.copy of the blank, less its pickling protocol (a fresh ModelState is what the
        # blank's copy holds: it is never saved, nothing cached on it).
        contact = Contact.__new__(Contact)
        contact.__dict__.update(self._blank.__dict__)
        contact._state = ModelState()
        contact.created_at = contact.last_activity_at = now
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
        drafts = [item if isinstance(item, tuple) else self.draft(item) for item in items]
        if not drafts:
            return []
        ids = self.writer.create([self._new_contact(*draft) for draft in drafts])
        self.writer.done()  # as _contact_save
        return ids

    def _new_contact(self, contact: Contact, emails: list[dict[str, Any]], phones: list[dict[str, Any]],
                     pairs: list[tuple[str, str]]) -> NewContact:  # fmt: skip
        """What the writer needs of a draft, its audit row's changes included (as _contact_save)."""
        emails = sorted(emails, key=lambda e: not e["is_primary"])  # the primary first
        phones = sorted(phones, key=lambda p: not p["is_primary"])
        related = {
            "emails": [e["email"] for e in emails],
            "phones": [p["e164"] for p in phones],
            "tags": [],
            "companies": [],
            "external_ids": sorted(ExternalId.text(s, v) for s, v in pairs),
            "social_profiles": [],
        }
        return NewContact(
            values={a: getattr(contact, a) for a in self.writer.attnames if a != "id"},
            emails=[(e["email"], e["label"]) for e in emails],
            phones=[(p["e164"], p["raw"], p["kind"], p["label"]) for p in phones],
            external_ids=list(pairs),
            audit=changes_between({}, contact_snapshot(contact, related)),
        )

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
        changes = []
        for cid in ids:
            add = additions[cid]
            emails = clean_emails([{"email": e} for e in add.get("emails", ())], errors)
            phones = clean_phones([{"phone": p} for p in add.get("phones", ())], errors)
            pairs = clean_pairs(
                [{"system": s, "value": v} for s, v in add.get("external_ids", ())],
                "system",
                "value",
                errors,
                "external_ids",
            )
            after = {
                "emails": [*before[cid]["emails"], *(e["email"] for e in emails)],
                "phones": [*before[cid]["phones"], *(p["e164"] for p in phones)],
                "external_ids": sorted([*before[cid]["external_ids"], *(ExternalId.text(s, v) for s, v in pairs)]),
            }
            changes.append(
                ContactChange(
                    contact_id=cid,
                    label=contacts[cid].full_name,
                    emails=[(e["email"], e["label"]) for e in emails],
                    phones=[(p["e164"], p["raw"], p["kind"], p["label"]) for p in phones],
                    external_ids=pairs,
                    changes=changes_between(before[cid], after),
                )
            )
        if errors:
            raise InvalidInput(errors)
        self.writer.update(changes)
        # Segments hear the reasons of the whole batch for each changed contact.
        changed = [c for c in changes if c.changes]
        why = reasons_for_changes({k for c in changed for k in c.changes})
        self.writer.done(reasons=dict.fromkeys((c.contact_id for c in changed), why))

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
