"""The preference centre at phone width in a real browser (system Chromium, Playwright), as a
recipient opens it from an email (no login, no cookie of ours): Vietnamese by the page's
language switch, no wider than the phone; leaving a topic and pausing for three months take
effect at once."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.messaging.links import Recipient, make_token
from danhba.privacy.models import ConsentPurpose, ConsentState
from danhba.privacy.services import consent_record

PHONE = {"width": 375, "height": 800}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_preferences_on_a_phone(live_server: Any, admin: Any, make_contact: Any, page: Any) -> None:
    from playwright.sync_api import expect

    ConsentPurpose.objects.create(
        key="promotions", name="Promotions", name_vi="Khuyến mãi và phiếu giảm giá theo mùa", email_topic=True
    )
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan.nguyen@example.vn"])
    consent_record(actor=actor_for(admin), contact=lan, purpose="email_marketing", status="granted", source="ui")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/email/preferences/{make_token(Recipient(lan.pk, 0))}/?lang=vi")
    expect(page.locator("h1")).to_have_text("Tuỳ chọn nhận email")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    page.uncheck("input[name=topic][value=promotions]")
    page.check("input[name=pause][value='3']")
    page.click("button[value=save]")
    expect(page.get_by_test_id("pref-status")).to_contain_text("tạm dừng đến")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    states = dict(ConsentState.objects.filter(contact=lan).values_list("purpose__key", "status"))
    assert states == {"email_marketing": "withdrawn", "promotions": "withdrawn"}
