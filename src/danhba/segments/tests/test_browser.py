"""The segment builder in a real browser: build a segment with a nested group, watch the live
count follow each change, save it, and see its members."""

from __future__ import annotations

import os
from typing import Any

import pytest

from danhba.conftest import PASSWORD
from danhba.segments.models import Segment

SCREENSHOT = os.getenv("DANHBA_SCREENSHOT_DIR", "")


def settle(page: Any) -> None:
    """Wait until htmx has swapped in what it asked for: after a change of field or operator the
    tree is rendered again, and a value typed into the old inputs would be lost (a person sees
    the new row before typing)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def structural(page: Any, act: Any) -> None:
    with page.expect_response(lambda r: "/segments/builder/tree" in r.url):
        act()
    settle(page)


def choose(page: Any, selector: str, value: str) -> None:
    structural(page, lambda: page.select_option(selector, value))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_build_a_nested_segment_and_see_its_members(live_server: Any, users: Any, make_contact: Any, page: Any) -> None:
    from playwright.sync_api import expect

    an = make_contact(full_name="Nguyễn Văn An", province="Hà Nội", emails=[{"email": "an@example.vn"}])
    binh = make_contact(full_name="Trần Thị Bình", province="Hà Nội", emails=[{"email": "binh@example.vn"}])
    make_contact(full_name="Lê Văn Cường", province="Đà Nẵng", emails=[{"email": "cuong@example.vn"}])
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", users["marketing"].email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")  # the home page

    page.get_by_role("link", name="Segments", exact=True).click()
    page.wait_for_url(f"{base}/segments/")
    page.get_by_role("link", name="New segment").click()
    page.wait_for_url(f"{base}/segments/new")
    page.fill("#id_name", "Hà Nội, An or Bình")

    # First condition: province is Hà Nội. Choosing the field brings the province choices.
    choose(page, "select[name='n-0__field']", "province")
    page.select_option("select[name='n-0__value']", "ha-noi")
    count = page.locator("#preview-count")
    expect(count).to_have_text("2 contacts")
    expect(page.locator("#preview-text")).to_have_text("Province / city is Hà Nội")

    # A nested group: ANY of (email contains "an@").
    structural(page, page.get_by_role("button", name="+ Group").last.click)
    expect(page.locator("select[name='n-1__op']")).to_be_visible()
    page.select_option("select[name='n-1__op']", "any")
    choose(page, "select[name='n-1-0__field']", "email")
    choose(page, "select[name='n-1-0__operator']", "contains")
    page.fill("input[name='n-1-0__value']", "an@")
    expect(count).to_have_text("1 contact")
    expect(page.locator("#preview-sample")).to_contain_text("Nguyễn Văn An")
    # A second condition in the nested group widens it again.
    structural(page, page.locator("#node-n-1").get_by_role("button", name="+ Condition").click)
    choose(page, "select[name='n-1-1__field']", "email")
    choose(page, "select[name='n-1-1__operator']", "starts_with")
    page.fill("input[name='n-1-1__value']", "binh")
    expect(count).to_have_text("2 contacts")
    expect(page.locator("#preview-text")).to_contain_text("OR")
    if SCREENSHOT:
        page.screenshot(path=f"{SCREENSHOT}/segment-builder.png", full_page=True)

    page.get_by_role("button", name="Save").click()
    segment = Segment.objects.get(name="Hà Nội, An or Bình")
    page.wait_for_url(f"{base}/segments/{segment.pk}/")
    members = page.locator("#members tbody")
    expect(members.locator("tr")).to_have_count(2)
    expect(members).to_contain_text(an.full_name)
    expect(members).to_contain_text(binh.full_name)
    expect(page.locator("#member-count")).to_have_text("2")
    if SCREENSHOT:
        page.screenshot(path=f"{SCREENSHOT}/segment-detail.png", full_page=True)

    # Back in the builder the saved tree is there to edit.
    page.get_by_role("link", name="Edit conditions").click()
    expect(page.locator("select[name='n-1__op']")).to_have_value("any")
    expect(page.locator("input[name='n-1-1__value']")).to_have_value("binh")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_fresh_builder_previews_before_the_name_and_suggests_event_names(
    live_server: Any, users: Any, make_contact: Any, page: Any
) -> None:
    """A new segment opens without errors; its preview follows the conditions before the segment
    has a name (the browser's check of the required name used to stop every preview); an event
    condition offers the names received and warns about one never received."""
    from playwright.sync_api import expect

    from danhba.conftest import actor_for
    from danhba.tracking.models import Event
    from danhba.tracking.services.sources import source_create

    buyer = make_contact(full_name="Khách Mua Trà", province="Hà Nội")
    source, _key = source_create(actor=actor_for(users["admin"]), name="Web")
    from django.utils import timezone

    Event.objects.create(source=source, message_id="m1", type="track", name="Order Completed", contact=buyer,
                         timestamp=timezone.now(), received_at=timezone.now(), properties={"total": 5})  # fmt: skip
    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", users["marketing"].email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/segments/new")
    expect(page.locator("#preview-hint")).to_be_visible()
    expect(page.locator("#preview")).not_to_contain_text("not valid")

    choose(page, "select[name='n-0__kind']", "event")
    expect(page.locator("#event-names option[value='Order Completed']")).to_have_count(1)
    name = page.locator("input[name='n-0__name']")
    with page.expect_response(lambda r: "/segments/builder/event-hints" in r.url):
        name.fill("Order Complete")
        name.press("Tab")
    expect(page.locator("#hints-n-0")).to_contain_text("has been received yet")
    expect(page.locator("#preview-count")).to_have_text("0 contacts")  # a preview, name still empty
    expect(page.locator("#preview-warnings")).to_be_visible()
    with page.expect_response(lambda r: "/segments/builder/event-hints" in r.url):
        name.fill("Order Completed")
        name.press("Tab")
    expect(page.locator("#preview-count")).to_have_text("1 contact")
    expect(page.locator("#hints-n-0")).not_to_contain_text("has been received yet")
    expect(page.locator("#props-n-0 option[value='total']")).to_have_count(1)
