"""The workflow pages: list, the editor (a form per step), the diagram with counts, enrolling by
hand, a contact's path and the contact page's panel; roles; English and Vietnamese."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services import engine
from danhba.automation.tests.conftest import T0

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
    assert 'name="steps-0-duration" value="2"' in page and 'name="steps-1-duration" value="3"' in page
    steps = [
        {"step_id": "pause", "kind": "wait", "duration": "90", "duration_unit": "minutes", "params": {},
         "next": "seen"},
        {"step_id": "seen", "kind": "wait_event", "duration": "1", "duration_unit": "hours",
         "params": {"event": "Demo Booked"}},
    ]  # fmt: skip
    answer = client.post(f"/automation/{wf.pk}/edit/", editor_post(wf.name, steps))
    assert answer.status_code == 302
    saved = Workflow.objects.get(pk=wf.pk).current_version.graph["steps"]  # type: ignore[union-attr]
    assert saved["pause"]["params"]["seconds"] == 5400 and saved["seen"]["params"]["timeout_seconds"] == 3600


def test_saving_the_editor_keeps_goal_exit_and_step_labels(users: Any, client_for: Any, make_workflow: Any) -> None:
    from danhba.automation.tests.conftest import tag_is, three_steps

    graph = {**three_steps(), "goal": tag_is("won"), "exit": tag_is("unsubscribed")}
    graph["steps"]["pause"]["label"] = "Chờ một giờ"
    wf = make_workflow(graph=graph, active=False)
    steps = [
        {"step_id": "title", "kind": "update_field", "params": {"field": "job_title", "value": "Khách quen"},
         "next": "pause"},
        {"step_id": "pause", "kind": "wait", "duration": "2", "duration_unit": "hours", "params": {}, "next": "vip"},
        {"step_id": "vip", "kind": "branch", "params": graph["steps"]["vip"]["params"]},
        {"step_id": "tag_vip", "kind": "tag", "params": {"add": ["vip-nurtured"]}},
        {"step_id": "tag_rest", "kind": "tag", "params": {"add": ["nurtured"]}},
    ]  # fmt: skip
    assert client_for(users["admin"]).post(f"/automation/{wf.pk}/edit/", editor_post(wf.name, steps)).status_code == 302
    saved = Workflow.objects.get(pk=wf.pk).current_version.graph  # type: ignore[union-attr]
    assert saved["steps"]["pause"]["params"]["seconds"] == 7200 and saved["steps"]["pause"]["label"] == "Chờ một giờ"
    assert saved["goal"]["conditions"][0]["tags"] == ["won"] and saved["exit"]["conditions"][0]["tags"] == [
        "unsubscribed"
    ]
