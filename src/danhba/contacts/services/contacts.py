"""Writes of contacts: create, update, delete and bulk edits, with their audit rows, timeline
entries, search keys and the one ``contacts_changed`` fan-out (``contacts/changes.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event, audit_events_bulk
from danhba.contacts.changes import contacts_changed, reasons_for_changes
from danhba.contacts.custom_fields import clean_custom_values
from danhba.contacts.keys import tag_key
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
    Source,
)
from danhba.contacts.services.cleaning import (
    LONG_TEXT_FIELDS,
    NAME_FIELDS,
    TEXT_FIELDS,
    apply_names,
    check_new_tags,
    check_sensitive,
    clean_companies,
    clean_contact,
    clean_emails,
    clean_pairs,
    clean_phones,
    clean_tags,
    name_or_identity,
)
from danhba.contacts.services.companies import company_save_new
from danhba.contacts.services.tags import tags_get_or_create
from danhba.contacts.writer import ContactWriter
from danhba.core.actor import Actor
from danhba.core.audit import changes_between, jsonable
from danhba.core.errors import Conflict, InvalidInput, NotFound

# --- permission helpers ---------------------------------------------------------------------


def can_see_contact(user: User, contact: Contact) -> bool:
    return Contact.objects.visible_to(user).filter(pk=contact.pk).exists()


def contact_get(*, actor: Actor, pk: int, audit_view: bool = False) -> Contact:
    """A contact the actor may see, or :class:`NotFound` (never revealing that it exists)."""
    qs = Contact.objects.select_related("lifecycle_stage", "buyer_role", "owner")
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    contact = qs.filter(pk=pk).first()
    if contact is None:
        raise NotFound(_("No such contact."))
    if audit_view:
        audit_event(
            actor=actor,
            action=AuditEvent.Action.VIEW,
            object_type="contact",
            object_id=contact.pk,
            object_label=contact.display_name,
            contact_id=contact.pk,
        )
    return contact


# --- snapshots for the audit log ------------------------------------------------------------


def contact_snapshot(contact: Contact, related: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A flat dict of everything about a contact that the audit log compares. ``related`` gives
    the emails, phones… of a contact just created, instead of reading them back."""
    snap: dict[str, Any] = {
        f: getattr(contact, f)
        for f in (
            *NAME_FIELDS,
            "name_order",
            *TEXT_FIELDS,
            *LONG_TEXT_FIELDS,
            "province",
            "country",
            "gender",
            "source",
        )
    }
    snap["birthday"] = contact.birthday.isoformat() if contact.birthday else None
    snap["lifecycle_stage"] = contact.lifecycle_stage.key if contact.lifecycle_stage_id else None
    snap["buyer_role"] = contact.buyer_role.key if contact.buyer_role else None
    snap["owner"] = contact.owner.email if contact.owner_id and contact.owner else None
    if related is not None:
        snap.update(related)
    elif contact.pk:
        snap["emails"] = [e.email for e in contact.emails.all()]
        snap["phones"] = [p.e164 for p in contact.phones.all()]
        snap["tags"] = sorted(t.name for t in contact.tags.all())
        snap["companies"] = [link.company.name for link in contact.company_links.select_related("company")]
        snap["external_ids"] = sorted(str(x) for x in contact.external_ids.all())
        snap["social_profiles"] = sorted(str(x) for x in contact.social_profiles.all())
    for key, value in (contact.custom or {}).items():
        snap[f"custom.{key}"] = value
    return snap


# --- contacts -------------------------------------------------------------------------------


def contact_create(*, actor: Actor, data: dict[str, Any]) -> Contact:
    require(actor, "contact", perms.CREATE)
    return _contact_write(actor=actor, contact=None, data=data)


def contact_update(*, actor: Actor, contact: Contact, data: dict[str, Any]) -> Contact:
    require(actor, "contact", perms.EDIT)
    if actor.user is not None and not can_see_contact(actor.user, contact):
        raise NotFound(_("No such contact."))
    return _contact_write(actor=actor, contact=contact, data=data)


@dataclass
class _Input:
    """A contact write's data, cleaned: the standard fields, custom values (``custom_touched``:
    the keys the caller sent), and each related list (None: leave as it is)."""

    cleaned: dict[str, Any]
    custom: dict[str, Any]
    custom_touched: set[str]
    emails: list[dict[str, Any]] | None = None
    phones: list[dict[str, Any]] | None = None
    tags: list[str] | None = None
    companies: list[dict[str, Any]] | None = None
    external_ids: list[tuple[str, str]] | None = None
    socials: list[tuple[str, str]] | None = None


def _clean_input(actor: Actor, contact: Contact | None, data: dict[str, Any], errors: dict[str, list[str]]) -> _Input:
    cleaned = clean_contact(data, errors)
    custom_in = data.get("custom") or {}
    if not isinstance(custom_in, dict):
        errors["custom"] = [_("must be an object of field key → value")]
        custom_in = {}
    custom, custom_errors = clean_custom_values(
        CustomField.Entity.CONTACT, custom_in, contact.custom if contact else None, creating=contact is None
    )
    errors.update(custom_errors)
    given = _Input(cleaned, custom, set(custom_in))
    if "emails" in data:
        given.emails = clean_emails(data["emails"], errors)
    if "phones" in data:
        given.phones = clean_phones(data["phones"], errors)
    if "tags" in data:
        given.tags = clean_tags(data["tags"], errors)
    check_new_tags(actor, given.tags or [], errors)
    if "companies" in data:
        given.companies = clean_companies(data["companies"], errors, actor, contact)
    if "external_ids" in data:
        given.external_ids = clean_pairs(data["external_ids"], "system", "value", errors, "external_ids")
    if "social_profiles" in data:
        given.socials = clean_pairs(
            data["social_profiles"], "network", "handle", errors, "social_profiles", SocialProfile.Network.values
        )
    return given


def _new_contact_defaults(actor: Actor, given: _Input, errors: dict[str, list[str]]) -> None:
    """A new contact needs a name or an identity; stage, source and (for a role that sees only
    its own records) owner default."""
    cleaned = given.cleaned
    name_or_identity(cleaned, given.emails or [], given.phones or [], given.external_ids or [], errors)
    if "lifecycle_stage" not in cleaned:
        cleaned["lifecycle_stage"] = LifecycleStage.objects.filter(is_active=True).order_by("position").first()
    if "source" not in cleaned:
        cleaned["source"] = Source.API if actor.via == "api" else Source.OTHER
    if "owner" not in cleaned and actor.user is not None and actor.user.role.record_scope != perms.SCOPE_ALL:
        # Sales reps own what they create, or they could not see it afterwards.
        cleaned["owner"] = actor.user


def _contact_write(*, actor: Actor, contact: Contact | None, data: dict[str, Any]) -> Contact:
    check_sensitive(actor, data)
    errors: dict[str, list[str]] = {}
    given = _clean_input(actor, contact, data, errors)
    cleaned = given.cleaned
    if contact is None:
        _new_contact_defaults(actor, given, errors)
    elif "full_name" in cleaned and not cleaned["full_name"] and not any(cleaned.get(k) for k in NAME_FIELDS[1:]):
        errors["full_name"] = [_("cannot be empty")]
    if errors:
        raise InvalidInput(errors)
    try:
        return _contact_save(actor, contact, given)
    except Conflict as exc:
        raise _conflict_for(actor, exc) from None


def _conflict_for(actor: Actor, exc: Conflict) -> Conflict:
    """A conflict names the other contact only to a caller who may see it."""
    other = exc.details.get("contact_id") if isinstance(exc.details, dict) else None
    if other is None or actor.user is None or Contact.objects.visible_to(actor.user).filter(pk=other).exists():
        return exc
    details = {k: [_("already belongs to another contact")] for k in exc.details if k != "contact_id"}
    return Conflict(exc.message, details)


def _contact_save(actor: Actor, contact: Contact | None, given: _Input) -> Contact:
    creating = contact is None
    with transaction.atomic():
        if contact is None:
            contact = Contact(created_at=timezone.now())
        else:
            # Re-read under a row lock: two people saving different sections at once must not
            # overwrite each other with stale copies, and "before" must be what was stored.
            contact = Contact.objects.select_for_update().get(pk=contact.pk)
            given.custom = _merged_custom(contact, given)
        before = {} if creating else contact_snapshot(contact)
        apply_names(contact, given.cleaned, creating)
        for key, value in given.cleaned.items():
            if key not in NAME_FIELDS:
                setattr(contact, key, value)
        contact.custom = given.custom
        contact.updated_at = timezone.now()
        contact.save()
        _replace_related(actor, contact, given, creating)
        contact.save(update_fields=["email", "phone"])
        changes = changes_between(before, contact_snapshot(contact, _new_related(contact, given) if creating else None))
        # The rules after the rows (search keys, audit, timeline, the fan-out) are the writer's.
        writer = ContactWriter(actor)
        writer.record(contact_id=contact.pk, label=contact.display_name, changes=changes, created=creating)
        writer.done()
    return contact


def _merged_custom(contact: Contact, given: _Input) -> dict[str, Any]:
    """The stored custom values with the keys this write sent set (or removed)."""
    stored = dict(contact.custom or {})
    for key in given.custom_touched:
        if key in given.custom:
            stored[key] = given.custom[key]
        else:
            stored.pop(key, None)
    return stored


def _replace_related(actor: Actor, contact: Contact, given: _Input, creating: bool) -> None:
    """Each related list the write gave replaces the stored one."""
    if given.emails is not None:
        _replace_emails(contact, given.emails, creating)
    if given.phones is not None:
        _replace_phones(contact, given.phones, creating)
    if given.tags is not None:
        _set_tags(actor, contact, given.tags)
    if given.companies is not None:
        _replace_companies(actor, contact, given.companies, creating)
    if given.external_ids is not None:
        _replace_external_ids(contact, given.external_ids, creating)
    if given.socials is not None:
        if not creating:
            contact.social_profiles.all().delete()
        SocialProfile.objects.bulk_create(
            [SocialProfile(contact=contact, network=n, handle=h) for n, h in given.socials]
        )


def _replace_phones(contact: Contact, phones: list[dict[str, Any]], creating: bool) -> None:
    if not creating:
        contact.phones.all().delete()
    ContactPhone.objects.bulk_create([ContactPhone(contact=contact, **p) for p in phones])
    contact.phone = next((p["e164"] for p in phones if p["is_primary"]), "")


def _replace_companies(actor: Actor, contact: Contact, links: list[dict[str, Any]], creating: bool) -> None:
    if not creating:
        contact.company_links.all().delete()
    for link in links:
        if link["company"].pk is None:
            link["company"] = company_save_new(actor, link["company"])
        ContactCompany.objects.create(contact=contact, **link)


def _new_related(contact: Contact, given: _Input) -> dict[str, list[str]]:
    """A new contact's related rows are exactly what was just written (tags excepted: an
    existing tag keeps its own spelling)."""
    return {
        "emails": [e["email"] for e in given.emails or ()],
        "phones": [p["e164"] for p in given.phones or ()],
        "tags": sorted(t.name for t in contact.tags.all()) if given.tags else [],
        "companies": [link["company"].name for link in given.companies or ()],
        "external_ids": sorted(ExternalId.text(s, v) for s, v in given.external_ids or ()),
        "social_profiles": sorted(str(SocialProfile(network=n, handle=h)) for n, h in given.socials or ()),
    }


def _replace_emails(contact: Contact, emails: list[dict[str, Any]], creating: bool = False) -> None:
    taken = ContactEmail.objects.filter(email__in=[e["email"] for e in emails]).exclude(contact=contact)
    clash = taken.values_list("email", "contact_id").first()
    if clash:
        raise Conflict(
            _("The email %(email)s already belongs to another contact.") % {"email": clash[0]},
            {
                "emails": [_("%(email)s already belongs to contact %(id)s") % {"email": clash[0], "id": clash[1]}],
                "contact_id": clash[1],
            },
        )
    if not creating:
        contact.emails.all().delete()
    try:
        with transaction.atomic():
            ContactEmail.objects.bulk_create([ContactEmail(contact=contact, **e) for e in emails])
    except IntegrityError:
        # Lost a race with another writer claiming the same address.
        raise Conflict(
            _("One of these emails was just added to another contact."), {"emails": [_("already taken")]}
        ) from None
    contact.email = next((e["email"] for e in emails if e["is_primary"]), "")


def _replace_external_ids(contact: Contact, pairs: list[tuple[str, str]], creating: bool = False) -> None:
    q = Q()
    for system, value in pairs:
        q |= Q(system=system, value=value)
    if pairs:
        clash = ExternalId.objects.filter(q).exclude(contact=contact).first()
        if clash:
            raise Conflict(
                _("The external id %(value)s already belongs to another contact.") % {"value": clash},
                {
                    "external_ids": [
                        _("%(value)s already belongs to contact %(id)s") % {"value": clash, "id": clash.contact_id}
                    ],
                    "contact_id": clash.contact_id,
                },
            )
    if not creating:
        contact.external_ids.all().delete()
    try:
        with transaction.atomic():
            ExternalId.objects.bulk_create([ExternalId(contact=contact, system=s, value=v) for s, v in pairs])
    except IntegrityError:
        # Lost a race with another writer claiming the same id.
        raise Conflict(
            _("One of these external ids was just added to another contact."), {"external_ids": [_("already taken")]}
        ) from None


def _set_tags(actor: Actor, contact: Contact, names: list[str]) -> None:
    tags = tags_get_or_create(actor, names)
    ContactTag.objects.filter(contact=contact).exclude(tag__in=tags).delete()
    existing = set(ContactTag.objects.filter(contact=contact).values_list("tag_id", flat=True))
    ContactTag.objects.bulk_create([ContactTag(contact=contact, tag=t) for t in tags if t.pk not in existing])


def contact_delete(*, actor: Actor, contact: Contact) -> None:
    require(actor, "contact", perms.DELETE)
    if actor.user is not None and not can_see_contact(actor.user, contact):
        raise NotFound(_("No such contact."))
    with transaction.atomic():
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="contact",
            object_id=contact.pk,
            object_label=contact.display_name,
            contact_id=contact.pk,
            changes=changes_between(contact_snapshot(contact), {}),
        )
        contacts_changed(deleted=[contact.pk])
        contact.delete()


def _bulk_fields(
    owner: int | str | None, lifecycle_stage: str, errors: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The field updates of a bulk edit, and their audit changes (old values filled per contact)."""
    updates: dict[str, Any] = {}
    label_changes: dict[str, list[Any]] = {}
    if owner != "":
        owner_obj = None
        if owner is not None:
            owner_obj = User.objects.filter(pk=owner, is_active=True).first()
            if owner_obj is None:
                errors["owner"] = [_("no such active user")]
        updates["owner"] = owner_obj
        label_changes["owner"] = [None, owner_obj.email if owner_obj else None]
    if lifecycle_stage:
        stage = LifecycleStage.objects.filter(key=lifecycle_stage, is_active=True).first()
        if stage is None:
            errors["lifecycle_stage"] = [_("unknown lifecycle stage '%(value)s'") % {"value": lifecycle_stage}]
        updates["lifecycle_stage"] = stage
        label_changes["lifecycle_stage"] = [None, lifecycle_stage]
    return updates, label_changes


def _bulk_tags(
    actor: Actor, ids: list[int], add: list[str], remove: list[str], label_changes: dict[str, list[Any]]
) -> None:
    if add:
        tags = tags_get_or_create(actor, add)
        ContactTag.objects.bulk_create(
            [ContactTag(contact_id=cid, tag=t) for cid in ids for t in tags], ignore_conflicts=True, batch_size=1000
        )
        label_changes["tags added"] = [None, add]
    if remove:
        ContactTag.objects.filter(contact_id__in=ids, tag__name_key__in=[tag_key(t) for t in remove]).delete()
        label_changes["tags removed"] = [None, remove]


# Fields a bulk edit may set besides owner, stage and tags: plain values and the buyer role.
# Names, identities and custom values go through contact_update (their keys and checks).
BULK_FIELDS = (*TEXT_FIELDS, *LONG_TEXT_FIELDS, "province", "country", "birthday", "gender", "source", "buyer_role")
# What a bulk edit reads before it writes, per field it sets (related rows by their key).
_BULK_OLD = {"owner": "owner__email", "lifecycle_stage": "lifecycle_stage__key", "buyer_role": "buyer_role__key"}


def _bulk_values(
    actor: Actor, fields: Mapping[str, Any], errors: dict[str, list[str]]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The cleaned values of the plain fields a bulk edit sets, and their audit changes."""
    for key in fields:
        if key not in BULK_FIELDS:
            errors[key] = [_("cannot be set for many contacts at once")]
    given = {k: v for k, v in fields.items() if k in BULK_FIELDS}
    check_sensitive(actor, given)
    cleaned = clean_contact(given, errors)
    labels = {
        key: [None, (value.key if value else None) if key == "buyer_role" else jsonable(value)]
        for key, value in cleaned.items()
    }
    return cleaned, labels


def _bulk_audit_rows(
    ids: list[int], previous: Mapping[int, Mapping[str, Any]], label_changes: dict[str, list[Any]]
) -> list[tuple[int, str, int, dict[str, list[Any]]]]:
    """One audit row per contact that changed: "from what to what" with its own old values."""
    rows = []
    for cid in ids:
        before: dict[str, Any] = dict(previous.get(cid) or {})
        changes = {
            key: [jsonable(before.get(_BULK_OLD.get(key, key))), new] if not key.startswith("tags") else [old, new]
            for key, (old, new) in label_changes.items()
        }
        changes = {k: v for k, v in changes.items() if k.startswith("tags") or v[0] != v[1]}
        if changes:
            rows.append((cid, before.get("full_name", ""), cid, changes))
    return rows


def contacts_bulk_update(
    *,
    actor: Actor,
    contact_ids: Sequence[int],
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    owner: int | str | None = "",
    lifecycle_stage: str = "",
    fields: Mapping[str, Any] | None = None,
) -> int:
    """Tag, untag, assign, move or set plain fields (``BULK_FIELDS``) of many contacts in a few
    queries. Returns how many it was given that the actor may edit.

    ``owner=""`` leaves owners alone; ``owner=None`` unassigns.
    """
    require(actor, "contact", perms.EDIT)
    qs = Contact.objects.filter(pk__in=list(contact_ids))
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    ids = list(qs.values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    updates, label_changes = _bulk_fields(owner, lifecycle_stage, errors)
    values, value_changes = _bulk_values(actor, fields or {}, errors)
    updates.update(values)
    label_changes.update(value_changes)
    add = clean_tags(add_tags, errors)
    check_new_tags(actor, add, errors, "add_tags")
    remove = clean_tags(remove_tags, errors)
    if errors:
        raise InvalidInput(errors)
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        # What each contact held before, so every audit row says "from what to what".
        previous = {
            row["pk"]: row
            for row in Contact.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .values("pk", "full_name", *{_BULK_OLD.get(key, key) for key in [*updates, "owner", "lifecycle_stage"]})
        }
        _bulk_tags(actor, ids, add, remove, label_changes)
        if updates or add or remove:
            Contact.objects.filter(pk__in=ids).update(**updates, updated_at=now)
        rows = _bulk_audit_rows(ids, previous, label_changes)
        audit_events_bulk(actor=actor, action=AuditEvent.Action.UPDATE, object_type="contact", rows=rows)
        # Segments hear the bulk edit's reasons for every changed contact, as one edit.
        why = reasons_for_changes(label_changes)
        contacts_changed(
            updated={cid: list(changes) for cid, _label, _cid, changes in rows},
            reasons={cid: why for cid, *_rest in rows},
        )
    return len(ids)
