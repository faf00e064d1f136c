"""``GET /api/home``: the home page's numbers as JSON, for the same user and role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router

from danhba.accounts.api_auth import api_user
from danhba.analytics import selectors
from danhba.analytics.schemas import HomeOut
from danhba.contacts.models import TimelineEntry
from danhba.core.schemas import ErrorOut
from danhba.ingest.models import Import

ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}

router = Router(tags=["home"])


@router.get("", response={200: HomeOut, **ERRORS}, summary="The home page's numbers of the last 7 days")
def home(request: HttpRequest) -> dict[str, Any]:
    """What the home page shows the caller, in the caller's time zone: new contacts by source
    and day, events by name and day, imports under way and finished, segment entries and exits,
    consent given and withdrawn, recent activity and shortcuts. Each part is null when the role
    may not see it; counts over 20,000 rows are per day only (capped at 100,000 a day)."""
    data = selectors.home(api_user(request), timezone.get_current_timezone())
    return {
        "since": data.window.start,
        "until": data.window.end,
        "contacts": _contacts(data.contacts),
        "events": _events(data.events),
        "imports": _imports(data.imports),
        "segments": _segments(data.segments),
        "consent": _consent(data.consent),
        "activity": [_activity(e) for e in data.activity],
        "shortcuts": [{"key": s.key, "label": s.label, "url": s.url} for s in data.shortcuts],
    }


def _activity(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "at": entry.occurred_at, "contact_id": entry.contact_id, "contact_name": entry.contact.full_name,
        "kind": entry.kind, "subject": entry.subject,
    }  # fmt: skip


def _days(tally: selectors.Tally) -> list[dict[str, Any]]:
    return [{"day": d.day, "count": d.count, "capped": d.capped} for d in tally.by_day]


def _labelled(rows: list[selectors.Labelled] | None) -> list[dict[str, Any]] | None:
    return None if rows is None else [{"key": r.key, "label": r.label, "count": r.count} for r in rows]


def _contacts(c: selectors.ContactNumbers | None) -> dict[str, Any] | None:
    if c is None:
        return None
    t = c.tally
    return {"total": t.total, "capped": t.capped, "by_day": _days(t), "by_source": _labelled(c.by_source)}


def _events(e: selectors.EventNumbers | None) -> dict[str, Any] | None:
    if e is None:
        return None
    t = e.tally
    return {"total": t.total, "capped": t.capped, "by_day": _days(t), "by_name": _labelled(e.by_name)}


def _run(run: Import) -> dict[str, Any]:
    return {
        "id": run.pk, "file_name": run.file_name, "status": run.status, "rows_done": run.rows_done,
        "created": run.created, "updated": run.updated, "rejected": run.rejected, "finished_at": run.finished_at,
    }  # fmt: skip


def _imports(i: selectors.ImportNumbers | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "running": [_run(r) for r in i.running], "finished": [_run(r) for r in i.finished],
        "finished_count": i.finished_count, "created": i.created, "updated": i.updated, "rejected": i.rejected,
    }  # fmt: skip


def _segments(s: selectors.SegmentNumbers | None) -> dict[str, Any] | None:
    if s is None:
        return None
    rows = None
    if s.segments is not None:
        rows = [{"id": r.segment.pk, "name": r.segment.name, "entered": r.entered, "left": r.left} for r in s.segments]
    return {"total": s.tally.total, "capped": s.tally.capped, "entered": s.entered, "left": s.left, "segments": rows}


def _consent(k: selectors.ConsentNumbers | None) -> dict[str, Any] | None:
    if k is None:
        return None
    rows = None
    if k.purposes is not None:
        rows = [
            {"key": r.purpose.key, "label": r.purpose.label, "granted": r.granted, "withdrawn": r.withdrawn}
            for r in k.purposes
        ]
    return {"total": k.tally.total, "capped": k.tally.capped, "granted": k.granted, "withdrawn": k.withdrawn,
            "purposes": rows}  # fmt: skip
