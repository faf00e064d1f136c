"""A workflow's conditions (a branch's arms, the goal, the exit) in the segments' condition
builder instead of raw JSON, and the author's field permissions: a branch on a field their role
may not read is refused, on the pages and through the API."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services.workflows import workflow_create, workflow_set_status
from danhba.automation.tests.conftest import form_data, tag_is, three_steps
from danhba.automation.tests.test_api import api_for  # noqa: F401  (the API client fixture)
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


def field_is(field: str, value: str) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "field", "field": field, "operator": "eq", "value": value}]}


def with_branch_on(condition: dict[str, Any]) -> dict[str, Any]:
    graph = three_steps()
    graph["steps"]["vip"]["params"]["branches"][0]["condition"] = condition
    return graph


def test_a_branch_on_a_field_the_author_may_not_read_is_refused(
    users: Any,
    api_for: Any,  # noqa: F811
) -> None:
    marketer = users["marketing"]  # sees gender and birthday, not income band
    with pytest.raises(InvalidInput) as refused:
        workflow_create(
            actor=actor_for(marketer),
            data={"name": "Thu nhập", "graph": with_branch_on(field_is("income_band", "cao"))},
        )
    assert any(k.startswith("graph.steps.vip.params.branches.0.condition") for k in refused.value.details)
    ok = workflow_create(
        actor=actor_for(marketer), data={"name": "Giới tính", "graph": with_branch_on(field_is("gender", "female"))}
    )
    assert (
        ok.current_version.graph["steps"]["vip"]["params"]["branches"][0]["condition"]["conditions"][0]["field"]
        == "gender"
    )
    api = api_for(marketer)
    answer = api.send("PATCH", f"/workflows/{ok.pk}", {"graph": with_branch_on(field_is("income_band", "cao"))})
    assert answer.status_code == 422
    assert Workflow.objects.get(pk=ok.pk).current_version.number == 1
    # The admin sees every field: the same branch is accepted.
    assert workflow_create(
        actor=actor_for(users["admin"]),
        data={"name": "Thu nhập", "graph": with_branch_on(field_is("income_band", "cao"))},
    ).current_version


def test_the_editor_shows_branches_in_words_and_keeps_their_conditions(users: Any, client_for: Any) -> None:
    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc", "graph": three_steps()})
    client = client_for(marketer)
    page = client.get(f"/automation/{wf.pk}/edit/").content.decode()
    assert "tag is “vip”" in page and f"/automation/{wf.pk}/condition/?at=vip.0" in page
    # The branch row's fields name the arms and their next steps, not their conditions.
    data = form_data(page)
    assert data["steps-2-branch-branches-0-next"] == "tag_vip" and data["steps-2-branch-otherwise"] == "tag_rest"
    assert not [name for name in data if name.startswith("steps-2-branch-") and "condition" in name]
    data["steps-0-update_field-value"] = "Khách thân"  # change another step
    answer = client.post(f"/automation/{wf.pk}/edit/", data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    graph = Workflow.objects.get(pk=wf.pk).current_version.graph
    assert graph["steps"]["vip"]["params"]["branches"][0]["condition"] == tag_is("vip")
    assert graph["steps"]["title"]["params"]["value"] == "Khách thân"


def test_the_condition_builder_edits_adds_and_removes_branches(users: Any, client_for: Any) -> None:
    """A saved workflow's conditions are edited into the editor's draft, one after the other;
    only the editor's Save publishes them (a new version)."""
    from danhba.automation.tests.test_views import editor_post

    marketer = users["marketing"]
    wf = workflow_create(actor=actor_for(marketer), data={"name": "Chăm sóc", "graph": three_steps()})
    client = client_for(marketer)
    page = client.get(f"/automation/{wf.pk}/condition/?at=vip.0")
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        'name="n-0__kind"' in html and 'name="n-0__tags" value="vip"' in html and 'hx-post="/segments/builder/' in html
    )
    posted = {"n__op": "any", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "vip, khách quen",
              "label": "Khách thân", "next": "tag_vip", "action": "save"}  # fmt: skip
    kept = client.post(f"/automation/{wf.pk}/condition/?at=vip.0", posted)
    assert kept.status_code == 302 and kept["Location"] == f"/automation/{wf.pk}/edit/?draft=1"
    # A second branch, on a field marketing reads, in the same draft.
    second = {"n__op": "all", "n-0__kind": "field", "n-0__field": "gender", "n-0__operator": "eq",
              "n-0__value": "female", "label": "Nữ", "next": "tag_rest", "action": "save"}  # fmt: skip
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.new&draft=1", second).status_code == 302
    editor = client.get(f"/automation/{wf.pk}/edit/?draft=1").content.decode()
    assert "Khách thân" in editor and "Nữ" in editor
    # One on income band (not readable by marketing) is refused.
    hidden = {**second, "n-0__field": "income_band", "n-0__value": "cao"}
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.1&draft=1", hidden).status_code == 422
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.1&draft=1", {"action": "delete"}).status_code == 302
    # The goal, in the same builder.
    goal = {"n__op": "all", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "đã mua", "action": "save"}
    assert client.post(f"/automation/{wf.pk}/condition/?at=goal&draft=1", goal).status_code == 302
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 1  # nothing published yet
    rows = [
        {"step_id": "title", "kind": "update_field", "params": {"field": "job_title", "value": "Khách quen"},
         "next": "pause"},
        {"step_id": "pause", "kind": "wait", "params": {"seconds": 3600}, "next": "vip"},
        {"step_id": "vip", "kind": "branch", "params": {"branches": [{"next": "tag_vip", "label": "Khách thân"}],
         "otherwise": "tag_rest"}, "next": ""},
        {"step_id": "tag_vip", "kind": "tag", "params": {"add": ["vip-nurtured"]}, "next": ""},
        {"step_id": "tag_rest", "kind": "tag", "params": {"add": ["nurtured"]}, "next": ""},
    ]  # fmt: skip
    saved = client.post(f"/automation/{wf.pk}/edit/?draft=1", editor_post("Chăm sóc", rows))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    version = Workflow.objects.get(pk=wf.pk).current_version
    assert version.number == 2
    arms = version.graph["steps"]["vip"]["params"]["branches"]
    assert [a["label"] for a in arms] == ["Khách thân"] and arms[0]["condition"]["op"] == "any"
    assert arms[0]["condition"]["conditions"][0]["tags"] == ["vip", "khách quen"]
    assert version.graph["goal"]["conditions"][0]["tags"] == ["đã mua"]
    assert client.get(f"/automation/{wf.pk}/condition/?at=nope.0").status_code == 404
    assert client_for(users["sales"]).get(f"/automation/{wf.pk}/condition/?at=vip.0").status_code == 403


BRANCHING = [
    {"step_id": "title", "kind": "update_field", "params": {"field": "job_title", "value": "Khách"}, "next": "vip"},
    {"step_id": "vip", "kind": "branch", "params": {}, "next": ""},
    {"step_id": "tag_vip", "kind": "tag", "params": {"add": ["vip-nurtured"]}, "next": ""},
]
VIP_ARM = {"n__op": "all", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "vip", "label": "VIP",
           "next": "tag_vip", "action": "save"}  # fmt: skip


def test_a_new_branch_step_gets_its_condition_before_anything_is_saved(users: Any, client_for: Any) -> None:
    """A new workflow: the marketer adds an If / else step and edits its condition in the
    builder straight away; nothing exists until "Save", which publishes steps and condition."""
    from danhba.automation.tests.test_views import editor_post

    client = client_for(users["marketing"])
    assert 'name="edit_conditions"' in client.get("/automation/new/").content.decode()
    answer = client.post("/automation/new/", editor_post("Phân nhánh", BRANCHING, edit_conditions="1"))
    assert answer.status_code == 302 and answer["Location"] == "/automation/new/condition/?at=vip.0&draft=1"
    assert not Workflow.objects.filter(name="Phân nhánh").exists()
    builder = client.get(answer["Location"])
    assert builder.status_code == 200 and '<option value="tag_vip"' in builder.content.decode()
    kept = client.post(answer["Location"], VIP_ARM)
    assert kept.status_code == 302 and kept["Location"] == "/automation/new/?draft=1"
    editor = client.get(kept["Location"]).content.decode()
    assert "VIP: tag is “vip” → tag_vip" in editor and 'value="Phân nhánh"' in editor
    assert not Workflow.objects.filter(name="Phân nhánh").exists()
    # The editor's rows as the page shows them now (the arm named, its condition kept aside).
    rows = [*BRANCHING]
    rows[1] = {**rows[1], "params": {"branches": [{"next": "tag_vip", "label": "VIP"}], "otherwise": ""}}
    saved = client.post("/automation/new/?draft=1", editor_post("Phân nhánh", rows))
    assert saved.status_code == 302, saved.content.decode()[:3000]
    wf = Workflow.objects.get(name="Phân nhánh")
    arm = wf.current_version.graph["steps"]["vip"]["params"]["branches"][0]
    assert arm == {"condition": tag_is("vip"), "next": "tag_vip", "label": "VIP"}
    # The draft is gone: a fresh editor starts empty.
    assert "VIP: tag is" not in client.get("/automation/new/?draft=1").content.decode()


def test_a_branch_added_to_a_live_workflow_publishes_only_on_save(users: Any, client_for: Any) -> None:
    from danhba.automation.tests.test_views import editor_post

    marketer = users["marketing"]
    title = {k: v for k, v in BRANCHING[0].items() if k != "step_id"} | {"next": ""}
    wf = workflow_create(
        actor=actor_for(marketer), data={"name": "Sống", "graph": {"start": "title", "steps": {"title": title}}}
    )
    wf = workflow_set_status(actor=actor_for(marketer), workflow=wf, status=Workflow.Status.ACTIVE)
    client = client_for(marketer)
    rows = [*BRANCHING]
    # A row that is not a branch has no conditions to edit: said on the row, nothing kept.
    refused = client.post(f"/automation/{wf.pk}/edit/", editor_post("Sống", rows, edit_conditions="2"))
    assert refused.status_code == 422 and "choose “If / else”" in refused.content.decode()
    answer = client.post(f"/automation/{wf.pk}/edit/", editor_post("Sống", rows, edit_conditions="1"))
    assert answer["Location"] == f"/automation/{wf.pk}/condition/?at=vip.0&draft=1"
    assert client.post(answer["Location"], VIP_ARM)["Location"] == f"/automation/{wf.pk}/edit/?draft=1"
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 1  # nothing published yet
    rows[1] = {**rows[1], "params": {"branches": [{"next": "tag_vip", "label": "VIP"}]}}
    assert client.post(f"/automation/{wf.pk}/edit/?draft=1", editor_post("Sống", rows)).status_code == 302
    version = Workflow.objects.get(pk=wf.pk).current_version
    assert version.number == 2
    assert version.graph["steps"]["vip"]["params"]["branches"][0]["condition"] == tag_is("vip")
    # Without a draft in the session the builder's new-workflow page is not there.
    assert client_for(users["admin"]).get("/automation/new/condition/?at=vip.0&draft=1").status_code == 404
