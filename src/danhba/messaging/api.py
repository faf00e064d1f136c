"""REST endpoints of email templates under ``/api/email``: CRUD, the preview of a saved
template or a draft for a contact, the link check and the test send. Permissions are the role's
"email" object, as in the UI; the contact a preview is rendered for must be one the caller may
open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.keyset import CURSOR_MAX, MAX_PK
from danhba.core.schemas import ErrorOut
from danhba.messaging import linkcheck, selectors
from danhba.messaging.compose import Parts, links_in, warnings
from danhba.messaging.models import Campaign, Click, EmailTemplate, Open, SendingDomain
from danhba.messaging.reports import campaign_report, variant_rates
from danhba.messaging.schemas import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    CampaignPatch,
    CampaignReport,
    ClickPage,
    DomainIn,
    DomainList,
    DomainOut,
    DraftPreviewIn,
    LinkCheckOut,
    OpenPage,
    PreviewOut,
    RecipientPage,
    ScheduleIn,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplatePatch,
    TemplatePreviewIn,
    TestSendIn,
    TestSendOut,
    TrackedLinkList,
    VariantIn,
    VariantList,
    VariantOut,
    VariantPatch,
    WinnerIn,
)
from danhba.messaging.services import abtests, campaigns
from danhba.messaging.services import domains as domains_service
from danhba.messaging.services import templates as services

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


# --- campaigns ---------------------------------------------------------------------------------


def _campaign_out(campaign: Campaign) -> dict[str, Any]:
    data = {
        key: getattr(campaign, key)
        for key in (
            "id", "name", "template_id", "status", "scheduled_at", "per_hour", "tracking", "resent", "created_at",
            "started_at", "finished_at",
        )
    }  # fmt: skip
    data["counts"] = campaign.counts or {}
    data["topic"] = campaign.topic.key if campaign.topic else None
    for key in ("parent_id", "variant_label", "ab_share", "ab_wait_hours", "ab_metric", "ab_decide_at", "ab_winner_id"):
        data[key] = getattr(campaign, key)
    data["variant_ids"] = sorted(campaign.variants.values_list("pk", flat=True))
    data["segment_ids"] = sorted(campaign.segments.values_list("pk", flat=True))
    data["exclude_segment_ids"] = sorted(campaign.exclude_segments.values_list("pk", flat=True))
    return data


def _campaign(request: HttpRequest, campaign_id: int, action: str = perms.VIEW) -> Campaign:
    require(api_user(request), "email", action)
    return selectors.campaign_get(campaign_id)


@router.get("/email/campaigns", response={200: CampaignList, **ERRORS}, summary="List campaigns")
def campaign_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "email", perms.VIEW)
    return {"items": [_campaign_out(c) for c in selectors.campaign_list()]}


@router.post("/email/campaigns", response={201: CampaignOut, **ERRORS}, summary="Create a campaign (a draft)")
def campaign_create(request: HttpRequest, payload: CampaignIn) -> Status[dict[str, Any]]:
    data = {key: value for key, value in payload.model_dump().items() if value is not None}  # tracking left out
    campaign = campaigns.campaign_create(actor=api_actor(request), data=data)
    return Status(201, _campaign_out(campaign))


@router.get("/email/campaigns/{int:campaign_id}", response={200: CampaignOut, **ERRORS}, summary="Get a campaign")
def campaign_get(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    return _campaign_out(_campaign(request, campaign_id))


@router.patch("/email/campaigns/{int:campaign_id}", response={200: CampaignOut, **ERRORS}, summary="Change a campaign")
def campaign_update(request: HttpRequest, payload: CampaignPatch, campaign_id: int = _id()) -> dict[str, Any]:
    """Only before it starts (409 after)."""
    campaign = _campaign(request, campaign_id)
    data = payload.model_dump(exclude_unset=True)
    return _campaign_out(campaigns.campaign_update(actor=api_actor(request), campaign=campaign, data=data))


@router.delete("/email/campaigns/{int:campaign_id}", response={204: None, **ERRORS}, summary="Delete a campaign")
def campaign_delete(request: HttpRequest, campaign_id: int = _id()) -> Status[None]:
    """With its send log; a campaign being sent or paused must be cancelled first (409)."""
    campaigns.campaign_delete(actor=api_actor(request), campaign=_campaign(request, campaign_id))
    return Status(204, None)


@router.post(
    "/email/campaigns/{int:campaign_id}/schedule",
    response={200: CampaignOut, **ERRORS},
    summary="Send a campaign now or at a time",
)
def campaign_schedule(request: HttpRequest, payload: ScheduleIn, campaign_id: int = _id()) -> dict[str, Any]:
    """The template is copied into the campaign now; at the time, the audience is queued (each
    excluded contact with its reason) and the send job starts."""
    campaign = _campaign(request, campaign_id)
    done = campaigns.campaign_schedule(actor=api_actor(request), campaign=campaign, at=payload.at)
    return _campaign_out(done)


def _transition(request: HttpRequest, campaign_id: int, action: str) -> dict[str, Any]:
    campaign = _campaign(request, campaign_id)
    actor = api_actor(request)
    service = {
        "pause": campaigns.campaign_pause, "resume": campaigns.campaign_resume, "cancel": campaigns.campaign_cancel,
    }[action]  # fmt: skip
    return _campaign_out(service(actor=actor, campaign=campaign))


@router.post("/email/campaigns/{int:campaign_id}/pause", response={200: CampaignOut, **ERRORS}, summary="Pause")
def campaign_pause(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    return _transition(request, campaign_id, "pause")


@router.post("/email/campaigns/{int:campaign_id}/resume", response={200: CampaignOut, **ERRORS}, summary="Resume")
def campaign_resume(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    return _transition(request, campaign_id, "resume")


@router.post("/email/campaigns/{int:campaign_id}/cancel", response={200: CampaignOut, **ERRORS}, summary="Cancel")
def campaign_cancel(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    return _transition(request, campaign_id, "cancel")


@router.get(
    "/email/campaigns/{int:campaign_id}/recipients",
    response={200: RecipientPage, **ERRORS},
    summary="A campaign's recipients: sent, failed, excluded with the reason",
)
def campaign_recipients(
    request: HttpRequest,
    campaign_id: int = _id(),
    state: str = Query("", max_length=20, description="queued, sending, sent, failed or excluded."),
    reason: str = Query("", max_length=20, description="An exclusion reason, e.g. no_consent, suppressed, capped."),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    campaign = _campaign(request, campaign_id)
    page = selectors.recipient_page(campaign, state=state, reason=reason, cursor=cursor or None, limit=limit)
    fields = ("id", "contact_id", "email", "state", "reason", "message_id", "error", "sent_at")
    return {"items": [{f: getattr(s, f) for f in fields} for s in page.items], "next_cursor": page.next_cursor}


_ACTIVITY = ("id", "send_id", "contact_id", "at", "machine", "machine_reason", "ip_network", "user_agent")
_MACHINE = Query(None, description="true: only machines' (privacy proxies, scanners); false: only people's.")


def _activity(
    request: HttpRequest, campaign_id: int, model: type[Open] | type[Click], machine: bool | None,
    cursor: str | None, limit: int, extra: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    campaign = _campaign(request, campaign_id)
    page = selectors.activity_page(api_user(request), campaign, model, machine=machine, cursor=cursor, limit=limit)
    items = [{**{f: getattr(row, f) for f in _ACTIVITY}, **extra(row)} for row in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get(
    "/email/campaigns/{int:campaign_id}/links",
    response={200: TrackedLinkList, **ERRORS},
    summary="A campaign's tracked links",
)
def campaign_links(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    campaign = _campaign(request, campaign_id)
    return {
        "items": [{"id": k.pk, "position": k.position, "url": k.url} for k in selectors.campaign_links_of(campaign)]
    }


@router.get(
    "/email/campaigns/{int:campaign_id}/opens",
    response={200: OpenPage, **ERRORS},
    summary="A campaign's opens (the contacts you may open), people's and machines'",
)
def campaign_opens(
    request: HttpRequest,
    campaign_id: int = _id(),
    machine: bool | None = _MACHINE,
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return _activity(request, campaign_id, Open, machine, cursor, limit, lambda o: {"implied": o.implied})


@router.get(
    "/email/campaigns/{int:campaign_id}/clicks",
    response={200: ClickPage, **ERRORS},
    summary="A campaign's clicks (the contacts you may open), with the link, people's and machines'",
)
def campaign_clicks(
    request: HttpRequest,
    campaign_id: int = _id(),
    machine: bool | None = _MACHINE,
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return _activity(
        request, campaign_id, Click, machine, cursor, limit,
        lambda c: {"link_id": c.link_id, "url": c.link.url if c.link else ""},
    )  # fmt: skip


@router.get(
    "/email/campaigns/{int:campaign_id}/report",
    response={200: CampaignReport, **ERRORS},
    summary="A campaign's report",
)
def campaign_report_get(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    """Sent, delivered, opened (by people and by machines), clicked (and per link),
    unsubscribed, bounced, complained, with the rates over the messages sent; the activity per
    hour or day; an A/B test's variants side by side."""
    return campaign_report(_campaign(request, campaign_id))


# --- A/B tests: a campaign's variants, their numbers side by side, the winner ------------------


def _variant_out(variant: Campaign, rates: dict[str, Any], winner_id: int | None) -> dict[str, Any]:
    return {
        "id": variant.pk,
        "label": variant.variant_label,
        "template_id": variant.template_id,
        **{key: variant.overrides.get(key, "") for key in ("subject", "sender_name", "sender_email")},
        "status": variant.status,
        "winner": variant.pk == winner_id,
        "counts": variant.counts or {},
        **rates,
    }


@router.get(
    "/email/campaigns/{int:campaign_id}/variants",
    response={200: VariantList, **ERRORS},
    summary="An A/B test's variants, side by side",
)
def variant_list(request: HttpRequest, campaign_id: int = _id()) -> dict[str, Any]:
    """Each variant with what it changes and its numbers so far (rates over the messages sent)."""
    campaign = _campaign(request, campaign_id)
    variants = list(campaign.variants.order_by("variant_label"))
    rates = variant_rates([v.pk for v in variants])
    return {"items": [_variant_out(v, rates[v.pk], campaign.ab_winner_id) for v in variants]}


@router.post(
    "/email/campaigns/{int:campaign_id}/variants",
    response={201: VariantOut, **ERRORS},
    summary="Add a variant (A/B test)",
)
def variant_create(request: HttpRequest, payload: VariantIn, campaign_id: int = _id()) -> Status[dict[str, Any]]:
    """Another subject, sender or content (template) for a campaign not started yet; two or more
    variants make it an A/B test."""
    campaign = _campaign(request, campaign_id)
    variant = abtests.variant_create(actor=api_actor(request), campaign=campaign, data=payload.model_dump())
    return Status(201, _variant_out(variant, variant_rates([variant.pk])[variant.pk], None))


@router.patch(
    "/email/campaigns/{int:campaign_id}/variants/{int:variant_id}",
    response={200: VariantOut, **ERRORS},
    summary="Change a variant",
)
def variant_update(
    request: HttpRequest, payload: VariantPatch, campaign_id: int = _id(), variant_id: int = _id()
) -> dict[str, Any]:
    campaign = _campaign(request, campaign_id)
    variant = abtests.variant_get(campaign, variant_id)
    data = payload.model_dump(exclude_unset=True)
    variant = abtests.variant_update(actor=api_actor(request), variant=variant, data=data)
    return _variant_out(variant, variant_rates([variant.pk])[variant.pk], campaign.ab_winner_id)


@router.delete(
    "/email/campaigns/{int:campaign_id}/variants/{int:variant_id}",
    response={204: None, **ERRORS},
    summary="Delete a variant",
)
def variant_delete(request: HttpRequest, campaign_id: int = _id(), variant_id: int = _id()) -> Status[None]:
    campaign = _campaign(request, campaign_id)
    abtests.variant_delete(actor=api_actor(request), variant=abtests.variant_get(campaign, variant_id))
    return Status(204, None)


@router.post(
    "/email/campaigns/{int:campaign_id}/winner",
    response={200: CampaignOut, **ERRORS},
    summary="Pick an A/B test's winner by hand",
)
def campaign_winner(request: HttpRequest, payload: WinnerIn, campaign_id: int = _id()) -> dict[str, Any]:
    """While the campaign tests its variants (409 otherwise): the winner goes to the rest of
    the audience now."""
    campaign = _campaign(request, campaign_id)
    variant = abtests.variant_get(campaign, payload.variant_id)
    return _campaign_out(abtests.abtest_pick(actor=api_actor(request), campaign=campaign, variant=variant))


# --- sending domains: admins add, check and delete; marketing looks ("emaildomain") -----------


def _domain(request: HttpRequest, domain_id: int) -> SendingDomain:
    require(api_user(request), "emaildomain", perms.VIEW)
    return selectors.sending_domain_get(domain_id)


@router.get("/email/domains", response={200: DomainList, **ERRORS}, summary="List sending domains")
def domain_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "emaildomain", perms.VIEW)
    return {"items": [selectors.sending_domain_view(row) for row in SendingDomain.objects.all()]}


@router.post("/email/domains", response={201: DomainOut, **ERRORS}, summary="Add a sending domain")
def domain_create(request: HttpRequest, payload: DomainIn) -> Status[dict[str, Any]]:
    """Makes an RSA-2048 DKIM key pair for the domain and answers the DNS records to publish
    (DKIM at `selector._domainkey.domain`, SPF, DMARC). The private key is kept encrypted and
    never shown."""
    row = domains_service.domain_create(actor=api_actor(request), domain=payload.domain, selector=payload.selector)
    return Status(201, selectors.sending_domain_view(row))


@router.get("/email/domains/{int:domain_id}", response={200: DomainOut, **ERRORS}, summary="Get a sending domain")
def domain_get(request: HttpRequest, domain_id: int = _id()) -> dict[str, Any]:
    return selectors.sending_domain_view(_domain(request, domain_id))


@router.post(
    "/email/domains/{int:domain_id}/check", response={200: DomainOut, **ERRORS}, summary="Check a domain's DNS"
)
def domain_check(request: HttpRequest, domain_id: int = _id()) -> dict[str, Any]:
    """Looks up the SPF, DKIM and DMARC records now: each ok, missing, wrong, or failed (the
    lookup did not answer), with the reason in the request's language."""
    row = domains_service.domain_check(actor=api_actor(request), domain=_domain(request, domain_id))
    return selectors.sending_domain_view(row)


@router.delete("/email/domains/{int:domain_id}", response={204: None, **ERRORS}, summary="Delete a sending domain")
def domain_delete(request: HttpRequest, domain_id: int = _id()) -> Status[None]:
    domains_service.domain_delete(actor=api_actor(request), domain=_domain(request, domain_id))
    return Status(204, None)
