"""Writes of timeline entries (notes, calls, meetings…); the change entries a contact write
adds are ``contacts.py``'s."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import contacts_changed
from danhba.contacts.models import (
    Contact,
    TimelineEntry,
)
from danhba.contacts.services.contacts import can_see_contact
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied
from danhba.core.normalize import (
    NormalizationError,
    clean_long_text,
    clean_text,
    parse_datetime,
)

# --- timeline -------------------------------------------------------------------------------


_AUDITED = ("kind", "channel", "subject", "body", "is_private")


def _may_change(actor: Actor, contact: Contact, entry: TimelineEntry, *, creating: bool) -> None:
    """Who may write this entry: the contact must be visible; an existing entry must not be a
    change record, must be visible (private notes) and must be the actor's own unless admin."""
    user = actor.user
    if user is not None and not can_see_contact(user, contact):
        raise NotFound(_("No such contact."))
    if creating:
        return
    if entry.kind == TimelineEntry.Kind.SYSTEM:
        raise PermissionDenied(_("Change records on the timeline cannot be edited."))
    if user is not None and entry.is_private and not _sees_private(user, entry):
        raise NotFound(_("No such timeline entry."))
    if user is not None and not (user.is_admin or entry.author_id == user.pk):
        raise PermissionDenied(_("Only the author or an admin can change a timeline entry."))


def _clean_kind(kind: Any, channel: Any, errors: dict[str, list[str]]) -> None:
    if kind not in TimelineEntry.Kind.values or kind == TimelineEntry.Kind.SYSTEM:
        errors["kind"] = [
            _("must be one of %(choices)s")
            % {"choices": ", ".join(k for k in TimelineEntry.Kind.values if k != "system")}
        ]
    if channel and channel not in TimelineEntry.Channel.values:
        errors["channel"] = [_("must be one of %(choices)s") % {"choices": ", ".join(TimelineEntry.Channel.values)}]


def _clean_entry(actor: Actor, entry: TimelineEntry, data: dict[str, Any]) -> dict[str, Any]:
    """The entry's fields after this change, checked; :class:`InvalidInput` names each problem."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {
        "kind": data.get("kind", entry.kind),
        "channel": data.get("channel", entry.channel) or "",
        "subject": clean_text(data.get("subject", entry.subject)),
        "body": clean_long_text(data.get("body", entry.body)),
        "is_private": bool(data.get("is_private", entry.is_private)),
    }
    _clean_kind(out["kind"], out["channel"], errors)
    if len(out["subject"]) > 200:
        errors["subject"] = [_("at most %(n)s characters") % {"n": 200}]
    if not out["subject"] and not out["body"]:
        errors["body"] = [_("write a subject or some details")]
    try:
        out["occurred_at"] = parse_datetime(data.get("occurred_at") or entry.occurred_at)
    except NormalizationError as exc:
        errors["occurred_at"] = [str(exc)]
    if out["is_private"] and actor.user is not None and not actor.user.sees_field("private_notes"):
        errors["is_private"] = [_("your role cannot write private notes")]
    if errors:
        raise InvalidInput(errors)
    return out


def timeline_entry_save(
    *, actor: Actor, contact: Contact, entry: TimelineEntry | None, data: dict[str, Any]
) -> TimelineEntry:
    creating = entry is None
    require(actor, "timeline", perms.CREATE if creating else perms.EDIT)
    entry = entry or TimelineEntry(contact=contact, author=actor.user)
    _may_change(actor, contact, entry, creating=creating)
    cleaned = _clean_entry(actor, entry, data)
    before = {} if creating else {key: getattr(entry, key) for key in _AUDITED}
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(entry, key, value)
        entry.updated_at = timezone.now()
        entry.save()
        if entry.occurred_at > contact.last_activity_at:
            Contact.objects.filter(pk=contact.pk, last_activity_at__lt=entry.occurred_at).update(
                last_activity_at=entry.occurred_at
            )
            # A call or note is activity: the apps that age contacts' data (quality) follow.
            contacts_changed(reasons={contact.pk: ["field:last_activity_at"]})
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
            object_type="timeline",
            object_id=entry.pk,
            object_label=entry.subject or entry.kind,
            contact_id=contact.pk,
            changes=changes_between(before, {key: cleaned[key] for key in _AUDITED}),
        )
    return entry


def _sees_private(user: User, entry: TimelineEntry) -> bool:
    return user.sees_field("private_notes") or entry.author_id == user.pk


def timeline_entry_delete(*, actor: Actor, entry: TimelineEntry) -> None:
    require(actor, "timeline", perms.DELETE)
    user = actor.user
    if user is not None and (
        not can_see_contact(user, entry.contact) or (entry.is_private and not _sees_private(user, entry))
    ):
        raise NotFound(_("No such timeline entry."))
    if entry.kind == TimelineEntry.Kind.SYSTEM:
        raise PermissionDenied(_("Change records on the timeline cannot be deleted."))
    audit_event(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        object_type="timeline",
        object_id=entry.pk,
        object_label=entry.subject or entry.kind,
        contact_id=entry.contact_id,
        changes={"subject": [entry.subject, None], "body": [entry.body, None]},
    )
    entry.delete()
