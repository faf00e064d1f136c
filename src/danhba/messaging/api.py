"""REST endpoints of email templates under ``/api/email``: CRUD, the preview of a saved
template or a draft for a contact, the link check and the test send. Permissions are the role's
"email" object, as in the UI; the contact a preview is rendered for must be one the caller may
open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.keyset import MAX_PK
from danhba.core.schemas import ErrorOut
from danhba.messaging import linkcheck, selectors, services
from danhba.messaging.compose import Parts, links_in, warnings
from danhba.messaging.models import EmailTemplate
from danhba.messaging.schemas import (
    DraftPreviewIn,
    LinkCheckOut,
    PreviewOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplatePatch,
    TemplatePreviewIn,
    TestSendIn,
    TestSendOut,
)

router = Router(tags=["email"])
FIELDS = (
    "id", "name", "subject", "preheader", "kind", "format", "body", "text_body", "sender_name", "sender_email",
    "reply_to", "created_at", "updated_at",
)  # fmt: skip


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _out(template: EmailTemplate) -> dict[str, Any]:
    return {field: getattr(template, field) for field in FIELDS}


def _get(request: HttpRequest, template_id: int, action: str = perms.VIEW) -> EmailTemplate:
    require(api_user(request), "email", action)
    return selectors.template_get(template_id)


def _preview(request: HttpRequest, parts: Parts, contact_id: int | None) -> dict[str, Any]:
    user = api_user(request)
    tokens = selectors.preview_tokens(user, selectors.preview_contact(user, contact_id))
    rendered = services.render_parts(parts, tokens)
    return {
        "subject": rendered.subject,
        "preheader": rendered.preheader,
        "html": rendered.html,
        "text": rendered.text,
        "size_bytes": len(rendered.html.encode()),
        "warnings": warnings(rendered),
        "links": links_in(rendered.html),
    }


@router.get("/email/templates", response={200: TemplateList, **ERRORS}, summary="List email templates")
def template_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "email", perms.VIEW)
    return {"items": [_out(t) for t in selectors.template_list()]}


@router.post("/email/templates", response={201: TemplateOut, **ERRORS}, summary="Create an email template")
def template_create(request: HttpRequest, payload: TemplateIn) -> Status[dict[str, Any]]:
    """A template whose Liquid or MJML does not compile is refused (422) with the reason per field."""
    template = services.template_create(actor=api_actor(request), data=payload.model_dump())
    return Status(201, _out(template))


@router.get("/email/templates/{int:template_id}", response={200: TemplateOut, **ERRORS}, summary="Get a template")
def template_get(request: HttpRequest, template_id: int = _id()) -> dict[str, Any]:
    return _out(_get(request, template_id))


@router.patch("/email/templates/{int:template_id}", response={200: TemplateOut, **ERRORS}, summary="Change a template")
def template_update(request: HttpRequest, payload: TemplatePatch, template_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change."""
    template = _get(request, template_id)
    data = payload.model_dump(exclude_unset=True)
    return _out(services.template_update(actor=api_actor(request), template=template, data=data))


@router.delete("/email/templates/{int:template_id}", response={204: None, **ERRORS}, summary="Delete a template")
def template_delete(request: HttpRequest, template_id: int = _id()) -> Status[None]:
    services.template_delete(actor=api_actor(request), template=_get(request, template_id))
    return Status(204, None)


@router.post(
    "/email/templates/{int:template_id}/preview",
    response={200: PreviewOut, **ERRORS},
    summary="Render a template for a contact",
)
def template_preview(request: HttpRequest, payload: TemplatePreviewIn, template_id: int = _id()) -> dict[str, Any]:
    """The subject, HTML (CSS inlined) and text a contact would get, the warnings (spam words,
    size above Gmail's 102 KB clip) and the links. A problem in the template (a limit reached, a
    syntax error) is a 422 whose message tells the author what to change."""
    return _preview(request, services.parts_of(_get(request, template_id)), payload.contact_id)


@router.post("/email/preview", response={200: PreviewOut, **ERRORS}, summary="Render a draft for a contact")
def draft_preview(request: HttpRequest, payload: DraftPreviewIn) -> dict[str, Any]:
    """As the template preview, for parts not saved yet (the editor's live preview)."""
    require(api_user(request), "email", perms.VIEW)
    parts = Parts(
        subject=payload.subject,
        preheader=payload.preheader,
        body=payload.body,
        text_body=payload.text_body,
        mjml=payload.format == "mjml",
        marketing=payload.kind == "marketing",
    )
    return _preview(request, parts, payload.contact_id)


@router.post(
    "/email/templates/{int:template_id}/link-check",
    response={200: LinkCheckOut, **ERRORS},
    summary="Check every link of a template",
)
def template_link_check(request: HttpRequest, payload: TemplatePreviewIn, template_id: int = _id()) -> dict[str, Any]:
    """Each link of the body rendered for the contact (or the sample), with whether it answers."""
    preview = _preview(request, services.parts_of(_get(request, template_id)), payload.contact_id)
    return {"items": [vars(r) for r in linkcheck.check_links(preview["links"])]}


@router.post(
    "/email/templates/{int:template_id}/test-send",
    response={200: TestSendOut, 502: ErrorOut, **ERRORS},
    summary="Send a test of a template now",
)
def template_test_send(request: HttpRequest, payload: TestSendIn, template_id: int = _id()) -> dict[str, Any]:
    """Rendered for the contact (or the sample) and sent to `to` through the configured
    transport. 502 when the mail server refuses it."""
    user = api_user(request)
    template = _get(request, template_id, perms.EDIT)
    contact = selectors.preview_contact(user, payload.contact_id)
    sent = services.template_test_send(
        actor=api_actor(request),
        template=template,
        to=payload.to,
        tokens=selectors.preview_tokens(user, contact),
        contact=contact,
    )
    return {"to": sent.to, "message_id": sent.message_id, "subject": sent.subject}
