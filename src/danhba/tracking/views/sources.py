"""Settings → Event sources: list, create (the write key is shown once), disable."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied, ServiceError
from danhba.tracking.forms import SourceForm
from danhba.tracking.inbox import inbox_status
from danhba.tracking.models import Source
from danhba.tracking.services import sources as source_services
from danhba.tracking.views.browser import KEY_PLACEHOLDER, website_snippet


def _page(
    request: HttpRequest, form: SourceForm | None = None, new_key: str = "", new_source: Source | None = None
) -> HttpResponse:
    script_url = request.build_absolute_uri(reverse("tracking_v1:script"))
    context = {
        "nav": "sources",
        "sources": Source.objects.exclude(kind=Source.Kind.INTERNAL).select_related("created_by"),
        "form": form or SourceForm(),
        "batch_url": request.build_absolute_uri("/v1/batch"),
        "pixel_url": request.build_absolute_uri(reverse("tracking_v1:pixel")),
        "new_key": new_key,
        "new_source": new_source,
        # Only a hash of a write key is stored, so the full snippet exists only in the response
        # that creates the source; afterwards the list shows it with a placeholder.
        "new_snippet": website_snippet(script_url, new_key)
        if new_source is not None and new_source.kind == Source.Kind.WEBSITE
        else "",
        "snippet_template": website_snippet(script_url),
        "key_placeholder": KEY_PLACEHOLDER,
        "inbox": inbox_status(),
    }
    return render(request, "tracking/source_list.html", context, status=400 if form and form.errors else 200)


@permission_required(can("source", perms.VIEW))
def source_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@permission_required(can("source", perms.CREATE))
@require_POST
def source_create(request: HttpRequest) -> HttpResponse:
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            source, raw = source_services.source_create(
                actor=Actor.from_request(request), name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            )
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            # Rendered, not redirected: the raw key exists only in this response.
            return _page(request, new_key=raw, new_source=source)
    return _page(request, form=form)


@permission_required(can("source", perms.EDIT))
@require_POST
def source_disable(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    source_services.source_disable(actor=Actor.from_request(request), source=source)
    messages.success(
        request, _("The source %(name)s is disabled; its write key no longer works.") % {"name": source.name}
    )
    return redirect("tracking:source_list")
