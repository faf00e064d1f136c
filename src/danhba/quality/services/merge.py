"""Merging contacts, and undoing a merge.

A merge keeps one contact (the survivor) and folds the others into it:

- the survivor's fields follow the survivorship rules (``quality/survivorship.py``);
- every row with a key to a merged-away contact moves to the survivor, table by table with one
  UPDATE per chunk of row ids (``quality/relations.py`` finds the tables through Django's model
  meta, so apps above quality are covered without quality importing them). A row that would
  break a unique constraint because the survivor has its twin (both in one list, both scored by
  one model) is removed and kept in the merge. Tables that need their own handling say so in
  ``contacts.extensions.MERGE_TABLES`` (consent: the stricter status wins; one active
  enrolment per workflow; derived rows recomputed);
- the merged-away contacts are deleted, each leaving a tombstone (``MergedContact``) that
  points its old id at the survivor; the merge records their fields.

Undo (for ``UNDO_DAYS``) gives back both sides as they were plus what each gained since: the
merged-away contacts come back with their ids and fields, the rows the merge moved go back to
them, the rows it removed come back, and the survivor's fields the merge changed return to
their old values unless someone changed them again since. Rows created on the survivor after
the merge stay on the survivor: nothing says which contact they were about.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import EVERYTHING, contacts_changed
from danhba.contacts.models import BuyerRole, Contact, LifecycleStage
from danhba.contacts.selectors import hidden_fields
from danhba.contacts.services.contacts import contact_snapshot
from danhba.contacts.writer import ContactWriter
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.bulk import chunks
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.quality import survivorship
from danhba.quality.models import Merge, MergedContact, MergeSettings, Rule
from danhba.quality.models.merges import ExactEncoder
from danhba.quality.relations import Link, contact_links

# At most this many contacts in one merge (the survivor included).
MAX_CONTACTS = 20
CHUNK = 2000
PERM = "merge"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(values, cls=ExactEncoder))
    return result


def _fields(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    return {f.attname: f for f in model._meta.concrete_fields}


def _row_values(model: type[models.Model], stored: dict[str, Any]) -> dict[str, Any]:
    """Stored JSON values of a row back as Python values, by attname."""
    fields = _fields(model)
    values = {}
    for attname, value in stored.items():
        field = fields.get(attname)
        if field is not None:
            values[attname] = None if value is None else field.to_python(value)
    return values


def _contact_values(contact: Contact) -> dict[str, Any]:
    return {f.attname: f.value_from_object(contact) for f in Contact._meta.concrete_fields}


# --- checking the request -----------------------------------------------------------------


def _ids(value: Contact | int | Any) -> int:
    if isinstance(value, Contact):
        return int(value.pk)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput({"contacts": [_("Each contact is given by its id.")]})
    return value


def _contacts_for(actor: Actor, survivor: Contact | int, others: Iterable[Contact | int]) -> tuple[int, list[int]]:
    survivor_id = _ids(survivor)
    other_ids = list(dict.fromkeys(_ids(o) for o in others))
    errors: dict[str, list[str]] = {}
    if not other_ids:
        errors["others"] = [_("Choose at least one contact to merge into the survivor.")]
    if survivor_id in other_ids:
        errors["others"] = [_("The survivor cannot be merged into itself.")]
    if len(other_ids) + 1 > MAX_CONTACTS:
        errors["others"] = [_("At most %(n)s contacts can be merged at once.") % {"n": MAX_CONTACTS}]
    if errors:
        raise InvalidInput(errors)
    wanted = [survivor_id, *other_ids]
    qs = Contact.objects.filter(pk__in=wanted)
    if actor.user is not None:
        qs = qs.visible_to(actor.user)
    found = set(qs.values_list("pk", flat=True))
    missing = [cid for cid in wanted if cid not in found]
    if missing:
        raise NotFound(_("No such contact: %(ids)s.") % {"ids": ", ".join(f"#{m}" for m in missing)})
    return survivor_id, other_ids


def _rules_check(rules: dict[str, Any] | None, contact_ids: list[int]) -> dict[str, Any]:
    """A merge's own choices: a field group (or "custom.<key>") → a rule name or the id of one
    of the merged contacts."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise InvalidInput({"rules": [_("must be an object: field → rule or contact id")]})
    errors: dict[str, list[str]] = {}
    for key, value in rules.items():
        if key not in survivorship.GROUPS and not str(key).startswith(survivorship.CUSTOM):
            errors[f"rules.{key}"] = [_("unknown field")]
        elif not (value in Rule.values or (isinstance(value, int) and value in contact_ids)):
            errors[f"rules.{key}"] = [_("must be a rule (%(choices)s) or the id of a contact of this merge")
                                      % {"choices": ", ".join(Rule.values)}]  # fmt: skip
    if errors:
        raise InvalidInput(errors)
    return rules


def merge_preview(
    *, actor: Actor, survivor: Contact | int, others: Iterable[Contact | int], rules: dict[str, Any] | None = None
) -> list[survivorship.Choice]:
    """What the survivor would keep, field by field (the merge page shows it; nothing written).
    The sensitive fields the reader may not see are left out, as everywhere else."""
    perms.require(actor, PERM, perms.VIEW)
    survivor_id, other_ids = _contacts_for(actor, survivor, others)
    rules = _rules_check(rules, [survivor_id, *other_ids])
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=[survivor_id, *other_ids])}
    choices = _choices(contacts[survivor_id], [contacts[o] for o in other_ids], rules)
    hidden = hidden_fields(actor.user) if actor.user is not None else set()
    return [c for c in choices if c.key not in hidden]


def _choices(survivor: Contact, others: Sequence[Contact], rules: dict[str, Any] | None) -> list[survivorship.Choice]:
    settings = MergeSettings.current()
    merged_rules = {**(settings.rules or {}), **(rules or {})}
    ranking = settings.source_ranking or survivorship.DEFAULT_SOURCE_RANKING
    return survivorship.choose(
        survivor, others, rules=merged_rules, default_rule=settings.default_rule, ranking=ranking
    )


# --- moving rows ----------------------------------------------------------------------------


def _serialize(link: Link, pks: Sequence[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    attnames = list(_fields(link.model))
    for chunk in chunks(list(pks), CHUNK):
        rows.extend(_jsonable(r) for r in link.model._default_manager.filter(pk__in=chunk).values(*attnames))
    return rows


def _delete(link: Link, pks: Sequence[Any]) -> None:
    for chunk in chunks(list(pks), CHUNK):
        link.model._default_manager.filter(pk__in=chunk).delete()


def _clashing(link: Link, survivor_id: int, other_ids: list[int]) -> list[Any]:
    """Rows of the merged-away contacts that would break a unique constraint if moved: the
    survivor (or an earlier merged-away contact) has a row with the same other values."""
    manager = link.model._default_manager
    pk = link.model._meta.pk.attname
    clashing: set[Any] = set()
    for unique in link.uniques:
        flag = ExpressionWrapper(unique.condition, output_field=BooleanField()) if unique.condition else None
        survivors = manager.filter(**{link.attname: survivor_id})
        if unique.condition is not None:
            survivors = survivors.filter(unique.condition)
        taken = set(survivors.values_list(*unique.others)) if unique.others else set()
        if not unique.others and survivors.exists():
            taken = {()}
        moving = manager.filter(**{f"{link.attname}__in": other_ids}).order_by(pk)
        if flag is not None:
            moving = moving.annotate(_merge_counts=flag)
        for row in moving.values(pk, *unique.others, *(["_merge_counts"] if flag is not None else [])):
            if flag is not None and not row["_merge_counts"]:
                continue
            key = tuple(row[a] for a in unique.others)
            if key in taken:
                clashing.add(row[pk])
            else:
                taken.add(key)
    return sorted(clashing)


def _move(link: Link, survivor_id: int, other_ids: list[int], merge: Merge) -> None:
    manager = link.model._default_manager
    pk = link.model._meta.pk.attname
    if link.strategy == "keep":
        return
    if link.strategy == "drop":
        drop = list(manager.filter(**{f"{link.attname}__in": other_ids}).values_list(pk, flat=True))
    else:
        drop = _clashing(link, survivor_id, other_ids)
    if drop:
        merge.dropped.setdefault(link.label, []).extend(_serialize(link, drop))
        _delete(link, drop)
    if link.strategy == "drop":
        return
    moved: dict[str, list[Any]] = {}
    for row_pk, owner in manager.filter(**{f"{link.attname}__in": other_ids}).values_list(pk, link.attname):
        moved.setdefault(str(owner), []).append(row_pk)
    for chunk in chunks([p for ids in moved.values() for p in ids], CHUNK):
        manager.filter(pk__in=chunk).update(**{link.attname: survivor_id})
    if moved:
        merge.moved[link.key] = moved


def _move_all(links: Sequence[Link], survivor_id: int, other_ids: list[int], merge: Merge) -> None:
    tables = {link.label: link.handling for link in links}
    for label, handling in tables.items():
        if handling.before is not None:
            merge.state[label] = handling.before(survivor_id, other_ids)
    for link in links:
        _move(link, survivor_id, other_ids, merge)
    for label, handling in tables.items():
        if handling.after is not None:
            handling.after(survivor_id, other_ids, merge.state.get(label))


# --- merging --------------------------------------------------------------------------------


def merge_contacts(
    actor: Actor,
    survivor: Contact | int,
    others: Iterable[Contact | int],
    rules: dict[str, Any] | None = None,
) -> Merge:
    """Merge ``others`` into ``survivor``. ``rules`` overrides the configured survivorship for
    this merge: a group key ("name", "email", "address", …, "custom.<key>") → a rule name
    ("recent", "source", "survivor") or the id of the contact whose value to keep."""
    perms.require(actor, PERM, perms.CREATE)
    perms.require(actor, "contact", perms.EDIT)
    survivor_id, other_ids = _contacts_for(actor, survivor, others)
    rules = _rules_check(rules, [survivor_id, *other_ids])
    with transaction.atomic():
        contacts = Contact.objects.select_for_update().filter(pk__in=[survivor_id, *other_ids]).order_by("pk")
        locked = {c.pk: c for c in contacts}  # in id order, as every other writer of several contacts
        if len(locked) != len(other_ids) + 1:
            raise Conflict(_("A contact of this merge was just merged or deleted."))
        kept, gone = locked[survivor_id], [locked[o] for o in other_ids]
        choices = _choices(kept, gone, rules)
        before = {c.pk: _contact_values(c) for c in locked.values()}
        audit_before = contact_snapshot(kept)
        merge = Merge.objects.create(
            survivor_id=survivor_id,
            survivor_label=kept.display_name[:200],
            merged_ids=other_ids,
            rules={c.key: (c.contact_id if c.rule == "pick" else c.rule) for c in choices},
            snapshot={str(cid): _jsonable(values) for cid, values in before.items()},
            created_by=actor.user,
        )
        changes = _survivor_write(kept, gone, choices)
        merge.changes = _jsonable({a: [before[survivor_id][a], after] for a, after in changes.items()})
        _move_all(contact_links(), survivor_id, other_ids, merge)
        now = timezone.now()
        MergedContact.objects.bulk_create(
            [MergedContact(contact_id=o, survivor_id=survivor_id, merge=merge, merged_at=now) for o in other_ids]
        )
        _audit_merge(actor, merge, kept, gone, audit_before)
        contacts_changed(deleted=other_ids)
        Contact.objects.filter(pk__in=other_ids).delete()
        merge.save(update_fields=["changes", "moved", "dropped", "state"])
    return merge


def _survivor_write(
    survivor: Contact, others: Sequence[Contact], choices: Sequence[survivorship.Choice]
) -> dict[str, Any]:
    """Give the survivor its merged fields; return those that changed (attname → new value)."""
    values = survivorship.merged_fields(survivor, others, choices)
    current = _contact_values(survivor)
    changed = {a: v for a, v in values.items() if current.get(a) != v}
    if changed:
        changed["updated_at"] = timezone.now()
        Contact.objects.filter(pk=survivor.pk).update(**changed)
    return changed


def _audit_merge(
    actor: Actor, merge: Merge, survivor: Contact, others: Sequence[Contact], before: dict[str, Any]
) -> None:
    survivor.refresh_from_db()
    writer = ContactWriter(actor)
    changes = changes_between(before, contact_snapshot(survivor))
    changes["merged"] = [None, [o.pk for o in others]]
    writer.record(contact_id=survivor.pk, label=survivor.full_name, changes=changes, created=False)
    writer.audit(
        AuditEvent.Action.DELETE,
        "contact",
        [(o.pk, o.display_name, o.pk, {"merged_into": [None, survivor.pk]}) for o in others],
    )
    audit_event(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        object_type="merge",
        object_id=merge.pk,
        object_label=survivor.display_name,
        contact_id=survivor.pk,
        changes={"survivor": [None, survivor.pk], "merged": [None, [o.pk for o in others]]},
    )
    writer.done(reasons={survivor.pk: [EVERYTHING]})


# --- undoing --------------------------------------------------------------------------------


def merge_get(*, actor: Actor, merge_id: int) -> Merge:
    perms.require(actor, PERM, perms.VIEW)
    merge = Merge.objects.filter(pk=merge_id).first()
    if merge is None or not _visible(actor, merge):
        raise NotFound(_("No such merge."))
    return merge


def _visible(actor: Actor, merge: Merge) -> bool:
    if actor.user is None:
        return True
    contacts = Contact.objects.visible_to(actor.user)
    return contacts.filter(pk=merge.survivor_id).exists() or not Contact.objects.filter(pk=merge.survivor_id).exists()


def _undo_check(merge: Merge) -> None:
    if merge.status == Merge.Status.UNDONE:
        raise Conflict(_("This merge was already undone."))
    if not merge.can_undo():
        raise Conflict(_("A merge can be undone for %(days)s days; this one is older.") % {"days": 90})
    if not Contact.objects.filter(pk=merge.survivor_id).exists():
        later = MergedContact.objects.filter(contact_id=merge.survivor_id).select_related("merge").first()
        if later is not None:
            raise Conflict(
                _("The survivor was merged again (merge #%(id)s): undo that merge first.") % {"id": later.merge_id}
            )
        raise Conflict(_("The survivor of this merge was deleted."))
    if Contact.objects.filter(pk__in=merge.merged_ids).exists():
        raise Conflict(_("A merged contact's id is in use again."))


def _restore_rows(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows back, leaving out those whose other keys point at rows gone since."""
    values = [_row_values(model, r) for r in rows]
    for field in model._meta.concrete_fields:
        target = field.related_model
        if not field.is_relation or target is Contact or not isinstance(target, type):
            continue
        wanted = {v[field.attname] for v in values if v.get(field.attname) is not None}
        if not wanted:
            continue
        there = set(target._default_manager.filter(pk__in=wanted).values_list("pk", flat=True))
        values = [v for v in values if v.get(field.attname) is None or v[field.attname] in there]
    model._default_manager.bulk_create([model(**v) for v in values], ignore_conflicts=True)


def _contacts_restore(merge: Merge) -> list[Contact]:
    """The merged-away contacts with their ids and fields; a stage, buyer role or owner deleted
    since is replaced by the survivor's stage, or none."""
    contacts = [Contact(**_row_values(Contact, merge.snapshot[str(cid)])) for cid in merge.merged_ids]
    stages = set(LifecycleStage.objects.values_list("pk", flat=True))
    roles = set(BuyerRole.objects.values_list("pk", flat=True))
    owners = set(
        get_user_model()
        .objects.filter(pk__in=[c.owner_id for c in contacts if c.owner_id])
        .values_list("pk", flat=True)
    )
    survivor_stage = Contact.objects.filter(pk=merge.survivor_id).values_list("lifecycle_stage_id", flat=True)[0]
    for contact in contacts:
        if contact.lifecycle_stage_id not in stages:
            contact.lifecycle_stage_id = survivor_stage
        if contact.buyer_role_id not in roles:
            contact.buyer_role_id = None
        if contact.owner_id not in owners:
            contact.owner_id = None
    Contact.objects.bulk_create(contacts)
    return contacts


def _survivor_revert(merge: Merge) -> dict[str, Any]:
    """The survivor's fields the merge changed go back, unless changed again since."""
    fields = _fields(Contact)
    survivor = Contact.objects.get(pk=merge.survivor_id)
    current = _contact_values(survivor)
    revert = {}
    for attname, (old, new) in merge.changes.items():
        field = fields.get(attname)
        if field is None or attname == "updated_at":
            continue
        new_value = None if new is None else field.to_python(new)
        if current.get(attname) == new_value:
            revert[attname] = None if old is None else field.to_python(old)
    if revert:
        revert["updated_at"] = timezone.now()
        Contact.objects.filter(pk=survivor.pk).update(**revert)
    return revert


def _rows_back(merge: Merge) -> None:
    links = {link.key: link for link in contact_links()}
    for key, by_owner in merge.moved.items():
        link = links.get(key)
        if link is None:
            continue
        manager = link.model._default_manager
        for owner, pks in by_owner.items():
            for chunk in chunks(pks, CHUNK):
                manager.filter(pk__in=chunk, **{link.attname: merge.survivor_id}).update(**{link.attname: int(owner)})
    models_by_label = {link.label: link.model for link in links.values()}
    for label, rows in merge.dropped.items():
        model = models_by_label.get(label)
        if model is not None:
            _restore_rows(model, rows)


def undo_merge(actor: Actor, merge: Merge | int) -> Merge:
    """Undo a merge (see the module's note for what comes back and what stays)."""
    perms.require(actor, PERM, perms.DELETE)
    merge_id = merge.pk if isinstance(merge, Merge) else _ids(merge)
    with transaction.atomic():
        found = Merge.objects.select_for_update().filter(pk=merge_id).first()
        if found is None or not _visible(actor, found):
            raise NotFound(_("No such merge."))
        merge = found
        _undo_check(merge)
        survivor_id, other_ids = int(merge.survivor_id), [int(o) for o in merge.merged_ids]
        audit_before = contact_snapshot(Contact.objects.get(pk=survivor_id))
        restored = _contacts_restore(merge)
        _rows_back(merge)
        MergedContact.objects.filter(merge=merge).delete()
        _survivor_revert(merge)
        handlers = {link.label: link.handling for link in contact_links()}
        for label, handling in handlers.items():
            if handling.undone is not None:
                handling.undone(survivor_id, other_ids, merge.state.get(label))
        merge.status = Merge.Status.UNDONE
        merge.undone_at = timezone.now()
        merge.undone_by = actor.user
        merge.save(update_fields=["status", "undone_at", "undone_by"])
        _audit_undo(actor, merge, restored, audit_before)
    return merge


def _audit_undo(actor: Actor, merge: Merge, restored: Sequence[Contact], before: dict[str, Any]) -> None:
    writer = ContactWriter(actor)
    survivor = Contact.objects.get(pk=merge.survivor_id)
    changes = changes_between(before, contact_snapshot(survivor))
    changes["merge_undone"] = [None, merge.pk]
    writer.record(contact_id=survivor.pk, label=survivor.full_name, changes=changes, created=False)
    for contact in restored:
        writer.record(
            contact_id=contact.pk, label=contact.full_name, changes={"merge_undone": [None, merge.pk]}, created=True
        )
    # Audited as created again, but not announced as new contacts: new-contact work (lead
    # assignment and its "new lead" notice, the real-time duplicate check) is not for a contact
    # an undo gives back. The listeners hear of them as changed in everything (reasons below).
    back = {contact.pk for contact in restored}
    writer.created = [cid for cid in writer.created if cid not in back]
    audit_event(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        object_type="merge",
        object_id=merge.pk,
        object_label=survivor.display_name,
        contact_id=survivor.pk,
        changes={"status": [Merge.Status.DONE, Merge.Status.UNDONE]},
    )
    writer.done(reasons={survivor.pk: [EVERYTHING], **{c.pk: [EVERYTHING] for c in restored}})
