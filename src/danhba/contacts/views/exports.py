"""Pages of the export jobs: a person's exports, one job's progress, cancelling, downloading.

Only the person who asked for an export sees it (anyone else gets a 404, as for a record
outside their visibility), and only while their role may export contacts. Files are sent by
:func:`export_download`, never from a public media URL.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from danhba.contacts import exports
from danhba.core.actor import Actor
from danhba.core.views import AuthedRequest, role_required


@require_GET
@role_required("contact", "export")
def export_list(request: AuthedRequest) -> HttpResponse:
    context = {"nav": "contacts", "jobs": exports.export_jobs_for(request.user), "keep_days": exports.KEEP.days}
    return render(request, "contacts/export_list.html", context)


@require_GET
@role_required("contact", "export")
def export_job(request: AuthedRequest, pk: int) -> HttpResponse:
    """The job's page; htmx polls it every 2 seconds for the status part while the job runs
    (the part it gets back once the job is over no longer polls)."""
    job = exports.export_job_get(request.user, pk)
    context = {"nav": "contacts", "job": job, "keep_days": exports.KEEP.days}
    if request.htmx:
        return render(request, "contacts/export_status.html", context)
    return render(request, "contacts/export_detail.html", context)


@require_POST
@role_required("contact", "export")
def export_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    job = exports.export_job_get(request.user, pk)
    job = exports.export_job_cancel(actor=Actor.from_request(request), job=job)
    if request.htmx:
        return render(request, "contacts/export_status.html", {"job": job, "keep_days": exports.KEEP.days})
    return redirect("contacts:export_job", pk=job.pk)


@require_GET
@role_required("contact", "export")
def export_download(request: AuthedRequest, pk: int) -> FileResponse:
    job = exports.export_job_get(request.user, pk)
    path = exports.export_file_path(job)
    if path is None:
        raise Http404
    spec = exports.export_format(job.format)
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=exports.export_filename(job.format, timezone.localdate(job.created_at)),
        content_type=spec.content_type,
    )
