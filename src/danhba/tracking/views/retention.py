"""Settings → Event retention: the rules, what the next purge deletes under each, the monthly
partitions (PostgreSQL) and the log of past purges."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied, ServiceError
from danhba.tracking import partitions, retention
from danhba.tracking.forms import RetentionKeepForm, RetentionRuleForm
from danhba.tracking.models import EventPurge, EventRetention

RECENT_PURGES = 10


def _page(request: HttpRequest, form: RetentionRuleForm | None = None, status: int = 200) -> HttpResponse:
    context = {
        "nav": "retention",
        "previews": retention.retention_preview(),
        "form": form or RetentionRuleForm(),
        "partitions": partitions.partitions_list(),
        "purges": EventPurge.objects.all()[:RECENT_PURGES],
    }
    return render(request, "tracking/retention.html", context, status=status)


@permission_required(can("event", perms.EDIT))
def retention_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@permission_required(can("event", perms.EDIT))
@require_POST
def retention_create(request: HttpRequest) -> HttpResponse:
    form = RetentionRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = retention.retention_rule_create(
                actor=Actor.from_request(request),
                event_type=form.cleaned_data["event_type"],
                name=form.cleaned_data["name"],
                keep_months=form.cleaned_data["keep_months"],
            )
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Rule added: %(rule)s.") % {"rule": rule.label})
            return redirect("tracking_retention:list")
    return _page(request, form=form, status=400)


@permission_required(can("event", perms.EDIT))
@require_POST
def retention_update(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EventRetention, pk=pk)
    form = RetentionKeepForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{rule.label}: {error}")
        return _page(request, status=400)
    retention.retention_rule_update(
        actor=Actor.from_request(request), rule=rule, keep_months=form.cleaned_data["keep_months"]
    )
    messages.success(request, _("Rule changed: %(rule)s.") % {"rule": rule.label})
    return redirect("tracking_retention:list")


@permission_required(can("event", perms.EDIT))
@require_POST
def retention_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(EventRetention, pk=pk)
    try:
        retention.retention_rule_delete(actor=Actor.from_request(request), rule=rule)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _page(request, status=400)
    messages.success(request, _("Rule deleted: %(rule)s.") % {"rule": rule.label})
    return redirect("tracking_retention:list")
