"""The automation REST API through HTTP: workflows, versions, enrolments and paths, a contact's
enrolments, kinds; permissions; bad payloads are 4xx JSON, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.automation.services import engine
from danhba.automation.tests.conftest import T0, three_steps
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/automation{path}", params, headers=self.headers)

    def send(self, method: str, path: str, data: Any = None, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data)
        return self.client.generic(
            method, f"/api/automation{path}", body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def api_for(client: Any) -> Any:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


def test_a_workflow_from_creation_to_a_contacts_path(users: Any, api_for: Any, make_contact: Any) -> None:
    api = api_for(users["marketing"])
    made = api.send("POST", "/workflows", {"name": "Chào mừng", "graph": three_steps()})
    assert made.status_code == 201, made.json()
    wf = made.json()
    assert wf["version"] == 1 and wf["status"] == "draft"
    assert api.send("POST", f"/workflows/{wf['id']}/status", {"status": "active"}).json()["status"] == "active"
    contact = make_contact(tags=["vip"])
    answer = api.send("POST", f"/workflows/{wf['id']}/enrolments", {"contact_ids": [contact.pk, str(contact.pk)]})
    assert answer.json() == {"enrolled": 1}
    engine.run_due(now=T0)
    page = api.get(f"/workflows/{wf['id']}/enrolments").json()
    assert [e["contact_id"] for e in page["items"]] == [contact.pk]
    one = api.get(f"/enrolments/{page['items'][0]['id']}").json()
    assert [(r["step"], r["outcome"]) for r in one["path"]] == [("title", "done"), ("pause", "waiting")]
    mine = api.get(f"/contacts/{contact.pk}/enrolments").json()
    assert mine["items"][0]["step"] == "pause"
    versions = api.get(f"/workflows/{wf['id']}/versions").json()["items"]
    assert versions[0]["step_counts"]["pause"] == {"waiting": 1, "at": 1, "entered": 1}
    # A new graph is version 2.
    changed = three_steps(wait=60)
    assert api.send("PATCH", f"/workflows/{wf['id']}", {"graph": changed}).json()["version"] == 2
    cancelled = api.send("POST", f"/enrolments/{one['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert api.send("POST", f"/enrolments/{one['id']}/cancel").status_code == 409
    kinds = api.get("/kinds").json()
    assert {"update_field", "wait", "branch", "tag", "webhook"} <= {k["key"] for k in kinds["steps"]}
    assert "segment_entered" in {k["key"] for k in kinds["triggers"]}


def test_roles(users: Any, api_for: Any) -> None:
    made = api_for(users["admin"]).send("POST", "/workflows", {"name": "A", "graph": three_steps()}).json()
    sales = api_for(users["sales"])
    assert sales.get("/workflows").status_code == 200
    assert sales.get(f"/workflows/{made['id']}").json()["name"] == "A"
    assert sales.send("POST", "/workflows", {"name": "B"}).status_code == 403
    assert sales.send("PATCH", f"/workflows/{made['id']}", {"name": "C"}).status_code == 403
    assert sales.send("POST", f"/workflows/{made['id']}/enrolments", {"contact_ids": [1]}).status_code == 403


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "nope"}}}},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "tag", "params": {}}}}},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "tag", "params": {"add": ["t"]}, "next": "a"}}}},
        {"name": "x", "graph": {"start": "b", "steps": {"a": {"kind": "wait", "params": {"seconds": 1}}}}},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "wait", "params": {"seconds": -1}}}}},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "wait"}, "z": {"kind": "wait"}}}},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "update_field", "params": {"field": "x"}}}}},
        {"name": "x", "graph": "steps"},
        {"name": "x", "graph": {"start": "a", "steps": {}}},
        {"name": "x", "trigger": {"kind": "segment_entered", "segment": 99999}},
        {"name": "x", "trigger": {"kind": "event"}},
        {"name": "x", "window": {"days": [7], "start": "25:00"}},
        {"name": "x", "window": {"tz": "Mars/Olympus"}},
        {"name": "", "graph": None},
        {"name": "x", "reenrol": "twice"},
        {"name": "x", "graph": {"start": "a", "steps": {"a": {"kind": "branch", "params": {"branches": [
            {"condition": {"op": "all", "conditions": [{"kind": "field", "field": "nope"}]}}]}}}}},
    ],
)  # fmt: skip
def test_bad_workflows_are_422(users: Any, api_for: Any, payload: dict[str, Any]) -> None:
    answer = api_for(users["admin"]).send("POST", "/workflows", payload)
    assert answer.status_code == 422, answer.content
    assert answer.json()["code"] == "invalid"


def test_bad_requests_are_4xx(users: Any, api_for: Any, make_workflow: Any) -> None:
    api = api_for(users["admin"])
    wf = make_workflow()
    for method, path, body in [
        ("POST", f"/workflows/{wf.pk}/enrolments", {"contact_ids": ["²", -1, 1.5, None]}),
        ("POST", f"/workflows/{wf.pk}/enrolments", {"contact_ids": [99999999]}),
        ("POST", f"/workflows/{wf.pk}/enrolments", {"contact_ids": []}),
        ("POST", f"/workflows/{wf.pk}/status", {"status": "gone"}),
        ("POST", f"/workflows/{wf.pk}/status", {"status": "draft"}),
        ("GET", "/workflows/99999999", None),
        ("GET", "/workflows/0", None),
        ("GET", "/enrolments/12", None),
        ("GET", "/contacts/12/enrolments", None),
        ("PATCH", f"/workflows/{wf.pk}", {"graph": {"start": 1}}),
    ]:
        answer = api.send(method, path, body) if method != "GET" else api.get(path)
        assert 400 <= answer.status_code < 500, (path, body, answer.content)
    assert api.get("/workflows", cursor="²").status_code == 200
