"""API shapes of the channels (``/api/capture/channels``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from danhba.core.keyset import MAX_PK

PayloadId = Annotated[int, Field(ge=1, le=MAX_PK)]


class ConnectionIn(Schema):
    kind: Literal["facebook", "zalo"]
    name: str = Field(max_length=120)
    account_id: str = Field(max_length=64, description="The Facebook page id or the Zalo OA id.")
    app_id: str = Field("", max_length=64, description="The Zalo app id (its signature uses it).")
    secret: str = Field(max_length=200, description="Facebook: the app secret. Zalo: the OA secret key.")
    access_token: str = Field("", max_length=2000, description="Facebook: the page access token (never shown).")
    verify_token: str = Field("", max_length=200, description="Facebook: the webhook's verify token.")
    graph_version: str = Field("v21.0", max_length=10)
    mapping: dict[str, str] | None = Field(None, description="Form field name → target; defaults when left out.")


class ConnectionPatch(Schema):
    name: str | None = Field(None, max_length=120)
    account_id: str | None = Field(None, max_length=64)
    app_id: str | None = Field(None, max_length=64)
    secret: str | None = Field(None, max_length=200)
    access_token: str | None = Field(None, max_length=2000)
    verify_token: str | None = Field(None, max_length=200)
    graph_version: str | None = Field(None, max_length=10)
    mapping: dict[str, str] | None = None
    is_active: bool | None = None


class ConnectionOut(Schema):
    id: int
    kind: str
    name: str
    account_id: str
    app_id: str
    graph_version: str
    mapping: dict[str, str]
    is_active: bool
    webhook_url: str
    secret_set: bool
    access_token_set: bool
    verify_token_set: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ConnectionList(Schema):
    items: list[ConnectionOut]
    targets: list[str]


class PayloadOut(Schema):
    id: int
    kind: str
    event: str
    status: str
    connection_id: int | None
    connection: str | None
    received_at: dt.datetime
    processed_at: dt.datetime | None
    attempts: int
    error: str
    contact_id: int | None


class PayloadDetail(PayloadOut):
    body: str
    headers: dict[str, str]


class PayloadPage(Schema):
    items: list[PayloadOut]
    counts: dict[str, int]
    next_cursor: str | None
    prev_cursor: str | None


class RetryIn(Schema):
    ids: list[PayloadId] | None = Field(None, max_length=10_000, description="Leave out to retry every failed payload.")


class RetryOut(Schema):
    count: int


class CheckOut(Schema):
    page_name: str
    subscribed: bool
    problem: str
