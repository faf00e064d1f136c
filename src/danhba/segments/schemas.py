"""Pydantic schemas of the segments API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

Tree = dict[str, Any]


class SegmentIn(Schema):
    name: str = Field(max_length=1000)
    description: str = Field("", max_length=5000)
    kind: Literal["dynamic", "static"] = "dynamic"
    conditions: Tree | None = Field(None, description="The condition tree (dynamic segments); see docs/segments.md.")


class SegmentPatch(Schema):
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=5000)
    conditions: Tree | None = None


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    conditions: Tree
    text: str = Field(description="The conditions as a sentence.")
    member_count: int = Field(description="Members the caller may see.")
    refreshing: bool = Field(description="A full refresh was asked for and has not finished.")
    refresh_error: str
    refreshed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentPage(Schema):
    items: list[SegmentOut]
    next_cursor: str | None


class CountOut(Schema):
    count: int
    refreshing: bool


class MemberOut(Schema):
    id: int
    display_name: str
    full_name: str
    email: str
    phone: str
    member_since: dt.datetime | None


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


class MembershipOut(Schema):
    member: bool
    since: dt.datetime | None


class MembersIn(Schema):
    contact_ids: list[int] = Field(min_length=1, max_length=10_000)


class MembersOut(Schema):
    changed: int = Field(description="Contacts added (not already members) or removed (that were members).")
    member_count: int


class PreviewIn(Schema):
    conditions: Tree


class SegmentPreviewOut(Schema):
    count: int
    capped: bool = Field(description="The count stopped at its cap: there are more.")
    text: str
    sample: list[int] = Field(description="Ids of up to 10 matching contacts, by name.")


class EventNamesOut(Schema):
    """What the builder suggests for event conditions."""

    names: list[str] = Field(description="Event names received so far, in name order (at most 500).")
    properties: list[str] = Field(description="Property names of the latest events named `name`, most used first.")
    seen: bool | None = Field(description="Whether an event named `name` was ever received (null without `name`).")


class ChangeOut(Schema):
    contact_id: int
    entered: bool
    at: dt.datetime
    via: str


class ChangePage(Schema):
    items: list[ChangeOut]
    next_cursor: str | None
