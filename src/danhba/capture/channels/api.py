"""REST endpoints of the channels (``/api/capture/channels``): the Facebook and Zalo
connections (role object "channel"; the secrets are write-only, the answers say only whether
each is set), the stored payloads with their status and error, and retrying failed ones, one or
all. The same services as the pages."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.capture.channels import selectors, services
from danhba.capture.channels.mapping import TARGETS
from danhba.capture.channels.schemas import (
    CheckOut,
    ConnectionIn,
    ConnectionList,
    ConnectionOut,
    ConnectionPatch,
    PayloadDetail,
    PayloadPage,
    RetryIn,
    RetryOut,
)
from danhba.capture.models import ChannelConnection, ChannelPayload
from danhba.contacts.api import ERRORS
from danhba.core.errors import NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK

router = Router(tags=["lead channels"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _connection(request: HttpRequest, pk: int) -> ChannelConnection:
    require(api_user(request), services.OBJECT, perms.VIEW)
    return services.connection_get(pk)


@router.get("", response={200: ConnectionList, **ERRORS}, summary="List the Facebook and Zalo connections")
def connection_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), services.OBJECT, perms.VIEW)
    items = [selectors.connection_out(c) for c in ChannelConnection.objects.all()]
    return {"items": items, "targets": [*TARGETS, "custom:<key>", "consent:<purpose>"]}


@router.post("", response={201: ConnectionOut, **ERRORS}, summary="Connect a Facebook page or a Zalo OA")
def connection_create(request: HttpRequest, payload: ConnectionIn) -> Status[dict[str, Any]]:
    data = payload.model_dump(exclude_unset=True)
    kind = data.pop("kind")
    if data.get("mapping") is None:
        data.pop("mapping", None)
    connection = services.connection_create(actor=api_actor(request), kind=kind, data=data)
    return Status(201, selectors.connection_out(connection))


@router.get("/{int:connection_id}", response={200: ConnectionOut, **ERRORS}, summary="Get a connection")
def connection_get(request: HttpRequest, connection_id: int = _id()) -> dict[str, Any]:
    return selectors.connection_out(_connection(request, connection_id))


@router.patch("/{int:connection_id}", response={200: ConnectionOut, **ERRORS}, summary="Change a connection")
def connection_update(request: HttpRequest, payload: ConnectionPatch, connection_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; a secret sent empty keeps the stored one."""
    connection = _connection(request, connection_id)
    data = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    services.connection_update(actor=api_actor(request), connection=connection, data=data)
    return selectors.connection_out(connection)


@router.post("/{int:connection_id}/check", response={200: CheckOut, **ERRORS}, summary="Check a Facebook connection")
def connection_check(request: HttpRequest, connection_id: int = _id()) -> dict[str, Any]:
    """Reads the page with its access token and subscribes the app to the page's leads;
    ``problem`` is Facebook's answer when it refused."""
    result = services.connection_check(actor=api_actor(request), connection=_connection(request, connection_id))
    return {"page_name": result.page_name, "subscribed": result.subscribed, "problem": result.problem}


@router.delete("/{int:connection_id}", response={204: None, **ERRORS}, summary="Delete a connection")
def connection_delete(request: HttpRequest, connection_id: int = _id()) -> Status[None]:
    """Its payloads stay (without their connection): they are the record of what came."""
    services.connection_delete(actor=api_actor(request), connection=_connection(request, connection_id))
    return Status(204, None)


@router.get("/payloads", response={200: PayloadPage, **ERRORS}, summary="List received payloads")
def payload_list(
    request: HttpRequest,
    status: Literal["", "received", "processed", "failed", "ignored"] = Query(""),
    kind: Literal["", "facebook", "zalo"] = Query(""),
    connection: int | None = Query(None, ge=1, le=MAX_PK),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    require(api_user(request), services.OBJECT, perms.VIEW)
    filters = selectors.PayloadFilters.from_params({"status": status, "kind": kind, "connection": connection})
    page = selectors.payload_page(filters, cursor, limit)
    return {
        "items": [selectors.payload_out(p) for p in page.items], "counts": selectors.status_counts(),
        "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor,
    }  # fmt: skip


def _payload(request: HttpRequest, pk: int) -> ChannelPayload:
    require(api_user(request), services.OBJECT, perms.VIEW)
    found = ChannelPayload.objects.select_related("connection").filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such payload."))
    return found


@router.get("/payloads/{int:payload_id}", response={200: PayloadDetail, **ERRORS}, summary="Get a payload")
def payload_get(request: HttpRequest, payload_id: int = _id()) -> dict[str, Any]:
    return selectors.payload_out(_payload(request, payload_id), full=True)


@router.post(
    "/payloads/{int:payload_id}/retry", response={200: RetryOut, **ERRORS}, summary="Process a failed payload again"
)
def payload_retry(request: HttpRequest, payload_id: int = _id()) -> dict[str, Any]:
    payload = _payload(request, payload_id)
    return {"count": services.payloads_retry(actor=api_actor(request), ids=[payload.pk])}


@router.post("/payloads/retry", response={200: RetryOut, **ERRORS}, summary="Process failed payloads again")
def payloads_retry(request: HttpRequest, payload: RetryIn) -> dict[str, Any]:
    """These failed payloads (``ids``), or every failed one."""
    return {"count": services.payloads_retry(actor=api_actor(request), ids=payload.ids)}
