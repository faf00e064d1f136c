"""Shapes of ``GET /api/home`` (names start with Home: every schema name in the API is unique)."""

from __future__ import annotations

import datetime as dt

from ninja import Schema
from pydantic import Field


class HomeDayOut(Schema):
    day: dt.date
    count: int
    capped: bool = Field(description="The day had more than this: counting stopped here.")


class HomeCountOut(Schema):
    key: str
    label: str
    count: int


class HomeContactsOut(Schema):
    total: int
    capped: bool
    by_day: list[HomeDayOut]
    by_source: list[HomeCountOut] | None = Field(description="Null when there are too many to break down.")


class HomeEventsOut(Schema):
    total: int
    capped: bool
    by_day: list[HomeDayOut]
    by_name: list[HomeCountOut] | None = Field(description="Null when there are too many to break down.")


class HomeImportOut(Schema):
    id: int
    file_name: str
    status: str
    rows_done: int
    created: int
    updated: int
    rejected: int
    finished_at: dt.datetime | None


class HomeImportsOut(Schema):
    running: list[HomeImportOut]
    finished: list[HomeImportOut] = Field(description="The latest imports that ended in the period.")
    finished_count: int
    created: int
    updated: int
    rejected: int


class HomeSegmentOut(Schema):
    id: int
    name: str
    entered: int
    left: int


class HomeSegmentsOut(Schema):
    total: int
    capped: bool
    entered: int | None
    left: int | None
    segments: list[HomeSegmentOut] | None


class HomePurposeOut(Schema):
    key: str
    label: str
    granted: int
    withdrawn: int


class HomeConsentOut(Schema):
    total: int
    capped: bool
    granted: int | None
    withdrawn: int | None
    purposes: list[HomePurposeOut] | None


class HomeActivityOut(Schema):
    at: dt.datetime
    contact_id: int
    contact_name: str
    kind: str
    subject: str


class HomeShortcutOut(Schema):
    key: str
    label: str
    url: str


class HomeOut(Schema):
    """The home page's numbers of the last 7 days; a part is null when the caller's role may
    not see it, and counts only the contacts (and their events, changes and consent) the
    caller's role may see."""

    since: dt.datetime
    until: dt.datetime
    contacts: HomeContactsOut | None
    events: HomeEventsOut | None
    imports: HomeImportsOut | None
    segments: HomeSegmentsOut | None
    consent: HomeConsentOut | None
    activity: list[HomeActivityOut]
    shortcuts: list[HomeShortcutOut]
