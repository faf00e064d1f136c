"""REST endpoints of sales (``/api/sales``): pipelines with their stages and lost reasons (role
object "pipeline"), deals with filters and keyset pages, moving them (won, lost with a reason
and a note), their product lines and stage history (role object "deal", within the role's
record scope), the weighted forecast by month and the win / loss report. Bad payloads are 422
with the problems by field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK
from danhba.core.normalize import SANE_YEARS, sane_moment
from danhba.sales import selectors
from danhba.sales.api.assignment import router as assignment_router
from danhba.sales.api.prices import router as prices_router
from danhba.sales.models import DealLine, LostReason, Notification, Pipeline, Stage, Task
from danhba.sales.schemas import (
    CalendarFeedOut,
    DealDetail,
    DealIn,
    DealLineIn,
    DealLineOut,
    DealPage,
    DealPatch,
    ForecastOut,
    LostIn,
    LostReasonIn,
    LostReasonList,
    LostReasonOut,
    LostReasonPatch,
    MoveIn,
    NotificationList,
    PipelineIn,
    PipelineList,
    PipelineOut,
    PipelinePatch,
    StageOrderIn,
    StepIn,
    TaskIn,
    TaskList,
    TaskOut,
    TaskPatch,
    WinLossOut,
)
from danhba.sales.services import deals as deal_services
from danhba.sales.services import pipelines as pipeline_services
from danhba.sales.services import tasks as task_services

router = Router(tags=["sales"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _opt_id() -> Any:
    return Query(None, ge=1, le=MAX_PK)


def _days(**days: dt.date | None) -> None:
    """Dates of the query within the years danhba takes (a far one would overflow a day after)."""
    wrong = {k: [_("must be a date between %(low)s and %(high)s") % {"low": SANE_YEARS[0], "high": SANE_YEARS[1]}]
             for k, v in days.items() if v is not None and not sane_moment(v)}  # fmt: skip
    if wrong:
        raise InvalidInput(wrong)


# --- pipelines and lost reasons -----------------------------------------------------------


def _pipeline(request: HttpRequest, pipeline_id: int) -> Pipeline:
    require(api_user(request), "pipeline", perms.VIEW)
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise NotFound(_("No such pipeline."))
    return pipeline


def _pipeline_out(pipeline_id: int) -> dict[str, Any]:
    return selectors.pipelines_out(Pipeline.objects.filter(pk=pipeline_id))[0]


@router.get("/pipelines", response={200: PipelineList, **ERRORS}, summary="List pipelines with their stages")
def pipeline_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "pipeline", perms.VIEW)
    return {"items": selectors.pipelines_out(Pipeline.objects.all())}


@router.post("/pipelines", response={201: PipelineOut, **ERRORS}, summary="Create a pipeline")
def pipeline_create(request: HttpRequest, payload: PipelineIn) -> Status[dict[str, Any]]:
    pipeline = pipeline_services.pipeline_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _pipeline_out(pipeline.pk))


@router.get("/pipelines/{int:pipeline_id}", response={200: PipelineOut, **ERRORS}, summary="Get a pipeline")
def pipeline_get(request: HttpRequest, pipeline_id: int = _id()) -> dict[str, Any]:
    return _pipeline_out(_pipeline(request, pipeline_id).pk)


@router.patch("/pipelines/{int:pipeline_id}", response={200: PipelineOut, **ERRORS}, summary="Change a pipeline")
def pipeline_update(request: HttpRequest, payload: PipelinePatch, pipeline_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; ``stages`` replaces the list (ids keep stages and their deals)."""
    pipeline = _pipeline(request, pipeline_id)
    pipeline_services.pipeline_update(
        actor=api_actor(request), pipeline=pipeline, data=payload.model_dump(exclude_unset=True)
    )
    return _pipeline_out(pipeline.pk)


@router.delete("/pipelines/{int:pipeline_id}", response={204: None, **ERRORS}, summary="Delete a pipeline")
def pipeline_delete(request: HttpRequest, pipeline_id: int = _id()) -> Status[None]:
    pipeline_services.pipeline_delete(actor=api_actor(request), pipeline=_pipeline(request, pipeline_id))
    return Status(204, None)


@router.post(
    "/pipelines/{int:pipeline_id}/stages/order", response={200: PipelineOut, **ERRORS},
    summary="Put a pipeline's stages in a new order",
)  # fmt: skip
def stages_order(request: HttpRequest, payload: StageOrderIn, pipeline_id: int = _id()) -> dict[str, Any]:
    """Every stage id of the pipeline once, in the new order; deals stay in their stages."""
    pipeline = _pipeline(request, pipeline_id)
    pipeline_services.stages_order(actor=api_actor(request), pipeline=pipeline, stage_ids=payload.stage_ids)
    return _pipeline_out(pipeline.pk)


@router.post("/stages/{int:stage_id}/move", response={200: PipelineOut, **ERRORS}, summary="Move a stage up or down")
def stage_move(request: HttpRequest, payload: StepIn, stage_id: int = _id()) -> dict[str, Any]:
    require(api_user(request), "pipeline", perms.VIEW)
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        raise NotFound(_("No such stage."))
    pipeline_services.stage_move(actor=api_actor(request), stage=stage, step=payload.step)
    return _pipeline_out(stage.pipeline_id)


def _reason_out(reason: LostReason) -> dict[str, Any]:
    fields = ("id", "key", "name", "name_vi", "label", "position", "is_active")
    return {f: getattr(reason, f) for f in fields}


@router.get("/lost-reasons", response={200: LostReasonList, **ERRORS}, summary="List lost reasons")
def lost_reason_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "deal", perms.VIEW)
    return {"items": [_reason_out(r) for r in LostReason.objects.all()]}


@router.post("/lost-reasons", response={201: LostReasonOut, **ERRORS}, summary="Add a lost reason")
def lost_reason_create(request: HttpRequest, payload: LostReasonIn) -> Status[dict[str, Any]]:
    reason = pipeline_services.lost_reason_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _reason_out(reason))


@router.patch("/lost-reasons/{int:reason_id}", response={200: LostReasonOut, **ERRORS}, summary="Change a lost reason")
def lost_reason_update(request: HttpRequest, payload: LostReasonPatch, reason_id: int = _id()) -> dict[str, Any]:
    """Retire a reason (``is_active: false``) rather than delete it: lost deals keep theirs."""
    require(api_user(request), "pipeline", perms.VIEW)
    reason = LostReason.objects.filter(pk=reason_id).first()
    if reason is None:
        raise NotFound(_("No such lost reason."))
    pipeline_services.lost_reason_update(
        actor=api_actor(request), reason=reason, data=payload.model_dump(exclude_unset=True)
    )
    return _reason_out(reason)


# --- deals ------------------------------------------------------------------------------------


def _deal(request: HttpRequest, deal_id: int) -> Any:
    return deal_services.deal_get(actor=api_actor(request), pk=deal_id)


def _detail(request: HttpRequest, deal_id: int) -> dict[str, Any]:
    return selectors.deal_detail(_deal(request, deal_id))


@router.get("/deals", response={200: DealPage, **ERRORS}, summary="List deals")
def deal_list(
    request: HttpRequest,
    pipeline_id: int | None = _opt_id(),
    stage_id: int | None = _opt_id(),
    status: Literal["open", "won", "lost"] | None = None,
    owner_id: int | None = _opt_id(),
    contact_id: int | None = _opt_id(),
    source: str = Query("", max_length=60),
    q: str = Query("", max_length=200),
    close_after: dt.date | None = None,
    close_before: dt.date | None = None,
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
) -> dict[str, Any]:
    """Newest first. ``close_after`` / ``close_before``: the expected close date, inclusive."""
    user = api_user(request)
    require(user, "deal", perms.VIEW)
    _days(close_after=close_after, close_before=close_before)
    filters = selectors.DealFilters(
        pipeline_id=pipeline_id, stage_id=stage_id, status=status or "", owner_id=owner_id, contact_id=contact_id,
        source=source.strip(), q=q.strip(), close_after=close_after, close_before=close_before,
    )  # fmt: skip
    page = selectors.deal_page(user, filters, cursor=cursor or None, limit=limit)
    return {
        "items": [selectors.deal_out(d) for d in page.items],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


@router.post("/deals", response={201: DealDetail, **ERRORS}, summary="Create a deal")
def deal_create(request: HttpRequest, payload: DealIn) -> Status[dict[str, Any]]:
    deal = deal_services.deal_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _detail(request, deal.pk))


@router.get(
    "/deals/{int:deal_id}", response={200: DealDetail, **ERRORS}, summary="Get a deal with its lines and history"
)
def deal_get(request: HttpRequest, deal_id: int = _id()) -> dict[str, Any]:
    return _detail(request, deal_id)


@router.patch("/deals/{int:deal_id}", response={200: DealDetail, **ERRORS}, summary="Change a deal")
def deal_update(request: HttpRequest, payload: DealPatch, deal_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; the stage changes through ``/move``, ``/won`` and ``/lost``."""
    deal = _deal(request, deal_id)
    deal_services.deal_update(actor=api_actor(request), deal=deal, data=payload.model_dump(exclude_unset=True))
    return _detail(request, deal_id)


@router.delete("/deals/{int:deal_id}", response={204: None, **ERRORS}, summary="Delete a deal")
def deal_delete(request: HttpRequest, deal_id: int = _id()) -> Status[None]:
    deal_services.deal_delete(actor=api_actor(request), deal=_deal(request, deal_id))
    return Status(204, None)


@router.post("/deals/{int:deal_id}/move", response={200: DealDetail, **ERRORS}, summary="Move a deal to a stage")
def deal_move(request: HttpRequest, payload: MoveIn, deal_id: int = _id()) -> dict[str, Any]:
    """To the lost stage: ``lost_reason_id`` and ``note`` are required."""
    deal_services.deal_move(
        actor=api_actor(request), deal=_deal(request, deal_id), stage_id=payload.stage_id,
        lost_reason_id=payload.lost_reason_id, note=payload.note,
    )  # fmt: skip
    return _detail(request, deal_id)


@router.post("/deals/{int:deal_id}/won", response={200: DealDetail, **ERRORS}, summary="Mark a deal won")
def deal_won(request: HttpRequest, deal_id: int = _id()) -> dict[str, Any]:
    deal_services.deal_win(actor=api_actor(request), deal=_deal(request, deal_id))
    return _detail(request, deal_id)


@router.post("/deals/{int:deal_id}/lost", response={200: DealDetail, **ERRORS}, summary="Mark a deal lost")
def deal_lost(request: HttpRequest, payload: LostIn, deal_id: int = _id()) -> dict[str, Any]:
    deal_services.deal_lose(
        actor=api_actor(request), deal=_deal(request, deal_id), lost_reason_id=payload.lost_reason_id,
        note=payload.note,
    )  # fmt: skip
    return _detail(request, deal_id)


def _line(request: HttpRequest, deal_id: int, line_id: int) -> DealLine:
    deal = _deal(request, deal_id)
    line = DealLine.objects.filter(pk=line_id, deal=deal).select_related("deal").first()
    if line is None:
        raise NotFound(_("No such line."))
    return line


def _line_out(line: DealLine) -> dict[str, Any]:
    fields = ("id", "product_id", "name", "quantity", "price", "discount", "total", "price_list_id")
    return {**{f: getattr(line, f) for f in fields}, "price_list": line.price_list.name if line.price_list else None}


@router.post("/deals/{int:deal_id}/lines", response={201: DealLineOut, **ERRORS}, summary="Add a product line")
def line_add(request: HttpRequest, payload: DealLineIn, deal_id: int = _id()) -> Status[dict[str, Any]]:
    line = deal_services.deal_line_add(
        actor=api_actor(request), deal=_deal(request, deal_id), data=payload.model_dump(exclude_unset=True)
    )
    return Status(201, _line_out(line))


@router.patch(
    "/deals/{int:deal_id}/lines/{int:line_id}", response={200: DealLineOut, **ERRORS}, summary="Change a line"
)
def line_update(
    request: HttpRequest, payload: DealLineIn, deal_id: int = _id(), line_id: int = _id()
) -> dict[str, Any]:
    line = _line(request, deal_id, line_id)
    deal_services.deal_line_update(actor=api_actor(request), line=line, data=payload.model_dump(exclude_unset=True))
    return _line_out(line)


@router.delete("/deals/{int:deal_id}/lines/{int:line_id}", response={204: None, **ERRORS}, summary="Delete a line")
def line_delete(request: HttpRequest, deal_id: int = _id(), line_id: int = _id()) -> Status[None]:
    deal_services.deal_line_delete(actor=api_actor(request), line=_line(request, deal_id, line_id))
    return Status(204, None)


# --- reports ----------------------------------------------------------------------------------


@router.get("/forecast", response={200: ForecastOut, **ERRORS}, summary="Weighted forecast by month")
def forecast(
    request: HttpRequest,
    pipeline_id: int | None = _opt_id(),
    owner_id: int | None = _opt_id(),
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Open deals by month of their expected close date (VND), each weighted by its stage's
    win probability."""
    user = api_user(request)
    require(user, "deal", perms.VIEW)
    _days(since=since, until=until)
    deals = selectors.deals_filtered(user, selectors.DealFilters(pipeline_id=pipeline_id, owner_id=owner_id))
    months = selectors.forecast(deals, since=since, until=until)
    return {
        "months": [vars(m) for m in months],
        "total": sum((m.total for m in months), Decimal(0)),
        "weighted": sum((m.weighted for m in months), Decimal(0)),
    }


@router.get("/win-loss", response={200: WinLossOut, **ERRORS}, summary="Won and lost deals by reason, owner or source")
def win_loss(
    request: HttpRequest,
    by: Literal["reason", "owner", "source"] = "reason",
    pipeline_id: int | None = _opt_id(),
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[str, Any]:
    """Deals closed from ``since`` to ``until`` (inclusive days, the site's time zone)."""
    user = api_user(request)
    require(user, "deal", perms.VIEW)
    _days(since=since, until=until)
    deals = selectors.deals_filtered(user, selectors.DealFilters(pipeline_id=pipeline_id))
    rows = selectors.win_loss(deals, by=by, since=_day_start(since), until=_day_start(until, 1))
    return {"by": by, "rows": [{**vars(r), "win_rate": r.win_rate} for r in rows]}


def _day_start(day: dt.date | None, plus: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=plus), dt.time()))


# --- tasks, reminders, the calendar feed ----------------------------------------------------

TASK_FIELDS = ("id", "title", "kind", "priority", "notes", "contact_id", "deal_id", "owner_id", "due_at",
               "duration_minutes", "remind_before_minutes", "remind_at", "reminded_at", "done_at")  # fmt: skip


def task_out(task: Task, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {**{f: getattr(task, f) for f in TASK_FIELDS}, "overdue": task.done_at is None and task.due_at < now}


@router.get("/tasks", response={200: TaskList, **ERRORS}, summary="List tasks and appointments")
def task_list(
    request: HttpRequest,
    mine: bool = True,
    open: bool = True,
    due_before: dt.datetime | None = None,
    contact_id: int | None = _opt_id(),
    deal_id: int | None = _opt_id(),
    limit: int = Query(100, ge=1, le=500),
) -> dict[str, Any]:
    """By due time. ``mine``: only yours; ``open``: only those not done."""
    user = api_user(request)
    require(user, "task", perms.VIEW)
    qs = task_services.tasks_visible(user)
    if mine:
        qs = qs.filter(owner=user)
    if open:
        qs = qs.filter(done_at__isnull=True)
    if due_before is not None:
        qs = qs.filter(due_at__lt=due_before)
    if contact_id:
        qs = qs.filter(contact_id=contact_id)
    if deal_id:
        qs = qs.filter(deal_id=deal_id)
    return {"items": [task_out(t) for t in qs.order_by("due_at", "id")[:limit]]}


@router.post("/tasks", response={201: TaskOut, **ERRORS}, summary="Create a task or an appointment")
def task_create(request: HttpRequest, payload: TaskIn) -> Status[dict[str, Any]]:
    task = task_services.task_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True) | {
        "due_at": payload.due_at})  # fmt: skip
    return Status(201, task_out(task))


@router.patch("/tasks/{int:task_id}", response={200: TaskOut, **ERRORS}, summary="Change a task (done: true)")
def task_update(request: HttpRequest, payload: TaskPatch, task_id: int = _id()) -> dict[str, Any]:
    actor = api_actor(request)
    task = task_services.task_get(actor=actor, pk=task_id)
    return task_out(task_services.task_update(actor=actor, task=task, data=payload.model_dump(exclude_unset=True)))


@router.delete("/tasks/{int:task_id}", response={204: None, **ERRORS}, summary="Delete a task")
def task_delete(request: HttpRequest, task_id: int = _id()) -> Status[None]:
    actor = api_actor(request)
    task_services.task_delete(actor=actor, task=task_services.task_get(actor=actor, pk=task_id))
    return Status(204, None)


@router.get("/notifications", response={200: NotificationList, **ERRORS}, summary="Your unread reminders")
def notification_list(request: HttpRequest) -> dict[str, Any]:
    user = api_user(request)
    rows = Notification.objects.filter(user=user, read_at__isnull=True)[:100]
    fields = ("id", "text", "url", "task_id", "created_at", "read_at")
    return {"items": [{f: getattr(n, f) for f in fields} for n in rows]}


@router.post("/notifications/read", response={204: None, **ERRORS}, summary="Mark your reminders read")
def notifications_read(request: HttpRequest) -> Status[None]:
    task_services.notifications_read(user=api_user(request))
    return Status(204, None)


@router.post("/calendar-feed", response={201: CalendarFeedOut, **ERRORS}, summary="A new secret calendar URL")
def calendar_feed_reset(request: HttpRequest) -> Status[dict[str, Any]]:
    """Makes a new secret URL of your tasks' iCalendar feed; the previous one stops working."""
    user = api_user(request)
    require(user, "task", perms.VIEW)
    token = task_services.calendar_feed_reset(actor=api_actor(request), user=user)
    return Status(201, {"url": request.build_absolute_uri(reverse("sales:calendar", args=[token]))})


# Lead assignment: rules, absences, a rep's handover (assignment.py).
router.add_router("/assignment", assignment_router)
# Price lists (prices.py).
router.add_router("/price-lists", prices_router)
