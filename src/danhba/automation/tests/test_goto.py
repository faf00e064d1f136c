"""Where a step goes next ("then", a wait's time-out, a branch's arms and "otherwise") is chosen
from the workflow's steps, labelled as the diagram names them, with "end the path"; a step that
is not there is refused with a clear message on the pages (the form again, 422) and the API."""

from __future__ import annotations

import re
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services.workflows import workflow_create
from danhba.automation.tests.conftest import form_data, three_steps
from danhba.automation.tests.test_api import api_for  # noqa: F401
from danhba.automation.tests.test_views import editor_post
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


def _options(html: str, name: str) -> list[tuple[str, str]]:
    """The (value, text) options of the select called ``name``."""
    found = re.search(rf'<select[^>]* name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert found, name
    return [(v, t.strip()) for v, t in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', found.group(1))]


def test_every_go_to_of_the_editor_is_a_select_of_the_steps(users: Any, client_for: Any) -> None:
    marketer = users["marketing"]
    graph = three_steps()
    graph["steps"]["tag_vip"]["label"] = "Gắn thẻ VIP"
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc", "graph": graph})
    html = client_for(marketer).get(f"/automation/{wf.pk}/edit/").content.decode()
    expected = [
        ("", "— end the path —"), ("title", "Update a field (title)"), ("pause", "Wait (pause)"),
        ("vip", "If / else (vip)"), ("tag_vip", "Gắn thẻ VIP (tag_vip)"), ("tag_rest", "Add or remove tags (tag_rest)"),
    ]  # fmt: skip
    assert _options(html, "steps-0-next") == expected
    assert _options(html, "steps-2-branch-branches-0-next") == expected
    assert _options(html, "steps-2-branch-otherwise") == expected
    assert _options(html, "steps-0-wait_event-timeout_next") == expected
    data = form_data(html)
    assert (data["steps-0-next"], data["steps-1-next"], data["steps-3-next"]) == ("pause", "vip", "")
    assert data["steps-2-branch-branches-0-next"] == "tag_vip" and data["steps-2-branch-otherwise"] == "tag_rest"


def test_a_go_to_naming_no_step_is_refused_beside_its_field(users: Any, client_for: Any) -> None:
    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc", "graph": three_steps()})
    client = client_for(marketer)
    data = form_data(client.get(f"/automation/{wf.pk}/edit/").content.decode())
    for name in ("steps-0-next", "steps-2-branch-otherwise", "steps-2-branch-branches-0-next"):
        answer = client.post(f"/automation/{wf.pk}/edit/", {**data, name: "nowhere"})
        assert answer.status_code == 422, name
        assert "No step called nowhere." in answer.content.decode(), name
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 1


def test_a_step_added_on_the_page_can_be_chosen_before_it_is_saved(users: Any, client_for: Any) -> None:
    """The choices are the rows posted: a new step (and a renamed one) counts, without JavaScript
    after "Show its settings"."""
    client = client_for(users["marketing"])
    steps = [
        {"step_id": "hello", "kind": "tag", "params": {"add": ["xin chào"]}, "next": "bye"},
        {"step_id": "bye", "kind": "tag", "params": {"add": ["tạm biệt"]}, "next": ""},
    ]
    shown = client.post("/automation/new/", editor_post("Mới", steps, refresh="0"))
    assert shown.status_code == 200
    assert ("bye", "Add or remove tags (bye)") in _options(shown.content.decode(), "steps-0-next")
    assert client.post("/automation/new/", editor_post("Mới", steps)).status_code == 302
    assert Workflow.objects.get(name="Mới").current_version.graph["steps"]["hello"]["next"] == "bye"


def test_the_condition_page_chooses_the_branch_next_step_and_refuses_another(users: Any, client_for: Any) -> None:
    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc", "graph": three_steps()})
    client = client_for(marketer)
    html = client.get(f"/automation/{wf.pk}/condition/?at=vip.0").content.decode()
    assert ("tag_vip", "Add or remove tags (tag_vip)") in _options(html, "next")
    posted = {"n__op": "all", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "vip", "label": "VIP",
              "next": "nowhere", "action": "save"}  # fmt: skip
    refused = client.post(f"/automation/{wf.pk}/condition/?at=vip.0", posted)
    assert refused.status_code == 422 and "No step called nowhere." in refused.content.decode()
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.0", {**posted, "next": "tag_rest"}).status_code == 302


@pytest.mark.parametrize("where", ["next", "timeout_next", "arm", "otherwise"])
def test_the_api_refuses_a_go_to_naming_no_step(users: Any, api_for: Any, where: str) -> None:  # noqa: F811
    graph = three_steps()
    steps = graph["steps"]
    if where == "next":
        steps["title"]["next"] = "nowhere"
    elif where == "timeout_next":
        steps["pause"] = {"kind": "wait_event", "params": {"event": "Paid", "timeout_seconds": 60,
                                                           "timeout_next": "nowhere"}, "next": "vip"}  # fmt: skip
    elif where == "arm":
        steps["vip"]["params"]["branches"][0]["next"] = "nowhere"
    else:
        steps["vip"]["params"]["otherwise"] = "nowhere"
    answer = api_for(users["marketing"]).send("POST", "/workflows", {"name": "Sai", "graph": graph})
    assert answer.status_code == 422, answer.content
    assert "No step called nowhere." in answer.content.decode()
    assert not Workflow.objects.exists()
