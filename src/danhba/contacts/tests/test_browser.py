"""The contact pages in a real browser: log in, create a contact, find it by a search typed
without diacritics, edit a field inline, and see the change on the timeline and in the audit panel.

Drives the system Chromium through Playwright against pytest-django's live server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from danhba.conftest import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_create_search_edit_inline_and_see_it_audited(live_server: Any, users: Any, page: Any) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    admin = users["admin"]

    # Log in through the login form.
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")  # the home page
    assert page.locator("#home-contacts").is_visible()
    # The stylesheet is served and applied (the sidebar is laid out by app.css).
    assert page.evaluate("getComputedStyle(document.querySelector('.sidebar')).display") == "flex"

    # Create a contact.
    page.get_by_role("link", name="New contact", exact=True).click()
    page.fill("input[name=full_name]", "Nguyễn Văn Đức")
    page.fill("input[name=email]", "duc.nguyen@example.vn")
    page.fill("input[name=phone]", "0912 345 678")
    page.get_by_role("button", name="Create contact").click()
    page.wait_for_url(f"{base}/contacts/*/")
    expect(page.locator("#contact-head h1")).to_have_text("Nguyễn Văn Đức")

    # Find it from the list by typing the name without diacritics (live search, no submit).
    page.get_by_role("link", name="Contacts", exact=True).first.click()
    page.wait_for_url(f"{base}/contacts/")
    page.fill("input[type=search]", "nguyen van duc")
    results = page.locator("#results a.name")
    expect(results).to_have_count(1)
    expect(results.first).to_have_text("Nguyễn Văn Đức")
    # The search is in the address bar (empty filters left out), so back/forward and links keep it.
    expect(page).to_have_url(re.compile(r"/contacts/\?q=nguyen(\+|%20)van(\+|%20)duc&sort=name$"))
    results.first.click()
    page.wait_for_url(f"{base}/contacts/*/")

    # Edit one field inline: the section swaps to a form and back without a page load.
    page.evaluate("window.__samePage = true")
    page.locator("[data-edit=descriptive]").click()
    occupation = page.locator("#section-descriptive input[name=occupation]")
    expect(occupation).to_be_visible()
    occupation.fill("Kỹ sư phần mềm")
    page.locator("#section-descriptive").get_by_role("button", name="Save").click()
    expect(page.locator('#section-descriptive [data-value="occupation"]')).to_have_text("Kỹ sư phần mềm")
    expect(page.locator("#section-descriptive form")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("Changes saved")

    # The timeline and the audit panel refresh themselves with the change.
    expect(page.locator("#timeline-list li.system").first).to_contain_text("Occupation")
    activity = page.locator("#activity")
    expect(activity).to_contain_text("Kỹ sư phần mềm")
    expect(activity).to_contain_text("changed")
    expect(activity).to_contain_text("Web UI")
    expect(activity).to_contain_text("opened")
    assert page.evaluate("window.__samePage") is True

    # A reload shows the saved value: it was written, not only swapped into the page.
    page.reload()
    expect(page.locator('#section-descriptive [data-value="occupation"]')).to_have_text("Kỹ sư phần mềm")
