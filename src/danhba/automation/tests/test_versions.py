"""Versions of a live workflow: a saved branch's condition edited in the builder goes into the
editor's draft (nothing changes for contacts under way until Save publishes it), steps made from
an older version than the current one are refused (two editors), and the rule for contacts under
way at publishing: finish their version, move to the same step, or move to a chosen step."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Enrolment, Workflow
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.services.workflows import workflow_update
from danhba.automation.tests.conftest import HOUR, T0, tag_is
from danhba.automation.tests.test_api import api_for  # noqa: F401  (the API client fixture)
from danhba.automation.tests.test_views import editor_post
from danhba.conftest import actor_for
from danhba.core.errors import Conflict, InvalidInput

pytestmark = pytest.mark.django_db

BRANCH = {
    "start": "pause",
    "steps": {
        "pause": {"kind": "wait", "params": {"seconds": 3600}, "next": "vip"},
        "vip": {
            "kind": "branch",
            "params": {"branches": [{"condition": tag_is("vip"), "next": "tag_vip"}], "otherwise": "tag_rest"},
        },
        "tag_vip": {"kind": "tag", "params": {"add": ["vip-nurtured"]}},
        "tag_rest": {"kind": "tag", "params": {"add": ["nurtured"]}},
    },
}
# The editor's rows of BRANCH (a branch row names its arms; the conditions stay in the draft).
ROWS = [
    {"step_id": "pause", "kind": "wait", "params": {"seconds": 3600}, "next": "vip"},
    {"step_id": "vip", "kind": "branch", "params": {"branches": [{"next": "tag_vip"}], "otherwise": "tag_rest"}},
    {"step_id": "tag_vip", "kind": "tag", "params": {"add": ["vip-nurtured"]}, "next": ""},
    {"step_id": "tag_rest", "kind": "tag", "params": {"add": ["nurtured"]}, "next": ""},
]
GOLD_ARM = {"n__op": "all", "n-0__kind": "tag", "n-0__operator": "any", "n-0__tags": "gold", "label": "",
            "next": "tag_vip", "action": "save"}  # fmt: skip


def tags(contact: Any) -> set[str]:
    return set(contact.tags.values_list("name", flat=True))


def test_a_saved_condition_edited_changes_nothing_until_the_editor_saves(
    users: Any, client_for: Any, make_workflow: Any, make_contact: Any
) -> None:
    wf = make_workflow(graph=BRANCH, name="Phân nhánh")
    vip = make_contact(full_name="Bích", tags=["vip"])
    enrol_manual(actor=actor_for(users["admin"]), workflow=wf, contact_ids=[vip.pk], now=T0)
    engine.run_due(now=T0)
    client = client_for(users["marketing"])
    kept = client.post(f"/automation/{wf.pk}/condition/?at=vip.0", GOLD_ARM)
    assert kept.status_code == 302 and kept["Location"] == f"/automation/{wf.pk}/edit/?draft=1"
    assert Workflow.objects.get(pk=wf.pk).current_version.number == 1
    editor = client.get(kept["Location"]).content.decode()
    assert "tag is “gold”" in editor and "published only when you save" in editor
    # The contact under way reaches the branch: it still reads "vip", the published condition.
    engine.run_due(now=T0 + HOUR)
    assert "vip-nurtured" in tags(vip)
    saved = client.post(f"/automation/{wf.pk}/edit/?draft=1", editor_post("Phân nhánh", ROWS))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    version = Workflow.objects.get(pk=wf.pk).current_version
    assert version.number == 2
    assert version.graph["steps"]["vip"]["params"]["branches"][0]["condition"] == tag_is("gold")
    # Cancel in the builder keeps nothing: a fresh editor shows the published condition.
    assert "tag is “gold”" in client.get(f"/automation/{wf.pk}/edit/").content.decode()


def test_steps_made_from_an_older_version_are_refused(
    users: Any,
    client_for: Any,
    api_for: Any,  # noqa: F811
    make_workflow: Any,
) -> None:
    wf = make_workflow(graph=BRANCH, name="Hai người sửa")
    first = client_for(users["marketing"])
    page = first.get(f"/automation/{wf.pk}/edit/").content.decode()
    assert 'name="base_version" value="1"' in page
    # A builder draft begun from version 1 …
    first.post(f"/automation/{wf.pk}/condition/?at=vip.0", GOLD_ARM)
    # … while another editor publishes version 2.
    other = [{**ROWS[0], "params": {"seconds": 7200}}, *ROWS[1:]]
    workflow_update(actor=actor_for(users["admin"]), workflow=wf, data={"graph": _graph(other)}, base_version=1)
    refused = first.post(f"/automation/{wf.pk}/edit/?draft=1", editor_post("Hai người sửa", ROWS))
    assert refused.status_code == 422
    assert "Version 2 was published after you opened version 1" in refused.content.decode()
    current = Workflow.objects.get(pk=wf.pk).current_version
    assert current.number == 2 and current.graph["steps"]["pause"]["params"]["seconds"] == 7200
    # The plain editor posts the version it showed.
    stale = first.post(f"/automation/{wf.pk}/edit/", editor_post("Hai người sửa", ROWS, base_version="1"))
    assert stale.status_code == 422 and Workflow.objects.get(pk=wf.pk).current_version.number == 2
    # The page shown again still says the steps come from version 1: Save again is refused again.
    assert 'name="base_version" value="1"' in stale.content.decode()
    again = first.post(f"/automation/{wf.pk}/edit/", editor_post("Hai người sửa", ROWS, base_version="1"))
    assert again.status_code == 422 and Workflow.objects.get(pk=wf.pk).current_version.number == 2
    # The API: 409 with base_version 1, published with 2.
    api = api_for(users["marketing"])
    answer = api.send("PATCH", f"/workflows/{wf.pk}", {"graph": BRANCH, "base_version": 1})
    assert answer.status_code == 409 and "Version 2" in answer.json()["message"]
    assert api.send("PATCH", f"/workflows/{wf.pk}", {"graph": BRANCH, "base_version": 2}).json()["version"] == 3


def _graph(rows: list[dict[str, Any]]) -> dict[str, Any]:
    graph = {"start": rows[0]["step_id"], "steps": {}}
    for row in rows:
        graph["steps"][row["step_id"]] = {"kind": row["kind"], "params": row["params"], "next": row.get("next", "")}
    graph["steps"]["vip"] = BRANCH["steps"]["vip"]
    return graph


V1 = {
    "start": "first",
    "steps": {
        "first": {"kind": "tag", "params": {"add": ["seen"]}, "next": "w"},
        "w": {"kind": "wait", "params": {"seconds": 3600}, "next": "t"},
        "t": {"kind": "tag", "params": {"add": ["v1"]}},
    },
}
# Version 2 has no step "first"; its "w" is a wait too; "t" tags v2.
V2 = {
    "start": "w",
    "steps": {
        "w": {"kind": "wait", "params": {"seconds": 3600}, "next": "t"},
        "t": {"kind": "tag", "params": {"add": ["v2"]}},
    },
}


def _two_under_way(admin: Any, make_workflow: Any, make_contact: Any) -> tuple[Workflow, Any, Any]:
    """One contact waiting at "w" (due T0 + 1 h), one not started (at "first")."""
    wf = make_workflow(graph=V1)
    waiting, new = make_contact(full_name="Đang chờ"), make_contact(full_name="Mới vào")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[waiting.pk], now=T0)
    engine.run_due(now=T0)
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[new.pk], now=T0 + HOUR)
    return wf, waiting, new


def _walk(until: Any) -> None:
    moment = T0
    while moment <= until:
        engine.run_due(now=moment)
        moment += HOUR


@pytest.mark.parametrize(
    ("rule", "waiting_tags", "new_tags"),
    [
        # Both finish version 1.
        ({"rule": "keep"}, {"v1"}, {"seen", "v1"}),
        # The waiting one goes on waiting at version 2's "w" then tags v2; the new one is at
        # "first", which version 2 does not have: it finishes version 1.
        ({"rule": "same_step"}, {"v2"}, {"seen", "v1"}),
        # Both run version 2's "t" now.
        ({"rule": "to_step", "step": "t"}, {"v2"}, {"v2"}),
    ],
)
def test_the_rule_for_contacts_under_way(
    admin: Any, make_workflow: Any, make_contact: Any, rule: dict[str, str], waiting_tags: set[str],
    new_tags: set[str],
) -> None:  # fmt: skip
    wf, waiting, new = _two_under_way(admin, make_workflow, make_contact)
    before = Enrolment.objects.get(contact=waiting)
    workflow_update(actor=actor_for(admin), workflow=wf, data={"graph": V2}, move=rule)
    moved = Enrolment.objects.get(contact=waiting)
    if rule["rule"] == "same_step":  # the same kind of step: its wait is kept
        assert (moved.version.number, moved.step, moved.due_at) == (2, "w", before.due_at)
    _walk(T0 + 3 * HOUR)
    assert tags(waiting) - {"seen"} == waiting_tags
    assert tags(new) == new_tags
    assert set(Enrolment.objects.filter(workflow=wf).values_list("status", flat=True)) == {"completed"}
    # Each path has every step once: nothing run twice by the move.
    path = list(moved.runs.order_by("seq").values_list("seq", flat=True))
    assert path == list(range(len(path)))


def test_a_move_rule_is_checked(
    admin: Any,
    api_for: Any,  # noqa: F811
    users: Any,
    make_workflow: Any,
    make_contact: Any,
) -> None:
    wf, _waiting, _new = _two_under_way(admin, make_workflow, make_contact)
    with pytest.raises(InvalidInput) as bad:
        workflow_update(actor=actor_for(admin), workflow=wf, data={"graph": V2}, move={"rule": "to_step", "step": "x"})
    assert "move.step" in bad.value.details
    with pytest.raises(Conflict):
        workflow_update(actor=actor_for(admin), workflow=wf, data={"graph": V2}, base_version=0)
    api = api_for(users["marketing"])
    answer = api.send("PATCH", f"/workflows/{wf.pk}", {"graph": V2, "move": {"rule": "sideways"}})
    assert answer.status_code == 422
    done = api.send("PATCH", f"/workflows/{wf.pk}", {"graph": V2, "move": {"rule": "to_step", "step": "t"}})
    assert done.status_code == 200 and done.json()["version"] == 2
    assert set(Enrolment.objects.filter(workflow=wf).values_list("version__number", "step")) == {(2, "t")}


def test_the_editor_states_the_rule_and_applies_it(
    users: Any, client_for: Any, make_workflow: Any, make_contact: Any
) -> None:
    wf, waiting, new = _two_under_way(users["admin"], make_workflow, make_contact)
    client = client_for(users["marketing"])
    page = client.get(f"/automation/{wf.pk}/edit/").content.decode()
    assert "2 contacts are under way" in page and "finish the version they started" in page
    assert "contacts at a step the new version no longer has finish the version they started" in page
    rows = [
        {"step_id": "w", "kind": "wait", "params": {"seconds": 3600}, "next": "t"},
        {"step_id": "t", "kind": "tag", "params": {"add": ["v2"]}, "next": ""},
    ]
    post = editor_post(wf.name, rows, base_version="1", move_rule="same_step")
    assert client.post(f"/automation/{wf.pk}/edit/", post).status_code == 302
    assert Enrolment.objects.get(contact=waiting).version.number == 2
    assert Enrolment.objects.get(contact=new).version.number == 1
    users["marketing"].language = "vi"
    users["marketing"].save(update_fields=["language"])
    page = client_for(users["marketing"]).get(f"/automation/{wf.pk}/edit/").content.decode()
    assert "2 liên hệ đang đi dở" in page
