"""The sending-domain pages at phone width in a real browser (system Chromium, Playwright): an
admin adds a domain through the form and reads its DNS records; no page is wider than the
phone (the 400-character DKIM key wraps)."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import PASSWORD
from danhba.messaging.models import SendingDomain

PHONE = {"width": 375, "height": 800}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_add_a_domain_on_a_phone(live_server: Any, users: Any, page: Any, tmp_path: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=email]", users["admin"].email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/email/domains/")
    page.fill("input[name=domain]", "tin.anhduong.example.vn")
    page.click("form.mail-inline button[type=submit]")
    row = SendingDomain.objects.get()
    expect(page.locator("h1")).to_have_text("tin.anhduong.example.vn")
    expect(page.get_by_text(f"{row.selector}._domainkey.tin.anhduong.example.vn")).to_be_visible()
    for url in (page.url, f"{live_server.url}/email/domains/"):
        page.goto(url)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], (url, width)
    page.goto(f"{live_server.url}/email/domains/{row.pk}/")
    page.screenshot(path=str(tmp_path / "domain-phone.png"), full_page=True)
