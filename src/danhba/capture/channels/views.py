"""Settings → Lead channels: the Facebook and Zalo connections (list, connect, edit, delete;
the webhook URL to paste into Facebook or Zalo) and the received payloads (filter by status,
see one with its body and error, process failed ones again, one, some or all)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, permission_required
from danhba.capture.channels import selectors, services
from danhba.capture.channels.forms import ConnectionForm
from danhba.capture.channels.mapping import TARGETS, default_mapping, mapping_as_text
from danhba.capture.models import ChannelConnection, ChannelKind, ChannelPayload, PayloadStatus
from danhba.core.actor import Actor
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.core.keyset import BadCursor

OBJECT = services.OBJECT


def _connection(pk: int) -> ChannelConnection:
    try:
        return services.connection_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@permission_required(can(OBJECT, perms.VIEW))
def connection_list(request: HttpRequest) -> HttpResponse:
    connections = list(ChannelConnection.objects.all())
    counts = selectors.status_counts()
    context = {
        "nav": "channels", "connections": [(c, selectors.webhook_url(c)) for c in connections], "counts": counts,
        "kinds": ChannelKind.choices,
    }  # fmt: skip
    return render(request, "capture/channels/list.html", context)


def _form_page(request: HttpRequest, form: ConnectionForm, connection: ChannelConnection | None) -> HttpResponse:
    context = {"nav": "channels", "form": form, "connection": connection, "kind": form.kind,
               "kind_label": ChannelKind(form.kind).label, "targets": TARGETS}  # fmt: skip
    return render(request, "capture/channels/form.html", context, status=422 if form.errors else 200)


def _save(request: HttpRequest, form: ConnectionForm, connection: ChannelConnection | None) -> HttpResponse | None:
    try:
        if connection is None:
            connection = services.connection_create(
                actor=Actor.from_request(request), kind=form.kind, data=form.service_data()
            )
            messages.success(request, _("Connected. Paste the webhook URL below into the channel's settings."))
        else:
            services.connection_update(
                actor=Actor.from_request(request), connection=connection, data=form.service_data()
            )
            messages.success(request, _("Saved."))
    except PermissionDenied:
        raise
    except ServiceError as exc:
        apply_service_error(form, exc)
        return None
    return redirect("capture:channel", pk=connection.pk)


@permission_required(can(OBJECT, perms.CREATE))
def connection_create(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ChannelKind.values:
        raise Http404
    form = ConnectionForm(request.POST or None, kind=kind, initial={"mapping": mapping_as_text(default_mapping(kind))})
    if request.method == "POST" and form.is_valid() and (done := _save(request, form, None)):
        return done
    return _form_page(request, form, None)


@permission_required(can(OBJECT, perms.EDIT))
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection(pk)
    form = ConnectionForm(
        request.POST or None, kind=connection.kind, connection=connection, initial=ConnectionForm.initial_of(connection)
    )
    if request.method == "POST" and form.is_valid() and (done := _save(request, form, connection)):
        return done
    return _form_page(request, form, connection)


def _labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(str(PayloadStatus(status).label), n) for status, n in counts.items()]


@permission_required(can(OBJECT, perms.VIEW))
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _connection(pk)
    recent = list(connection.payloads.defer("body").order_by("-id")[:20])
    context: dict[str, Any] = {
        "nav": "channels", "connection": connection, "webhook_url": selectors.webhook_url(connection),
        "mapping": [(name, target, TARGETS.get(target)) for name, target in sorted(connection.mapping.items())],
        "recent": recent, "counts": _labelled(selectors.status_counts(connection)),
    }  # fmt: skip
    return render(request, "capture/channels/detail.html", context)


@require_POST
@permission_required(can(OBJECT, perms.EDIT))
def connection_check(request: HttpRequest, pk: int) -> HttpResponse:
    result = services.connection_check(actor=Actor.from_request(request), connection=_connection(pk))
    if result.problem:
        messages.error(request, _("Facebook refused: %(problem)s") % {"problem": result.problem})
    elif result.subscribed:
        messages.success(request, _("The token works for the page “%(name)s” and the app now receives its leads.")
                         % {"name": result.page_name})  # fmt: skip
    else:
        messages.error(request, _("The token works, but Facebook did not confirm the subscription to leads."))
    return redirect("capture:channel", pk=pk)


@require_POST
@permission_required(can(OBJECT, perms.DELETE))
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.connection_delete(actor=Actor.from_request(request), connection=_connection(pk))
    messages.success(request, _("The connection is deleted; its payloads are kept."))
    return redirect("capture:channels")


@permission_required(can(OBJECT, perms.VIEW))
def payload_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.PayloadFilters.from_params(request.GET)
    try:
        page = selectors.payload_page(filters, request.GET.get("cursor"))
    except BadCursor as exc:
        raise Http404(exc.message) from None
    counts = selectors.status_counts()
    context = {
        "nav": "channels", "page": page, "filters": filters, "query": urlencode(filters.as_params()), "counts": counts,
        "statuses": [(value, label, counts[value]) for value, label in PayloadStatus.choices],
        "kinds": ChannelKind.choices, "connections": ChannelConnection.objects.all(),
    }  # fmt: skip
    return render(request, "capture/channels/payloads.html", context)


@permission_required(can(OBJECT, perms.VIEW))
def payload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    payload = ChannelPayload.objects.select_related("connection", "contact").filter(pk=pk).first()
    if payload is None:
        raise Http404
    return render(request, "capture/channels/payload.html", {"nav": "channels", "payload": payload})


@require_POST
@permission_required(can(OBJECT, perms.EDIT))
def payloads_retry(request: HttpRequest) -> HttpResponse:
    everything = request.POST.get("all") == "1"
    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit() and len(v) < 12]
    if not everything and not ids:
        messages.error(request, _("Choose the payloads to process again."))
        return redirect("capture:payloads")
    count = services.payloads_retry(actor=Actor.from_request(request), ids=None if everything else ids)
    messages.success(request, _("%(n)s payloads will be processed again.") % {"n": count})
    back = request.POST.get("back", "")
    return redirect(back if back.startswith("/capture/channels/") else "capture:payloads")
