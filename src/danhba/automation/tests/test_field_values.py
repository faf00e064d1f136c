"""An update-field step's value is asked and checked by the field's type: a select for a choice
(gender, lifecycle stage, owner, a custom choice), a date (day first in Vietnamese), a number, a
check box for yes/no, a text otherwise; a wrong value is refused when the workflow is saved (the
form again, or a 422 from the API), and the version keeps the typed value the engine writes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.http import QueryDict
from django.utils import translation

from danhba.automation.kinds import STEP_KINDS
from danhba.automation.models import Workflow
from danhba.automation.params_forms import ParamsForm
from danhba.automation.services import engine
from danhba.automation.tests.conftest import T0, form_data
from danhba.automation.tests.test_api import Api
from danhba.automation.tests.test_views import editor_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(users: Any, client: Any) -> Api:
    from danhba.accounts.services import apikey_create
    from danhba.conftest import actor_for

    marketer = users["marketing"]
    _key, raw = apikey_create(actor=actor_for(marketer), user=marketer, name="tests")
    return Api(client, raw)


@pytest.fixture
def custom(db: Any) -> dict[str, Any]:
    from danhba.contacts.models import CustomField

    return {
        "size": CustomField.objects.create(key="size", label="Quy mô", type="number"),
        "vip": CustomField.objects.create(key="vip", label="Khách VIP", type="boolean"),
        "plan": CustomField.objects.create(key="plan", label="Gói", type="choice", choices=["basic", "pro"]),
        "renewal": CustomField.objects.create(key="renewal", label="Gia hạn", type="date"),
        "must": CustomField.objects.create(key="must", label="Bắt buộc", type="text", required=True),
    }


def _value_input(field: str, value: Any = None) -> str:
    form = ParamsForm(STEP_KINDS.get("update_field"), prefix="s", previous={"field": field, "value": value})
    return str(form["value"])


def test_each_type_of_field_gets_its_input(custom: dict[str, Any], admin: Any) -> None:
    from danhba.contacts.models import LifecycleStage

    gender = _value_input("gender", "female")
    assert "<select" in gender and '<option value="female" selected>' in gender and 'value="male"' in gender
    stages = _value_input("lifecycle_stage")
    assert "<select" in stages and all(f'value="{s.key}"' in stages for s in LifecycleStage.objects.all())
    owner = _value_input("owner", admin.pk)
    assert "<select" in owner and f'<option value="{admin.pk}" selected>' in owner
    plan = _value_input("custom.plan", "pro")
    assert "<select" in plan and '<option value="pro" selected>' in plan
    assert 'type="number"' in _value_input("custom.size", 12) and 'value="12"' in _value_input("custom.size", 12)
    assert 'type="checkbox"' in _value_input("custom.vip", True) and "checked" in _value_input("custom.vip", True)
    assert 'value="1990-12-25"' in _value_input("birthday", "1990-12-25")
    with translation.override("vi"):
        date = _value_input("birthday", "1990-12-25")
        assert 'value="25/12/1990"' in date and 'placeholder="dd/mm/yyyy"' in date
    text = _value_input("job_title", "Giám đốc")
    assert 'type="text"' in text and 'value="Giám đốc"' in text


def _posted(field: str, value: str) -> ParamsForm:
    data = QueryDict(mutable=True)
    data.update({"s-shown": "1", "s-field": field, "s-value": value})
    return ParamsForm(STEP_KINDS.get("update_field"), prefix="s", data=data)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("birthday", "25/12/1990", "1990-12-25"), ("custom.size", "1500", 1500), ("custom.vip", "on", True),
     ("gender", "female", "female"), ("custom.plan", "pro", "pro"), ("job_title", "", None)],
)  # fmt: skip
def test_the_form_reads_the_value_by_its_type(custom: dict[str, Any], field: str, value: str, expected: Any) -> None:
    with translation.override("vi"):
        form = _posted(field, value)
        assert form.is_valid(), form.errors
    assert form.checked == {"field": field, "value": expected}


@pytest.mark.parametrize(
    ("field", "value"),
    [("birthday", "31/02/1990"), ("custom.size", "mười"), ("gender", "robot"), ("custom.plan", "gold"),
     ("lifecycle_stage", "nowhere")],
)  # fmt: skip
def test_a_wrong_value_is_refused_by_the_form(custom: dict[str, Any], field: str, value: str) -> None:
    assert not _posted(field, value).is_valid()


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [("birthday", "not a date", "birthday"), ("custom.size", "1,5", "Quy mô"), ("gender", "robot", "gender"),
     ("custom.plan", "gold", "Gói"), ("custom.nope", "x", "no such custom field"), ("custom.must", "", "Bắt buộc"),
     ("custom.must", "   ", "Bắt buộc"),
     ("custom.renewal", "32/13/2026", "Gia hạn"), ("owner", 999999, "owner"), ("job_title", {"a": 1}, "job_title"),
     ("job_title", ["a"], "job_title"), ("job_title", "x" * 121, "job_title")],
)  # fmt: skip
def test_the_api_refuses_a_value_the_field_would_refuse(
    api: Api,
    custom: dict[str, Any],
    field: str,
    value: Any,
    said: str,
) -> None:
    graph = {"start": "a", "steps": {"a": {"kind": "update_field", "params": {"field": field, "value": value}}}}
    answer = api.send("POST", "/workflows", {"name": "Sai", "graph": graph})
    assert answer.status_code == 422, answer.content
    assert said in json.dumps(answer.json(), ensure_ascii=False)
    assert not Workflow.objects.exists()


def test_a_stored_workflow_writes_the_typed_values(
    api: Api,
    custom: dict[str, Any],
    make_contact: Any,
) -> None:
    steps = {
        "a": {"kind": "update_field", "params": {"field": "birthday", "value": "25/12/1990"}, "next": "b"},
        "b": {"kind": "update_field", "params": {"field": "custom.size", "value": "1 500"}, "next": "c"},
        "c": {"kind": "update_field", "params": {"field": "custom.vip", "value": "có"}, "next": "d"},
        "d": {"kind": "update_field", "params": {"field": "custom.renewal", "value": "01/03/2027"}},
    }
    made = api.send("POST", "/workflows", {"name": "Kiểu", "graph": {"start": "a", "steps": steps}})
    assert made.status_code == 201, made.content
    kept = Workflow.objects.get().current_version.graph["steps"]
    assert [kept[s]["params"]["value"] for s in "abcd"] == ["1990-12-25", 1500, True, "2027-03-01"]
    assert api.send("POST", f"/workflows/{made.json()['id']}/status", {"status": "active"}).status_code == 200
    contact = make_contact(full_name="Lê Thu Hà", custom={"must": "có"})
    api.send("POST", f"/workflows/{made.json()['id']}/enrolments", {"contact_ids": [contact.pk]})
    engine.run_due(now=T0)
    contact.refresh_from_db()
    assert contact.birthday == dt.date(1990, 12, 25)
    assert contact.custom == {"must": "có", "size": 1500, "vip": True, "renewal": "2027-03-01"}


def test_without_javascript_the_value_follows_the_field_chosen(users: Any, client_for: Any) -> None:
    """The "Show its input" button posts the page back (nothing saved) with the value's input
    for the field chosen; then a wrong value is shown beside the form, a right one saved."""
    client = client_for(users["marketing"])
    steps = [{"step_id": "a", "kind": "update_field", "next": ""}]
    post = editor_post("Giới tính", steps, **{"steps-0-update_field-shown": "1",
                                             "steps-0-update_field-field": "job_title",
                                             "steps-0-update_field-value": "x"})  # fmt: skip
    page = client.get("/automation/new/").content.decode()
    assert 'data-value-input="/automation/value-input/?kind=update_field&amp;prefix=steps-0-update_field"' in page
    shown = client.post("/automation/new/", {**post, "steps-0-update_field-field": "gender", "refresh": "value"})
    assert shown.status_code == 200
    data = form_data(shown.content.decode())
    assert data["steps-0-update_field-field"] == "gender"
    assert '<select name="steps-0-update_field-value"' in shown.content.decode()
    assert not Workflow.objects.exists()
    refused = client.post("/automation/new/", {**data, "steps-0-update_field-value": "robot"})
    assert refused.status_code == 422
    saved = client.post("/automation/new/", {**data, "steps-0-update_field-value": "male"})
    assert saved.status_code == 302
    assert Workflow.objects.get().current_version.graph["steps"]["a"]["params"] == {"field": "gender", "value": "male"}


def test_the_value_input_endpoint(users: Any, client_for: Any, custom: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    url = "/automation/value-input/?kind=update_field&prefix=steps-2-update_field&field="
    answer = client.get(url + "custom.size")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'type="number"' in html and 'name="steps-2-update_field-value"' in html
    assert "<select" in client.get(url + "gender").content.decode()
    assert client.get("/automation/value-input/?kind=update_field&prefix=<b>").status_code == 404
    assert client.get("/automation/value-input/?kind=update_field&prefix=a%0A&field=gender").status_code == 404
    assert client.post(url + "gender").status_code == 405
    assert 'maxlength="120"' in client.get(url + "job_title").content.decode()
    assert client.get("/automation/value-input/?kind=tag&prefix=x").status_code == 404
    assert client_for(users["sales"]).get(url + "gender").status_code == 403


def test_the_editor_reads_a_fields_choices_once_for_every_step_that_sets_it(
    users: Any, client_for: Any, make_workflow: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def owner_steps(n: int) -> dict[str, Any]:
        ids = [f"s{i}" for i in range(n)]
        steps = {
            sid: {"kind": "update_field", "params": {"field": "owner", "value": None},
                  "next": ids[i + 1] if i + 1 < n else ""}
            for i, sid in enumerate(ids)
        }  # fmt: skip
        return {"start": "s0", "steps": steps}

    client = client_for(users["marketing"])
    counts = []
    for n in (1, 6):
        wf = make_workflow(owner_steps(n), active=False, name=f"Chủ {n}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/automation/{wf.pk}/edit/").status_code == 200
        counts.append(len([q for q in queries if "accounts_user" in q["sql"]]))
    assert counts[0] == counts[1], counts


def test_the_editor_in_vietnamese(users: Any, client_for: Any, make_workflow: Any) -> None:
    user = users["marketing"]
    user.language = "vi"
    user.save(update_fields=["language"])
    wf = make_workflow(active=False)
    page = client_for(user).get(f"/automation/{wf.pk}/edit/").content.decode()
    assert "— kết thúc lộ trình —" in page and "Hiện ô nhập giá trị" in page
    assert "Để trống thì trường bị xóa giá trị." in page
