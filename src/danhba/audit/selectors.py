"""Reads of the audit log: the global audit page and a contact's activity panel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from danhba.audit.display import MASK, Change, visible_rows, vocabulary
from danhba.audit.models import AuditEvent
from danhba.core.keyset import Page, paginate

if TYPE_CHECKING:
    from danhba.accounts.models import User

MAX_LIMIT = 200


@dataclass
class AuditRow:
    event: AuditEvent
    changes: list[Change]
    label: str = ""


def audit_rows(events: list[AuditEvent], hidden: set[str]) -> list[AuditRow]:
    """Events with their changes named and shown in the reader's language (field names, the
    labels of codes, dates and numbers: ``display.AUDIT_VOCABULARY``), values of fields the
    viewer may not see replaced by a mask: the audit log must not leak what the pages hide."""
    words = vocabulary(events)
    rows = []
    for event in events:
        changes = []
        for key, pair in words.stored_changes(event).items():
            before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            masked = key in hidden or (
                event.object_type == "timeline" and key in ("subject", "body") and "private_notes" in hidden
            )
            changes.append((key, MASK if masked and before is not None else before, MASK if masked else after))
        # A timeline entry's label is its subject, which a private note must not show.
        private_note = event.object_type == "timeline" and "private_notes" in hidden
        label = MASK if private_note and event.object_label else words.label(event, event.object_label)
        rows.append(AuditRow(event, words.changes(event.object_type, changes), label))
    return rows


@dataclass
class AuditFilters:
    actor: int | None = None
    action: str = ""
    object_type: str = ""
    via: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    contact: int | None = None


def audit_page(
    filters: AuditFilters, cursor: str | None = None, limit: int = 50, user: User | None = None
) -> Page[AuditEvent]:
    """Newest first, keyset-paged on (at, id); dates are whole days in the current time zone.
    With ``user``, rows the user may not see (``display.AUDIT_VISIBLE``: events about contacts
    outside the user's record visibility) are left out."""
    qs = AuditEvent.objects.all()
    vis = visible_rows(user) if user is not None else None
    if vis is not None:
        qs = qs.filter(vis)
    if filters.actor:
        qs = qs.filter(actor_id=filters.actor)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.via:
        qs = qs.filter(via=filters.via)
    if filters.contact:
        qs = qs.filter(contact_id=filters.contact)
    tz = timezone.get_current_timezone()
    # Dates beyond what time-zone arithmetic can hold select everything / nothing.
    if filters.date_from and filters.date_from.year > 1:
        qs = qs.filter(at__gte=dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=tz))
    if filters.date_to and filters.date_to < dt.date(9999, 12, 1):
        qs = qs.filter(at__lt=dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return paginate(qs.select_related("actor"), "at", cursor, max(1, min(limit, MAX_LIMIT)), descending=True)


def contact_audit(contact_id: int, limit: int = 50) -> list[AuditEvent]:
    """The newest audit rows about one contact."""
    return list(AuditEvent.objects.filter(contact_id=contact_id).select_related("actor")[:limit])
