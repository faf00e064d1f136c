"""A marketer in a real browser: installs the welcome playbook from the gallery, shortens its
first wait in the editor, activates it, enrols a contact, and — after the engine ran with its
clock moved a day on — sees the contact's path on the workflow's pages."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from danhba.core.tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_install_edit_activate_enrol_and_watch_the_path(
    live_server: Any, users: Any, make_contact: Any, page: Any
) -> None:
    from django.utils import timezone
    from playwright.sync_api import expect

    from danhba.automation.models import Enrolment, Workflow
    from danhba.automation.services import engine
    from danhba.conftest import actor_for
    from danhba.privacy.services import consent_record

    marketer = users["marketing"]
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    consent_record(actor=actor_for(marketer), contact=lan, purpose="email_marketing", status="granted", source="ui")
    base = live_server.url
    log_in(page, base, marketer.email)

    page.goto(f"{base}/automation/")
    page.get_by_role("link", name="Playbooks").click()
    card = page.locator("#playbook-welcome")
    expect(card).to_contain_text("Thanks for subscribing!")
    card.get_by_role("button", name="Install “New subscriber → welcome series”").click()
    expect(page.locator("h1")).to_have_text("New subscriber → welcome series")
    workflow = Workflow.objects.get()
    assert workflow.status == "draft"

    # The editor: the wait before the guide becomes one day instead of two (a number and a unit).
    page.get_by_role("link", name="Edit").click()
    step_id = page.locator("input[name$='-step_id'][value='wait_guide']")
    prefix = str(step_id.get_attribute("name")).removesuffix("-step_id")
    duration = page.locator(f"input[name='{prefix}-wait-seconds']")
    expect(duration).to_have_value("2")
    expect(page.locator(f"select[name='{prefix}-wait-seconds_unit']")).to_have_value("days")
    duration.fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    assert Workflow.objects.get().current_version.graph["steps"]["wait_guide"]["params"]["seconds"] == 86400

    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Status: Active", exact=False)).to_be_visible()
    page.fill("#enrol-ids", str(lan.pk))
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.get_by_text("1 contacts enrolled.")).to_be_visible()

    # The worker's clock: tomorrow 10:00 in Hồ Chí Minh City, then a day later.
    tz = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    start = dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(10), tzinfo=tz)
    engine.run_due(now=start.astimezone(dt.UTC))
    engine.run_due(now=(start + dt.timedelta(days=1)).astimezone(dt.UTC))
    assert Enrolment.objects.get().step == "wait_topics"

    page.goto(f"{base}/automation/{workflow.pk}/")
    row = page.locator("tr", has_text="Nguyễn Thị Lan")
    expect(row).to_contain_text("wait_topics")
    row.get_by_role("link", name="Nguyễn Thị Lan").click()
    path = page.locator("section:has(h2:text('Path')) tbody tr")
    expect(path).to_have_count(5)
    steps = [path.nth(i).locator("td").nth(1).inner_text() for i in range(5)]
    assert steps == ["thanks", "wait_guide", "wait_guide", "guide", "wait_topics"]
    assert page.evaluate("() => window.__csp || []") == []


def test_test_a_draft_on_a_contact_with_the_clock_moved(
    live_server: Any, users: Any, make_contact: Any, page: Any
) -> None:
    """From the workflow's page, a marketer tests the draft on one contact (found by email):
    the path through the wait and the branch shows step by step, and the contact is untouched."""
    from playwright.sync_api import expect

    from danhba.automation.services.workflows import workflow_create
    from danhba.automation.tests.test_dry_run import tag_then_branch
    from danhba.conftest import actor_for
    from danhba.contacts.models import Contact

    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc VIP", "graph": tag_then_branch()})
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    base = live_server.url
    log_in(page, base, marketer.email)
    page.goto(f"{base}/automation/{wf.pk}/")
    page.get_by_role("link", name="Test on a contact").click()
    page.get_by_label("Contact (id or email)").fill("lan@example.vn")
    page.get_by_label("Start at (empty: now)").fill("2026-12-08T10:00")
    page.get_by_role("button", name="Run the test").click()
    rows = page.locator("#test-result tr.test-step")
    expect(rows).to_have_count(5)
    expect(rows.nth(1)).to_contain_text("Waits until 9 Dec 2026, 10:00.")
    expect(rows.nth(3)).to_contain_text("Took “VIP”: the contact meets")
    expect(page.locator(".test-status")).to_have_text("completed")
    assert not Contact.objects.get(pk=lan.pk).tags.exists()
    assert page.evaluate("() => window.__csp || []") == []


def test_a_branch_condition_in_the_segment_builder(live_server: Any, users: Any, make_contact: Any, page: Any) -> None:
    """The editor lists a branch in words; "Edit condition" opens the segments' builder, whose
    live preview counts who would take the branch; saving publishes a new version."""
    from playwright.sync_api import expect

    from danhba.automation.models import Workflow
    from danhba.automation.services.workflows import workflow_create
    from danhba.automation.tests.conftest import three_steps
    from danhba.conftest import actor_for

    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc khách", "graph": three_steps()})
    make_contact(full_name="Nguyễn Thị Lan", tags=["khách quen"])
    base = live_server.url
    log_in(page, base, marketer.email)
    page.goto(f"{base}/automation/{wf.pk}/edit/")
    arm = page.locator("li.arm").first
    expect(arm).to_contain_text("tag is “vip”")
    arm.get_by_role("link", name="Edit condition").click()
    tags = page.locator("input[name='n-0__tags']")
    expect(tags).to_have_value("vip")
    expect(page.locator("#preview-count")).to_have_attribute("data-count", "0")
    tags.fill("khách quen")
    expect(page.locator("#preview-count")).to_have_attribute("data-count", "1")
    page.get_by_label("Branch name").fill("Khách quen")
    page.get_by_role("button", name="Save").click()
    # Kept in the editor's draft; the editor's Save publishes it (decision 0013, versions).
    expect(page.get_by_text("Condition kept: save the workflow to publish it.")).to_be_visible()
    expect(page.locator("li.arm").first).to_contain_text("Khách quen: tag is “khách quen”")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    arm_saved = Workflow.objects.get(pk=wf.pk).current_version.graph["steps"]["vip"]["params"]["branches"][0]
    assert arm_saved["condition"]["conditions"][0]["tags"] == ["khách quen"] and arm_saved["label"] == "Khách quen"
    assert page.evaluate("() => window.__csp || []") == []


def test_a_new_branch_gets_its_condition_before_the_workflow_is_saved(live_server: Any, users: Any, page: Any) -> None:
    """A new workflow: the marketer adds an If / else step, edits its condition in the builder
    straight away, comes back to the editor with everything typed still there, and saves once."""
    from playwright.sync_api import expect

    from danhba.automation.models import Workflow
    from danhba.automation.tests.conftest import tag_is

    marketer = users["marketing"]
    base = live_server.url
    log_in(page, base, marketer.email)
    page.goto(f"{base}/automation/new/")
    page.get_by_label("Name", exact=True).fill("Phân nhánh VIP")
    page.fill("input[name='steps-0-step_id']", "vip")
    page.select_option("select[name='steps-0-kind']", "branch")
    page.fill("input[name='steps-1-step_id']", "cam_on")
    page.select_option("select[name='steps-1-kind']", "tag")
    page.fill("textarea[name='steps-1-tag-add']", "cảm ơn")
    page.locator(".step-row").first.get_by_role("button", name="Edit branch conditions").click()
    expect(page.locator("h1")).to_have_text("Branch vip.0")
    page.select_option("select[name='n-0__kind']", "tag")
    tags = page.locator("input[name='n-0__tags']")
    expect(tags).to_be_visible()
    tags.fill("vip")
    page.get_by_label("Branch name").fill("VIP")
    page.select_option("#arm-next", "cam_on")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Condition kept: save the workflow to publish it.")).to_be_visible()
    expect(page.locator("li.arm").first).to_contain_text("VIP: tag is “vip” → cam_on")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Phân nhánh VIP")
    assert not Workflow.objects.filter(name="Phân nhánh VIP").exists()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    graph = Workflow.objects.get(name="Phân nhánh VIP").current_version.graph
    assert graph["steps"]["vip"]["params"]["branches"][0] == {
        "condition": tag_is("vip"),
        "next": "cam_on",
        "label": "VIP",
    }
    assert page.evaluate("() => window.__csp || []") == []


def _event_trigger(page: Any, event: Any) -> None:
    event.fill("Pricing Viewed")
    page.fill("input[name='trigger-event-where-0-property']", "plan")
    page.select_option("select[name='trigger-event-where-0-operator']", "eq")
    page.fill("input[name='trigger-event-where-0-value']", "pro")


def test_a_workflow_built_from_the_forms_then_its_diagram(live_server: Any, users: Any, page: Any) -> None:
    """On a phone-sized screen, a marketer builds a workflow from the forms only: the trigger
    "performed an event" with a property condition, an email, a wait of two days and a tag.
    Choosing a kind shows its fields; saving shows the diagram with the three boxes in order."""
    from playwright.sync_api import expect

    from danhba.automation.models import Workflow
    from danhba.messaging.models import EmailTemplate

    template = EmailTemplate.objects.create(name="Bảng giá", subject="Bảng giá", body="<p>Giá</p>")
    marketer = users["marketing"]
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, base, marketer.email)
    page.goto(f"{base}/automation/new/")
    page.get_by_label("Name", exact=True).fill("Xem bảng giá")
    event = page.locator("input[name='trigger-event-event']")
    expect(event).to_be_hidden()
    page.select_option("select[name='trigger_kind']", "event")
    expect(event).to_be_visible()
    _event_trigger(page, event)

    page.fill("input[name='steps-0-step_id']", "gui_gia")
    page.select_option("select[name='steps-0-kind']", "email")
    page.select_option("select[name='steps-0-email-template']", str(template.pk))
    page.fill("input[name='steps-1-step_id']", "cho")
    page.select_option("select[name='steps-1-kind']", "wait")
    # "Then" is a select of the steps named on the page: the one just named is there at once.
    page.select_option("select[name='steps-0-next']", "cho")
    expect(page.locator("select[name='steps-0-next'] option[value='cho']")).to_have_text("Wait (cho)")
    page.fill("input[name='steps-1-wait-seconds']", "2")
    page.select_option("select[name='steps-1-wait-seconds_unit']", "days")
    expect(page.locator("input[name='steps-0-wait-seconds']")).to_be_hidden()
    page.get_by_role("button", name="Save", exact=True).click()
    # Only two empty rows at first: the third step goes in a row the saved page adds.
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    wf = Workflow.objects.get(name="Xem bảng giá")
    page.goto(f"{base}/automation/{wf.pk}/edit/")
    expect(page.locator("input[name='trigger-event-where-0-value']")).to_have_value("pro")
    page.fill("input[name='steps-2-step_id']", "gan_the")
    page.select_option("select[name='steps-2-kind']", "tag")
    page.select_option("select[name='steps-1-next']", "gan_the")
    page.fill("textarea[name='steps-2-tag-add']", "quan tâm giá")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    boxes = page.locator(".flow .box")
    expect(boxes).to_have_count(3)
    expect(boxes.nth(0)).to_contain_text("Send an email")
    expect(boxes.nth(1)).to_contain_text("Wait")
    expect(boxes.nth(2)).to_contain_text("Add or remove tags")
    wf = Workflow.objects.get(pk=wf.pk)
    assert wf.trigger == {"kind": "event", "event": "Pricing Viewed",
                          "where": [{"property": "plan", "operator": "eq", "value": "pro"}]}  # fmt: skip
    steps = wf.current_version.graph["steps"]  # type: ignore[union-attr]
    assert steps["cho"]["params"]["seconds"] == 2 * 86400 and steps["gan_the"]["params"]["add"] == ["quan tâm giá"]
    assert page.evaluate("() => window.__csp || []") == []


def test_the_value_input_follows_the_field_chosen_then_saves(live_server: Any, users: Any, page: Any) -> None:
    """On a phone-sized screen: an update-field step's field changes from a job title to the
    gender, and its value becomes a select of the genders without the page reloading; saved,
    the version keeps the value chosen."""
    from playwright.sync_api import expect

    from danhba.automation.models import Workflow
    from danhba.automation.services.workflows import workflow_create
    from danhba.conftest import actor_for

    marketer = users["marketing"]
    graph = {
        "start": "a",
        "steps": {"a": {"kind": "update_field", "params": {"field": "job_title", "value": "Kế toán"}}},
    }
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Giới tính", "graph": graph})
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, base, marketer.email)
    page.goto(f"{base}/automation/{wf.pk}/edit/")
    value = page.locator("[name='steps-0-update_field-value']")
    expect(value).to_have_value("Kế toán")
    page.evaluate("() => { window.__same_page = true; }")
    page.select_option("select[name='steps-0-update_field-field']", "gender")
    expect(page.locator("select[name='steps-0-update_field-value']")).to_be_visible()
    assert page.evaluate("() => window.__same_page === true")  # swapped in place, no reload
    page.select_option("select[name='steps-0-update_field-value']", "female")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Workflow saved.")).to_be_visible()
    params = Workflow.objects.get(pk=wf.pk).current_version.graph["steps"]["a"]["params"]  # type: ignore[union-attr]
    assert params == {"field": "gender", "value": "female"}
    assert page.evaluate("() => window.__csp || []") == []
