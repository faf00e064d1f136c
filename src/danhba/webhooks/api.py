"""REST endpoints of webhooks under ``/api/webhooks``: manage endpoints (the secret is in the
response that creates or rotates it, and at ``GET …/secret``, audited), send a test, read the
delivery log and resend a delivery. Permissions are the role's "webhook" object, as in the UI."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.errors import Conflict
from danhba.core.keyset import CURSOR_MAX, MAX_PK
from danhba.webhooks import selectors, services
from danhba.webhooks.models import Topic, WebhookDelivery, WebhookEndpoint
from danhba.webhooks.schemas import (
    DeliveryDetailOut,
    DeliveryPage,
    EndpointIn,
    EndpointList,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecretOut,
    RotateIn,
    SecretOut,
    TopicOut,
)

router = Router(tags=["webhooks"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _get(request: HttpRequest, endpoint_id: int, action: str = perms.VIEW) -> WebhookEndpoint:
    require(api_user(request), "webhook", action)
    return selectors.endpoint_get(endpoint_id)


def _out(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    data = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "topics": endpoint.topics,
        "is_active": endpoint.is_active,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_text,
        "consecutive_failures": endpoint.consecutive_failures,
        "failing_since": endpoint.failing_since,
        "last_success_at": endpoint.last_success_at,
        "secret_hint": endpoint.secret_hint,
        "previous_secret_expires_at": endpoint.previous_secret_expires_at if endpoint.previous_secret else None,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }
    if secret:
        data["secret"] = endpoint.secret
    return data


def _delivery(delivery: WebhookDelivery, *, full: bool = False) -> dict[str, Any]:
    data = {
        key: getattr(delivery, key)
        for key in (
            "event_id", "topic", "status", "attempts", "next_attempt_at", "last_attempt_at", "last_status_code",
            "duration_ms", "created_at", "delivered_at",
        )
    }  # fmt: skip
    data["last_error"] = delivery.error_text
    data["id"] = delivery.pk
    if full:
        data["payload"] = delivery.payload
        data["last_request_headers"] = delivery.last_request_headers or {}
        data["last_response_body"] = delivery.last_response_body
    return data


@router.get("/webhooks/topics", response={200: list[TopicOut], **ERRORS}, summary="Topics an endpoint can subscribe to")
def topic_list(request: HttpRequest) -> list[dict[str, str]]:
    require(api_user(request), "webhook", perms.VIEW)
    return [{"topic": t.value, "description": str(t.label)} for t in Topic]


@router.get("/webhooks", response={200: EndpointList, **ERRORS}, summary="List webhook endpoints")
def endpoint_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "webhook", perms.VIEW)
    return {"items": [_out(e) for e in selectors.endpoint_list()]}


@router.post("/webhooks", response={201: EndpointWithSecretOut, **ERRORS}, summary="Add a webhook endpoint")
def endpoint_create(request: HttpRequest, payload: EndpointIn) -> Status[dict[str, Any]]:
    """The response holds the signing secret."""
    endpoint = services.endpoint_create(
        actor=api_actor(request), url=payload.url, topics=list(payload.topics), description=payload.description
    )
    return Status(201, _out(endpoint, secret=True))


@router.get("/webhooks/{int:endpoint_id}", response={200: EndpointOut, **ERRORS}, summary="Get a webhook endpoint")
def endpoint_get(request: HttpRequest, endpoint_id: int = _id()) -> dict[str, Any]:
    return _out(_get(request, endpoint_id))


@router.patch("/webhooks/{int:endpoint_id}", response={200: EndpointOut, **ERRORS}, summary="Change a webhook endpoint")
def endpoint_update(request: HttpRequest, payload: EndpointPatch, endpoint_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change. `is_active` disables or enables the endpoint."""
    actor = api_actor(request)
    endpoint = _get(request, endpoint_id)
    data = payload.model_dump(exclude_unset=True)
    active = data.pop("is_active", None)
    resend = bool(data.pop("resend_failed", False))
    fields = {k: v for k, v in data.items() if k in ("url", "description", "topics")}
    if fields:
        endpoint = services.endpoint_update(actor=actor, endpoint=endpoint, data=fields)
    if active is False and endpoint.is_active:
        endpoint = services.endpoint_disable(actor=actor, endpoint=endpoint)
    elif active is True and not endpoint.is_active:
        services.endpoint_enable(actor=actor, endpoint=endpoint, resend_failed=resend)
        endpoint.refresh_from_db()
    return _out(endpoint)


@router.delete("/webhooks/{int:endpoint_id}", response={204: None, **ERRORS}, summary="Delete a webhook endpoint")
def endpoint_delete(request: HttpRequest, endpoint_id: int = _id()) -> Status[None]:
    services.endpoint_delete(actor=api_actor(request), endpoint=_get(request, endpoint_id))
    return Status(204, None)


@router.get(
    "/webhooks/{int:endpoint_id}/secret", response={200: SecretOut, **ERRORS}, summary="Reveal the signing secret"
)
def endpoint_secret(request: HttpRequest, endpoint_id: int = _id()) -> dict[str, Any]:
    """Needs the permission to edit webhooks; every call is written to the audit log."""
    endpoint = _get(request, endpoint_id)
    secret = services.endpoint_reveal_secret(actor=api_actor(request), endpoint=endpoint)
    expires = endpoint.previous_secret_expires_at if endpoint.previous_secret else None
    return {"secret": secret, "previous_secret_expires_at": expires}


@router.post(
    "/webhooks/{int:endpoint_id}/rotate-secret",
    response={200: EndpointWithSecretOut, **ERRORS},
    summary="Replace the signing secret",
)
def endpoint_rotate(request: HttpRequest, payload: RotateIn, endpoint_id: int = _id()) -> dict[str, Any]:
    """The old secret keeps signing (a second `v1=` in the signature header) for
    `keep_previous_hours`, so receivers can switch without missing events."""
    endpoint = services.endpoint_rotate_secret(
        actor=api_actor(request), endpoint=_get(request, endpoint_id), keep_previous_hours=payload.keep_previous_hours
    )
    return _out(endpoint, secret=True)


@router.post(
    "/webhooks/{int:endpoint_id}/test", response={200: DeliveryDetailOut, **ERRORS}, summary="Send a test event now"
)
def endpoint_test(request: HttpRequest, endpoint_id: int = _id()) -> dict[str, Any]:
    """Sends a `ping` at once and answers with the delivery: `status` is `succeeded` if the
    receiver answered 2xx. A test never disables an endpoint."""
    delivery = services.endpoint_test(actor=api_actor(request), endpoint=_get(request, endpoint_id))
    return _delivery(delivery, full=True)


@router.get(
    "/webhooks/{int:endpoint_id}/deliveries", response={200: DeliveryPage, **ERRORS}, summary="The delivery log"
)
def delivery_list(
    request: HttpRequest,
    endpoint_id: int = _id(),
    status: str = Query("", max_length=20, description="pending, succeeded, failed or gave_up."),
    topic: str = Query("", max_length=40),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    """Newest first; follow `next_cursor` for older ones. Kept for 30 days."""
    endpoint = _get(request, endpoint_id)
    page = selectors.delivery_page(endpoint, selectors.LogFilters(status=status, topic=topic), cursor or None, limit)
    return {"items": [_delivery(d) for d in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/webhooks/{int:endpoint_id}/deliveries/{int:delivery_id}",
    response={200: DeliveryDetailOut, **ERRORS},
    summary="One delivery with its payload and last response",
)
def delivery_get(request: HttpRequest, endpoint_id: int = _id(), delivery_id: int = _id()) -> dict[str, Any]:
    return _delivery(selectors.delivery_get(_get(request, endpoint_id), delivery_id), full=True)


@router.post(
    "/webhooks/{int:endpoint_id}/deliveries/{int:delivery_id}/resend",
    response={200: DeliveryDetailOut, **ERRORS},
    summary="Send a delivery again now",
)
def delivery_resend(request: HttpRequest, endpoint_id: int = _id(), delivery_id: int = _id()) -> dict[str, Any]:
    """Same body and event id. A delivery still queued is a 409."""
    delivery = selectors.delivery_get(_get(request, endpoint_id), delivery_id)
    if not delivery.can_resend:
        raise Conflict(_("This delivery is still queued; it will be sent shortly."))
    return _delivery(services.delivery_resend(actor=api_actor(request), delivery=delivery), full=True)
