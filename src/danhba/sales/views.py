"""Pages of sales: the board (kanban: drag a card to another stage, or pick the stage from the
card's own menu — the keyboard path, and the one without JavaScript), the deal list with
filters, a deal with its stage history and the won / lost forms, the forecast and win / loss
charts, and the contact page's deals panel. Every page calls the services the API calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.models import User
from danhba.accounts.views import can, permission_required
from danhba.contacts.models import Company, Contact
from danhba.contacts.selectors import ContactFilters, contact_page
from danhba.core.actor import Actor
from danhba.core.charts import Bar, column_chart
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.formatting import money
from danhba.core.keyset import BadCursor
from danhba.core.ratelimit import PublicLimit, public_rate_limited
from danhba.core.views import next_url
from danhba.sales import selectors
from danhba.sales.calendar import feed_ics
from danhba.sales.forms import (
    DealFilterForm,
    DealForm,
    DealLineForm,
    LostForm,
    LostReasonForm,
    PipelineForm,
    TaskForm,
    pick_label,
)
from danhba.sales.models import CalendarFeed, Deal, LostReason, Notification, Pipeline, PriceList, Stage, Task
from danhba.sales.services import deals as services
from danhba.sales.services import pipelines as pipeline_services
from danhba.sales.services import tasks as task_services

BOARD_CARDS = 100


def _deal(request: HttpRequest, pk: int) -> Deal:
    try:
        return services.deal_get(actor=Actor.from_request(request), pk=pk)
    except NotFound:
        raise Http404(_("No such deal.")) from None


@permission_required(can("deal", perms.VIEW))
def board(request: HttpRequest) -> HttpResponse:
    pipelines = list(Pipeline.objects.filter(is_active=True))
    wanted = request.GET.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.pk) == wanted), pipelines[0] if pipelines else None)
    columns = []
    if pipeline is not None:
        deals = selectors.deals_visible(request.user).filter(pipeline=pipeline).select_related("owner")
        # A column's count and value are of all its deals; it shows the newest BOARD_CARDS of them
        # and links to the deal list for the rest.
        sums = {
            row["stage_id"]: row
            for row in deals.values("stage_id").annotate(n=Count("id"), total=Sum("value_vnd")).order_by()
        }
        for stage in pipeline.stages.all():
            cards = list(deals.filter(stage=stage).order_by("-stage_entered_at", "-id")[:BOARD_CARDS])
            count, total = sums.get(stage.pk, {}).get("n", 0), sums.get(stage.pk, {}).get("total") or 0
            columns.append({"stage": stage, "deals": cards, "count": count, "total": total, "more": count - len(cards)})
    form = DealForm(initial={"pipeline_id": pipeline.pk if pipeline else None})
    context = {"nav": "sales", "pipelines": pipelines, "pipeline": pipeline, "columns": columns, "form": form,
               "stages": pipeline.stages.all() if pipeline else []}  # fmt: skip
    return render(request, "sales/board.html", context)


@permission_required(can("deal", perms.CREATE))
def deal_create(request: HttpRequest) -> HttpResponse:
    """The new-deal form; from a contact's page (``?contact=12``) the contact is filled in."""
    if request.method != "POST":
        contact = Contact.objects.visible_to(request.user).filter(pk=_int(request.GET.get("contact")) or 0).first()
        initial = {"contact": pick_label(contact) if contact else "", "currency": "VND"}
        return render(request, "sales/deal_form.html", {"nav": "sales", "form": DealForm(initial=initial)})
    form = DealForm(request.POST)
    if form.is_valid():
        try:
            deal = services.deal_create(actor=Actor.from_request(request), data=form.data_for_service())
        except InvalidInput as exc:
            apply_service_error(form, exc, rename=DEAL_FIELD_ALIASES)
        else:
            return redirect("sales:deal", deal.pk)
    return render(request, "sales/deal_form.html", {"nav": "sales", "form": form}, status=422)


# The service's names for what the form calls "contact" and "company".
DEAL_FIELD_ALIASES = {"primary_contact_id": "contact", "company_id": "company"}


@require_POST
@permission_required(can("deal", perms.EDIT))
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _deal(request, pk)
    form = DealForm(request.POST, editing=True, lines=deal.lines.exists())
    if form.is_valid():
        try:
            services.deal_update(actor=Actor.from_request(request), deal=deal, data=form.data_for_service())
        except InvalidInput as exc:
            apply_service_error(form, exc, rename=DEAL_FIELD_ALIASES)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("sales:deal", deal.pk)
    return _detail(request, _deal(request, pk), edit_form=form, status=422)


@permission_required(can("deal", perms.VIEW))
def picks(request: HttpRequest, kind: str) -> HttpResponse:
    """A picker's suggestions as ``<option>``s: contacts the user may see, or companies."""
    text = (request.GET.get(kind) or request.GET.get("q") or "").strip()[:100]
    options: list[str] = []
    if kind == "contact" and text:
        found = contact_page(request.user, ContactFilters(q=text.lstrip("#")), limit=10)  # type: ignore[arg-type]
        options = [pick_label(c) for c in found.items]
    elif kind == "company" and text:
        companies = Company.objects.filter(name__icontains=text).order_by("name")[:10]
        options = [f"#{c.pk} {c.name}" for c in companies]
    elif kind not in ("contact", "company"):
        raise Http404
    return render(request, "sales/_picks.html", {"options": options})


@require_POST
@permission_required(can("deal", perms.EDIT))
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move from the board or the deal page; to the lost stage without a reason it opens the
    deal page's lost form instead."""
    deal = _deal(request, pk)
    stage = Stage.objects.filter(pk=_int(request.POST.get("stage_id")) or 0, pipeline_id=deal.pipeline_id).first()
    if stage is not None and stage.kind == Stage.Kind.LOST and not request.POST.get("lost_reason_id"):
        messages.info(request, _("Say why the deal was lost to move it to “%(stage)s”.") % {"stage": stage.name})
        return redirect(reverse("sales:deal", args=[deal.pk]) + "#lost")
    try:
        services.deal_move(
            actor=Actor.from_request(request), deal=deal, stage_id=stage.pk if stage else None,
            lost_reason_id=_int(request.POST.get("lost_reason_id")), note=request.POST.get("note"),
        )  # fmt: skip
    except InvalidInput as exc:
        return _detail(request, deal, lost_error=exc, status=422)
    messages.success(request, _("“%(deal)s” moved to %(stage)s.") % {"deal": deal.title, "stage": deal.stage.name})
    return redirect(next_url(request, reverse("sales:deal", args=[deal.pk])))


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None


@permission_required(can("deal", perms.VIEW))
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _deal(request, pk))


def _detail(
    request: HttpRequest,
    deal: Deal,
    lost_error: InvalidInput | None = None,
    status: int = 200,
    edit_form: DealForm | None = None,
) -> HttpResponse:
    lost = LostForm(request.POST if lost_error else None)
    if lost_error is not None:
        lost.is_valid()
        apply_service_error(lost, lost_error)
    detail = selectors.deal_detail(deal)
    tasks = Task.objects.filter(deal=deal, done_at__isnull=True).select_related("owner").order_by("due_at")[:50]
    edit = edit_form or DealForm(initial=DealForm.initial_for(deal), editing=True, lines=bool(detail["lines"]))
    context = {"nav": "sales", "deal": deal, "detail": detail, "lost_form": lost, "edit_form": edit, "tasks": tasks,
               "stages": deal.pipeline.stages.all(),
               "contacts": Contact.objects.visible_to(request.user).filter(deals=deal),
               "price_lists": PriceList.objects.filter(is_active=True), "line_form": DealLineForm()}  # fmt: skip
    return render(request, "sales/deal.html", context, status=status)


@permission_required(can("deal", perms.VIEW))
def deal_list(request: HttpRequest) -> HttpResponse:
    form = DealFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.DealFilters(
        q=data.get("q", ""), status=data.get("status", ""), pipeline_id=data.get("pipeline_id"),
        stage_id=data.get("stage_id"), source=data.get("source", ""),
    )  # fmt: skip
    try:
        page = selectors.deal_page(request.user, filters, cursor=request.GET.get("cursor") or None)
    except BadCursor:
        page = selectors.deal_page(request.user, filters)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {"nav": "sales", "form": form, "page": page, "query": query.urlencode()}
    return render(request, "sales/list.html", context)


@permission_required(can("deal", perms.VIEW))
def reports(request: HttpRequest) -> HttpResponse:
    deals = selectors.deals_visible(request.user)
    months = selectors.forecast(deals)
    forecast_bars = [
        Bar(f"{m.month:%m/%Y}", float(m.weighted), f"{m.month:%m/%Y}: {money(m.weighted)}") for m in months
    ]
    rows = selectors.win_loss(deals, by="reason")
    lost_bars = [Bar(r.label or _("Won"), r.lost if r.key else r.won) for r in rows]
    context = {
        "nav": "sales", "months": months, "rows": rows,
        "owners": selectors.win_loss(deals, by="owner"), "sources": selectors.win_loss(deals, by="source"),
        "forecast_chart": column_chart(forecast_bars, title=_("Weighted forecast by month (₫)"), fmt=money),
        "reasons_chart": column_chart(lost_bars, title=_("Closed deals by lost reason"), integer=True),
    }  # fmt: skip
    return render(request, "sales/reports.html", context)


def contact_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    """The contact page's deals panel, for roles that may see deals."""
    user = request.user
    if not isinstance(user, User) or not user.can("deal", perms.VIEW):
        return None
    deals = selectors.deals_visible(user).filter(selectors.contact_deals_q(contact.pk)).distinct()
    tasks = Task.objects.filter(contact=contact, done_at__isnull=True).select_related("owner").order_by("due_at")
    return {
        "sales_deals": list(deals.select_related("stage").order_by("-created_at")[:20]),
        "sales_tasks": list(tasks[:20]) if user.can("task", perms.VIEW) else None,
    }


# --- my day -----------------------------------------------------------------------------------


@permission_required(can("task", perms.VIEW))
def today(request: HttpRequest) -> HttpResponse:
    """The user's open tasks: overdue (highlighted), today's, and the next seven days'."""
    now = timezone.now()
    day_end = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    user = request.user
    assert isinstance(user, User)
    mine = Task.objects.filter(owner=user, done_at__isnull=True).select_related("contact", "deal")
    form = TaskForm(request.POST or None, initial=_task_initial(request))
    if request.method == "POST" and form.is_valid():
        try:
            task_services.task_create(actor=Actor.from_request(request), data=form.data_for_service())
        except InvalidInput as exc:
            apply_service_error(form, exc, rename={"contact_id": "contact"})
        else:
            return redirect(next_url(request, reverse("sales:today")))
    context = {
        "nav": "today", "form": form, "now": now,
        "overdue": list(mine.filter(due_at__lt=now)[:200]),
        "today": list(mine.filter(due_at__gte=now, due_at__lte=day_end)[:200]),
        "upcoming": list(mine.filter(due_at__gt=day_end, due_at__lte=day_end + dt.timedelta(days=7))[:200]),
        "notices": list(Notification.objects.filter(user=user, read_at__isnull=True)[:20]),
        "feed_url": request.session.pop("sales_feed_url", ""),
    }  # fmt: skip
    return render(request, "sales/today.html", context, status=422 if form.errors else 200)


def _task_initial(request: HttpRequest) -> dict[str, Any]:
    """From a deal's or a contact's page (``?deal=3``, ``?contact=12``) the new task is about it."""
    initial: dict[str, Any] = {}
    contact = Contact.objects.visible_to(request.user).filter(pk=_int(request.GET.get("contact")) or 0).first()
    deal = selectors.deals_visible(request.user).filter(pk=_int(request.GET.get("deal")) or 0).first()
    if deal is not None:
        initial["deal_id"] = deal.pk
        contact = contact or deal.primary_contact
    if contact is not None:
        initial["contact"] = pick_label(contact)
    return initial


@require_POST
@permission_required(can("task", perms.EDIT))
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    actor = Actor.from_request(request)
    try:
        task = task_services.task_get(actor=actor, pk=pk)
    except NotFound:
        raise Http404(_("No such task.")) from None
    task_services.task_update(actor=actor, task=task, data={"done": True})
    return redirect("sales:today")


@require_POST
@permission_required(can("task", perms.VIEW))
def notices_read(request: HttpRequest) -> HttpResponse:
    task_services.notifications_read(user=request.user)  # type: ignore[arg-type]
    return redirect("sales:today")


@require_POST
@permission_required(can("task", perms.VIEW))
def calendar_reset(request: HttpRequest) -> HttpResponse:
    token = task_services.calendar_feed_reset(actor=Actor.from_request(request), user=request.user)  # type: ignore[arg-type]
    request.session["sales_feed_url"] = request.build_absolute_uri(reverse("sales:calendar", args=[token]))
    return redirect("sales:today")


# Calendar apps poll every few minutes; a client walking tokens gets 429 with Retry-After.
calendar_rate = PublicLimit("calendar", 30)


@public_rate_limited(calendar_rate)
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The secret feed URL (no login: calendar apps cannot log in); an unknown token is a 404."""
    feed = CalendarFeed.objects.select_related("user").filter(token_hash=task_services.feed_hash(token)).first()
    if feed is None or not feed.user.is_active:
        raise Http404
    response = HttpResponse(feed_ics(feed.user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


# --- settings: pipelines and lost reasons ---------------------------------------------------


@permission_required(can("pipeline", perms.VIEW))
def settings_page(request: HttpRequest) -> HttpResponse:
    actor = Actor.from_request(request)
    pipeline_form = PipelineForm(request.POST if "add_pipeline" in request.POST else None)
    reason_form = LostReasonForm(request.POST if "add_reason" in request.POST else None)
    try:
        if pipeline_form.is_bound and pipeline_form.is_valid():
            data = {"name": pipeline_form.cleaned_data["name"], "stages": pipeline_form.stage_specs()}
            pipeline_services.pipeline_create(actor=actor, data=data)
            return redirect("sales:settings")
        if reason_form.is_bound and reason_form.is_valid():
            pipeline_services.lost_reason_create(actor=actor, data=reason_form.cleaned_data)
            return redirect("sales:settings")
    except InvalidInput as exc:
        apply_service_error(pipeline_form if pipeline_form.is_bound else reason_form, exc)
    context = {
        "nav": "sales_settings", "pipelines": selectors.pipelines_out(Pipeline.objects.all()),
        "reasons": LostReason.objects.all(), "pipeline_form": pipeline_form, "reason_form": reason_form,
    }  # fmt: skip
    bound = pipeline_form.is_bound or reason_form.is_bound
    return render(request, "sales/settings.html", context, status=422 if bound else 200)


@require_POST
@permission_required(can("pipeline", perms.EDIT))
def reason_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    reason = LostReason.objects.filter(pk=pk).first()
    if reason is None:
        raise Http404
    pipeline_services.lost_reason_update(actor=Actor.from_request(request), reason=reason,
                                         data={"is_active": not reason.is_active})  # fmt: skip
    return redirect("sales:settings")


@require_POST
@permission_required(can("pipeline", perms.EDIT))
def stage_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The up / down buttons of a stage (the keyboard and no-script path)."""
    stage = Stage.objects.select_related("pipeline").filter(pk=pk).first()
    if stage is None:
        raise Http404(_("No such stage."))
    step = -1 if request.POST.get("step") == "-1" else 1
    pipeline_services.stage_move(actor=Actor.from_request(request), stage=stage, step=step)
    return redirect(reverse("sales:settings") + f"#pipeline-{stage.pipeline_id}")


@require_POST
@permission_required(can("pipeline", perms.EDIT))
def stages_order(request: HttpRequest, pk: int) -> HttpResponse:
    """A drag and drop's new order: ``stage_ids`` as "3,1,2"."""
    pipeline = Pipeline.objects.filter(pk=pk).first()
    if pipeline is None:
        raise Http404(_("No such pipeline."))
    raw = [x for x in request.POST.get("stage_ids", "").split(",") if x.strip()]
    ids = [int(x) for x in raw if x.strip().isdigit()]
    try:
        pipeline_services.stages_order(actor=Actor.from_request(request), pipeline=pipeline, stage_ids=ids)
    except InvalidInput as exc:
        messages.error(request, exc.message if not exc.details else "; ".join(
            str(m) for ms in exc.details.values() for m in (ms if isinstance(ms, list) else [ms])))  # fmt: skip
    return redirect(reverse("sales:settings") + f"#pipeline-{pipeline.pk}")
