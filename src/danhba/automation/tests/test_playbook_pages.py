"""The playbook gallery (/automation/playbooks/) and its API: what each playbook makes, install
as a draft (twice: a second copy), roles, Vietnamese, and 4xx JSON for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.tests.test_api import api_for  # noqa: F401  (the API client fixture)

pytestmark = pytest.mark.django_db


def test_the_gallery_installs_a_draft_and_a_second_copy(users: Any, client_for: Any) -> None:
    client = client_for(users["marketing"])
    page = client.get("/automation/playbooks/").content.decode()
    assert page.count('class="panel playbook"') == 6
    assert "New subscriber → welcome series" in page and "Cảm ơn bạn đã đăng ký! · Thanks for subscribing!" in page
    # No score model with a "hot" grade: the hot-lead card says what it needs and cannot be installed.
    assert "Needs a score model" in page
    answer = client.post("/automation/playbooks/welcome/install/")
    first = Workflow.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/automation/{first.pk}/"
    assert first.status == "draft" and first.trigger["kind"] == "subscribed"
    assert "review its steps and emails" in client.get(answer["Location"]).content.decode()
    client.post("/automation/playbooks/welcome/install/")
    assert sorted(Workflow.objects.values_list("name", flat=True)) == [
        "New subscriber → welcome series", "New subscriber → welcome series (2)"
    ]  # fmt: skip
    answer = client.post("/automation/playbooks/hot_lead/install/", follow=True)
    assert "Needs a score model" in answer.content.decode() and Workflow.objects.count() == 2
    assert client.post("/automation/playbooks/nothing/install/").status_code == 404


def test_the_gallery_in_vietnamese_and_by_role(users: Any, client_for: Any) -> None:
    support = users["support"]
    support.language = "vi"
    support.save(update_fields=["language"])
    client = client_for(support)
    page = client.get("/automation/playbooks/").content.decode()
    assert "Người đăng ký mới → chuỗi chào mừng" in page and "Cài đặt dạng nháp" not in page
    assert client.post("/automation/playbooks/welcome/install/").status_code == 403
    admin = users["admin"]
    admin.language = "vi"
    admin.save(update_fields=["language"])
    assert "Cài đặt dạng nháp" in client_for(admin).get("/automation/playbooks/").content.decode()
    assert not Workflow.objects.exists()


def test_the_api_lists_and_installs(users: Any, api_for: Any) -> None:  # noqa: F811
    from danhba.conftest import actor_for
    from danhba.scoring.services.models import score_model_create

    api = api_for(users["marketing"])
    items = api.get("/playbooks").json()["items"]
    assert [i["key"] for i in items] == ["hot_lead", "lost_deal", "stuck_lead", "welcome", "role_nurture", "retention"]
    lost = items[1]
    assert lost["trigger"] == {"kind": "deal_lost", "reasons": []} and len(lost["emails"]) == 5
    assert items[0]["missing"] and not lost["missing"]
    answer = api.send("POST", "/playbooks/lost_deal/install")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["workflow"]["status"] == "draft" and len(body["templates"]) == 5
    assert body["workflow"]["graph"]["steps"]["price_offer"]["params"]["template"] in body["templates"]
    assert api.send("POST", "/playbooks/lost_deal/install").json()["workflow"]["name"].endswith("(2)")
    assert api.send("POST", "/playbooks/hot_lead/install").status_code == 409
    model = score_model_create(actor=actor_for(users["admin"]), data={"name": "Tương tác"})
    assert api.send("POST", "/playbooks/hot_lead/install", {"score_model": "x"}).status_code == 422
    done = api.send("POST", "/playbooks/hot_lead/install", {"score_model": model.pk})
    assert done.status_code == 201 and done.json()["workflow"]["trigger"]["model"] == model.pk
    assert api.send("POST", "/playbooks/nothing/install").status_code == 404
    assert api.send("POST", "/playbooks/BAD!/install").status_code in (404, 422)
    sales = api_for(users["sales"])
    assert sales.send("POST", "/playbooks/welcome/install").status_code == 403
