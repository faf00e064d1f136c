"""REST endpoints of segments and static lists (``/api/segments``).

Each endpoint parses, calls one service or selector of this app with the caller's actor, and
renders. Members are only the contacts inside the caller's record visibility; a contact outside
it is a 404, as everywhere else. Bad trees are 422 with the problems keyed by their path
(``conditions.0.1.value``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.core.keyset import CURSOR_MAX, MAX_PK
from danhba.core.schemas import ErrorOut
from danhba.segments import conditions as C
from danhba.segments import selectors, services
from danhba.segments.models import Segment
from danhba.segments.schemas import (
    ChangePage,
    CountOut,
    EventNamesOut,
    MemberPage,
    MembershipOut,
    MembersIn,
    MembersOut,
    PreviewIn,
    SegmentIn,
    SegmentOut,
    SegmentPage,
    SegmentPatch,
    SegmentPreviewOut,
)
from danhba.tracking.selectors import event_name_seen, event_property_names, known_event_names

ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}

router = Router(tags=["segments"])


def _id(description: str = "") -> Any:
    return Path(..., ge=1, le=MAX_PK, description=description)


def _get(user: User, segment_id: int) -> Segment:
    require(user, "segment", perms.VIEW)
    return selectors.segment_get(segment_id, user)


def segment_out(segment: Segment, user: User) -> dict[str, Any]:
    count, _capped = selectors.visible_count(segment, user, cap=None)
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "conditions": segment.conditions,
        "text": C.describe(segment.conditions) if not segment.is_static else "",
        "member_count": count,
        "refreshing": segment.refresh_requested_at is not None,
        "refresh_error": segment.refresh_error,
        "refreshed_at": segment.refreshed_at,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


@router.get("", response={200: SegmentPage, **ERRORS}, summary="List segments and lists")
def segment_list(
    request: HttpRequest,
    kind: str = Query("", pattern="^(|dynamic|static)$"),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    user = api_user(request)
    require(user, "segment", perms.VIEW)
    page = selectors.segment_page(cursor=cursor, limit=limit, kind=kind)
    items = selectors.visible_segments(page.items, user)
    return {"items": [segment_out(s, user) for s in items], "next_cursor": page.next_cursor}


@router.post("", response={201: SegmentOut, **ERRORS}, summary="Create a segment or a static list")
def segment_create(request: HttpRequest, payload: SegmentIn) -> Status[dict[str, Any]]:
    """A dynamic segment's membership is computed at once or by the worker (`refreshing`)."""
    segment = services.segment_create(
        actor=api_actor(request),
        name=payload.name,
        description=payload.description,
        kind=payload.kind,
        conditions=payload.conditions,
    )
    segment.refresh_from_db()
    return Status(201, segment_out(segment, api_user(request)))


@router.post("/preview", response={200: SegmentPreviewOut, **ERRORS}, summary="What a condition tree matches now")
def segment_preview(request: HttpRequest, payload: PreviewIn) -> dict[str, Any]:
    """Checks the tree (422 with the problems by path) and counts the contacts it matches among
    those the caller may see, with the sentence it reads as and a sample."""
    user = api_user(request)
    require(user, "segment", perms.VIEW)
    cleaned = C.clean(payload.conditions, user=user)
    result = selectors.preview(cleaned, user)
    return {
        "count": result.count,
        "capped": result.capped,
        "text": result.text,
        "sample": [c.pk for c in result.sample],
    }


@router.get("/event-names", response={200: EventNamesOut, **ERRORS}, summary="Event and property names to suggest")
def event_names(
    request: HttpRequest, name: str = Query("", max_length=200, description="An event name to check.")
) -> dict[str, Any]:
    """The event names received so far and, for `name`, its property names and whether it was
    ever received: a condition on a name never seen is allowed (the events may be still to
    come) but is most often a typo. Needs "event: view"."""
    user = api_user(request)
    require(user, "segment", perms.VIEW)
    require(user, "event", perms.VIEW)
    name = name.strip()
    return {
        "names": known_event_names(),
        "properties": event_property_names(name),
        "seen": event_name_seen(name) if name else None,
    }


@router.get("/{int:segment_id}", response={200: SegmentOut, **ERRORS}, summary="Get a segment or list")
def segment_get(request: HttpRequest, segment_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    return segment_out(_get(user, segment_id), user)


@router.patch("/{int:segment_id}", response={200: SegmentOut, **ERRORS}, summary="Change a segment or list")
def segment_update(request: HttpRequest, payload: SegmentPatch, segment_id: int = _id()) -> dict[str, Any]:
    """Only the keys sent change; new conditions recompute the membership."""
    user = api_user(request)
    segment = _get(user, segment_id)
    data = payload.model_dump(exclude_unset=True)
    if data.get("name") is None:
        data.pop("name", None)
    segment = services.segment_update(actor=api_actor(request), segment=segment, data=data)
    segment.refresh_from_db()
    return segment_out(segment, user)


@router.delete("/{int:segment_id}", response={204: None, **ERRORS}, summary="Delete a segment or list")
def segment_delete(request: HttpRequest, segment_id: int = _id()) -> Status[None]:
    """409 while other segments refer to it."""
    user = api_user(request)
    services.segment_delete(actor=api_actor(request), segment=_get(user, segment_id))
    return Status(204, None)


@router.get("/{int:segment_id}/count", response={200: CountOut, **ERRORS}, summary="Number of members")
def segment_count(request: HttpRequest, segment_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    segment = _get(user, segment_id)
    count, _capped = selectors.visible_count(segment, user, cap=None)
    return {"count": count, "refreshing": segment.refresh_requested_at is not None}


@router.get("/{int:segment_id}/members", response={200: MemberPage, **ERRORS}, summary="Members, page by page")
def segment_members(
    request: HttpRequest,
    segment_id: int = _id(),
    cursor: str | None = Query(None, max_length=CURSOR_MAX, description="`next_cursor` of the previous page."),
    limit: int = Query(100, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Members the caller may see, in contact id order. Full records: `GET /api/contacts/{id}`,
    or `GET /api/contacts?segment={id}`."""
    user = api_user(request)
    segment = _get(user, segment_id)
    page = selectors.member_page(segment, user, cursor=cursor, limit=limit, order="id")
    items = [
        {
            "id": c.pk,
            "display_name": c.display_name,
            "full_name": c.full_name,
            "email": c.email,
            "phone": c.phone,
            "member_since": getattr(c, "member_since", None),
        }
        for c in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get(
    "/{int:segment_id}/members/{int:contact_id}",
    response={200: MembershipOut, **ERRORS},
    summary="Is a contact a member",
)
def segment_membership(request: HttpRequest, segment_id: int = _id(), contact_id: int = _id()) -> dict[str, Any]:
    """`{"member": true, "since": …}`; 404 for a contact the caller may not see."""
    user = api_user(request)
    segment = _get(user, segment_id)
    row = selectors.membership(segment, user, contact_id)
    return {"member": row is not None, "since": row.since if row else None}


@router.post("/{int:segment_id}/members", response={200: MembersOut, **ERRORS}, summary="Add to a static list")
def list_add(request: HttpRequest, payload: MembersIn, segment_id: int = _id()) -> dict[str, Any]:
    """Adding a member twice changes nothing; an id the caller may not see is a 404 and adds none."""
    user = api_user(request)
    segment = _get(user, segment_id)
    n = services.list_add(actor=api_actor(request), segment=segment, contact_ids=payload.contact_ids, via="api")
    return {"changed": n, "member_count": segment.member_count}


@router.delete("/{int:segment_id}/members", response={200: MembersOut, **ERRORS}, summary="Remove from a static list")
def list_remove(request: HttpRequest, payload: MembersIn, segment_id: int = _id()) -> dict[str, Any]:
    user = api_user(request)
    segment = _get(user, segment_id)
    n = services.list_remove(actor=api_actor(request), segment=segment, contact_ids=payload.contact_ids, via="api")
    return {"changed": n, "member_count": segment.member_count}


@router.post("/{int:segment_id}/refresh", response={202: SegmentOut, **ERRORS}, summary="Recompute from scratch")
def segment_refresh(request: HttpRequest, segment_id: int = _id()) -> Status[dict[str, Any]]:
    """Queues a full refresh (`refreshing` until it is done; poll `GET /api/segments/{id}`)."""
    user = api_user(request)
    segment = services.segment_refresh_request(actor=api_actor(request), segment=_get(user, segment_id))
    segment.refresh_from_db()
    return Status(202, segment_out(segment, user))


@router.get("/{int:segment_id}/history", response={200: ChangePage, **ERRORS}, summary="Who entered and left")
def segment_history(
    request: HttpRequest,
    segment_id: int = _id(),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(100, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Newest first; `via` says what moved the contact (refresh, live, schedule, manual, api,
    import, snapshot)."""
    user = api_user(request)
    segment = _get(user, segment_id)
    page = selectors.history_page(segment, user, cursor=cursor, limit=limit)
    items = [{"contact_id": ch.contact_id, "entered": ch.entered, "at": ch.at, "via": ch.via} for ch in page.items]
    return {"items": items, "next_cursor": page.next_cursor}
