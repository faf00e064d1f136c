"""Shapes of the sales REST API (``/api/sales``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

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
