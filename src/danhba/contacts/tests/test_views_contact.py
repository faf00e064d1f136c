"""Creating a contact, its page, inline editing of its sections, its timeline and deleting it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Company, Contact, CustomField, TimelineEntry
from danhba.contacts.services.fields import customfield_save

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- create ---------------------------------------------------------------------------------


def test_create_page_and_create(client_for: Any, users: Any) -> None:
    client = client_for(users["admin"])
    page = client.get(reverse("contacts:create"))
    assert page.status_code == 200
    for name in ("full_name", "email", "phone", "company", "lifecycle_stage", "owner", "source", "tags"):
        assert f'name="{name}"' in page.content.decode()
    response = client.post(
        reverse("contacts:create"),
        {
            "full_name": "nguyễn thị  mai",
            "email": ["Mai@Example.VN", "mai.work@example.vn"],
            "phone": ["0912 345 678", ""],
            "company": "Công ty Sao Mai",
            "lifecycle_stage": "lead",
            "owner": str(users["sales"].pk),
            "source": "registration",
            "tags": "VIP, hội chợ",
        },
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response.url == f"/contacts/{contact.pk}/"
    assert contact.full_name == "Nguyễn Thị Mai" and contact.given_name == "Mai"
    assert [e.email for e in contact.emails.all()] == ["mai@example.vn", "mai.work@example.vn"]
    assert contact.phone == "+84912345678"
    assert contact.companies.get().name == "Công ty Sao Mai"
    assert (
        contact.lifecycle_stage.key == "lead" and contact.owner == users["sales"] and contact.source == "registration"
    )
    assert sorted(t.name for t in contact.tags.all()) == ["VIP", "hội chợ"]
    followed = client.get(response.url)
    assert "created" in followed.content.decode()


def test_create_with_bad_input_shows_errors_and_creates_nothing(client_for: Any, admin: Any) -> None:
    customfield_save(
        actor=actor_for(admin), field=None, data={"label": "Size", "key": "size", "type": "number", "required": True}
    )
    response = client_for(admin).post(
        reverse("contacts:create"),
        {"full_name": "Bad Input", "email": ["not-an-email", "ok@example.vn"], "phone": ["12ab"], "custom.size": "big"},
    )
    assert response.status_code == 422
    body = response.content.decode()
    # Each error sits next to its own input: the first email row, the phone row, the custom field.
    assert body.index("not a valid email address") > body.index('value="not-an-email"')
    assert body.index("not a valid email address") < body.index('value="ok@example.vn"')
    assert "phone contains letters" in body
    assert "must be a whole number" in body
    assert body.index("must be a whole number") > body.index('name="custom.size"')
    # What was typed is kept.
    assert 'value="Bad Input"' in body and 'value="12ab"' in body
    assert not Contact.objects.exists()
    assert not Company.objects.exists()


def test_create_with_taken_email_links_to_existing_contact(client_for: Any, admin: Any, make_contact: Any) -> None:
    existing = make_contact(full_name="Đã Có", emails=["taken@example.vn"])
    response = client_for(admin).post(reverse("contacts:create"), {"full_name": "New", "email": ["TAKEN@example.vn"]})
    assert response.status_code == 422
    body = response.content.decode()
    assert "already belongs to another contact" in body
    assert f'href="/contacts/{existing.pk}/"' in body
    assert Contact.objects.count() == 1


def test_create_defaults_owner_to_self_for_own_scope_roles(client_for: Any, users: Any) -> None:
    page = client_for(users["sales"]).get(reverse("contacts:create")).content.decode()
    assert f'<option value="{users["sales"].pk}" selected>' in page


# --- contact page ---------------------------------------------------------------------------


@pytest.fixture
def full_contact(make_contact: Any, users: Any) -> Contact:
    return make_contact(
        full_name="Nguyễn Văn Đức",
        emails=["duc@example.vn"],
        phones=["0912345678"],
        street="12 Lý Thường Kiệt",
        ward="Phường Cửa Nam",
        province="Hà Nội",
        birthday="1990-05-17",
        gender="male",
        occupation="Kỹ sư",
        income_band="20-30 triệu",
        hobbies="Cầu lông",
        preferences="Liên hệ qua Zalo",
        dislikes="Gọi điện buổi tối",
        lifecycle_stage="mql",
        buyer_role="decision_maker",
        owner=users["marketing"].pk,
        tags=["VIP"],
        companies=["Công ty ABC"],
        external_ids=[{"system": "shopify", "value": "987"}],
        social_profiles=[{"network": "zalo", "handle": "duc.nguyen"}],
    )


def test_contact_page_shows_the_four_kinds_of_data(client_for: Any, admin: Any, full_contact: Contact) -> None:
    response = client_for(admin).get(reverse("contacts:detail", kwargs={"pk": full_contact.pk}))
    assert response.status_code == 200
    body = response.content.decode()
    for heading in ("Identity", "Descriptive", "Qualitative", "Relationship", "Timeline", "Consent", "Activity"):
        assert f">{heading}</h2>" in body
    for text in (
        "Nguyễn Văn Đức", "duc@example.vn", "0912 345 678", "12 Lý Thường Kiệt", "Hà Nội", "Kỹ sư", "Cầu lông",
        "Liên hệ qua Zalo", "Gọi điện buổi tối", "Marketing qualified lead", "Decision maker", "Công ty ABC",
        "shopify", "duc.nguyen", "VIP", "Marketing", "20-30 triệu",
    ):  # fmt: skip
        assert text in body, text
    assert 'data-value="birthday"' in body


def test_opening_the_page_writes_a_view_audit_event(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client_for(admin).get(reverse("contacts:detail", kwargs={"pk": full_contact.pk}))
    event = AuditEvent.objects.get(action="view")
    assert (event.actor, event.contact_id, event.via) == (admin, full_contact.pk, "ui")


def test_missing_contact_is_404(client_for: Any, admin: Any) -> None:
    assert client_for(admin).get("/contacts/999999/").status_code == 404


# --- inline editing -------------------------------------------------------------------------


def section_url(contact: Contact, name: str) -> str:
    return reverse("contacts:section", kwargs={"pk": contact.pk, "section": name})


def test_inline_edit_swaps_form_and_saves_only_that_section(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    form = client.get(section_url(full_contact, "descriptive") + "?edit=1", **HTMX)
    assert form.status_code == 200
    assert form.content.decode().lstrip().startswith('<section class="panel section" id="section-descriptive"')
    assert 'name="occupation" value="Kỹ sư"' in form.content.decode()

    saved = client.post(
        section_url(full_contact, "descriptive"),
        {"occupation": "Kiến trúc sư", "job_title": "Trưởng nhóm", "hobbies": "Cầu lông", "income_band": "20-30 triệu"},
        **HTMX,
    )
    assert saved.status_code == 200
    assert "contact-changed" in saved["HX-Trigger"]
    body = saved.content.decode()
    assert "Kiến trúc sư" in body and "<form" not in body.split("</section>")[0]
    assert "Changes saved" in body  # the message arrives out of band
    full_contact.refresh_from_db()
    assert (full_contact.occupation, full_contact.job_title) == ("Kiến trúc sư", "Trưởng nhóm")
    # Other sections were not touched.
    assert full_contact.dislikes == "Gọi điện buổi tối" and full_contact.email == "duc@example.vn"
    change = TimelineEntry.objects.get(contact=full_contact, kind="system")
    assert set(change.data["fields"]) == {"occupation", "job_title"}
    event = AuditEvent.objects.get(action="update", contact_id=full_contact.pk)
    assert event.changes["occupation"] == ["Kỹ sư", "Kiến trúc sư"]


def test_inline_edit_errors_rerender_the_form(client_for: Any, admin: Any, full_contact: Contact) -> None:
    response = client_for(admin).post(
        section_url(full_contact, "identity"),
        {"full_name": "Nguyễn Văn Đức", "email": ["broken@"], "phone": ["0912345678"], "birthday": "2999-01-01"},
        **HTMX,
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "<form" in body and "not a valid email address" in body and "must be a past date" in body
    full_contact.refresh_from_db()
    assert full_contact.email == "duc@example.vn" and full_contact.birthday == dt.date(1990, 5, 17)


def test_inline_edit_of_identity_keeps_names_consistent(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    base = {
        "full_name": "Nguyễn Văn Đức",
        "family_name": "Nguyễn",
        "middle_name": "Văn",
        "given_name": "Đức",
        "name_order": "vi",
        "email": ["duc@example.vn", "duc2@example.vn"],
        "email_label": ["personal", "work"],
        "phone": ["0912345678"],
        "company": ["Công ty ABC"],
        "company_job_title": ["Giám đốc"],
        "social_network": ["zalo", "facebook"],
        "social_handle": ["duc.nguyen", "fb.com/duc"],
        "ext_system": ["shopify"],
        "ext_value": ["987"],
        "province": "ha-noi",
        "birthday": "1990-05-17",
    }
    assert client.post(section_url(full_contact, "identity"), {**base, "full_name": "Trần Văn Đức"}).status_code == 302
    full_contact.refresh_from_db()
    assert (full_contact.family_name, full_contact.given_name) == ("Trần", "Đức")
    assert [e.email for e in full_contact.emails.all()] == ["duc@example.vn", "duc2@example.vn"]
    assert full_contact.company_links.get().job_title == "Giám đốc"
    assert full_contact.social_profiles.count() == 2
    base["full_name"] = "Trần Văn Đức"
    client.post(section_url(full_contact, "identity"), {**base, "family_name": "Lê"})
    full_contact.refresh_from_db()
    assert full_contact.full_name == "Lê Văn Đức"


def test_inline_edit_without_htmx_redirects_or_shows_page(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    page = client.get(reverse("contacts:detail", kwargs={"pk": full_contact.pk}) + "?edit=qualitative")
    assert 'name="preferences"' in page.content.decode()
    ok = client.post(section_url(full_contact, "qualitative"), {"likes": "Trà sen"})
    assert ok.status_code == 302
    full_contact.refresh_from_db()
    assert full_contact.likes == "Trà sen"


def test_relationship_and_custom_sections(client_for: Any, users: Any, full_contact: Contact) -> None:
    admin = users["admin"]
    customfield_save(
        actor=actor_for(admin), field=None, data={"label": "Kênh ưa thích", "key": "channel", "type": "choice",
                                                  "choices": "Zalo, Email"},
    )  # fmt: skip
    client = client_for(admin)
    client.post(
        section_url(full_contact, "relationship"),
        {"lifecycle_stage": "customer", "buyer_role": "", "source": "order", "owner": "", "tags": "VIP, Khách sỉ"},
        **HTMX,
    )
    full_contact.refresh_from_db()
    assert full_contact.lifecycle_stage.key == "customer" and full_contact.owner is None
    assert full_contact.buyer_role is None
    assert sorted(t.name for t in full_contact.tags.all()) == ["Khách sỉ", "VIP"]
    response = client.post(section_url(full_contact, "custom"), {"custom.channel": "Zalo"}, **HTMX)
    assert response.status_code == 200 and "Zalo" in response.content.decode()
    full_contact.refresh_from_db()
    assert full_contact.custom == {"channel": "Zalo"}
    bad = client.post(section_url(full_contact, "custom"), {"custom.channel": "Fax"}, **HTMX)
    assert bad.status_code == 422


def test_header_refreshes(client_for: Any, admin: Any, full_contact: Contact) -> None:
    response = client_for(admin).get(section_url(full_contact, "header"), **HTMX)
    assert response.status_code == 200 and 'id="contact-head"' in response.content.decode()
    assert client_for(admin).get(section_url(full_contact, "nonsense"), **HTMX).status_code == 404


# --- timeline -------------------------------------------------------------------------------


def timeline_url(contact: Contact) -> str:
    return reverse("contacts:timeline", kwargs={"pk": contact.pk})


def test_timeline_add_entry(client_for: Any, users: Any, full_contact: Contact) -> None:
    client = client_for(users["support"])
    response = client.post(
        timeline_url(full_contact),
        {"kind": "complaint", "channel": "zalo", "subject": "Giao hàng chậm", "body": "Đơn #123 trễ 3 ngày",
         "occurred_at": "2025-07-01T09:30"},
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200 and "contact-changed" in response["HX-Trigger"]
    entry = TimelineEntry.objects.get(contact=full_contact, kind="complaint")
    assert (entry.channel, entry.subject, entry.author) == ("zalo", "Giao hàng chậm", users["support"])
    assert entry.occurred_at.isoformat().startswith("2025-07-01T02:30")  # 09:30 in Ho Chi Minh City
    listing = client.get(timeline_url(full_contact), **HTMX).content.decode()
    assert "Giao hàng chậm" in listing and "Đơn #123 trễ 3 ngày" in listing
    page = client.get(reverse("contacts:detail", kwargs={"pk": full_contact.pk})).content.decode()
    assert "Giao hàng chậm" in page


def test_timeline_add_entry_errors(client_for: Any, admin: Any, full_contact: Contact) -> None:
    response = client_for(admin).post(timeline_url(full_contact), {"kind": "note", "occurred_at": "soon"}, **HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert "write a subject or some details" in body and "a date and time like" in body
    assert not TimelineEntry.objects.filter(contact=full_contact).exists()


def test_timeline_filter_by_kind(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    client.post(timeline_url(full_contact), {"kind": "call", "subject": "Gọi tư vấn"})
    client.post(timeline_url(full_contact), {"kind": "note", "subject": "Ghi chú nội bộ"})
    calls = client.get(timeline_url(full_contact), {"kind": "call"}, **HTMX).content.decode()
    assert "Gọi tư vấn" in calls and "Ghi chú nội bộ" not in calls


def test_private_entries_hidden_from_roles_without_private_notes(
    client_for: Any, users: Any, full_contact: Contact
) -> None:
    admin_client = client_for(users["admin"])
    admin_client.post(timeline_url(full_contact), {"kind": "note", "subject": "Bí mật", "is_private": "on"})
    assert TimelineEntry.objects.get(subject="Bí mật").is_private
    assert "Bí mật" in admin_client.get(reverse("contacts:detail", kwargs={"pk": full_contact.pk})).content.decode()
    support_client = client_for(users["support"])
    page = support_client.get(reverse("contacts:detail", kwargs={"pk": full_contact.pk})).content.decode()
    assert "Bí mật" not in page
    assert 'name="is_private"' not in page


def test_timeline_edit_own_entry_only(client_for: Any, users: Any, full_contact: Contact) -> None:
    entry = TimelineEntry.objects.create(contact=full_contact, kind="note", subject="Cũ", author=users["support"])
    other = TimelineEntry.objects.create(
        contact=full_contact, kind="note", subject="Của người khác", author=users["admin"]
    )
    url = reverse("contacts:timeline_entry", kwargs={"pk": full_contact.pk, "entry_id": entry.pk})
    other_url = reverse("contacts:timeline_entry", kwargs={"pk": full_contact.pk, "entry_id": other.pk})
    client = client_for(users["support"])
    assert 'name="subject" value="Cũ"' in client.get(url + "?edit=1", **HTMX).content.decode()
    response = client.post(url, {"kind": "question", "subject": "Mới", "body": ""}, **HTMX)
    assert response.status_code == 200 and "Mới" in response.content.decode()
    entry.refresh_from_db()
    assert (entry.kind, entry.subject) == ("question", "Mới")
    assert client.get(other_url + "?edit=1", **HTMX).status_code == 403
    assert client.post(other_url, {"kind": "note", "subject": "x"}, **HTMX).status_code == 403
    # Change records are never editable, not even by admins.
    system = TimelineEntry.objects.create(contact=full_contact, kind="system", subject="x", author=users["admin"])
    system_url = reverse("contacts:timeline_entry", kwargs={"pk": full_contact.pk, "entry_id": system.pk})
    assert client_for(users["admin"]).get(system_url + "?edit=1", **HTMX).status_code == 403


def test_timeline_delete(client_for: Any, users: Any, full_contact: Contact) -> None:
    entry = TimelineEntry.objects.create(contact=full_contact, kind="note", subject="Xoá tôi", author=users["support"])
    url = reverse("contacts:timeline_entry_delete", kwargs={"pk": full_contact.pk, "entry_id": entry.pk})
    assert client_for(users["support"]).post(url).status_code == 403  # support may not delete
    response = client_for(users["admin"]).post(url, **HTMX)
    assert response.status_code == 200 and "contact-changed" in response["HX-Trigger"]
    assert not TimelineEntry.objects.filter(pk=entry.pk).exists()
    assert AuditEvent.objects.filter(action="delete", object_type="timeline").exists()


def test_system_change_entries_show_field_labels(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    client.post(section_url(full_contact, "qualitative"), {"likes": "Cà phê", "preferences": "Liên hệ qua Zalo",
                                                           "dislikes": "Gọi điện buổi tối"})  # fmt: skip
    listing = client.get(timeline_url(full_contact), **HTMX).content.decode()
    assert "Changed" in listing and "<strong>Likes</strong>" in listing


# --- activity panel and delete --------------------------------------------------------------


def test_activity_panel_shows_before_and_after(client_for: Any, admin: Any, full_contact: Contact) -> None:
    client = client_for(admin)
    client.post(section_url(full_contact, "descriptive"), {"occupation": "Giáo viên"})
    panel = client.get(reverse("contacts:activity", kwargs={"pk": full_contact.pk}), **HTMX).content.decode()
    assert "admin@example.vn" in panel and "changed" in panel and "Web UI" in panel
    assert "Kỹ sư" in panel and "Giáo viên" in panel


def test_delete_contact(client_for: Any, admin: Any, full_contact: Contact) -> None:
    url = reverse("contacts:delete", kwargs={"pk": full_contact.pk})
    client = client_for(admin)
    assert "Delete “Nguyễn Văn Đức”?" in client.get(url).content.decode()
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == "/contacts/"
    assert "deleted" in response.content.decode()
    assert not Contact.objects.filter(pk=full_contact.pk).exists()
    assert AuditEvent.objects.filter(action="delete", contact_id=full_contact.pk).exists()


def test_sensitive_custom_field_form_only_for_granted_roles(client_for: Any, users: Any, make_contact: Any) -> None:
    field = CustomField.objects.create(key="salary", label="Lương", type="number", is_sensitive=True)
    contact = make_contact(full_name="A", custom={"salary": 5})
    assert field.permission_key == "custom.salary"
    admin_form = client_for(users["admin"]).get(section_url(contact, "custom") + "?edit=1", **HTMX)
    assert 'name="custom.salary"' in admin_form.content.decode()
    # Support edits contacts but does not see the field: the section is not offered.
    support_page = client_for(users["support"]).get(reverse("contacts:detail", kwargs={"pk": contact.pk}))
    assert 'id="section-custom"' not in support_page.content.decode()
