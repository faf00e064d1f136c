"""Shapes of the messaging REST API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Schema
from pydantic import Field

from danhba.contacts.schemas import In, omittable

Kind = Literal["marketing", "transactional"]
Format = Literal["html", "mjml"]


class TemplateIn(In):
    name: str = Field(max_length=200)
    subject: str = Field(max_length=500, description='Liquid, e.g. {{ contact.given_name | default: "bạn" }} ơi…')
    preheader: str = Field("", max_length=300)
    kind: Kind = "marketing"
    format: Format = Field("html", description="html: the body is HTML; mjml: the body is MJML, compiled to HTML.")
    body: str = Field("", max_length=500_000, description="HTML or MJML with Liquid tokens.")
    text_body: str = Field("", max_length=500_000, description="The plain-text part; empty: derived from the HTML.")
    sender_name: str = Field("", max_length=120)
    sender_email: str = Field("", max_length=254, description="Empty: the site's DEFAULT_FROM_EMAIL.")
    reply_to: str = Field("", max_length=254)


class TemplatePatch(In):
    name: str = omittable()
    subject: str = omittable()
    preheader: str = omittable()
    kind: Kind = omittable()
    format: Format = omittable()
    body: str = omittable()
    text_body: str = omittable()
    sender_name: str = omittable()
    sender_email: str = omittable()
    reply_to: str = omittable()


class TemplateOut(Schema):
    id: int
    name: str
    subject: str
    preheader: str
    kind: Kind
    format: Format
    body: str
    text_body: str
    sender_name: str
    sender_email: str
    reply_to: str
    created_at: dt.datetime
    updated_at: dt.datetime


class TemplateList(Schema):
    items: list[TemplateOut]


class TemplatePreviewIn(In):
    contact_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="Render for this contact; left out: a made-up sample contact."
    )


class DraftPreviewIn(TemplatePreviewIn):
    subject: str = Field(max_length=500)
    preheader: str = Field("", max_length=300)
    kind: Kind = "marketing"
    format: Format = "html"
    body: str = Field("", max_length=500_000)
    text_body: str = Field("", max_length=500_000)


class LinkOut(Schema):
    url: str
    ok: bool | None = Field(description="false: unreachable; null: not checked (mailto:, danhba's own pages).")
    status: int | None
    note: str


class PreviewOut(Schema):
    subject: str
    preheader: str
    html: str
    text: str
    size_bytes: int
    warnings: list[str]
    links: list[str]


class LinkCheckOut(Schema):
    items: list[LinkOut]


class TestSendIn(TemplatePreviewIn):
    to: str = Field(max_length=320, description="Any address; the message is sent now.")


class TestSendOut(Schema):
    to: str
    message_id: str
    subject: str


CampaignStatus = Literal["draft", "scheduled", "sending", "paused", "testing", "sent", "cancelled"]


class CampaignIn(In):
    name: str = Field(max_length=200)
    template_id: int = Field(ge=1, le=2**63 - 1)
    segment_ids: list[int] = Field(min_length=1, max_length=100, description="Segments and lists to send to.")
    exclude_segment_ids: list[int] = Field(default_factory=list, max_length=100)
    per_hour: int = Field(0, ge=0, le=1_000_000, description="At most this many per hour; 0: no limit.")
    topic: str | None = Field(
        None, max_length=60, description="An email topic's key: contacts who opted out of it are left out."
    )
    tracking: bool = omittable(description="Track opens and clicks (default: the site's MESSAGING_TRACKING).")
    ab_share: int = Field(
        10, ge=1, le=50, description="A/B test: the share of the audience (%) that gets the variants."
    )
    ab_wait_hours: int = Field(4, ge=1, le=168, description="A/B test: hours before the winner is chosen.")
    ab_metric: AbMetricName = Field(
        "clicks", description="A/B test: the winner by click rate, open rate (human opens) or picked by hand."
    )


AbMetricName = Literal["clicks", "opens", "manual"]


class CampaignPatch(In):
    name: str = omittable()
    template_id: int = omittable()
    segment_ids: list[int] = omittable()
    exclude_segment_ids: list[int] = omittable()
    per_hour: int = omittable()
    topic: str | None = Field(None, max_length=60, description="An email topic's key; null: none.")
    tracking: bool = omittable()
    ab_share: int = omittable()
    ab_wait_hours: int = omittable()
    ab_metric: AbMetricName = omittable()


class CampaignOut(Schema):
    id: int
    name: str
    template_id: int
    segment_ids: list[int]
    exclude_segment_ids: list[int]
    status: CampaignStatus
    scheduled_at: dt.datetime | None
    per_hour: int
    topic: str | None = Field(description="The email topic's key, or null.")
    tracking: bool = Field(description="Opens and clicks tracked (open pixel, click redirects).")
    parent_id: int | None = Field(description="Set on an A/B test's variant: the campaign it belongs to.")
    variant_label: str = Field(description="A, B, … on a variant; empty otherwise.")
    ab_share: int
    ab_wait_hours: int
    ab_metric: AbMetricName
    ab_decide_at: dt.datetime | None = Field(description="When the winner is (or was to be) chosen.")
    ab_winner_id: int | None
    variant_ids: list[int] = Field(description="An A/B test's variants (at least two make it a test).")
    counts: dict[str, int] = Field(
        description="Recipients by state (queued, sending, sent, failed, excluded) and 'reason:…' by exclusion reason."
    )
    resent: int = Field(description="Messages sent again after a crash, with the same Message-ID.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class VariantIn(In):
    subject: str = Field("", max_length=500, description="Empty: the template's subject.")
    sender_name: str = Field("", max_length=120, description="Empty: the template's.")
    sender_email: str = Field("", max_length=254, description="Empty: the template's.")
    template_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="Other content; null: the campaign's template."
    )


class VariantPatch(In):
    subject: str = omittable()
    sender_name: str = omittable()
    sender_email: str = omittable()
    template_id: int = omittable()


class VariantOut(Schema):
    id: int
    label: str
    template_id: int
    subject: str = Field(description="The variant's subject; empty: the template's.")
    sender_name: str
    sender_email: str
    status: CampaignStatus
    winner: bool
    counts: dict[str, int]
    sent: int
    opened: int = Field(description="Messages opened by a person (or clicked without the pixel loading).")
    clicked: int = Field(description="Messages with a link followed by a person.")
    open_rate: float
    click_rate: float


class VariantList(Schema):
    items: list[VariantOut]


class WinnerIn(In):
    variant_id: int = Field(ge=1, le=2**63 - 1)


class CampaignList(Schema):
    items: list[CampaignOut]


class ScheduleIn(In):
    at: dt.datetime | None = Field(None, description="With its time zone; left out or past: now.")


class RecipientOut(Schema):
    id: int
    contact_id: int
    email: str
    state: str
    reason: str
    message_id: str
    error: str
    sent_at: dt.datetime | None


class RecipientPage(Schema):
    items: list[RecipientOut]
    next_cursor: str | None


class DomainIn(In):
    domain: str = Field(max_length=300, description="e.g. anhduong.vn; Vietnamese letters are sent as IDNA (xn--)")
    selector: str = Field("", max_length=63, description="the DKIM selector; empty: danhbaYYYYMM")


class DnsRecordOut(Schema):
    check: str = Field(description="spf, dkim or dmarc")
    type: str = "TXT"
    name: str
    value: str
    zone_value: str = Field(description="the value as quoted strings of at most 255 characters, for a zone file")


class VerdictOut(Schema):
    status: str = Field(description="ok, missing, wrong, or failed (the lookup did not answer)")
    reason: str = Field(description="why, in the request's language")
    found: str = Field(description="the record as published, when there is one")


class DomainOut(Schema):
    id: int
    domain: str
    selector: str
    public_key: str = Field(description="the DKIM public key (base64 DER); the private key is never shown")
    created_at: dt.datetime
    checked_at: dt.datetime | None
    ready: bool = Field(description="SPF, DKIM and DMARC all ok at the last check")
    checks: dict[str, VerdictOut] = Field(description="the last check per record: spf, dkim, dmarc")
    records: list[DnsRecordOut] = Field(description="the records to publish")


class DomainList(Schema):
    items: list[DomainOut]


class TrackedLinkOut(Schema):
    id: int
    position: int = Field(description="The link's order in the email's HTML, from 1.")
    url: str


class TrackedLinkList(Schema):
    items: list[TrackedLinkOut]


class ActivityOut(Schema):
    id: int
    send_id: int
    contact_id: int
    at: dt.datetime
    machine: bool = Field(description="Apple Mail Privacy Protection, a link scanner or a robot, not a reader.")
    machine_reason: str = Field(description="apple_privacy, scanner, too_soon, trap or all_links; empty for a person.")
    ip_network: str = Field(description="The client's network (IPv4 /24, IPv6 /48), never its address.")
    user_agent: str


class OpenOut(ActivityOut):
    implied: bool = Field(description="Counted from a person's click (the images were not loaded).")


class ClickOut(ActivityOut):
    link_id: int | None = Field(description="Null: the hidden trap link (always a machine).")
    url: str


class OpenPage(Schema):
    items: list[OpenOut]
    next_cursor: str | None


class ClickPage(Schema):
    items: list[ClickOut]
    next_cursor: str | None


class ReportCounts(Schema):
    sent: int
    delivered: int = Field(description="Reported delivered by the ESP (SMTP alone never says).")
    opened: int = Field(description="Messages a person opened (a click without the pixel implies an open).")
    opened_machine: int = Field(description="Messages a machine opened (Apple Mail Privacy Protection, scanners).")
    clicked: int = Field(description="Messages with a link a person followed.")
    clicked_machine: int = Field(description="Messages whose links a machine followed (link scanners).")
    unsubscribed: int
    bounced: int
    bounced_hard: int
    bounced_soft: int
    complained: int
    failed: int


class ReportRates(Schema):
    delivery_rate: float
    open_rate: float = Field(description="Human opens over messages sent, 0 to 1.")
    click_rate: float
    click_to_open_rate: float = Field(description="Messages clicked over messages opened.")
    unsubscribe_rate: float
    bounce_rate: float
    complaint_rate: float


class LinkClicksOut(Schema):
    url: str
    clicks: int = Field(description="Clicks by people.")
    messages: int = Field(description="Messages the clicks came from.")


class ReportActivityOut(Schema):
    at: dt.datetime = Field(description="The start of the hour or day.")
    sent: int
    opened: int
    clicked: int


class VariantReportOut(Schema):
    id: int
    label: str
    winner: bool
    counts: ReportCounts
    rates: ReportRates


class CampaignReport(Schema):
    counts: ReportCounts = Field(description="The campaign's messages; an A/B test's variants included.")
    rates: ReportRates
    links: list[LinkClicksOut]
    bucket: Literal["hour", "day"]
    series: list[ReportActivityOut] = Field(description="Per hour for the first 72 hours, then per day.")
    variants: list[VariantReportOut] = Field(description="An A/B test's variants side by side.")
