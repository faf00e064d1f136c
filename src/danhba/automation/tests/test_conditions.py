"""A workflow's conditions (a branch's arms, the goal, the exit) in the segments' condition
builder instead of raw JSON, and the author's field permissions: a branch on a field their role
may not read is refused, on the pages and through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services.workflows import workflow_create
from danhba.automation.tests.conftest import tag_is, three_steps
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
    # The branch row's settings name the arms, not their conditions.
    assert '"condition"' not in page.split('name="steps-2-params"')[1].split("</textarea>")[0].replace("&quot;", '"')
    from danhba.automation.forms import steps_initial
    from danhba.automation.tests.test_views import editor_post

    rows = steps_initial(wf.current_version.graph)
    steps = [{**r, "params": json.loads(r.get("params") or "{}")} for r in rows]
    for step in steps:
        if "duration" in step:
            step["params"]["seconds"] = step.pop("duration") * 3600
            step.pop("duration_unit")
    steps[0]["params"]["value"] = "Khách thân"  # change another step
    answer = client.post(f"/automation/{wf.pk}/edit/", editor_post("Chăm sóc", steps))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    graph = Workflow.objects.get(pk=wf.pk).current_version.graph
    assert graph["steps"]["vip"]["params"]["branches"][0]["condition"] == tag_is("vip")
    assert graph["steps"]["title"]["params"]["value"] == "Khách thân"


def test_the_condition_builder_edits_adds_and_removes_branches(users: Any, client_for: Any) -> None:
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
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.0", posted).status_code == 302
    arm = Workflow.objects.get(pk=wf.pk).current_version.graph["steps"]["vip"]["params"]["branches"][0]
    assert arm["label"] == "Khách thân" and arm["condition"]["op"] == "any"
    assert arm["condition"]["conditions"][0]["tags"] == ["vip", "khách quen"]
    # A second branch, on a field marketing reads.
    second = {"n__op": "all", "n-0__kind": "field", "n-0__field": "gender", "n-0__operator": "eq",
              "n-0__value": "female", "label": "Nữ", "next": "tag_rest", "action": "save"}  # fmt: skip
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.new", second).status_code == 302
    graph = Workflow.objects.get(pk=wf.pk).current_version.graph
    assert [a["label"] for a in graph["steps"]["vip"]["params"]["branches"]] == ["Khách thân", "Nữ"]
    # One on income band (not readable by marketing) is refused; the version stays.
    hidden = {**second, "n-0__field": "income_band", "n-0__value": "cao"}
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.1", hidden).status_code == 422
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 3
    assert client.post(f"/automation/{wf.pk}/condition/?at=vip.1", {"action": "delete"}).status_code == 302
    graph = Workflow.objects.get(pk=wf.pk).current_version.graph
    assert len(graph["steps"]["vip"]["params"]["branches"]) == 1
    # The goal, in the same builder.
    goal = {"n__op": "all", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "đã mua", "action": "save"}
    assert client.post(f"/automation/{wf.pk}/condition/?at=goal", goal).status_code == 302
    assert Workflow.objects.get(pk=wf.pk).current_version.graph["goal"]["conditions"][0]["tags"] == ["đã mua"]
    assert client.get(f"/automation/{wf.pk}/condition/?at=nope.0").status_code == 404
    assert client_for(users["sales"]).get(f"/automation/{wf.pk}/condition/?at=vip.0").status_code == 403
