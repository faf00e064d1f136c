"""Reads of the consent ledger."""

from __future__ import annotations

from danhba.contacts.models import Contact
from danhba.privacy.models import ConsentRecord


def consent_history(contact: Contact, limit: int = 50) -> list[ConsentRecord]:
    """The newest statements of the contact's consent ledger."""
    return list(ConsentRecord.objects.filter(contact_id=contact.pk).select_related("purpose", "recorded_by")[:limit])
