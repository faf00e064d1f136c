"""A person confirms a contact's data ("verified"): its freshness starts again from now, and
the signals that were evidence of decay before that moment (a bounce, an import's new job
title, inactivity) no longer count; facts about the data as it is (an invalid phone, a mail
domain without a mail server) stay until the data changes. Audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied
from danhba.quality.models import Freshness, ImportSignal
from danhba.quality.services.freshness import freshness_update


def contact_verify(*, actor: Actor, contact: Contact) -> Freshness:
    """Mark the contact verified now (needs "contact: edit" and the contact's visibility, which
    the caller's ``contact_get`` checked)."""
    if actor.user is None or not actor.user.can("contact", perms.EDIT):
        raise PermissionDenied(_("Your role may not edit contacts."))
    now = timezone.now()
    with transaction.atomic():
        freshness_update(contact_ids=[contact.pk], now=now)
        Freshness.objects.filter(contact_id=contact.pk).update(verified_at=now, verified_by=actor.label[:200])
        ImportSignal.objects.filter(contact_id=contact.pk, seen_at__lte=now).delete()
        freshness_update(contact_ids=[contact.pk], now=now)
        audit_event(
            actor=actor,
            action="verify",
            object_type="contact",
            object_id=contact.pk,
            object_label=contact.display_name,
            contact_id=contact.pk,
            changes={"verified_at": [None, now]},
        )
    return Freshness.objects.get(contact_id=contact.pk)
