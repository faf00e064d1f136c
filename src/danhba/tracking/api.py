"""Reading events back (``/api/events``, ``/api/events/counts``, ``/api/contacts/{id}/events``):
what the event API (``/v1``) and the SDKs sent, with the role checks of the pages. The queries
are the event explorer's (``selectors.EventFilters``, ``filtered_events``, ``event_counts``);
times are read and days cut in the site's time zone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.contacts.selectors import hidden_fields
from danhba.contacts.services.contacts import contact_get
from danhba.core.errors import InvalidInput
from danhba.core.keyset import CURSOR_MAX, MAX_PK, Page
from danhba.core.schemas import ErrorOut
from danhba.tracking import selectors
from danhba.tracking.models import Event
from danhba.tracking.schemas import EventCountsOut, EventPage
from danhba.tracking.selectors import EventFilters

ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 422}): ErrorOut}
MAX_LIMIT = 500
TYPES_HELP = "One of: " + ", ".join(Event.Type.values) + "."
WHEN_HELP = (
    "`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` in the site's time zone, or with an offset "
    "(`2026-03-01T09:00:00+07:00`, `…Z`)."
)
# The explorer's parameter names for the API's since/until, and back (in error details).
_RANGE_PARAMS = {"since": "from", "until": "to"}

router = Router(tags=["events"])


def _explorer_params(params: Mapping[str, str]) -> dict[str, str]:
    """The explorer's query string from the API's: ``since``/``until`` make a custom range."""
    out = {k: v for k, v in params.items() if k not in _RANGE_PARAMS}
    if params.get("since") or params.get("until"):
        out["range"] = selectors.CUSTOM
        out["from"] = params.get("since", "")
        out["to"] = params.get("until", "")
    return out


def _filters(request: HttpRequest, *, counted: bool) -> EventFilters:
    params = _explorer_params({k: request.GET.get(k, "") for k in request.GET})
    try:
        return EventFilters.from_params(params, tz=timezone.get_default_timezone(), counted=counted)
    except InvalidInput as exc:
        back = {v: k for k, v in _RANGE_PARAMS.items()}
        raise InvalidInput({back.get(k, k): v for k, v in exc.details.items()}, exc.message) from None


def _page_out(user: User, page: Page[Any], *, lined: bool = False) -> dict[str, Any]:
    """A page of events (or of (event, line) pairs, as the explorer's ``event_page`` gives them)."""
    hidden = hidden_fields(user) if page.items else set()
    pairs = page.items if lined else [(e, selectors.event_line(e, hidden)) for e in page.items]
    return {
        "items": [selectors.event_record(e, line, hidden) for e, line in pairs],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.get("/events", response={200: EventPage, **ERRORS}, summary="Find events")
def event_list(
    request: HttpRequest,
    name: str = Query("", max_length=200, description="Only events of this name (exactly)."),
    type: str = Query("", max_length=10, description=TYPES_HELP),
    source: int | None = Query(None, ge=1, le=MAX_PK, description="Only events of this source."),
    contact: int | None = Query(None, ge=1, le=MAX_PK, description="Only this contact's events."),
    prop: str = Query("", max_length=100, description="A property to filter on; `a.b` reaches into objects."),
    op: str = Query("", max_length=10, description="`eq` (the default), `contains` or `exists`."),
    value: str = Query("", max_length=500, description="The value `prop` equals or contains."),
    range: str = Query("", max_length=10, description="`24h`, `7d` (the default), `30d` or `90d` back from now."),
    since: str = Query("", max_length=40, description="Start of a range instead of `range`: " + WHEN_HELP),
    until: str = Query("", max_length=40, description="End of the range (a date includes its whole day)."),
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` or `prev_cursor` of a page."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """The event explorer's query: matching events the caller may see, newest first, one keyset
    page at a time. A role that sees only some contacts sees only their events; a contact
    outside them is a 404."""
    user = api_user(request)
    require(user, "event", perms.VIEW)
    filters = _filters(request, counted=False)
    return _page_out(user, selectors.event_page(user, filters, cursor or None, limit), lined=True)


@router.get("/events/counts", response={200: EventCountsOut, **ERRORS}, summary="Count events per day")
def event_counts(
    request: HttpRequest,
    name: str = Query("", max_length=200),
    type: str = Query("", max_length=10, description=TYPES_HELP),
    source: int | None = Query(None, ge=1, le=MAX_PK),
    contact: int | None = Query(None, ge=1, le=MAX_PK),
    prop: str = Query("", max_length=100),
    op: str = Query("", max_length=10),
    value: str = Query("", max_length=500),
    range: str = Query("", max_length=10, description="`24h`, `7d` (the default), `30d` or `90d`."),
    since: str = Query("", max_length=40, description=WHEN_HELP),
    until: str = Query("", max_length=40),
    bucket: str = Query("day", max_length=10, description="`day` (the default), `hour` or `week` (from Monday)."),
) -> dict[str, Any]:
    """How many events match the filters of `GET /api/events`, per day (or hour, or week) of
    the site's time zone, every bucket of the range listed (at most 800)."""
    user = api_user(request)
    require(user, "event", perms.VIEW)
    filters = _filters(request, counted=True)
    buckets = selectors.event_counts(user, filters)
    return {
        "time_zone": str(filters.tz),
        "bucket": filters.bucket,
        "start": filters.start,
        "end": filters.end,
        "total": sum(b.count for b in buckets),
        "items": [{"start": b.start, "end": b.end, "count": b.count} for b in buckets],
    }


@router.get("/contacts/{int:contact_id}/events", response={200: EventPage, **ERRORS}, summary="A contact's events")
def contact_events(
    request: HttpRequest,
    contact_id: int = Path(..., ge=1, le=MAX_PK),
    name: str = Query("", max_length=200, description="Only events of this name (exactly)."),
    type: str = Query("", max_length=10, description=TYPES_HELP),
    since: str = Query("", max_length=40, description="Events from this moment on: " + WHEN_HELP),
    until: str = Query("", max_length=40, description="Events before this moment (a date includes its whole day)."),
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` or `prev_cursor` of a page."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """Everything the contact did, newest first, whenever it happened (no default range)."""
    user = api_user(request)
    require(user, "event", perms.VIEW)
    contact = contact_get(actor=api_actor(request), pk=contact_id)
    tz = timezone.get_default_timezone()
    errors: dict[str, list[str]] = {}
    bounds: dict[str, Any] = {}
    for key, text in (("since", since), ("until", until)):
        if not text:
            continue
        try:
            bounds[key] = selectors.parse_moment(text, tz, end=key == "until")
        except ValueError:
            errors[key] = [str(selectors.MOMENT_ERROR)]
    if type and type not in Event.Type.values:
        errors["type"] = [str(selectors.TYPE_ERROR)]
    if errors:
        raise InvalidInput(errors)
    page = selectors.contact_event_page(
        contact,
        name=name,
        type=type,
        start=bounds.get("since"),
        end=bounds.get("until"),
        cursor=cursor or None,
        limit=limit,
    )
    return _page_out(user, page)
