"""Exports of the event explorer: the people behind matching events, as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.exports import csv_chunks
from danhba.core.actor import Actor
from danhba.tracking.selectors import PEOPLE_EXPORT_COLUMNS, EventFilters, people_count, people_export_rows


def event_people_export_csv(*, actor: Actor, filters: EventFilters) -> Iterator[str]:
    """CSV text chunks (with a BOM, formulas defused) of every contact the user may see who did
    the matching events. Needs event:export; the audit row, with the filters and the number of
    rows, is written before the first row leaves."""
    perms.require(actor, "event", perms.EXPORT)
    assert actor.user is not None
    user = actor.user
    params: dict[str, Any] = filters.params()
    params["from_at"] = filters.start.isoformat()
    params["to_at"] = filters.end.isoformat()
    rows = people_count(user, filters)
    audit_event(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        object_type="event",
        object_label="event people CSV export",
        changes={"format": [None, "csv"], "filters": [None, params], "rows": [None, rows]},
    )
    return csv_chunks(people_export_rows(user, filters), PEOPLE_EXPORT_COLUMNS)
