"""Schemas of the duplicates API (``/api/quality/duplicates``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field


class PairContactOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    birthday: dt.date | None = None
    province: str
    company: str
    url: str


class PairPartOut(Schema):
    field: str
    label: str
    level: int
    level_label: str
    weight: float
    start: float
    end: float


class ExplanationOut(Schema):
    prior_weight: float
    match_weight: float
    parts: list[PairPartOut]


class PairOut(Schema):
    id: int
    status: str
    probability: float
    match_weight: float
    found_by: str
    cluster: int | None = None
    found_at: dt.datetime
    evidence: list[str]
    contact_a: PairContactOut
    contact_b: PairContactOut
    explanation: ExplanationOut | None = None


class PairPage(Schema):
    items: list[PairOut]
    next_cursor: str | None = None
    prev_cursor: str | None = None


class DuplicateSettingsOut(Schema):
    review_threshold: float
    auto_merge_threshold: float | None = None
    trained_at: dt.datetime | None = None
    trained_contacts: int
    model: Literal["trained", "shipped"]
    merge_available: bool


class DuplicateSettingsIn(Schema):
    review_threshold: float = Field(..., ge=0.5, le=0.999)
    auto_merge_threshold: float | None = Field(None, ge=0.5, le=1.0)


class RunIn(Schema):
    kind: Literal["train", "predict"]


class RunOut(Schema):
    id: int
    kind: str
    status: str
    progress: float
    step: str
    contacts: int
    pairs_found: int
    pairs_new: int
    auto_merged: int
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
