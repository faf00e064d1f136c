"""Event sources and their write keys."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.normalize import (
    clean_text,
)
from danhba.tracking.models import Source

logger = logging.getLogger(__name__)


# --- sources --------------------------------------------------------------------------------


def source_create(*, actor: Actor, name: str, kind: str = Source.Kind.SERVER) -> tuple[Source, str]:
    """Create a source; returns it and its raw write key, which is never shown again."""
    perms.require(actor, "source", perms.CREATE)
    name = clean_text(name)
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 120:
        errors["name"] = [_("between 1 and 120 characters")]
    if kind not in Source.Kind.values:
        errors["kind"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Source.Kind.values)}]
    if errors:
        raise InvalidInput(errors)
    raw, prefix, key_hash = Source.generate_key()
    with transaction.atomic():
        source = Source.objects.create(
            name=name, kind=kind, key_prefix=prefix, key_hash=key_hash, created_by=actor.user
        )
        audit_event(
            actor=actor,
            action=AuditEvent.Action.CREATE,
            object_type="source",
            object_id=source.pk,
            object_label=str(source),
        )
    return source, raw


def source_disable(*, actor: Actor, source: Source) -> Source:
    """Stop accepting events with the source's key (at once: keys are checked on every request)."""
    perms.require(actor, "source", perms.EDIT)
    with transaction.atomic():
        updated = Source.objects.filter(pk=source.pk, disabled_at__isnull=True).update(disabled_at=timezone.now())
        source.refresh_from_db(fields=["disabled_at"])
        if updated:
            audit_event(
                actor=actor,
                action=AuditEvent.Action.UPDATE,
                object_type="source",
                object_id=source.pk,
                object_label=str(source),
                changes={"disabled_at": [None, source.disabled_at.isoformat() if source.disabled_at else None]},
            )
    return source
