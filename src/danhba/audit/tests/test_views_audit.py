"""The global audit log page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_update

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def contact(make_contact: Any) -> Contact:
    return make_contact(full_name="Phan Thị Đồng Ý", emails=["dongy@example.vn"])


def rows(response: Any) -> int:
    return response.content.decode().count("<time datetime=")


def test_audit_page_lists_events_read_only(client_for: Any, admin: Any, contact: Contact) -> None:
    contact_update(actor=actor_for(admin), contact=contact, data={"occupation": "Bác sĩ"})
    response = client_for(admin).get(reverse("audit:log"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Phan Thị Đồng Ý" in body and "Bác sĩ" in body and "admin@example.vn" in body
    # Never editable: no forms posting anywhere, no edit or delete controls.
    assert 'method="post"' not in body.split('id="audit-results"')[1]
    assert "Delete" not in body.split('id="audit-results"')[1] and "Edit" not in body.split('id="audit-results"')[1]


def test_audit_filters(client_for: Any, users: Any, contact: Contact) -> None:
    admin, marketing = users["admin"], users["marketing"]
    contact_update(actor=actor_for(marketing), contact=contact, data={"occupation": "Luật sư"})
    audit_event(actor=actor_for(admin, via="api"), action="export", object_type="contact", object_label="API export")
    audit_event(actor=actor_for(admin, via="cli"), action="view", object_type="company", object_label="Công ty X")
    client = client_for(admin)
    url = reverse("audit:log")
    by_actor = client.get(url, {"actor": str(marketing.pk)}).content.decode()
    assert "Luật sư" in by_actor and "API export" not in by_actor
    assert "API export" in client.get(url, {"action": "export"}).content.decode()
    assert "Công ty X" in client.get(url, {"object_type": "company"}).content.decode()
    assert "Công ty X" not in client.get(url, {"object_type": "contact"}).content.decode()
    via_api = client.get(url, {"via": "api"}).content.decode()
    assert "API export" in via_api and "Công ty X" not in via_api
    today = timezone.localdate()
    assert (
        rows(client.get(url, {"date_from": today.isoformat(), "date_to": today.isoformat()}))
        == AuditEvent.objects.count()
    )
    assert rows(client.get(url, {"date_to": (today - dt.timedelta(days=1)).isoformat()})) == 0
    one_contact = client.get(url, {"contact": contact.pk}).content.decode()
    assert "Luật sư" in one_contact and "Công ty X" not in one_contact
    bad = client.get(url, {"date_from": "hôm qua"})
    assert bad.status_code == 200 and "Enter a valid date" in bad.content.decode()


def test_audit_keyset_pages_newest_first(client_for: Any, admin: Any) -> None:
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(at=now - dt.timedelta(minutes=i), via="cli", action="view", object_type="contact",
                       object_label=f"event {i:03d}", actor_label="script")
            for i in range(70)
        ]
    )  # fmt: skip
    client = client_for(admin)
    first = client.get(reverse("audit:log"), {"via": "cli"}).content.decode()
    labels = re.findall(r"event (\d{3})", first)
    assert labels == [f"{i:03d}" for i in range(50)]
    link = re.search(r'rel="next" href="(/privacy/audit/\?[^"]+)"', first)
    assert link and "via=cli" in link.group(1)
    second = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert re.findall(r"event (\d{3})", second) == [f"{i:03d}" for i in range(50, 70)]
    assert 'rel="next"' not in second
    partial = client.get(link.group(1).replace("&amp;", "&"), **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="audit-results"')


def test_audit_page_only_for_roles_with_audit_view(client_for: Any, users: Any) -> None:
    for role in ("marketing", "sales", "support", "analyst"):
        assert client_for(users[role]).get(reverse("audit:log")).status_code == 403
    assert client_for(users["admin"]).get(reverse("audit:log")).status_code == 200
    assert client_for(users["admin"]).post(reverse("audit:log")).status_code == 405


def test_audit_log_respects_record_visibility_and_private_notes(
    client_for: Any, users: Any, make_contact: Any, make_user: Any
) -> None:
    from danhba.accounts.models import Role
    from danhba.conftest import actor_for
    from danhba.contacts.services.timeline import timeline_entry_save

    auditor_role = Role.objects.create(
        key="auditor", name="Auditor", record_scope="own", sensitive_fields=[],
        permissions={"audit": ["view"], "contact": ["view"]},
    )  # fmt: skip
    auditor = make_user("auditor")
    assert auditor.role == auditor_role
    other_rep = make_user("sales")
    hidden = make_contact(full_name="Khách Người Khác", owner=other_rep.pk)
    visible = make_contact(full_name="Khách Chưa Giao")
    timeline_entry_save(
        actor=actor_for(users["admin"]), contact=visible, entry=None,
        data={"kind": "note", "subject": "PRIVATE divorce", "body": "x", "is_private": True},
    )  # fmt: skip
    page = client_for(auditor).get("/privacy/audit/").content.decode()
    assert "Khách Chưa Giao" in page
    assert "Khách Người Khác" not in page and f"/contacts/{hidden.pk}/" not in page
    assert "PRIVATE divorce" not in page
