"""Managing web forms through the API and the builder page: roles, checks, figures, submissions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.capture.models import FormSubmission, WebForm

pytestmark = pytest.mark.django_db


def _api(client: Any, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(f"/api/capture{path}", data, content_type="application/json")


FORM = {
    "name": "Nhận ưu đãi",
    "fields": [{"target": "email", "label": "Email", "required": True}],
    "consents": [{"purpose": "email_marketing", "text": "Tôi đồng ý nhận email."}],
    "allowed_origins": ["https://shop.vn/trang-chu"],
}


def test_marketing_builds_forms_and_sales_only_reads_submissions(client_for: Any, users: Any) -> None:
    marketing = client_for(users["marketing"])
    created = _api(marketing, "post", "/forms", FORM)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slug"] == "nhan-uu-dai" and body["allowed_origins"] == ["https://shop.vn"]
    assert body["hosted_url"].endswith("/f/nhan-uu-dai") and 'data-form="nhan-uu-dai"' in body["script_embed"]
    assert body["figures"]["views"] == 0
    sales = client_for(users["sales"])
    assert _api(sales, "get", "/forms").status_code == 403
    assert _api(sales, "post", "/forms", FORM).status_code == 403
    assert _api(sales, "get", "/submissions").status_code == 200
    assert sales.get("/forms/").status_code == 403
    assert sales.get("/forms/submissions/").status_code == 200
    analyst = client_for(users["analyst"])
    assert _api(analyst, "get", f"/forms/{body['id']}").status_code == 200
    assert _api(analyst, "patch", f"/forms/{body['id']}", {"name": "X"}).status_code == 403


def test_bad_definitions_are_422_by_field(client_for: Any, users: Any) -> None:
    admin = client_for(users["admin"])
    bad = {
        **FORM,
        "fields": [{"target": "nope"}, {"target": "full_name"}],
        "consents": [{"purpose": "email_marketing", "text": ""}, {"purpose": "unknown", "text": "x"}],
        "allowed_origins": ["javascript:alert(1)"],
        "redirect_url": "ftp://x",
    }
    response = _api(admin, "post", "/forms", bad)
    assert response.status_code == 422
    details = response.json()["details"]
    assert {"fields.0.target", "consents.0.text", "consents.1.purpose", "allowed_origins", "redirect_url",
            "fields"} <= set(details)  # fmt: skip
    double = _api(admin, "post", "/forms", {**FORM, "fields": [{"target": "email"}], "double_opt_in": True})
    assert double.status_code == 422 and "double_opt_in" in double.json()["details"]
    assert _api(admin, "post", "/forms", {**FORM, "surprise": 1}).status_code == 422
    assert not WebForm.objects.exists()


def test_change_delete_and_submissions_through_the_api(client_for: Any, users: Any, client: Any) -> None:
    admin = client_for(users["admin"])
    form_id = _api(admin, "post", "/forms", FORM).json()["id"]
    changed = _api(admin, "patch", f"/forms/{form_id}", {"thanks_message": "Cảm ơn!", "min_fill_seconds": 0})
    assert changed.status_code == 200 and changed.json()["thanks_message"] == "Cảm ơn!"
    assert _api(admin, "patch", f"/forms/{form_id}", {"min_fill_seconds": 9999}).status_code == 422
    client.logout()
    sent = client.post("/f/nhan-uu-dai/submit", json.dumps({"email": "mai@example.vn", "consent": ["email_marketing"]}),
                       content_type="application/json")  # fmt: skip
    assert sent.status_code == 200
    admin = client_for(users["admin"])
    page = _api(admin, "get", f"/submissions?form_id={form_id}").json()
    assert [s["status"] for s in page["items"]] == ["done"] and page["items"][0]["contact_id"]
    one = _api(admin, "get", f"/submissions/{page['items'][0]['id']}").json()
    assert one["consents"] == [{"purpose": "email_marketing", "text": "Tôi đồng ý nhận email."}]
    assert _api(admin, "post", f"/submissions/{one['id']}/retry").status_code == 422  # done already
    assert _api(admin, "get", "/submissions?status=bogus").status_code == 422
    assert _api(admin, "get", "/submissions/999999").status_code == 404
    # A form with submissions is switched off, not deleted: they prove the consents.
    assert _api(admin, "delete", f"/forms/{form_id}").status_code == 204
    assert WebForm.objects.get(pk=form_id).is_active is False
    assert client.get("/f/nhan-uu-dai").status_code == 404


def test_a_rep_sees_submissions_of_their_records_only(client_for: Any, users: Any, make_contact: Any) -> None:
    admin = client_for(users["admin"])
    form_id = _api(admin, "post", "/forms", FORM).json()["id"]
    form = WebForm.objects.get(pk=form_id)
    mine = make_contact(full_name="Của tôi", owner=users["sales"].pk)
    other = make_contact(full_name="Của người khác", owner=users["admin"].pk)
    for contact in (mine, other):
        FormSubmission.objects.create(form=form, contact=contact, status="done")
    rep = client_for(users["sales"])
    items = _api(rep, "get", "/submissions").json()["items"]
    assert [s["contact_id"] for s in items] == [mine.pk]
    hidden = FormSubmission.objects.get(contact=other)
    assert rep.get(f"/forms/submissions/{hidden.pk}/").status_code == 404


def test_the_builder_page_saves_previews_and_shows_embed_codes(client_for: Any, users: Any) -> None:
    page = client_for(users["marketing"])
    assert page.get("/forms/new/").status_code == 200
    post = {
        "name": "Yêu cầu báo giá", "slug": "", "language": "vi", "is_active": "on",
        "q-0-target": "full_name", "q-0-label": "Họ tên", "q-0-required": "on", "q-0-stage": "", "q-0-help": "",
        "q-1-target": "phone", "q-1-label": "Điện thoại", "q-1-required": "on", "q-1-stage": "", "q-1-help": "",
        "q-2-target": "province", "q-2-label": "Tỉnh", "q-2-stage": "queue", "q-2-help": "",
        "q-3-target": "", "q-3-label": "", "q-3-help": "",
        "c-0-purpose": "phone_calls", "c-0-text": "Tôi đồng ý được gọi điện tư vấn.",
        "c-1-purpose": "", "c-1-text": "",
        "submit_label": "Gửi", "thanks_message": "", "redirect_url": "", "allowed_origins": "https://shop.vn\nhttps://b.vn",
        "min_fill_seconds": "3", "contact_tags": "báo giá, web",
    }  # fmt: skip
    saved = page.post("/forms/new/", post)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    form = WebForm.objects.get()
    assert [q["target"] for q in form.fields] == ["full_name", "phone"] and form.queue[0]["target"] == "province"
    assert form.allowed_origins == ["https://shop.vn", "https://b.vn"] and form.contact_tags == ["báo giá", "web"]
    html = page.get(saved["Location"]).content.decode()
    assert "Tôi đồng ý được gọi điện tư vấn." in html  # the preview
    assert f"data-form=&quot;{form.slug}&quot;" in html and "?embed=1" in html
    # The preview follows the unsaved rows (htmx on every change), in the form's language.
    shown = page.post("/forms/preview/", {**post, "q-3-target": "email", "q-3-label": "Thư điện tử"}).content.decode()
    assert "Thư điện tử" in shown and "Tôi đồng ý được gọi điện tư vấn." in shown and "Tỉnh" not in shown
    assert client_for(users["sales"]).post("/forms/preview/", post).status_code == 403
    page = client_for(users["marketing"])
    bad = page.post("/forms/new/", {**post, "q-0-target": "email", "q-1-target": "email"})
    assert bad.status_code == 422
    vi = client_for(users["marketing"])
    vi.cookies["django_language"] = "vi"
    listing = vi.get("/forms/", HTTP_ACCEPT_LANGUAGE="vi")
    assert listing.status_code == 200 and "Biểu mẫu web" in listing.content.decode()
