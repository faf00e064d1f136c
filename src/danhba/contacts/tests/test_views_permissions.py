"""Who may open which page (role × page), and which fields each role sees in pages and exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

from danhba.accounts.services import role_save
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, CustomField
from danhba.contacts.services.contacts import contact_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(users: Any, make_contact: Any) -> dict[str, Contact]:
    return {
        "unassigned": make_contact(full_name="Chưa Ai Nhận"),
        "others": make_contact(full_name="Của Marketing", owner=users["marketing"].pk),
    }


def url_of(page: str, records: dict[str, Contact]) -> tuple[str, str, dict[str, Any]]:
    """(method, url, data) of one page or action."""
    u, o = records["unassigned"].pk, records["others"].pk
    edit_data = {"occupation": "Thợ mộc"}
    return {
        "list": ("get", reverse("contacts:list"), {}),
        "detail_unassigned": ("get", reverse("contacts:detail", kwargs={"pk": u}), {}),
        "detail_others": ("get", reverse("contacts:detail", kwargs={"pk": o}), {}),
        "create": ("get", reverse("contacts:create"), {}),
        "edit_unassigned": ("post", reverse("contacts:section", kwargs={"pk": u, "section": "descriptive"}), edit_data),
        "edit_others": ("post", reverse("contacts:section", kwargs={"pk": o, "section": "descriptive"}), edit_data),
        "edit_form_unassigned": (
            "get",
            reverse("contacts:section", kwargs={"pk": u, "section": "descriptive"}) + "?edit=1",
            {},
        ),
        "delete": ("get", reverse("contacts:delete", kwargs={"pk": u}), {}),
        "delete_others": ("get", reverse("contacts:delete", kwargs={"pk": o}), {}),
        "export": ("get", reverse("contacts:export"), {}),
        "audit": ("get", reverse("audit:log"), {}),
        "activity": ("get", reverse("contacts:activity", kwargs={"pk": u}), {}),
        "timeline_add": ("post", reverse("contacts:timeline", kwargs={"pk": u}), {"kind": "note", "subject": "x"}),
        "timeline_add_others": (
            "post",
            reverse("contacts:timeline", kwargs={"pk": o}),
            {"kind": "note", "subject": "x"},
        ),
        "consent": (
            "post",
            reverse("privacy:consent_record", kwargs={"pk": u}),
            {"purpose": "email_marketing", "status": "granted", "source": "ui"},
        ),
        "consent_others": (
            "post",
            reverse("privacy:consent_record", kwargs={"pk": o}),
            {"purpose": "email_marketing", "status": "granted", "source": "ui"},
        ),
        "companies": ("get", reverse("contacts:company_list"), {}),
        "company_create": ("get", reverse("contacts:company_create"), {}),
    }[page]


# Expected status per page for admin, marketing, sales, support, analyst. 302 = the action
# succeeded and redirected back to the page; 404 = the record is outside the role's visibility.
MATRIX = {
    "list":                 (200, 200, 200, 200, 200),
    "detail_unassigned":    (200, 200, 200, 200, 200),
    "detail_others":        (200, 200, 404, 200, 200),
    "create":               (200, 200, 200, 403, 403),
    "edit_unassigned":      (302, 302, 302, 302, 403),
    "edit_others":          (302, 302, 404, 302, 403),
    "edit_form_unassigned": (302, 302, 302, 302, 403),
    "delete":               (200, 200, 403, 403, 403),
    "delete_others":        (200, 200, 403, 403, 403),
    "export":               (200, 200, 403, 403, 200),
    "audit":                (200, 403, 403, 403, 403),
    "activity":             (200, 403, 403, 403, 403),
    "timeline_add":         (302, 302, 302, 302, 403),
    "timeline_add_others":  (302, 302, 404, 302, 403),
    "consent":              (302, 302, 302, 302, 403),
    "consent_others":       (302, 302, 404, 302, 403),
    "companies":            (200, 200, 200, 200, 200),
    "company_create":       (200, 200, 200, 403, 403),
}  # fmt: skip
ROLES = ("admin", "marketing", "sales", "support", "analyst")


@pytest.mark.parametrize("page", list(MATRIX))
def test_role_page_matrix(page: str, users: Any, records: dict[str, Contact], client: Any) -> None:
    got = {}
    for role in ROLES:
        client.force_login(users[role])
        method, url, data = url_of(page, records)
        got[role] = getattr(client, method)(url, data).status_code
    assert got == dict(zip(ROLES, MATRIX[page], strict=True))


def test_anonymous_is_sent_to_login(client: Any, records: dict[str, Contact]) -> None:
    for url in ("/contacts/", f"/contacts/{records['unassigned'].pk}/", "/contacts/companies/", "/privacy/audit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login") + "?next=")


def test_sales_list_shows_only_own_and_unassigned(client_for: Any, users: Any, records: dict[str, Contact]) -> None:
    mine = Contact.objects.create(
        full_name="Của Sales",
        name_key="cua sales",
        owner=users["sales"],
        lifecycle_stage_id=records["others"].lifecycle_stage_id,
    )
    body = client_for(users["sales"]).get("/contacts/").content.decode()
    assert "Chưa Ai Nhận" in body and mine.full_name in body
    assert "Của Marketing" not in body
    assert f"/contacts/{records['others'].pk}/" not in body


def test_controls_follow_the_role(client_for: Any, users: Any, records: dict[str, Contact]) -> None:
    url = reverse("contacts:detail", kwargs={"pk": records["unassigned"].pk})
    analyst = client_for(users["analyst"]).get(url).content.decode()
    assert "data-edit=" not in analyst and "/delete/" not in analyst
    assert 'id="timeline-form"' not in analyst and "Record a statement" not in analyst
    assert 'id="activity"' not in analyst
    admin = client_for(users["admin"]).get(url).content.decode()
    assert 'data-edit="identity"' in admin and "/delete/" in admin and 'id="activity"' in admin


# --- field-level hiding ---------------------------------------------------------------------


@pytest.fixture
def sensitive_contact(admin: Any, make_contact: Any) -> Contact:
    CustomField.objects.create(key="salary", label="Mức lương", type="number", is_sensitive=True)
    CustomField.objects.create(key="shoe_size", label="Cỡ giày", type="number")
    return make_contact(
        full_name="Hồ Thị Nhạy Cảm",
        birthday="1985-03-09",
        gender="female",
        income_band="Trên 50 triệu",
        family="Hai con",
        custom={"salary": 87654321, "shoe_size": 37},
    )


SENSITIVE_TEXT = ("1985", "Trên 50 triệu", "Hai con", "Mức lương", "87654321")


def test_sensitive_fields_visible_to_admin(client_for: Any, admin: Any, sensitive_contact: Contact) -> None:
    body = client_for(admin).get(reverse("contacts:detail", kwargs={"pk": sensitive_contact.pk})).content.decode()
    for text in (*SENSITIVE_TEXT, 'data-value="birthday"', 'data-value="gender"', "Cỡ giày", "37"):
        assert text in body, text


@pytest.mark.parametrize("role", ["sales", "support", "analyst"])
def test_sensitive_fields_absent_from_page(client_for: Any, users: Any, role: str, sensitive_contact: Contact) -> None:
    client = client_for(users[role])
    body = client.get(reverse("contacts:detail", kwargs={"pk": sensitive_contact.pk})).content.decode()
    for text in (*SENSITIVE_TEXT, 'data-value="birthday"', 'data-value="gender"', "Birthday"):
        assert text not in body, text
    assert "Cỡ giày" in body  # a plain custom field stays visible
    if users[role].can("contact", "edit"):
        for section in ("identity", "descriptive", "custom"):
            form = client.get(
                reverse("contacts:section", kwargs={"pk": sensitive_contact.pk, "section": section}) + "?edit=1",
                HTTP_HX_REQUEST="true",
            ).content.decode()
            for name in ('name="birthday"', 'name="gender"', 'name="income_band"', 'name="family"', "custom.salary"):
                assert name not in form


def test_marketing_sees_birthday_but_not_salary(client_for: Any, users: Any, sensitive_contact: Contact) -> None:
    body = client_for(users["marketing"]).get(f"/contacts/{sensitive_contact.pk}/").content.decode()
    assert 'data-value="birthday"' in body and "Mức lương" not in body and "87654321" not in body
    assert "Trên 50 triệu" not in body


def test_hidden_fields_cannot_be_changed_through_the_form(
    client_for: Any, users: Any, sensitive_contact: Contact
) -> None:
    url = reverse("contacts:section", kwargs={"pk": sensitive_contact.pk, "section": "identity"})
    client_for(users["support"]).post(url, {"full_name": "Hồ Thị Nhạy Cảm", "birthday": "2000-01-01", "gender": ""})
    sensitive_contact.refresh_from_db()
    assert sensitive_contact.birthday.isoformat() == "1985-03-09" and sensitive_contact.gender == "female"
    url = reverse("contacts:section", kwargs={"pk": sensitive_contact.pk, "section": "custom"})
    client_for(users["support"]).post(url, {"custom.shoe_size": "38", "custom.salary": "1"})
    sensitive_contact.refresh_from_db()
    assert sensitive_contact.custom == {"salary": 87654321, "shoe_size": 38}


def export(client: Any) -> tuple[list[str], list[dict[str, str]]]:
    response = client.get(reverse("contacts:export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_export_columns_follow_field_permissions(client_for: Any, users: Any, sensitive_contact: Contact) -> None:
    columns, rows = export(client_for(users["admin"]))
    assert {"birthday", "gender", "income_band", "family", "custom.salary", "custom.shoe_size"} <= set(columns)
    assert rows[0]["birthday"] == "1985-03-09" and rows[0]["custom.salary"] == "87654321"

    columns, rows = export(client_for(users["analyst"]))
    assert not {"birthday", "gender", "income_band", "family", "custom.salary"} & set(columns)
    assert rows[0]["custom.shoe_size"] == "37"
    raw = ",".join(rows[0].values())
    # The birthday in any form the export writes dates (a bare "1985" also matched the
    # microseconds of a timestamp now and then).
    assert "1985-03-09" not in raw and "09/03/1985" not in raw
    assert "87654321" not in raw and "Hai con" not in raw

    columns, _ = export(client_for(users["marketing"]))
    assert "birthday" in columns and "custom.salary" not in columns and "income_band" not in columns


def test_sales_and_support_cannot_export_at_all(client_for: Any, users: Any, sensitive_contact: Contact) -> None:
    for role in ("sales", "support"):
        assert client_for(users[role]).get(reverse("contacts:export")).status_code == 403


def test_audit_values_of_hidden_fields_are_masked(client_for: Any, users: Any, sensitive_contact: Contact) -> None:
    contact_update(actor=actor_for(users["admin"]), contact=sensitive_contact, data={"birthday": "1986-04-10"})
    auditor_role = role_save(
        actor=actor_for(users["admin"]),
        role=None,
        data={"name": "Auditor", "permissions": {"audit": ["view"], "contact": ["view"]}, "sensitive_fields": []},
    )
    auditor = users["admin"].__class__.objects.create_user("auditor@example.vn", "x" * 12, role=auditor_role)
    client = client_for(auditor)
    for url in (reverse("audit:log"), reverse("contacts:activity", kwargs={"pk": sensitive_contact.pk})):
        body = client.get(url).content.decode()
        assert "•••" in body
        assert "9 Mar 1985" not in body and "10 Apr 1986" not in body and "87654321" not in body
    admin_body = client_for(users["admin"]).get(reverse("audit:log")).content.decode()
    assert "9 Mar 1985" in admin_body and "10 Apr 1986" in admin_body  # dates as the page writes them
