"""The email pages: list, create, edit, the live preview (its frames carry their own sandboxed
policy and belong to the user who rendered them), the link check, delete; read-only roles see
the editor without being able to save."""

from __future__ import annotations

import re
from typing import Any

import pytest

from danhba.messaging import linkcheck
from danhba.messaging.linkcheck import LinkResult
from danhba.messaging.models import EmailTemplate

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Tin tháng 12",
    "kind": "marketing",
    "subject": "Chào {{ contact.given_name | default: 'bạn' }}",
    "preheader": "",
    "format": "html",
    "body": '<p>Chào {{ xung_ho }} {{ contact.given_name }}</p><a href="https://shop.example.vn/">Shop</a>',
    "text_body": "",
    "sender_name": "",
    "sender_email": "",
    "reply_to": "",
}


def test_create_edit_delete(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    assert "New template" in client.get("/email/templates/").content.decode()
    response = client.post("/email/templates/new/", FORM)
    template = EmailTemplate.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/email/templates/{template.pk}/"
    page = client.get(f"/email/templates/{template.pk}/").content.decode()
    assert "Tin tháng 12" in page and "Send test" in page and "Check links" in page
    bad = client.post(f"/email/templates/{template.pk}/", {**FORM, "body": "{% if %}"})
    assert bad.status_code == 422 and "syntax error" in bad.content.decode()
    assert client.post(f"/email/templates/{template.pk}/", {**FORM, "kind": "transactional"}).status_code == 302
    template.refresh_from_db()
    assert template.kind == "transactional"
    assert client.post(f"/email/templates/{template.pk}/delete/").status_code == 302
    assert not EmailTemplate.objects.exists()


def test_live_preview_and_its_frame(client_for: Any, users: Any, make_contact: Any) -> None:
    contact = make_contact(full_name="Đỗ Thị Lan", gender="female", emails=["lan@example.vn"])
    client = client_for(users["marketing"])
    response = client.post("/email/templates/preview/", {**FORM, "contact": "lan@example.vn"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and "[QC] Chào Lan" in page and contact.display_name in page
    frames = re.findall(r'<iframe class="mail-frame (desktop|phone)" sandbox src="([^"]+)"', page)
    assert [f[0] for f in frames] == ["desktop", "phone"] and frames[0][1] == frames[1][1]
    frame = client.get(frames[0][1])
    assert frame.status_code == 200 and "Chào chị Lan" in frame.content.decode()
    policy = frame["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "frame-ancestors 'self'" in policy and "script-src" not in policy
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    # Another user cannot read it.
    assert client_for(users["admin"]).get(frames[0][1]).status_code == 404


def test_preview_problems_are_shown_not_500(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    huge = {**FORM, "body": "{% for i in (1..100000000) %}x{% endfor %}"}
    response = client.post("/email/templates/preview/", huge, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "loop runs more than" in response.content.decode()
    unknown = client.post("/email/templates/preview/", {**FORM, "contact": "#999999"}, HTTP_HX_REQUEST="true")
    assert "no such contact" in unknown.content.decode()


def test_link_check_page(client_for: Any, users: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(linkcheck, "http_check", lambda url: LinkResult(url, False, 404))
    template = EmailTemplate.objects.create(name="t", subject="s", body=FORM["body"])
    response = client_for(users["marketing"]).post(f"/email/templates/{template.pk}/links/", {"contact": ""})
    page = response.content.decode()
    assert "https://shop.example.vn/" in page and "unreachable" in page and "HTTP 404" in page


def test_read_only_roles(client_for: Any, users: Any) -> None:
    template = EmailTemplate.objects.create(name="t", subject="s", body="<p>x</p>")
    client = client_for(users["analyst"])
    page = client.get(f"/email/templates/{template.pk}/").content.decode()
    assert "disabled" in page and "Send test" not in page and ">Save<" not in page
    assert client.post(f"/email/templates/{template.pk}/", {**FORM}).status_code == 403
    assert client.get("/email/templates/new/").status_code == 403
    assert client.post(f"/email/templates/{template.pk}/delete/").status_code == 403
    assert EmailTemplate.objects.get().name == "t"
    assert 'href="/email/campaigns/"' in client.get("/").content.decode()
