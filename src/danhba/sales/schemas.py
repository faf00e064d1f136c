"""Shapes of the sales REST API (``/api/sales``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, omittable

Kind = Literal["open", "won", "lost"]
Status = Literal["open", "won", "lost"]
Money = Decimal | int | str


class StageIn(In):
    id: int = omittable("A stage kept (to rename or reorder it); leave out for a new stage.")
    name: str = Field(max_length=120)
    kind: Kind = "open"
    probability: int = omittable("Win probability in % of an open stage (won: 100, lost: 0).")


class StageOut(Schema):
    id: int
    name: str
    position: int
    probability: int
    kind: Kind
    deals: int = Field(description="Deals in the stage.")


class PipelineIn(In):
    name: str = Field(max_length=120)
    stages: list[StageIn] = Field(description="In order: open stages, one won and one lost stage.")


class PipelinePatch(In):
    name: str = omittable()
    is_active: bool = omittable()
    stages: list[StageIn] = omittable("The whole list in its new order; stages left out are deleted.")


class PipelineOut(Schema):
    id: int
    name: str
    is_active: bool
    stages: list[StageOut]


class PipelineList(Schema):
    items: list[PipelineOut]


class LostReasonIn(In):
    name: str = Field(max_length=120)
    name_vi: str = Field("", max_length=120)
    position: int = omittable()
    is_active: bool = True


class LostReasonPatch(In):
    name: str = omittable()
    name_vi: str = omittable()
    position: int = omittable()
    is_active: bool = omittable()


class LostReasonOut(Schema):
    id: int
    key: str
    name: str
    name_vi: str
    label: str
    position: int
    is_active: bool


class LostReasonList(Schema):
    items: list[LostReasonOut]


class DealIn(In):
    title: str = Field(max_length=200)
    pipeline_id: int = omittable("Default: the first active pipeline.")
    stage_id: int = omittable("An open stage; default: the pipeline's first.")
    primary_contact_id: int | None = None
    contact_ids: list[int] = Field(default_factory=list, max_length=50)
    company_id: int | None = None
    value: Money = Field(0, description="In the deal's currency; a deal with lines is worth their sum.")
    currency: str = Field("VND", max_length=3)
    rate: Money = omittable("VND per unit of the currency (required unless VND).")
    expected_close: dt.date | None = None
    owner_id: int | None = omittable("Default: you.")
    source: str = Field("", max_length=60)
    price_list_id: int | None = omittable("The price list its lines take prices from; default: the contact's.")


class DealPatch(In):
    title: str = omittable()
    primary_contact_id: int | None = omittable()
    contact_ids: list[int] = omittable()
    company_id: int | None = omittable()
    value: Money = omittable()
    currency: str = omittable()
    rate: Money = omittable()
    expected_close: dt.date | None = omittable()
    owner_id: int | None = omittable()
    source: str = omittable()
    price_list_id: int | None = omittable()


class MoveIn(In):
    stage_id: int
    lost_reason_id: int | None = omittable("Required when the stage is the lost stage.")
    note: str = Field("", max_length=5000, description="Required when the stage is the lost stage.")


class LostIn(In):
    lost_reason_id: int
    note: str = Field(max_length=5000)


class DealLineIn(In):
    product_id: int | None = omittable("A product of the catalogue: its name and price are the defaults.")
    name: str = omittable()
    quantity: int = omittable()
    price: Money = omittable()
    discount: Money = omittable("An amount off the line, in the deal's currency.")


class DealLineOut(Schema):
    id: int
    product_id: int | None
    name: str
    quantity: int
    price: Decimal
    discount: Decimal
    total: Decimal
    price_list_id: int | None = Field(description="The price list its price came from (None: typed or list price).")
    price_list: str | None


class StayOut(Schema):
    stage: str
    entered_at: dt.datetime
    left_at: dt.datetime | None
    seconds: int = Field(description="Time in the stage (until now for the current one).")
    moved_by: str


class DealOut(Schema):
    id: int
    title: str
    pipeline_id: int
    pipeline: str
    stage_id: int
    stage: str
    probability: int
    status: Status
    primary_contact_id: int | None
    contact_ids: list[int]
    company_id: int | None
    value: Decimal
    currency: str
    rate: Decimal
    value_vnd: Decimal
    expected_close: dt.date | None
    owner_id: int | None
    owner: str
    source: str
    lost_reason: str | None = Field(description="The lost reason's key.")
    lost_note: str
    closed_at: dt.datetime | None
    stage_entered_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    price_list_id: int | None


class DealDetail(DealOut):
    lines: list[DealLineOut]
    history: list[StayOut]


class DealPage(Schema):
    items: list[DealOut]
    next_cursor: str | None
    prev_cursor: str | None


class ForecastMonthOut(Schema):
    month: dt.date
    deals: int
    total: Decimal
    weighted: Decimal


class ForecastOut(Schema):
    months: list[ForecastMonthOut]
    total: Decimal
    weighted: Decimal


class WinLossRowOut(Schema):
    key: str
    label: str
    won: int
    lost: int
    won_value: Decimal
    lost_value: Decimal
    win_rate: float | None


class WinLossOut(Schema):
    by: Literal["reason", "owner", "source"]
    rows: list[WinLossRowOut]


TaskKind = Literal["call", "email", "meeting", "follow_up"]
Priority = Literal["low", "normal", "high"]


class TaskIn(In):
    title: str = Field(max_length=200)
    kind: TaskKind = "follow_up"
    priority: Priority = "normal"
    notes: str = Field("", max_length=5000)
    contact_id: int | None = None
    deal_id: int | None = None
    owner_id: int = omittable("Default: you.")
    due_at: dt.datetime
    duration_minutes: int = Field(0, description="An appointment's length (0: a task).")
    remind_before_minutes: int | None = Field(None, description="Remind this many minutes before it is due.")


class TaskPatch(In):
    title: str = omittable()
    kind: TaskKind = omittable()
    priority: Priority = omittable()
    notes: str = omittable()
    contact_id: int | None = omittable()
    deal_id: int | None = omittable()
    owner_id: int = omittable()
    due_at: dt.datetime = omittable()
    duration_minutes: int = omittable()
    remind_before_minutes: int | None = omittable()
    done: bool = omittable("true: done now; false: open again.")


class TaskOut(Schema):
    id: int
    title: str
    kind: TaskKind
    priority: Priority
    notes: str
    contact_id: int | None
    deal_id: int | None
    owner_id: int
    due_at: dt.datetime
    duration_minutes: int
    remind_before_minutes: int | None
    remind_at: dt.datetime | None
    reminded_at: dt.datetime | None
    done_at: dt.datetime | None
    overdue: bool


class TaskList(Schema):
    items: list[TaskOut]


class NotificationOut(Schema):
    id: int
    text: str
    url: str
    task_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationList(Schema):
    items: list[NotificationOut]


class CalendarFeedOut(Schema):
    url: str = Field(description="The secret feed URL, shown once; resetting makes a new one.")


# --- lead assignment -------------------------------------------------------------------------------

Method = Literal["round_robin", "workload"]
Load = Literal["leads", "deals"]


class RuleIn(In):
    name: str = Field(max_length=120, examples=["Miền Nam: khách từ web"])
    team_id: int = Field(ge=1)
    method: Method = "round_robin"
    load: Load = "leads"
    capacity: int | None = Field(None, ge=1, le=1_000_000, description="Most open leads (or deals) per rep.")
    condition: dict[str, Any] = Field(
        default_factory=dict, description="Segment condition tree; {} for every new lead.",
        examples=[{"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "is",
                                                "value": "Hồ Chí Minh"}]}],
    )  # fmt: skip
    member_ids: list[int] = Field(default_factory=list, max_length=200, description="Empty: every team member.")
    position: int | None = Field(None, ge=0, le=1_000_000)
    is_active: bool = True


class RulePatch(In):
    name: str = omittable()
    team_id: int = omittable()
    method: Method = omittable()
    load: Load = omittable()
    capacity: int | None = omittable()
    condition: dict[str, Any] = omittable()
    member_ids: list[int] = omittable()
    position: int = omittable()
    is_active: bool = omittable()


class RuleOut(Schema):
    id: int
    name: str
    team_id: int
    method: Method
    load: Load
    capacity: int | None
    condition: dict[str, Any]
    member_ids: list[int]
    position: int
    is_active: bool
    last_user_id: int | None


class RuleList(Schema):
    items: list[RuleOut]


class MoveRuleIn(In):
    step: Literal[-1, 1] = Field(description="-1: up one place (earlier), 1: down one place.")


class AbsenceIn(In):
    user_id: int | None = Field(None, ge=1, description="Default: you.")
    starts_at: dt.datetime | None = Field(None, description="Default: now.")
    ends_at: dt.datetime | None = Field(None, description="Default: until you say you are back.")
    note: str = Field("", max_length=200)


class AbsenceOut(Schema):
    id: int
    user_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    note: str
    set_by_id: int | None


class AbsenceList(Schema):
    items: list[AbsenceOut]


class BackIn(In):
    user_id: int | None = Field(None, ge=1, description="Default: you.")


class HandoverIn(In):
    fallback_user_id: int | None = Field(None, ge=1, description="Who takes what no rule takes; default nobody.")


class HandoverRow(Schema):
    user_id: int | None
    name: str
    contacts: int
    deals: int
    tasks: int


class HandoverOut(Schema):
    rep_id: int
    applied: bool
    owners: list[HandoverRow]


class AssignmentOut(Schema):
    id: int
    contact_id: int
    user_id: int | None
    previous_id: int | None
    rule_id: int | None
    via: str
    at: dt.datetime


class AssignmentList(Schema):
    items: list[AssignmentOut]


# --- price lists ---------------------------------------------------------------------------------


class PriceItemIn(In):
    product_id: int = Field(ge=1)
    price: Money | None = None
    discount_percent: Decimal | None = Field(None, ge=0, le=100, description="% off the product's list price.")


class PriceListIn(In):
    name: str = Field(max_length=120, examples=["Đại lý cấp 1"])
    currency: str = Field("VND", max_length=3)
    segment_id: int | None = Field(None, description="The customer group (a segment or list); none: everyone.")
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    priority: int = Field(100, ge=0, le=1_000_000, description="Lower first.")
    discount_percent: Decimal = Field(Decimal(0), ge=0, le=100, description="% off list prices of other products.")
    is_active: bool = True
    items: list[PriceItemIn] = Field(default_factory=list, max_length=5000)


class PriceListPatch(In):
    name: str = omittable()
    currency: str = omittable()
    segment_id: int | None = omittable()
    valid_from: dt.date | None = omittable()
    valid_until: dt.date | None = omittable()
    priority: int = omittable()
    discount_percent: Decimal = omittable()
    is_active: bool = omittable()
    items: list[PriceItemIn] = omittable("Replaces every product price of the list.")


class PriceItemOut(Schema):
    product_id: int
    product: str
    price: Decimal | None
    discount_percent: Decimal | None


class PriceListOut(Schema):
    id: int
    name: str
    currency: str
    segment_id: int | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    priority: int
    discount_percent: Decimal
    is_active: bool
    items: list[PriceItemOut]


class PriceListList(Schema):
    items: list[PriceListOut]


# --- stage order ---------------------------------------------------------------------------------


class StageOrderIn(In):
    stage_ids: list[int] = Field(max_length=50, description="Every stage id of the pipeline once, in order.")


class StepIn(In):
    step: Literal[-1, 1] = Field(description="-1: one place earlier, 1: one place later.")
