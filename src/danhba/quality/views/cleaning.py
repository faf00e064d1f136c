"""Pages of scheduled cleaning (``/quality/cleaning/``): the jobs, a job's settings and runs,
a run's preview (counts and sample rows), its progress (the page polls while it works: leave
and come back, the worker carries on) and its report (every change, linked to its contact)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import ServiceError
from danhba.quality import selectors
from danhba.quality.forms import CleaningJobForm
from danhba.quality.models import CleaningJob, CleaningRun
from danhba.quality.services import cleaning as services


@permission_required(can("quality", perms.VIEW))
def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "quality/cleaning_list.html", {"nav": "quality", "jobs": selectors.cleaning_jobs()})


def _job_page(request: HttpRequest, job: CleaningJob | None, form: CleaningJobForm) -> HttpResponse:
    context: dict[str, Any] = {"nav": "quality", "job": job, "form": form}
    if job is not None:
        context["runs"] = job.runs.select_related("requested_by")[:20]
    return render(request, "quality/cleaning_job.html", context, status=422 if form.errors else 200)


@permission_required(can("quality", perms.CREATE))
def job_create(request: HttpRequest) -> HttpResponse:
    initial = {"frequency": "quarterly", "archive_after_months": 24, "is_active": True, "actions": ["normalise"]}
    form = CleaningJobForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.cleaning_job_create(actor=Actor.from_request(request), data=form.data_for_service())
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Cleaning job saved. Start a preview to see what it would change."))
            return redirect("quality:cleaning_job", job.pk)
    return _job_page(request, None, form)


@permission_required(can("quality", perms.VIEW))
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(CleaningJob, pk=pk)
    if request.method != "POST":
        return _job_page(request, job, CleaningJobForm.for_job(job))
    form = CleaningJobForm(request.POST)
    if form.is_valid():
        try:
            services.cleaning_job_update(actor=Actor.from_request(request), job=job, data=form.data_for_service())
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Cleaning job saved."))
            return redirect("quality:cleaning_job", job.pk)
    return _job_page(request, job, form)


@require_POST
@permission_required(can("quality", perms.DELETE))
def job_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(CleaningJob, pk=pk)
    try:
        services.cleaning_job_delete(actor=Actor.from_request(request), job=job)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("quality:cleaning_job", job.pk)
    messages.success(request, _("Cleaning job deleted; the contacts keep what its runs changed."))
    return redirect("quality:cleaning")


@require_POST
@permission_required(can("quality", perms.EDIT))
def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(CleaningJob, pk=pk)
    try:
        run = services.cleaning_run_start(actor=Actor.from_request(request), job=job)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("quality:cleaning_job", job.pk)
    return redirect("quality:cleaning_run", run.pk)


@permission_required(can("quality", perms.VIEW))
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(CleaningRun.objects.select_related("job", "requested_by"), pk=pk)
    action = request.GET.get("action", "")
    page = selectors.run_report(run, action=action, after=request.GET.get("after", ""))
    context = {"nav": "quality", "run": run, "out": selectors.run_out(run), "report": page, "action": action}
    template = "quality/_run_status.html" if request.headers.get("HX-Request") else "quality/cleaning_run.html"
    return render(request, template, context)


def _run_action(request: HttpRequest, pk: int, service: Any, done: str) -> HttpResponse:
    run = get_object_or_404(CleaningRun, pk=pk)
    try:
        service(actor=Actor.from_request(request), run=run)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("quality:cleaning_run", run.pk)


@require_POST
@permission_required(can("quality", perms.EDIT))
def run_apply(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_action(request, pk, services.cleaning_run_apply, _("Applying: you can leave this page, it carries on."))


@require_POST
@permission_required(can("quality", perms.EDIT))
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _run_action(request, pk, services.cleaning_run_cancel, _("Run cancelled; what it changed stays changed."))
