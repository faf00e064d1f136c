"""The merge pages and API: what a user sees and can do, by role."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.quality.models import Merge, MergeSettings
from danhba.quality.services.merge import merge_contacts

pytestmark = pytest.mark.django_db


def test_merge_from_the_list_side_by_side_then_merged(admin: Any, make_contact: Any, client_for: Any) -> None:
    a = make_contact(full_name="Nguyễn Văn An", job_title="Kế toán", emails=["an@example.vn"])
    b = make_contact(full_name="Nguyen Van An", job_title="Giám đốc", emails=["an@gmail.com"])
    client = client_for(admin)
    assert "quality/merge/" in client.get("/contacts/").content.decode()
    # The list's bar posts the ticked ids: the page shows them side by side, nothing merged yet.
    page = client.post("/quality/merge/", {"ids": [a.pk, b.pk], "action": "add_tag"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Kế toán" in text and "Giám đốc" in text and "an@gmail.com" in text
    assert Contact.objects.filter(pk=b.pk).exists()
    # Keep a's job title although b's is more recent.
    done = client.post(
        "/quality/merge/", {"ids": [a.pk, b.pk], "survivor": a.pk, "pick.job_title": a.pk, "confirm": "1"}
    )
    merge = Merge.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/quality/merges/{merge.pk}/"
    a.refresh_from_db()
    assert a.job_title == "Kế toán"
    assert not Contact.objects.filter(pk=b.pk).exists()


def test_history_and_undo_from_the_page(admin: Any, make_contact: Any, client_for: Any) -> None:
    a, b = make_contact(full_name="A"), make_contact(full_name="Bình")
    merge = merge_contacts(actor_for(admin), a, [b])
    client = client_for(admin)
    listing = client.get("/quality/merges/").content.decode()
    assert "Bình" in listing and "Undo" in listing
    detail = client.get(f"/quality/merges/{merge.pk}/")
    assert detail.status_code == 200
    assert client.post(f"/quality/merges/{merge.pk}/undo").status_code == 302
    assert Contact.objects.filter(pk=b.pk).exists()


def test_roles_on_the_pages(users: dict[str, Any], make_contact: Any, client_for: Any) -> None:
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    merge = merge_contacts(actor_for(users["admin"]), a, [b])
    support = client_for(users["support"])
    assert support.get("/quality/merges/").status_code == 403
    assert support.post(f"/quality/merges/{merge.pk}/undo").status_code == 403
    analyst = client_for(users["analyst"])
    assert analyst.get("/quality/merges/").status_code == 200
    assert analyst.post(f"/quality/merges/{merge.pk}/undo").status_code == 403
    assert analyst.post("/quality/merge-settings/", {"default_rule": "survivor"}).status_code == 403


def test_rules_page_saves_and_refuses_bad_input(admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    assert client.get("/quality/merge-settings/").status_code == 200
    saved = client.post(
        "/quality/merge-settings/",
        {"default_rule": "survivor", "rule.job_title": "source", "rank.form": "1", "rank.order": "2"},
    )
    assert saved.status_code == 302
    settings = MergeSettings.current()
    assert settings.default_rule == "survivor" and settings.rules == {"job_title": "source"}
    assert settings.source_ranking[:2] == ["form", "order"]
    assert client.post("/quality/merge-settings/", {"default_rule": "oldest"}).status_code == 422


def test_api_preview_merge_list_undo(admin: Any, make_contact: Any, client_for: Any) -> None:
    a = make_contact(full_name="A", job_title="x")
    b = make_contact(full_name="B", job_title="y")
    client = client_for(admin)
    preview = client.post(
        "/api/quality/merges/preview", {"survivor": a.pk, "others": [b.pk]}, content_type="application/json"
    )
    assert preview.status_code == 200
    job = next(f for f in preview.json()["fields"] if f["field"] == "job_title")
    assert job["contact_id"] == b.pk
    made = client.post(
        "/api/quality/merges",
        {"survivor": a.pk, "others": [b.pk], "rules": {"job_title": a.pk}},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    merge_id = made.json()["id"]
    assert client.get(f"/api/quality/merges?contact={a.pk}").json()["items"][0]["id"] == merge_id
    assert client.post(f"/api/quality/merges/{merge_id}/undo").json()["status"] == "undone"
    assert client.post(f"/api/quality/merges/{merge_id}/undo").status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"survivor": 1, "others": []},
        {"survivor": "x", "others": [2]},
        {"survivor": 1, "others": [1]},
        {"survivor": 1, "others": [2], "rules": {"nope": "recent"}},
        {"survivor": 1, "others": [2], "rules": {"name": 99}},
    ],
)
def test_api_bad_merges_are_4xx(admin: Any, make_contact: Any, client_for: Any, body: dict[str, Any]) -> None:
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    body = {**body}
    if body.get("survivor") == 1:
        body["survivor"] = a.pk
    body["others"] = [b.pk if o == 2 else a.pk if o == 1 else o for o in body["others"]]
    response = client_for(admin).post("/api/quality/merges", body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert Contact.objects.count() == 2


def test_api_settings(admin: Any, users: dict[str, Any], client_for: Any) -> None:
    client = client_for(admin)
    ok = client.patch("/api/quality/merge-settings", {"rules": {"name": "source"}}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["rules"] == {"name": "source"}
    bad = client.patch("/api/quality/merge-settings", {"source_ranking": ["moon"]}, content_type="application/json")
    assert bad.status_code == 422
    marketing = client_for(users["marketing"])
    assert (
        marketing.patch("/api/quality/merge-settings", {"rules": {}}, content_type="application/json").status_code
        == 403
    )


def test_the_merge_pages_in_vietnamese(admin: Any, make_contact: Any, client_for: Any) -> None:
    a = make_contact(full_name="Nguyễn Văn An", birthday="1990-03-07")
    b = make_contact(full_name="Nguyen Van An")
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client = client_for(admin)
    page = client.get(f"/quality/merge/?ids={a.pk}&ids={b.pk}").content.decode()
    assert "Gộp liên hệ" in page and "07/03/1990" in page and "Giữ liên hệ này" in page
    merge = merge_contacts(actor_for(admin), a, [b])
    history = client.get("/quality/merges/").content.decode()
    assert "Lịch sử gộp" in history and "Hoàn tác" in history
    detail = client.get(f"/quality/merges/{merge.pk}/").content.decode()
    assert "Hoàn tác lần gộp này" in detail
    rules = client.get("/quality/merge-settings/").content.decode()
    assert "Nguồn tin cậy nhất" in rules


def test_a_merge_page_names_the_stage_it_changed(admin: Any, make_contact: Any, client_for: Any) -> None:
    from danhba.contacts.models import LifecycleStage

    stages = list(LifecycleStage.objects.order_by("position")[:2])
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    Contact.objects.filter(pk=b.pk).update(lifecycle_stage=stages[1])
    merge = merge_contacts(actor_for(admin), a, [b])
    page = client_for(admin).get(f"/quality/merges/{merge.pk}/").content.decode()
    assert str(stages[1]) in page


def test_the_preview_leaves_out_the_sensitive_fields_the_reader_may_not_see(
    admin: Any, users: Any, make_contact: Any, client_for: Any
) -> None:
    from danhba.contacts.services.fields import customfield_save

    salary = {"label": "Lương", "key": "salary", "type": "number", "is_sensitive": True}
    customfield_save(actor=actor_for(admin), field=None, data=salary)
    a = make_contact(full_name="Nguyễn Văn An", income_band="high", family="độc thân", custom={"salary": 5000})
    b = make_contact(full_name="Nguyen Van An", income_band="low", custom={"salary": 7000})
    body = {"survivor": a.pk, "others": [b.pk]}

    def fields(user: Any) -> dict[str, Any]:
        answer = client_for(user).post("/api/quality/merges/preview", body, content_type="application/json")
        assert answer.status_code == 200, answer.content
        return {f["field"]: f["values"] for f in answer.json()["fields"]}

    everything = fields(admin)
    assert "income_band" in everything and "custom.salary" in everything
    marketer = fields(users["marketing"])
    assert "income_band" not in marketer and "family" not in marketer and "custom.salary" not in marketer
    assert "name" in marketer
    assert "high" not in str(marketer) and "5000" not in str(marketer)
