"""/api/email: template CRUD, preview of a template and of a draft for a contact, link check with
an injected checker; bad input and template problems are 4xx with a JSON reason; roles: marketing
edits, read-only roles view, others get 403; a preview names only contacts the caller may open."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.messaging import linkcheck
from danhba.messaging.linkcheck import LinkResult
from danhba.messaging.models import EmailTemplate

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "name": "Chào mừng",
    "subject": "Chào {{ xung_ho | default: 'bạn' }} {{ contact.given_name | default: 'bạn' }}",
    "body": '<p>Xin chào {{ contact.full_name }}</p><a href="https://shop.example.vn/">Cửa hàng</a>'
    '<a href="{{ links.unsubscribe }}">Huỷ đăng ký</a>',
    "sender_name": "Cửa hàng An",
    "sender_email": "Shop@Example.VN",
}


def post(client: Any, path: str, data: Any) -> Any:
    return client.post(f"/api{path}", json.dumps(data), content_type="application/json")


def patch(client: Any, path: str, data: Any) -> Any:
    return client.patch(f"/api{path}", json.dumps(data), content_type="application/json")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def test_crud_and_audit(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    created = post(client, "/email/templates", TEMPLATE)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["sender_email"] == "shop@example.vn" and body["kind"] == "marketing" and body["format"] == "html"
    template_id = body["id"]
    assert [t["id"] for t in client.get("/api/email/templates").json()["items"]] == [template_id]
    changed = patch(client, f"/email/templates/{template_id}", {"kind": "transactional", "preheader": "Ưu đãi"})
    assert changed.json()["kind"] == "transactional" and changed.json()["preheader"] == "Ưu đãi"
    actions = list(AuditEvent.objects.filter(object_type="email_template").values_list("action", flat=True))
    assert sorted(actions) == ["create", "update"]
    assert client.delete(f"/api/email/templates/{template_id}").status_code == 204
    error(client.get(f"/api/email/templates/{template_id}"), 404)


def test_bad_input_is_4xx_json(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    error(post(client, "/email/templates", {**TEMPLATE, "kind": "spam"}), 422)
    error(post(client, "/email/templates", {**TEMPLATE, "unknown": 1}), 422)
    error(post(client, "/email/templates", {"name": "x"}), 422)
    bad_liquid = error(post(client, "/email/templates", {**TEMPLATE, "body": "{% for x in %}"}), 422)
    assert "syntax error" in bad_liquid["details"]["body"][0]
    bad_sender = error(post(client, "/email/templates", {**TEMPLATE, "sender_email": "not an address"}), 422)
    assert "sender_email" in bad_sender["details"]
    assert post(client, "/email/templates", TEMPLATE).status_code == 201
    duplicate = error(post(client, "/email/templates", TEMPLATE), 422)
    assert "name" in duplicate["details"]
    error(post(client, "/email/preview", {"subject": "x", "body": "{% for i in (1..99999999) %}x{% endfor %}"}), 422)
    error(client.get("/api/email/templates/99999999999999999999999"), 422)
    error(client.get("/api/email/templates/999999"), 404)


def test_preview_for_a_contact(client_for: Any, users: Any, make_contact: Any) -> None:
    contact = make_contact(full_name="Lê Thị Hoa", gender="female", emails=["hoa@example.vn"])
    client = client_for(users["marketing"])
    template_id = post(client, "/email/templates", TEMPLATE).json()["id"]
    preview = post(client, f"/email/templates/{template_id}/preview", {"contact_id": contact.pk}).json()
    assert preview["subject"] == "[QC] Chào chị Hoa"
    assert "Xin chào Lê Thị Hoa" in preview["html"] and "Xin chào Lê Thị Hoa" in preview["text"]
    assert preview["links"][0] == "https://shop.example.vn/" and "/email/unsubscribe/" in preview["links"][1]
    sample = post(client, f"/email/templates/{template_id}/preview", {}).json()
    assert "Nguyễn Thị Mai" in sample["html"]
    draft = post(client, "/email/preview", {"subject": "Huge", "body": "<p>" + "a" * 120_000 + "</p>"}).json()
    assert any("Gmail" in w for w in draft["warnings"]) and draft["size_bytes"] > 102 * 1024


def test_preview_hides_what_the_role_may_not_see(client_for: Any, users: Any, make_contact: Any) -> None:
    contact = make_contact(full_name="Lê Thị Hoa", gender="female")
    template = EmailTemplate.objects.create(name="t", subject="{{ xung_ho | default: 'bạn' }}", body="<p>x</p>")
    analyst = client_for(users["analyst"])  # sees no gender
    preview = post(analyst, f"/email/templates/{template.pk}/preview", {"contact_id": contact.pk}).json()
    assert preview["subject"] == "[QC] bạn"


def test_roles(client_for: Any, users: Any, make_contact: Any) -> None:
    template = EmailTemplate.objects.create(name="t", subject="s", body="<p>x</p>")
    for role in ("sales", "support", "analyst"):
        client = client_for(users[role])
        assert client.get(f"/api/email/templates/{template.pk}").status_code == 200
        error(post(client, "/email/templates", TEMPLATE), 403)
        error(patch(client, f"/email/templates/{template.pk}", {"subject": "x"}), 403)
        error(post(client, f"/email/templates/{template.pk}/test-send", {"to": "a@example.vn"}), 403)
    # A sales rep sees only their own contacts: someone else's is not found, not rendered.
    other = make_contact(full_name="Người Khác", owner=users["marketing"].pk)
    sales = client_for(users["sales"])
    error(post(sales, f"/email/templates/{template.pk}/preview", {"contact_id": other.pk}), 404)


def test_link_check_with_injected_checker(client_for: Any, users: Any, monkeypatch: Any) -> None:
    asked: list[str] = []

    def checker(url: str) -> LinkResult:
        asked.append(url)
        return LinkResult(url, "broken" not in url, 404 if "broken" in url else 200)

    monkeypatch.setattr(linkcheck, "http_check", checker)
    body = '<a href="https://ok.example.vn/">a</a><a href="https://broken.example.vn/x">b</a>'
    body += '<a href="mailto:hi@example.vn">c</a><a href="{{ links.preferences }}">d</a>'
    client = client_for(users["marketing"])
    template_id = post(client, "/email/templates", {**TEMPLATE, "body": body}).json()["id"]
    items = post(client, f"/email/templates/{template_id}/link-check", {}).json()["items"]
    assert [(i["url"].split("/")[2] if "//" in i["url"] else i["url"], i["ok"]) for i in items] == [
        ("ok.example.vn", True), ("broken.example.vn", False), ("mailto:hi@example.vn", None), ("127.0.0.1:8000", None),
    ]  # fmt: skip
    assert sorted(asked) == ["https://broken.example.vn/x", "https://ok.example.vn/"]


def test_default_checker_refuses_private_addresses(settings: Any) -> None:
    settings.MESSAGING_LINKS_ALLOW_PRIVATE = False
    result = linkcheck.http_check("http://127.0.0.1:9/")
    assert result.ok is False and result.note
