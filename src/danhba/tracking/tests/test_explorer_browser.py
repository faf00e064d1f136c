"""The event explorer in a real browser: filter with htmx, drill into a bar, list the people,
open one, and page through the contact's merged timeline."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import PASSWORD
from danhba.tracking.models import Event

SCREENSHOT = os.getenv("DANHBA_SCREENSHOT_DIR", "")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_filter_drill_and_open_a_person(
    live_server: Any, users: Any, make_contact: Any, make_source: Any, page: Any
) -> None:
    from playwright.sync_api import expect

    source = make_source()[0]
    lan = make_contact(full_name="Trần Thị Lan")
    an = make_contact(full_name="Nguyễn Văn An")
    today = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    if today > timezone.now():
        today -= dt.timedelta(days=1)
    rows = [(0, lan, "Signed Up"), (1, lan, "Order Completed"), (1, an, "Order Completed"),
            (3, an, "Order Completed"), (0, None, "Order Completed")]  # fmt: skip
    for n, (days_ago, who, name) in enumerate(rows, 1):
        at = today - dt.timedelta(days=days_ago)
        Event.objects.create(
            source=source, message_id=f"b-{n}", type="track", name=name, contact=who, timestamp=at, received_at=at,
            anonymous_id="" if who else "anon", properties={"total": 100000 * n},
        )  # fmt: skip
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", users["admin"].email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")  # the home page

    page.get_by_role("link", name="Events", exact=True).click()
    page.wait_for_url(f"{base}/events/")
    expect(page.locator("#chart-head")).to_have_text("5 events")
    assert page.locator("svg.chart g.bar").count() >= 7  # a bar per day of the last 7, empty ones too

    # Choosing a name refreshes the results in place (htmx) and the address follows.
    page.fill("#f-name", "Order Completed")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#chart-head")).to_have_text("4 events")
    assert "name=Order%20Completed" in page.url and "type=" not in page.url
    if SCREENSHOT:
        page.screenshot(path=f"{SCREENSHOT}/explorer.png", full_page=True)

    # Drill into yesterday's bar: that day, counted per hour.
    yesterday = (today - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    page.locator(f"svg.chart a[href*='from={yesterday}T00%3A00']").first.click()
    expect(page.locator("#chart-head")).to_have_text("2 events")
    assert page.locator("svg.chart g.bar").count() == 24

    # The people who did it, then one of them.
    page.get_by_role("link", name="People").click()
    expect(page.locator("#explorer-results table tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Trần Thị Lan").click()
    page.wait_for_url(f"{base}/contacts/{lan.pk}/")
    timeline = page.locator("#timeline-list")
    expect(timeline).to_contain_text("Order Completed")
    expect(timeline).to_contain_text("Signed Up")
    # Only events, then back to everything.
    page.select_option("#timeline-kind", "events")
    expect(timeline.locator("li.kind-event")).to_have_count(2)
    if SCREENSHOT:
        page.screenshot(path=f"{SCREENSHOT}/timeline.png", full_page=True)
