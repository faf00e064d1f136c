"""Pydantic schemas of the quality API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.core.keyset import MAX_PK


class SignalOut(Schema):
    kind: str
    label: str
    detail: dict[str, Any]
    seen_at: dt.datetime


class ContactQualityOut(Schema):
    contact_id: int
    computed: bool
    needs_verification: bool
    verified_at: dt.datetime | None
    verified_by: str
    last_activity_at: dt.datetime | None
    seen_at: dt.datetime | None
    bucket: str
    bucket_label: str
    signals: list[SignalOut]
    archived_at: dt.datetime | None


class RefreshOut(Schema):
    status: str
    day: str | None = None


class DashboardOut(Schema):
    day: str
    computed_at: dt.datetime
    seconds: float
    overview: dict[str, Any]
    completeness: list[dict[str, Any]]
    validity: list[dict[str, Any]]
    freshness: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    imports: list[dict[str, Any]]
    duplicates: dict[str, Any]
    history: list[dict[str, Any]]


class CleaningJobIn(Schema):
    name: str
    actions: list[str]
    frequency: str = "monthly"
    archive_after_months: int = 24
    auto_apply: bool = False
    is_active: bool = True


class CleaningJobPatch(Schema):
    name: str | None = None
    actions: list[str] | None = None
    frequency: str | None = None
    archive_after_months: int | None = None
    auto_apply: bool | None = None
    is_active: bool | None = None


class CleaningJobOut(Schema):
    id: int
    name: str
    actions: list[str]
    frequency: str
    archive_after_months: int
    auto_apply: bool
    is_active: bool
    next_run_at: dt.datetime | None
    created_at: dt.datetime


class CleaningJobList(Schema):
    items: list[CleaningJobOut]


class CleaningRunOut(Schema):
    id: int
    job_id: int
    status: str
    status_label: str
    actions: list[str]
    scheduled: bool
    done: int
    total: int
    percent: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str
    preview: list[dict[str, Any]]
    counts: dict[str, int]
    changed: list[dict[str, Any]]


class CleaningChangeOut(Schema):
    id: int
    contact_id: int | None
    label: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: dt.datetime


class CleaningChangePage(Schema):
    items: list[CleaningChangeOut]
    next_cursor: str | None


# --- duplicate detection ----------------------------------------------------------------------
# Schemas of the duplicates API (``/api/quality/duplicates``).


class PairContactOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    birthday: dt.date | None = None
    province: str
    company: str
    street: str = ""
    ward: str = ""
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


class MergeIn(Schema):
    # The contact that stays; the older one when left out.
    survivor: int | None = Field(None, ge=1, le=2**63 - 1)


class MergeOut(Schema):
    merge_id: int
    survivor: int


# --- merges (/api/quality/merges) ---------------------------------------------------------

ContactId: Any = Field(..., ge=1, le=MAX_PK)


class ContactsMergeIn(Schema):
    survivor: int = ContactId
    others: list[int] = Field(..., min_length=1, max_length=19, description="Contacts merged into the survivor.")
    rules: dict[str, str | int] | None = Field(
        None,
        description='This merge\'s choices: a field group ("name", "email", "address", …, "custom.<key>") → '
        '"recent", "source", "survivor", or the id of the contact whose value to keep.',
    )


class ChoiceOut(Schema):
    field: str
    label: str
    contact_id: int
    rule: str
    values: dict[str, Any]


class MergePreviewOut(Schema):
    survivor: int
    others: list[int]
    fields: list[ChoiceOut]


class MergedOut(Schema):
    id: int
    name: str


class ContactsMergeOut(Schema):
    id: int
    survivor_id: int
    survivor: str
    merged: list[MergedOut]
    status: str
    created_at: dt.datetime
    created_by: str | None
    undone_at: dt.datetime | None
    undo_until: dt.datetime | None
    can_undo: bool
    changed_fields: list[str]
    rows_moved: dict[str, int]
    rows_dropped: dict[str, int]
    purged_at: dt.datetime | None = Field(
        None, description="When the contacts' values were removed (undo window past); ids, dates and who stay."
    )


class ContactsMergePage(Schema):
    items: list[ContactsMergeOut]
    next_before: int | None = Field(None, description="Pass as `before` for the next page.")


class MergeSettingsIO(Schema):
    default_rule: str | None = None
    rules: dict[str, str] | None = Field(None, description='Field group or "custom.<key>" → rule.')
    source_ranking: list[str] | None = Field(None, description="Sources, most trusted first.")


class BulkGroupIn(Schema):
    survivor: int = ContactId
    others: list[int] = Field(..., min_length=1, max_length=19)


class BulkMergeIn(Schema):
    groups: list[BulkGroupIn] = Field(..., min_length=1, max_length=10_000)
    rules: dict[str, str] | None = Field(None, description="Rules for every merge of the set (rule names only).")


class BulkMergeOut(Schema):
    id: int
    status: str
    total: int
    done: int
    merged: int
    failed: int
    errors: list[dict[str, Any]]
    created_at: dt.datetime
    finished_at: dt.datetime | None


class PairsSelectionIn(Schema):
    pairs: list[int] = Field(..., min_length=1, max_length=10_000, description="Ids of open pairs of the review queue.")


class PairsMergeGroupOut(Schema):
    survivor: int
    others: list[int]
    pairs: list[int]


class PairSkippedOut(Schema):
    pair: int
    reason: str


class PairsMergePreviewOut(Schema):
    pairs: int = Field(..., description="Selected pairs that will be merged.")
    merges: int = Field(..., description="Merges: pairs sharing a contact are one merge; the oldest contact stays.")
    merged_away: int = Field(..., description="Contacts merged into another.")
    groups: list[PairsMergeGroupOut]
    skipped: list[PairSkippedOut]


class PairsMergeStartOut(BulkMergeOut):
    skipped: list[PairSkippedOut]
