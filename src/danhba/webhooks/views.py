"""Settings → Webhooks: endpoints (list, create, edit, delete, disable/enable, rotate or reveal
the secret, send a test) and each endpoint's delivery log (filter, expand, resend)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, is_htmx, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.webhooks import selectors, services, signing
from danhba.webhooks.forms import EnableForm, EndpointForm, RotateForm
from danhba.webhooks.models import PING, Topic, WebhookDelivery, WebhookEndpoint


def _endpoint(pk: int) -> WebhookEndpoint:
    try:
        return selectors.endpoint_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@permission_required(can("webhook", perms.VIEW))
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = list(selectors.endpoint_list())
    context = {
        "nav": "webhooks",
        "endpoints": endpoints,
        "auto_disabled": [e for e in endpoints if not e.is_active and e.disabled_reason],
        "failing": [e for e in endpoints if e.is_failing],
    }
    return render(request, "webhooks/endpoint_list.html", context)


def _form_page(request: HttpRequest, form: EndpointForm, endpoint: WebhookEndpoint | None) -> HttpResponse:
    return render(
        request,
        "webhooks/endpoint_form.html",
        {"nav": "webhooks", "form": form, "endpoint": endpoint},
        status=422 if form.errors else 200,
    )


@permission_required(can("webhook", perms.CREATE))
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(actor=Actor.from_request(request), **form.cleaned_data)
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(
                request, _("The endpoint is created. Reveal its signing secret below to set up your receiver.")
            )
            return redirect("webhooks:detail", pk=endpoint.pk)
    return _form_page(request, form, None)


@permission_required(can("webhook", perms.EDIT))
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "topics": endpoint.topics}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(actor=Actor.from_request(request), endpoint=endpoint, data=form.cleaned_data)
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The endpoint is saved."))
            return redirect("webhooks:detail", pk=endpoint.pk)
    return _form_page(request, form, endpoint)


def _detail(request: HttpRequest, endpoint: WebhookEndpoint, *, secret: str = "", status: int = 200) -> HttpResponse:
    filters = selectors.LogFilters(status=request.GET.get("status", ""), topic=request.GET.get("topic", ""))
    try:
        page = selectors.delivery_page(endpoint, filters, request.GET.get("cursor") or None)
    except ServiceError as exc:
        messages.error(request, exc.message)
        filters = selectors.LogFilters()
        page = selectors.delivery_page(endpoint, filters)
    opened = request.GET.get("open", "")
    context = {
        "nav": "webhooks",
        "endpoint": endpoint,
        "page": page,
        "filters": filters,
        "statuses": WebhookDelivery.Status.choices,
        "topics": [*Topic.values, PING],
        "opened": int(opened) if opened.isascii() and opened.isdigit() and len(opened) < 19 else None,
        "secret": secret,
        "rotate_form": RotateForm(),
        "enable_form": EnableForm(),
        "signature_header": signing.SIGNATURE_HEADER,
    }
    return render(request, "webhooks/endpoint_detail.html", context, status=status)


@permission_required(can("webhook", perms.VIEW))
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _endpoint(pk))


@permission_required(can("webhook", perms.VIEW))
def delivery_detail(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    try:
        delivery = selectors.delivery_get(endpoint, delivery_pk)
    except NotFound as exc:
        raise Http404(exc.message) from None
    template = "webhooks/_delivery_body.html" if is_htmx(request) else "webhooks/delivery.html"
    return render(request, template, {"nav": "webhooks", "delivery": delivery, "endpoint": endpoint})


@permission_required(can("webhook", perms.EDIT))
@require_POST
def endpoint_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    secret = services.endpoint_reveal_secret(actor=Actor.from_request(request), endpoint=endpoint)
    # Rendered, not redirected, so the secret is in this response only; and never cached.
    response = _detail(request, endpoint, secret=secret)
    response["Cache-Control"] = "no-store"
    return response


@permission_required(can("webhook", perms.EDIT))
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose how long the old secret stays valid."))
        return redirect("webhooks:detail", pk=endpoint.pk)
    hours = form.cleaned_data["keep_previous_hours"]
    services.endpoint_rotate_secret(actor=Actor.from_request(request), endpoint=endpoint, keep_previous_hours=hours)
    if hours:
        messages.success(
            request,
            _("New secret created. Payloads are signed with both secrets for %(hours)s hours; update your receiver.")
            % {"hours": hours},
        )
    else:
        messages.success(request, _("New secret created; the old one no longer signs anything."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@permission_required(can("webhook", perms.EDIT))
@require_POST
def endpoint_disable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    services.endpoint_disable(actor=Actor.from_request(request), endpoint=endpoint)
    messages.success(request, _("The endpoint is disabled; nothing is sent to it until you enable it again."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@permission_required(can("webhook", perms.EDIT))
@require_POST
def endpoint_enable(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    form = EnableForm(request.POST)
    resend = form.is_valid() and form.cleaned_data["resend_failed"]
    queued = services.endpoint_enable(actor=Actor.from_request(request), endpoint=endpoint, resend_failed=resend)
    if queued:
        messages.success(request, _("The endpoint is enabled; %(n)s deliveries are queued again.") % {"n": queued})
    else:
        messages.success(request, _("The endpoint is enabled."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@permission_required(can("webhook", perms.DELETE))
@require_POST
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    services.endpoint_delete(actor=Actor.from_request(request), endpoint=endpoint)
    messages.success(request, _("The endpoint %(url)s and its delivery log are deleted.") % {"url": endpoint.url})
    return redirect("webhooks:list")


def _report(request: HttpRequest, delivery: WebhookDelivery, what: str) -> None:
    if delivery.last_error or not delivery.last_status_code or not 200 <= delivery.last_status_code < 300:
        messages.error(
            request,
            _("%(what)s failed: %(error)s") % {"what": what, "error": delivery.error_text or _("no answer")},
        )
    else:
        messages.success(
            request,
            _("%(what)s delivered: HTTP %(code)s in %(ms)s ms.")
            % {"what": what, "code": delivery.last_status_code, "ms": delivery.duration_ms},
        )


@permission_required(can("webhook", perms.EDIT))
@require_POST
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    delivery = services.endpoint_test(actor=Actor.from_request(request), endpoint=endpoint)
    _report(request, delivery, _("Test event"))
    return redirect(reverse("webhooks:detail", args=[endpoint.pk]) + f"?open={delivery.pk}#delivery-{delivery.pk}")


@permission_required(can("webhook", perms.EDIT))
@require_POST
def delivery_resend(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    try:
        delivery = selectors.delivery_get(endpoint, delivery_pk)
    except NotFound as exc:
        raise Http404(exc.message) from None
    if not delivery.can_resend:
        messages.error(request, _("This delivery is still queued; it will be sent shortly."))
        return redirect("webhooks:detail", pk=endpoint.pk)
    delivery = services.delivery_resend(actor=Actor.from_request(request), delivery=delivery)
    _report(request, delivery, _("Resend"))
    return redirect(reverse("webhooks:detail", args=[endpoint.pk]) + f"?open={delivery.pk}#delivery-{delivery.pk}")
