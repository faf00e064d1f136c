"""How a merge of contacts (the quality app) treats contacts' own tables, added to
``extensions.MERGE_TABLES`` in ``apps.py``: after rows move, each contact's primary email and
phone are the ones its columns name (the survivorship rules chose them)."""

from __future__ import annotations

from typing import Any

from danhba.contacts.models import Contact, ContactEmail, ContactPhone


def primaries_fix(contact_ids: list[int]) -> None:
    """Mark as primary the email and phone each contact's ``email`` and ``phone`` columns hold
    (emails are unique, so the row is that contact's own), and no other."""
    contacts = Contact.objects.filter(pk__in=contact_ids)
    ContactEmail.objects.filter(contact_id__in=contact_ids).update(is_primary=False)
    ContactEmail.objects.filter(contact_id__in=contact_ids, email__in=contacts.values("email")).update(is_primary=True)
    ContactPhone.objects.filter(contact_id__in=contact_ids).update(is_primary=False)
    for contact_id, phone in contacts.exclude(phone="").values_list("pk", "phone"):
        ContactPhone.objects.filter(contact_id=contact_id, e164=phone).update(is_primary=True)


def after_merge(survivor_id: int, other_ids: list[int], state: Any) -> None:
    primaries_fix([survivor_id])


def after_undo(survivor_id: int, other_ids: list[int], state: Any) -> None:
    primaries_fix([survivor_id, *other_ids])
