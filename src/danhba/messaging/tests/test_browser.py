"""In a real browser (system Chromium, Playwright): a marketer writes a template, watches the
live preview render it for a contact in the sandboxed desktop and phone frames, then sends a
campaign to a list; the message reaches the SMTP server (aiosmtpd)."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import PASSWORD, actor_for
from danhba.messaging.models import Campaign, EmailTemplate
from danhba.messaging.tests.conftest import Mailbox
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_template_preview_and_campaign(
    live_server: Any,
    users: Any,
    page: Any,
    make_contact: Any,
    smtp: Mailbox,
    huey_immediate: Any,
) -> None:
    from playwright.sync_api import expect

    admin = users["admin"]
    lan = make_contact(full_name="Nguyễn Thị Lan", gender="female", emails=["lan@example.vn"])
    consent_record(actor=actor_for(admin), contact=lan, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor_for(admin), name="Khách thân thiết", kind=Segment.Kind.STATIC)
    list_add(actor=actor_for(admin), segment=audience, contact_ids=[lan.pk])

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=email]", users["marketing"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/email/templates/new/")
    page.fill("input[name=name]", "Chào mừng")
    page.fill("input[name=subject]", "Chào {{ contact.given_name }}")
    page.fill("input[name=contact]", "lan@example.vn")
    page.fill(
        "textarea[name=body]",
        "<html><head><style>h1 { color: #0f766e; }</style></head><body>"
        '<h1>Chào {{ xung_ho }} {{ contact.given_name | default: "bạn" }}</h1></body></html>',
    )
    expect(page.get_by_test_id("preview-subject")).to_have_text("[QC] Chào Lan")
    for frame in ("iframe.mail-frame.desktop", "iframe.mail-frame.phone"):
        heading = page.frame_locator(frame).locator("h1")
        expect(heading).to_have_text("Chào chị Lan")
        expect(heading).to_have_attribute("style", "color: #0f766e;")
    page.click("#template-form button[type=submit]")
    expect(page.locator("h1").first).to_have_text("Chào mừng")
    template = EmailTemplate.objects.get()

    page.goto(f"{live_server.url}/email/campaigns/new/")
    page.fill("input[name=name]", "Tháng 12")
    page.select_option("select[name=template]", str(template.pk))
    page.select_option("select[name=segments]", [str(audience.pk)])
    page.click("form button[type=submit].primary")
    expect(page.locator("h1").first).to_have_text("Tháng 12")
    page.click("form.mail-inline button[type=submit]")
    expect(page.get_by_test_id("count-sent")).to_have_text("1")
    campaign = Campaign.objects.get()
    assert campaign.status == "sent"
    [received] = smtp.received
    assert received.rcpt_to == ["lan@example.vn"] and received.message["Subject"] == "[QC] Chào Lan"
