"""The workflow pages: list, the editor (a form per step), the diagram with counts, enrolling by
hand, a contact's path and the contact page's panel; roles; English and Vietnamese."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services import engine
from danhba.automation.tests.conftest import T0, form_data
from danhba.automation.tests.test_api import api_for  # noqa: F401

pytestmark = pytest.mark.django_db


def editor_post(name: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = {
        "name": name, "description": "", "trigger_kind": "manual", "trigger_params": "{}", "reenrol": "once",
        "window_start": "08:00", "window_end": "20:00",
        "steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "100",
    }  # fmt: skip
    for i, step in enumerate(steps):
        data.update({f"steps-{i}-{k}": (json.dumps(v) if k == "params" else v) for k, v in step.items()})
    return {**data, **extra}


STEPS = [
    {"step_id": "hello", "kind": "tag", "params": {"add": ["xin chào"]}, "next": "later"},
    {"step_id": "later", "kind": "wait", "params": {"seconds": 3600}, "next": ""},
]


def test_build_activate_enrol_and_follow_a_contact(users: Any, client_for: Any, make_contact: Any) -> None:
    client = client_for(users["marketing"])
    assert client.get("/automation/").status_code == 200
    assert client.get("/automation/new/").status_code == 200
    answer = client.post("/automation/new/", editor_post("Chào khách mới", STEPS))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    wf = Workflow.objects.get(name="Chào khách mới")
    assert wf.current_version.graph["start"] == "hello"
    client.post(f"/automation/{wf.pk}/status/", {"status": "active"})
    contact = make_contact(full_name="Phạm Minh Châu")
    client.post(f"/automation/{wf.pk}/enrol/", {"contact_ids": f"{contact.pk}"})
    engine.run_due(now=T0)
    page = client.get(f"/automation/{wf.pk}/").content.decode()
    assert "Phạm Minh Châu" in page and 'id="step-later"' in page
    enrolment = wf.enrolments.get()
    path = client.get(f"/automation/enrolments/{enrolment.pk}/").content.decode()
    assert "hello" in path and "later" in path
    panel = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Chào khách mới" in panel
    # Editing the steps publishes version 2.
    changed = [{**STEPS[0], "params": {"add": ["chào"]}}, STEPS[1]]
    assert client.post(f"/automation/{wf.pk}/edit/", editor_post("Chào khách mới", changed)).status_code == 302
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 2


def test_the_editor_shows_problems_beside_the_form(users: Any, client_for: Any) -> None:
    client = client_for(users["admin"])
    loop = [{"step_id": "a", "kind": "tag", "params": {"add": ["x"]}, "next": "a"}]
    answer = client.post("/automation/new/", editor_post("Vòng lặp", loop))
    assert answer.status_code == 422
    assert "loop" in answer.content.decode()
    bad_json = editor_post("JSON", STEPS, **{"steps-0-params": "{nope"})
    assert client.post("/automation/new/", bad_json).status_code == 422
    assert not Workflow.objects.exists()


def test_vietnamese(users: Any, client_for: Any) -> None:
    user = users["admin"]
    user.language = "vi"
    user.save(update_fields=["language"])
    client = client_for(user)
    page = client.get("/automation/").content.decode()
    assert "Quy trình tự động" in page and "Chưa có quy trình nào." in page


def test_roles(users: Any, client_for: Any, make_workflow: Any) -> None:
    wf = make_workflow()
    support = client_for(users["support"])
    assert support.get(f"/automation/{wf.pk}/").status_code == 200
    assert support.get("/automation/new/").status_code == 403
    assert support.post(f"/automation/{wf.pk}/status/", {"status": "paused"}).status_code == 403
    assert support.post(f"/automation/{wf.pk}/enrol/", {"contact_ids": "1"}).status_code == 403
    assert Workflow.objects.get(pk=wf.pk).status == "active"


def test_the_list_costs_the_same_queries_for_any_number_of_workflows_and_pages(
    users: Any, client_for: Any, make_workflow: Any, make_contact: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from danhba.automation import views
    from danhba.automation.services.enrolments import enrol_many

    client = client_for(users["admin"])
    first = make_workflow(name="a")
    enrol_many(workflow=first, contact_ids=[make_contact().pk], via="api")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/automation/").status_code == 200
    for i in range(views.PAGE_SIZE + 4):
        make_workflow(name=f"b{i:02d}")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/automation/")
    assert page.status_code == 200 and len(many) == len(one)
    assert page.context["rows"][0][1] == {"active": 1} and len(page.context["rows"]) == views.PAGE_SIZE
    rest = client.get("/automation/", {"cursor": page.context["page"].next_cursor})
    assert [w.name for w, _c in rest.context["rows"]] == [
        f"b{i:02d}" for i in range(views.PAGE_SIZE - 1, views.PAGE_SIZE + 4)
    ]
    assert client.get("/automation/", {"cursor": "not-a-cursor"}).status_code == 200


def test_a_wait_is_edited_as_a_number_and_a_unit(users: Any, client_for: Any, make_workflow: Any) -> None:
    graph = {
        "start": "pause",
        "steps": {
            "pause": {"kind": "wait", "params": {"seconds": 7200}, "next": "seen"},
            "seen": {"kind": "wait_event", "params": {"event": "Demo Booked", "timeout_seconds": 3 * 86400}},
        },
    }
    wf = make_workflow(graph=graph, active=False)
    client = client_for(users["admin"])
    page = client.get(f"/automation/{wf.pk}/edit/").content.decode()
    assert 'name="steps-0-wait-seconds" value="2"' in page
    assert 'name="steps-1-wait_event-timeout_seconds" value="3"' in page
    data = form_data(page)
    data.update({"steps-0-wait-seconds": "90", "steps-0-wait-seconds_unit": "minutes"})
    data.update({"steps-1-wait_event-timeout_seconds": "1", "steps-1-wait_event-timeout_seconds_unit": "hours"})
    answer = client.post(f"/automation/{wf.pk}/edit/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    saved = Workflow.objects.get(pk=wf.pk).current_version.graph["steps"]  # type: ignore[union-attr]
    assert saved["pause"]["params"]["seconds"] == 5400 and saved["seen"]["params"]["timeout_seconds"] == 3600


def test_saving_the_editor_keeps_goal_exit_and_step_labels(users: Any, client_for: Any, make_workflow: Any) -> None:
    from danhba.automation.tests.conftest import tag_is, three_steps

    graph = {**three_steps(), "goal": tag_is("won"), "exit": tag_is("unsubscribed")}
    graph["steps"]["pause"]["label"] = "Chờ một giờ"
    wf = make_workflow(graph=graph, active=False)
    client = client_for(users["admin"])
    data = form_data(client.get(f"/automation/{wf.pk}/edit/").content.decode())
    data.update({"steps-1-wait-seconds": "2", "steps-1-wait-seconds_unit": "hours"})
    assert client.post(f"/automation/{wf.pk}/edit/", data).status_code == 302
    saved = Workflow.objects.get(pk=wf.pk).current_version.graph  # type: ignore[union-attr]
    assert saved["steps"]["pause"]["params"]["seconds"] == 7200 and saved["steps"]["pause"]["label"] == "Chờ một giờ"
    assert saved["goal"]["conditions"][0]["tags"] == ["won"] and saved["exit"]["conditions"][0]["tags"] == [
        "unsubscribed"
    ]


def test_a_workflow_built_by_form_fields_only_reads_back_the_same_through_the_api(
    users: Any,
    client_for: Any,
    api_for: Any,  # noqa: F811
) -> None:
    """An "event performed" trigger with a property condition, an email, a field update, a wait
    and a branch: no JSON typed anywhere."""
    from danhba.messaging.models import EmailTemplate

    template = EmailTemplate.objects.create(name="Cảm ơn", subject="Cảm ơn bạn", body="<p>Cảm ơn</p>")
    client = client_for(users["marketing"])
    data = form_data(client.get("/automation/new/").content.decode())
    assert "trigger_params" in data and "steps-0-params" in data  # the JSON boxes stay, empty
    data.update({
        "name": "Khách xem giá", "trigger_kind": "event", "trigger-event-shown": "1",
        "trigger-event-event": "Pricing Viewed", "trigger-event-where-0-property": "plan",
        "trigger-event-where-0-operator": "eq", "trigger-event-where-0-value": "pro",
        "steps-TOTAL_FORMS": "5",
        "steps-0-step_id": "thanks", "steps-0-kind": "email", "steps-0-next": "title", "steps-0-email-shown": "1",
        "steps-0-email-template": str(template.pk), "steps-0-email-topic": "",
        "steps-1-step_id": "title", "steps-1-kind": "update_field", "steps-1-next": "pause",
        "steps-1-update_field-shown": "1", "steps-1-update_field-field": "job_title",
        "steps-1-update_field-value": "Quan tâm gói Pro",
        "steps-2-step_id": "pause", "steps-2-kind": "wait", "steps-2-next": "vip", "steps-2-wait-shown": "1",
        "steps-2-wait-seconds": "2", "steps-2-wait-seconds_unit": "days", "steps-2-wait-tz": "Asia/Ho_Chi_Minh",
        "steps-3-step_id": "vip", "steps-3-kind": "branch", "steps-3-branch-shown": "1",
        "steps-3-branch-branches-0-label": "Mọi người", "steps-3-branch-branches-0-next": "tag_vip",
        "steps-3-branch-otherwise": "",
        "steps-4-step_id": "tag_vip", "steps-4-kind": "tag", "steps-4-tag-shown": "1",
        "steps-4-tag-add": "khách pro\nvip",
    })  # fmt: skip
    answer = client.post("/automation/new/", data)
    assert answer.status_code == 302, answer.content.decode()[:4000]
    wf = Workflow.objects.get(name="Khách xem giá")
    got = api_for(users["marketing"]).get(f"/workflows/{wf.pk}").json()
    assert got["trigger"] == {
        "kind": "event",
        "event": "Pricing Viewed",
        "where": [{"property": "plan", "operator": "eq", "value": "pro"}],
    }
    steps = got["graph"]["steps"]
    assert got["graph"]["start"] == "thanks"
    assert steps["thanks"]["params"]["template"] == template.pk and steps["thanks"]["params"]["campaign"]
    assert steps["title"]["params"] == {"field": "job_title", "value": "Quan tâm gói Pro"}
    assert steps["pause"]["params"]["seconds"] == 2 * 86400 and steps["pause"]["next"] == "vip"
    arm = steps["vip"]["params"]["branches"][0]
    assert (arm["label"], arm["next"], arm["condition"]["conditions"]) == ("Mọi người", "tag_vip", [])
    assert steps["tag_vip"]["params"] == {"add": ["khách pro", "vip"], "remove": []}
    # The diagram shows the steps in order.
    page = client.get(f"/automation/{wf.pk}/").content.decode()
    assert page.index('id="step-thanks"') < page.index('id="step-pause"') < page.index('id="step-tag_vip"')


def test_without_javascript_a_kind_chosen_shows_its_fields_then_saves(users: Any, client_for: Any) -> None:
    client = client_for(users["admin"])
    data = form_data(client.get("/automation/new/").content.decode())
    assert "steps-0-tag-add" not in data  # no kind chosen: no settings sent
    data.update({"name": "Gắn thẻ", "steps-0-step_id": "hello", "steps-0-kind": "tag", "refresh": "0"})
    page = client.post("/automation/new/", data)
    assert page.status_code == 200 and not Workflow.objects.exists()
    html = page.content.decode()
    assert "errors" not in html.split('name="steps-0-step_id"')[1][:2000]
    data = form_data(html)
    assert data["steps-0-tag-add"] == ""
    data["steps-0-tag-add"] = "xin chào"
    assert client.post("/automation/new/", data).status_code == 302
    graph = Workflow.objects.get(name="Gắn thẻ").current_version.graph  # type: ignore[union-attr]
    assert graph["steps"]["hello"]["params"] == {"add": ["xin chào"], "remove": []}


def test_a_kind_error_is_shown_beside_its_field(users: Any, client_for: Any) -> None:
    client = client_for(users["admin"])
    data = form_data(client.get("/automation/new/").content.decode())
    data.update({"name": "Sai", "steps-0-step_id": "w", "steps-0-kind": "wait_event", "steps-0-wait_event-shown": "1",
                 "steps-0-wait_event-event": "", "steps-0-wait_event-timeout_seconds": "2",
                 "steps-0-wait_event-timeout_seconds_unit": "days"})  # fmt: skip
    answer = client.post("/automation/new/", data)
    assert answer.status_code == 422 and not Workflow.objects.exists()
    html = answer.content.decode()
    field = html.split('name="steps-0-wait_event-event"')[1][:600]
    assert "This field is required." in field


@pytest.mark.parametrize("key", ["hot_lead", "lost_deal", "retention", "role_nurture", "stuck_lead", "welcome"])
def test_every_playbook_opens_in_the_forms_and_saving_unchanged_keeps_its_graph(
    key: str, users: Any, client_for: Any, admin: Any
) -> None:
    from danhba.automation.services.playbooks import playbook_install
    from danhba.conftest import actor_for

    options = {}
    if key == "hot_lead":
        from danhba.scoring.services.models import score_model_create

        options = {"score_model": score_model_create(actor=actor_for(admin), data={"name": "Độ nóng"}).pk}
    wf = playbook_install(actor=actor_for(admin), key=key, options=options).workflow
    before = Workflow.objects.get(pk=wf.pk)
    client = client_for(admin)
    page = client.get(f"/automation/{wf.pk}/edit/").content.decode()
    answer = client.post(f"/automation/{wf.pk}/edit/", form_data(page))
    assert answer.status_code == 302, answer.content.decode()[:4000]
    after = Workflow.objects.get(pk=wf.pk)
    assert after.current_version.number == before.current_version.number  # type: ignore[union-attr]
    assert after.current_version.graph == before.current_version.graph  # type: ignore[union-attr]
    assert (after.trigger, after.trigger_kind, after.window, after.reenrol) == (
        before.trigger,
        before.trigger_kind,
        before.window,
        before.reenrol,
    )
