"""Email pages: the template list, the editor with its live preview (desktop and phone widths,
rendered for a chosen contact), the link check and the test send.

The preview is rendered on the server and shown in sandboxed iframes that load it from
``frame/<key>/``: that response carries a policy of its own (no script, inline styles allowed,
only this site may frame it), so the email's inline CSS shows while danhba's own pages keep their
strict policy (an ``srcdoc`` frame would inherit the page's policy and drop every inline style)."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, current_user, permission_required
from danhba.core.actor import Actor
from danhba.core.csp import HEADER as CSP_HEADER
from danhba.core.errors import InvalidInput, NotFound, PermissionDenied, ServiceError
from danhba.messaging import linkcheck, selectors
from danhba.messaging.compose import Parts, links_in, warnings
from danhba.messaging.forms import PreviewForm, TemplateForm, TestSendForm
from danhba.messaging.models import EmailTemplate
from danhba.messaging.services import templates as services

PREVIEW_SECONDS = 15 * 60
# The preview frame: the email's HTML with its inline styles and images, never a script, a form
# or a plugin, and framed only by danhba's own pages.
FRAME_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "font-src https: data:; frame-ancestors 'self'"
)


def _template(pk: int) -> EmailTemplate:
    try:
        return selectors.template_get(pk)
    except NotFound as exc:
        raise Http404(exc.message) from None


@permission_required(can("email", perms.VIEW))
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "messaging/template_list.html", {"nav": "email", "templates": selectors.template_list()})


def _form_page(request: HttpRequest, form: TemplateForm, template: EmailTemplate | None) -> HttpResponse:
    user = current_user(request)
    editable = user.can("email", perms.EDIT if template else perms.CREATE)
    if not editable:
        for field in form.fields.values():
            field.disabled = True
    context = {
        "nav": "email",
        "form": form,
        "template": template,
        "editable": editable,
        "test_form": TestSendForm(initial={"to": user.email}),
    }
    return render(request, "messaging/template_form.html", context, status=422 if form.errors else 200)


def _save(request: HttpRequest, form: TemplateForm, template: EmailTemplate | None) -> HttpResponse:
    """Create or update from a valid form: back to the editor, or the form with the service's
    errors beside its fields."""
    actor = Actor.from_request(request)
    try:
        if template is None:
            template = services.template_create(actor=actor, data=form.cleaned_data)
        else:
            services.template_update(actor=actor, template=template, data=form.cleaned_data)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        apply_service_error(form, exc)
        return _form_page(request, form, template)
    messages.success(request, _("The template is saved."))
    return redirect("messaging:edit", pk=template.pk)


@permission_required(can("email", perms.CREATE))
def template_create(request: HttpRequest) -> HttpResponse:
    form = TemplateForm(request.POST or None, initial={"kind": EmailTemplate.Kind.MARKETING, "format": "html"})
    if request.method == "POST" and form.is_valid():
        return _save(request, form, None)
    return _form_page(request, form, None)


@permission_required(can("email", perms.VIEW))
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = _template(pk)
    if request.method == "POST" and not current_user(request).can("email", perms.EDIT):
        raise PermissionDenied(_("Your role may look at email templates, not change them."))
    form = TemplateForm(
        request.POST or None, initial={name: getattr(template, name) for name in TemplateForm.base_fields}
    )
    if request.method == "POST" and form.is_valid():
        return _save(request, form, template)
    return _form_page(request, form, template)


@permission_required(can("email", perms.DELETE))
@require_POST
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = _template(pk)
    try:
        services.template_delete(actor=Actor.from_request(request), template=template)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("messaging:edit", pk=template.pk)
    messages.success(request, _("The template %(name)s is deleted.") % {"name": template.name})
    return redirect("messaging:list")


def _parts(data: dict[str, Any]) -> Parts:
    return Parts(
        subject=data.get("subject") or "",
        preheader=data.get("preheader") or "",
        body=data.get("body") or "",
        text_body=data.get("text_body") or "",
        mjml=data.get("format") == EmailTemplate.Format.MJML,
        marketing=(data.get("kind") or EmailTemplate.Kind.MARKETING) == EmailTemplate.Kind.MARKETING,
    )


@permission_required(can("email", perms.VIEW))
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The live preview (htmx): the editor's unsaved parts rendered for the chosen contact."""
    form = PreviewForm(request.POST)
    context: dict[str, Any] = {"problem": "", "contact_text": request.POST.get("contact", "")}
    if not form.is_valid():
        context["problem"] = _("The template is too large to preview.")
        return render(request, "messaging/_preview.html", context)
    user = current_user(request)
    try:
        contact = selectors.contact_lookup(user, form.cleaned_data["contact"])
        rendered = services.render_parts(_parts(form.cleaned_data), selectors.preview_tokens(user, contact))
    except (InvalidInput, NotFound) as exc:
        context["problem"] = exc.message
        return render(request, "messaging/_preview.html", context)
    key = secrets.token_urlsafe(18)
    cache.set(f"messaging:preview:{key}", {"user": user.pk, "html": rendered.html}, PREVIEW_SECONDS)
    context.update(
        key=key,
        contact=contact,
        rendered=rendered,
        size_kb=round(len(rendered.html.encode()) / 1024, 1),
        warnings=warnings(rendered),
        links=links_in(rendered.html),
    )
    return render(request, "messaging/_preview.html", context)


@permission_required(can("email", perms.VIEW))
@xframe_options_sameorigin
def preview_frame(request: HttpRequest, key: str) -> HttpResponse:
    stored = cache.get(f"messaging:preview:{key}")
    if not stored or stored.get("user") != current_user(request).pk:
        raise Http404(_("This preview has expired; change the template to render it again."))
    response = HttpResponse(stored["html"], content_type="text/html; charset=utf-8")
    response[CSP_HEADER] = FRAME_POLICY
    response["Cache-Control"] = "no-store"
    return response


@permission_required(can("email", perms.VIEW))
@require_POST
def link_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Every link of the saved template rendered for the chosen contact, checked (htmx)."""
    template = _template(pk)
    user = current_user(request)
    context: dict[str, Any] = {"problem": ""}
    try:
        contact = selectors.contact_lookup(user, request.POST.get("contact", "")[:320])
        rendered = services.render_parts(services.parts_of(template), selectors.preview_tokens(user, contact))
    except (InvalidInput, NotFound) as exc:
        context["problem"] = exc.message
    else:
        context["results"] = linkcheck.check_links(links_in(rendered.html))
    return render(request, "messaging/_links.html", context)


@permission_required(can("email", perms.EDIT))
@require_POST
def test_send(request: HttpRequest, pk: int) -> HttpResponse:
    template = _template(pk)
    form = TestSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the address to send the test to."))
        return redirect("messaging:edit", pk=template.pk)
    user = current_user(request)
    try:
        contact = selectors.contact_lookup(user, form.cleaned_data["contact"])
        sent = services.template_test_send(
            actor=Actor.from_request(request),
            template=template,
            to=form.cleaned_data["to"],
            tokens=selectors.preview_tokens(user, contact),
            contact=contact,
        )
    except PermissionDenied:
        raise
    except ServiceError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        reasons = [str(m) for msgs in details.values() for m in msgs] or [exc.message]
        messages.error(request, _("The test was not sent: %(reason)s") % {"reason": " ".join(reasons)})
    else:
        messages.success(request, _("Test sent to %(to)s: “%(subject)s”.") % {"to": sent.to, "subject": sent.subject})
    return redirect("messaging:edit", pk=template.pk)
