"""Campaign pages: the list, the form (a draft), and a campaign's page: its counts, who was
left out and why, the send log, and the actions (send now or at a time, pause, resume, cancel,
delete)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.core import formatting
from danhba.core.actor import Actor
from danhba.core.charts import Bar
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.messaging import selectors
from danhba.messaging.forms import CampaignForm, ScheduleForm, VariantForm
from danhba.messaging.models import Campaign, Send
from danhba.messaging.reports import campaign_report
from danhba.messaging.services import abtests
from danhba.messaging.services import campaigns as services


def _campaign(pk: int) -> Campaign:
    try:
        return selectors.campaign_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _data(form: CampaignForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "template_id": data["template"].pk,
        "segment_ids": [s.pk for s in data["segments"]],
        "exclude_segment_ids": [s.pk for s in data["exclude_segments"]],
        "per_hour": data["per_hour"],
        "topic": data["topic"].key if data["topic"] else None,
        "tracking": data["tracking"],
    } | {key: data[key] for key in ("ab_share", "ab_wait_hours", "ab_metric") if data.get(key)}


@permission_required(can("email", perms.VIEW))
def campaign_list(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/campaign_list.html", {"nav": "campaigns", "campaigns": selectors.campaign_list()})


def _form(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    initial: dict[str, Any] = {"per_hour": 0, "tracking": settings.MESSAGING_TRACKING}
    initial |= {"ab_share": 10, "ab_wait_hours": 4, "ab_metric": "clicks"}
    if campaign is not None:
        initial = {
            "name": campaign.name,
            "template": campaign.template_id,
            "segments": list(campaign.segments.all()),
            "exclude_segments": list(campaign.exclude_segments.all()),
            "per_hour": campaign.per_hour,
            "topic": campaign.topic.key if campaign.topic else None,
            "tracking": campaign.tracking,
            "ab_share": campaign.ab_share,
            "ab_wait_hours": campaign.ab_wait_hours,
            "ab_metric": campaign.ab_metric,
        }
    form = CampaignForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            if campaign is None:
                campaign = services.campaign_create(actor=actor, data=_data(form))
            else:
                services.campaign_update(actor=actor, campaign=campaign, data=_data(form))
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc, rename={"template_id": "template", "segment_ids": "segments"})
        else:
            messages.success(request, _("The campaign is saved."))
            return redirect("messaging:campaign", pk=campaign.pk)
    context = {"nav": "campaigns", "form": form, "campaign": campaign}
    return render(request, "messaging/campaign_form.html", context, status=422 if form.errors else 200)


@permission_required(can("email", perms.CREATE))
def campaign_create(request: HttpRequest) -> HttpResponse:
    return _form(request, None)


@permission_required(can("email", perms.EDIT))
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    if not campaign.is_editable:
        messages.error(request, _("A campaign that has started cannot be changed."))
        return redirect("messaging:campaign", pk=pk)
    return _form(request, campaign)


@permission_required(can("email", perms.VIEW))
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    state, reason = request.GET.get("state", ""), request.GET.get("reason", "")
    try:
        page = selectors.recipient_page(campaign, state=state, reason=reason, cursor=request.GET.get("cursor") or None)
    except ServiceError as exc:
        messages.error(request, exc.message)
        state, reason = "", ""
        page = selectors.recipient_page(campaign)
    counts = campaign.counts or {}
    reasons = [(value, label, counts.get(f"reason:{value}", 0)) for value, label in Send.Reason.choices]
    context = {
        "nav": "campaigns",
        "campaign": campaign,
        "page": page,
        "state": state,
        "reason": reason,
        "states": [(value, label, counts.get(value, 0)) for value, label in Send.State.choices],
        "reasons": [r for r in reasons if r[2]],
        "schedule_form": ScheduleForm(),
        "segments": list(campaign.segments.all()),
        "exclude_segments": list(campaign.exclude_segments.all()),
        "variant_form": VariantForm(),
        **_report(campaign),
    }
    return render(request, "messaging/campaign_detail.html", context)


def _report(campaign: Campaign) -> dict[str, Any]:
    """The report (once started), its charts, and the A/B test's variants side by side: what
    each changes and its numbers so far."""
    report = campaign_report(campaign)
    numbers = {row["id"]: row for row in report["variants"]}
    variants = [
        {"variant": v, **numbers[v.pk]} for v in campaign.variants.select_related("template").order_by("variant_label")
    ]
    hourly = report["bucket"] == "hour"

    def label(at: Any) -> str:
        return f"{formatting.day_month(at)} {at:%H}h" if hourly else formatting.day_month(at)

    return {
        "report": report if campaign.started_at else None,
        "variants": variants,
        "opens_bars": [Bar(label(p["at"]), p["opened"]) for p in report["series"]],
        "clicks_bars": [Bar(label(p["at"]), p["clicked"]) for p in report["series"]],
        "opens_title": _("Opens by people per hour") if hourly else _("Opens by people per day"),
        "clicks_title": _("Clicks by people per hour") if hourly else _("Clicks by people per day"),
    }


@permission_required(can("email", perms.EDIT))
@require_POST
def variant_create(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(pk)
    form = VariantForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the variant's fields."))
        return redirect("messaging:campaign", pk=pk)
    data = {
        **form.cleaned_data,
        "template_id": form.cleaned_data["template"].pk if form.cleaned_data["template"] else None,
    }
    data.pop("template")
    with _refusals_shown(request):
        abtests.variant_create(actor=Actor.from_request(request), campaign=campaign, data=data)
    return redirect("messaging:campaign", pk=pk)


@permission_required(can("email", perms.EDIT))
@require_POST
def variant_delete(request: HttpRequest, pk: int, variant_id: int) -> HttpResponse:
    campaign = _campaign(pk)
    with _refusals_shown(request):
        abtests.variant_delete(actor=Actor.from_request(request), variant=abtests.variant_get(campaign, variant_id))
    return redirect("messaging:campaign", pk=pk)


@permission_required(can("email", perms.EDIT))
@require_POST
def variant_pick(request: HttpRequest, pk: int, variant_id: int) -> HttpResponse:
    """The winner picked by hand: it goes to the rest of the audience now."""
    campaign = _campaign(pk)
    with _refusals_shown(request):
        variant = abtests.variant_get(campaign, variant_id)
        abtests.abtest_pick(actor=Actor.from_request(request), campaign=campaign, variant=variant)
        done = _("Variant %(label)s wins: it goes to the rest of the audience.")
        messages.success(request, done % {"label": variant.variant_label})
    return redirect("messaging:campaign", pk=pk)


@contextlib.contextmanager
def _refusals_shown(request: HttpRequest) -> Iterator[None]:
    """A service's refusal becomes a message on the page, with its reasons per field; a
    permission refusal stays a 403."""
    try:
        yield
    except PermissionDenied:
        raise
    except ServiceError as exc:
        reasons = [str(m) for ms in (exc.details or {}).values() for m in ms] if isinstance(exc.details, dict) else []
        messages.error(request, " ".join([exc.message, *reasons]))


def _act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = _campaign(pk)
    actor = Actor.from_request(request)
    try:
        if action == "schedule":
            form = ScheduleForm(request.POST)
            at = form.cleaned_data["at"] if form.is_valid() else None
            if not form.is_valid():
                messages.error(request, _("Give a valid date and time."))
                return redirect("messaging:campaign", pk=pk)
            services.campaign_schedule(actor=actor, campaign=campaign, at=at)
        elif action == "pause":
            services.campaign_pause(actor=actor, campaign=campaign)
        elif action == "resume":
            services.campaign_resume(actor=actor, campaign=campaign)
        elif action == "cancel":
            services.campaign_cancel(actor=actor, campaign=campaign)
        elif action == "delete":
            services.campaign_delete(actor=actor, campaign=campaign)
            messages.success(request, _("The campaign is deleted."))
            return redirect("messaging:campaigns")
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("messaging:campaign", pk=pk)


@permission_required(can("email", perms.EDIT))
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ("schedule", "pause", "resume", "cancel"):
        raise Http404
    return _act(request, pk, action)


@permission_required(can("email", perms.DELETE))
@require_POST
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "delete")
