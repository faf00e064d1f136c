"""Shapes of the webhooks REST API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, omittable

TopicName = Literal["contact.created", "contact.updated", "contact.merged", "event.received", "order.created"]


class EndpointIn(In):
    url: str = Field(max_length=2000, description="http(s) URL danhba POSTs to.")
    description: str = Field("", max_length=500)
    topics: list[TopicName] = Field(min_length=1, max_length=10)


class EndpointPatch(In):
    url: str = omittable("http(s) URL danhba POSTs to.")
    description: str = omittable()
    topics: list[TopicName] = omittable()
    is_active: bool = omittable("false disables the endpoint; true enables it again.")
    resend_failed: bool = omittable("With is_active=true: queue again the deliveries given up while it was failing.")


class RotateIn(In):
    keep_previous_hours: int = Field(
        24, ge=0, le=168, description="How long the old secret keeps signing beside the new one (0: stop at once)."
    )


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    topics: list[str]
    is_active: bool
    disabled_at: dt.datetime | None
    disabled_reason: str
    consecutive_failures: int
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None
    secret_hint: str = Field(description="The secret's first characters; the whole secret: GET …/secret.")
    previous_secret_expires_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="The signing secret (HMAC-SHA256 key). Keep it out of source code.")


class SecretOut(Schema):
    secret: str
    previous_secret_expires_at: dt.datetime | None


class EndpointList(Schema):
    items: list[EndpointOut]


class TopicOut(Schema):
    topic: str
    description: str


class DeliveryOut(Schema):
    id: int
    event_id: str
    topic: str
    status: Literal["pending", "succeeded", "failed", "gave_up"]
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    duration_ms: int | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class DeliveryDetailOut(DeliveryOut):
    payload: Any
    last_request_headers: dict[str, str]
    last_response_body: str


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next_cursor: str | None
