"""Shapes of the scoring REST API (``/api/scoring``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, omittable

Decay = Literal["none", "half_life", "step"]
RuleKind = Literal["fit", "engagement", "fast_track"]


class ScoreGrade(Schema):
    key: str = Field(description="Lower-case letters, digits, - or _.", max_length=40)
    label: str = Field(max_length=60)
    min: int = Field(description="A total of at least this many points has this grade.")


class ScoreModelIn(In):
    name: str = Field(max_length=200)
    description: str = Field("", max_length=5000)
    is_active: bool = True
    decay: Decay = Field("none", description="How engagement points fade: none, half_life or step (-down).")
    decay_days: int = Field(30, description="Half-life, or the days between two steps.")
    decay_percent: int = Field(25, description="Step-down: the share of the value lost at each step.")
    grades: list[ScoreGrade] = omittable("Ordered thresholds; default cold 0, warm 30, hot 60.")


class ScoreModelPatch(In):
    name: str = omittable()
    description: str = omittable()
    is_active: bool = omittable()
    decay: Decay = omittable()
    decay_days: int = omittable()
    decay_percent: int = omittable()
    grades: list[ScoreGrade] = omittable()


class ScoreRuleIn(In):
    kind: RuleKind
    name: str = Field(max_length=200)
    condition: dict[str, Any] = omittable("fit and fast_track: a segment condition tree.")
    trigger: dict[str, Any] = omittable(
        'engagement: {"on": "event"|"page"|"email_opened"|"email_clicked"|"form"|"order", "name"?, "url"?, '
        '"campaign"?, "where"?: [property conditions]}.'
    )
    points: int = Field(0, description="Per match (fit) or per event (engagement); -1000 to 1000.")
    max_points: int | None = Field(None, description="engagement: at most this many points in all.")
    period_days: int | None = Field(None, description="engagement: the length of a cap's period in days.")
    period_max: int | None = Field(None, description="engagement: at most this many points per period.")
    is_active: bool = True


class ScoreRulePatch(In):
    name: str = omittable()
    condition: dict[str, Any] = omittable()
    trigger: dict[str, Any] = omittable()
    points: int = omittable()
    max_points: int | None = None
    period_days: int | None = None
    period_max: int | None = None
    is_active: bool = omittable()


class ScoreRuleOut(Schema):
    id: int
    kind: str
    name: str
    text: str
    condition: dict[str, Any] | None
    trigger: dict[str, Any] | None
    points: int
    max_points: int | None
    period_days: int | None
    period_max: int | None
    is_active: bool


class ScoreRecompute(Schema):
    running: bool
    done: int
    total: int
    finished_at: dt.datetime | None


class ScoreModelOut(Schema):
    id: int
    name: str
    description: str
    is_active: bool
    decay: str
    decay_days: int
    decay_percent: int
    grades: list[ScoreGrade]
    rules: list[ScoreRuleOut]
    recompute: ScoreRecompute
    created_at: dt.datetime
    updated_at: dt.datetime


class ScoreModelList(Schema):
    items: list[ScoreModelOut]


class ScoreEventOut(Schema):
    id: int | None
    name: str
    at: dt.datetime | None
    points: Decimal = Field(description="After the caps.")
    current: Decimal = Field(description="After decay, when the score was computed.")


class ScoreRulePart(Schema):
    rule_id: int | None = Field(description="The rule (null for an adjustment).")
    adjustment_id: int | None = Field(None, description="The adjustment (kind 'adjustment').")
    rule: str = Field(description="The rule's name, or where the adjustment came from and why.")
    kind: str = Field(description="fit, engagement, fast_track or adjustment.")
    points: Decimal
    count: int = Field(description="How many items (events) the rule counted.")
    events: list[ScoreEventOut] = Field(description="The newest 20 (empty for a role that may not see events).")
    given: Decimal | None = Field(None, description="An adjustment's points before decay.")
    at: dt.datetime | None = Field(None, description="When the adjustment was given.")
    expires_at: dt.datetime | None = Field(None, description="When the adjustment stops counting (null: never).")


class ScoreDay(Schema):
    day: dt.date
    total: Decimal
    grade: str


class ContactScoreOut(Schema):
    model_id: int
    model: str
    total: Decimal = Field(description="The breakdown's points add up to it exactly.")
    fit: Decimal
    engagement: Decimal
    adjusted: Decimal = Field(description="The adjustments' part of the total (workflow steps, users).")
    grade: str
    grade_label: str
    fast_tracked: bool
    computed_at: dt.datetime | None
    breakdown: list[ScoreRulePart]
    history: list[ScoreDay]


class ContactScoreList(Schema):
    contact_id: int
    items: list[ContactScoreOut]


class ScoreAdjustIn(In):
    model: int = Field(description="The score model's id.")
    points: int | None = Field(None, description="-1000 to 1000, not 0 (or give grade).")
    grade: str = Field("", max_length=40, description="A grade's key: the points that bring the total to its minimum.")
    reason: str = Field("", max_length=200)
    expires_days: int | None = Field(None, description="The adjustment counts for this many days (null: for good).")
    decays: bool = Field(False, description="Fades with the model's decay like engagement points (points only).")


class ScoreAdjustmentOut(Schema):
    id: int
    model_id: int
    points: Decimal
    reason: str
    at: dt.datetime
    expires_at: dt.datetime | None
    decays: bool


class ScoreAdjusted(Schema):
    adjustment: ScoreAdjustmentOut | None = Field(description="Null when the grade set was already the total's.")
    scores: list[ContactScoreOut]
