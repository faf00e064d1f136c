"""Writes to the list of consent purposes. Admins only; a purpose with statements in the ledger
is never deleted (the ledger is proof), only deactivated so it is no longer offered."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from danhba.contacts.services.choices import labelled_choice_save, require_admin
from danhba.core.actor import Actor
from danhba.privacy.models import ConsentPurpose


def consent_purpose_save(*, actor: Actor, purpose: ConsentPurpose | None, data: dict[str, Any]) -> ConsentPurpose:
    require_admin(actor, _("consent purposes"))
    return labelled_choice_save(
        actor=actor,
        model=ConsentPurpose,
        item=purpose,
        data=data,
        object_type="consent_purpose",
        extra_text={"description": 2000},
        extra_flags=("email_topic",),
    )
