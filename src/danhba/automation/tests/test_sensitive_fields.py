"""A role builds workflows only on the contact fields it may see: the editor does not offer a
sensitive field the role is not granted, and saving a step that sets one, or a trigger that
watches one, is refused (403) — in the editor and through the API. What an allowed role put in
stays when someone else edits the rest of the workflow."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.core.errors import PermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(make_user: Any) -> Any:
    """A workflow editor whose role sees no sensitive field."""
    from danhba.accounts.models import Role

    Role.objects.create(
        key="flows", name="Workflow editor", record_scope="all", sensitive_fields=[],
        permissions={"workflow": ["view", "create", "edit"], "contact": ["view"]},
    )  # fmt: skip
    return make_user("flows")


@pytest.fixture
def secret(db: Any) -> Any:
    from danhba.contacts.models import CustomField

    return CustomField.objects.create(key="cccd", label="Số CCCD", type="text", is_sensitive=True)


def _set(field: str, value: Any) -> dict[str, Any]:
    return {"start": "a", "steps": {"a": {"kind": "update_field", "params": {"field": field, "value": value}}}}


@pytest.mark.parametrize(
    "data",
    [
        {"graph": _set("income_band", "high")},
        {"graph": _set("custom.cccd", "001099012345")},
        {"trigger": {"kind": "field_changed", "field": "family", "to": "married"}},
        {"trigger": {"kind": "date", "field": "birthday", "days": 0, "yearly": True}},
    ],
)
def test_a_role_cannot_build_on_a_field_it_may_not_see(editor: Any, secret: Any, data: dict[str, Any]) -> None:
    from danhba.automation.models import Workflow
    from danhba.automation.services.workflows import workflow_create

    with pytest.raises(PermissionDenied) as denied:
        workflow_create(actor=actor_for(editor), data={"name": "Nhạy cảm", **data})
    assert denied.value.details and all(v == ["not permitted for your role"] for v in denied.value.details.values())
    assert not Workflow.objects.exists()


def test_the_fields_it_sees_are_its_to_use(editor: Any, admin: Any, secret: Any) -> None:
    from danhba.automation.services.workflows import workflow_create

    mine = workflow_create(
        actor=actor_for(editor),
        data={"name": "Tỉnh", "graph": _set("province", "ha-noi"), "trigger": {"kind": "field_changed",
              "field": "lifecycle_stage"}},
    )  # fmt: skip
    assert mine.current_version.graph["steps"]["a"]["params"]["field"] == "province"
    # The admin's role sees every field.
    theirs = workflow_create(actor=actor_for(admin), data={"name": "CCCD", "graph": _set("custom.cccd", "0123")})
    assert theirs.current_version.graph["steps"]["a"]["params"]["field"] == "custom.cccd"


def test_a_step_kept_as_it_was_is_not_checked_again(editor: Any, admin: Any) -> None:
    from danhba.automation.services.workflows import workflow_create, workflow_update

    graph = _set("income_band", "high")
    graph["steps"]["a"]["next"] = "b"
    graph["steps"]["b"] = {"kind": "tag", "params": {"add": ["thu-nhap-cao"]}}
    kept = workflow_create(actor=actor_for(admin), data={"name": "Thu nhập", "graph": graph})
    graph["steps"]["b"]["params"]["add"] = ["thu-nhap-cao", "da-xem"]
    changed = workflow_update(actor=actor_for(editor), workflow=kept, data={"graph": graph})
    assert changed.current_version.graph["steps"]["b"]["params"]["add"] == ["thu-nhap-cao", "da-xem"]
    assert changed.current_version.graph["steps"]["a"]["params"]["field"] == "income_band"
    graph["steps"]["a"]["params"]["value"] = "low"
    with pytest.raises(PermissionDenied):
        workflow_update(actor=actor_for(editor), workflow=kept, data={"graph": graph})
    assert kept.versions.count() == 2


def test_the_editor_offers_only_the_fields_the_role_sees(client: Any, editor: Any, admin: Any, secret: Any) -> None:
    from django.urls import reverse

    client.force_login(editor)
    page = client.get(reverse("automation:create")).content.decode()
    assert 'value="province"' in page and 'value="job_title"' in page
    for hidden in ("income_band", "family", "birthday", "custom.cccd"):
        assert f'value="{hidden}"' not in page
    client.force_login(admin)
    page = client.get(reverse("automation:create")).content.decode()
    assert all(f'value="{f}"' in page for f in ("income_band", "family", "birthday", "custom.cccd"))


def test_the_api_answers_403_with_the_field(client: Any, editor: Any) -> None:
    from danhba.accounts.services import apikey_create
    from danhba.automation.tests.test_api import Api

    _key, raw = apikey_create(actor=actor_for(editor), user=editor, name="tests")
    answer = Api(client, raw).send("POST", "/workflows", {"name": "Sai", "graph": _set("gender", "female")})
    assert answer.status_code == 403, answer.content
    assert "graph.steps.a.params.field" in answer.json()["details"]
