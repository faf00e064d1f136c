"""Schemas of the event read API (``api.py``): what ``/v1`` took in, read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class EventOut(Schema):
    id: int
    message_id: str = Field(description="The sender's messageId (one event per source and messageId).")
    type: str = Field(description="track, page, screen, identify, group or alias.")
    name: str = Field(description="The track event's name, page or screen name, group id.")
    timestamp: dt.datetime = Field(description="When it happened (corrected for the sender's clock).")
    received_at: dt.datetime
    source_id: int
    contact_id: int | None = Field(description="null while the visitor is anonymous.")
    anonymous_id: str
    user_id: str
    properties: dict[str, Any] = Field(
        description="As sent, without keys named like a sensitive field the caller's role may not see."
    )
    traits: dict[str, Any] = Field(description="identify and group traits, with the same keys left out.")
    title: str = Field(description="The event in one line, as the pages show it.")
    detail: str


class EventPage(Schema):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page.")
    prev_cursor: str | None = Field(description="Pass as `cursor` for the page before; null on the first page.")


class EventCountOut(Schema):
    start: dt.datetime = Field(description="The bucket's start, in the site's time zone.")
    end: dt.datetime
    count: int


class EventCountsOut(Schema):
    time_zone: str = Field(description="The site's time zone, in which days (hours, weeks) are cut.")
    bucket: str = Field(description="day, hour or week.")
    start: dt.datetime = Field(description="The range counted: from `start` (included)…")
    end: dt.datetime = Field(description="…to `end` (excluded).")
    total: int
    items: list[EventCountOut] = Field(description="Every bucket of the range, empty ones included, oldest first.")
