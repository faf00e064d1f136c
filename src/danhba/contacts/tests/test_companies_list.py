"""The companies list as people use it: how many contacts each company has (of those the viewer
may see), filters, and exports (CSV/XLSX, permission-checked and audited), on the page and in
the API."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from danhba.accounts.services import apikey_create
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Company
from danhba.contacts.services.companies import company_save
from danhba.core.csvsafe import unwrap_excel_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def firms(users: Any, make_contact: Any) -> dict[str, Company]:
    actor = actor_for(users["admin"])

    def save(**data: str) -> Company:
        return company_save(actor=actor, company=None, data=data)

    hoa = save(name="Hòa Phát", industry="Thép", province="Hà Nội")
    sao = save(name="Sao Mai", industry="Bán lẻ", province="Đà Nẵng")
    trong = save(name="Trống Đồng", industry="Thép", phone="0243 825 1234")
    # Hòa Phát: one unassigned contact, one owned by Marketing, one by Sales.
    make_contact(full_name="Trần An", companies=["Hòa Phát"])
    make_contact(full_name="Lê Bình", companies=["Hòa Phát"], owner=users["marketing"].pk)
    make_contact(full_name="Phạm Chi", companies=["Hòa Phát", "Sao Mai"], owner=users["sales"].pk)
    # Sao Mai: a second contact the Sales rep may not see.
    make_contact(full_name="Đỗ Dũng", companies=["Sao Mai"], owner=users["marketing"].pk)
    return {"hoa": hoa, "sao": sao, "trong": trong}


def rows(html: str) -> dict[str, str]:
    """Company name → its contact count cell, from the list page."""
    found = re.findall(r'class="name" href="/contacts/companies/\d+/">([^<]+)</a>.*?<td class="num">(.*?)</td>',
                       html, flags=re.S)  # fmt: skip
    return {name: re.sub(r"<[^>]+>", "", count).strip() for name, count in found}


def test_company_list_counts_the_contacts_each_viewer_may_see(client_for: Any, users: Any, firms: Any) -> None:
    html = client_for(users["marketing"]).get(reverse("contacts:company_list")).content.decode()
    assert "Contacts" in html
    assert rows(html) == {"Hòa Phát": "3", "Sao Mai": "2", "Trống Đồng": "0"}
    # A Sales rep sees their own and unassigned contacts only, and counts only those.
    html = client_for(users["sales"]).get(reverse("contacts:company_list")).content.decode()
    assert rows(html) == {"Hòa Phát": "2", "Sao Mai": "1", "Trống Đồng": "0"}


def test_company_list_filters(client_for: Any, users: Any, firms: Any) -> None:
    client = client_for(users["marketing"])

    def listed(**params: str) -> list[str]:
        return list(rows(client.get(reverse("contacts:company_list"), params).content.decode()))

    assert listed(industry="thép") == ["Hòa Phát", "Trống Đồng"]
    assert listed(province="ha-noi") == ["Hòa Phát"]
    assert listed(has_contacts="yes") == ["Hòa Phát", "Sao Mai"]
    assert listed(has_contacts="no") == ["Trống Đồng"]
    assert listed(industry="Thép", has_contacts="no") == ["Trống Đồng"]
    assert listed(q="sao") == ["Sao Mai"]
    page = client.get(reverse("contacts:company_list"), {"has_contacts": "maybe", "province": "atlantis"})
    assert page.status_code == 200 and "Some filters are not valid" in page.content.decode()
    # The filter form offers what it filters on.
    html = client.get(reverse("contacts:company_list")).content.decode()
    assert 'name="industry"' in html and 'name="province"' in html and 'name="has_contacts"' in html


def test_company_export_csv_and_xlsx_respect_filters_and_are_audited(client_for: Any, users: Any, firms: Any) -> None:
    client = client_for(users["analyst"])
    html = client.get(reverse("contacts:company_list")).content.decode()
    assert reverse("contacts:company_export") in html
    response = client.get(reverse("contacts:company_export"), {"industry": "Thép"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(body)))
    assert [(r["name"], r["contact_count"]) for r in table] == [("Hòa Phát", "3"), ("Trống Đồng", "0")]
    # (How a phone is guarded against spreadsheet formulas is the contact exports' rule.)
    assert unwrap_excel_text(table[1]["phone"]) == "+842438251234" and table[0]["industry"] == "Thép"
    audit = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, object_type="company").get()
    assert audit.actor_id == users["analyst"].pk
    assert audit.changes["rows"] == [None, 2] and audit.changes["filters"][1] == {"industry": "Thép"}

    response = client.get(reverse("contacts:company_export_xlsx"), {"has_contacts": "yes"})
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    header = list(values[0])
    assert [(v[header.index("name")], v[header.index("contact_count")]) for v in values[1:]] == [
        ("Hòa Phát", 3),
        ("Sao Mai", 2),
    ]


def test_company_export_needs_the_export_permission(client_for: Any, users: Any, firms: Any) -> None:
    client = client_for(users["sales"])
    html = client.get(reverse("contacts:company_list")).content.decode()
    assert reverse("contacts:company_export") not in html
    assert client.get(reverse("contacts:company_export")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def api_get(client: Any, user: Any, path: str, **params: Any) -> Any:
    _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
    return client.get(f"/api{path}", params, headers={"Authorization": f"Bearer {raw}"})


def test_company_api_filters_and_counts(client: Any, users: Any, firms: Any) -> None:
    body = api_get(client, users["sales"], "/companies", industry="Thép").json()
    assert [(c["name"], c["contact_count"]) for c in body["items"]] == [("Hòa Phát", 2), ("Trống Đồng", 0)]
    body = api_get(client, users["marketing"], "/companies", has_contacts="true").json()
    assert [(c["name"], c["contact_count"]) for c in body["items"]] == [("Hòa Phát", 3), ("Sao Mai", 2)]
    bad = api_get(client, users["marketing"], "/companies", province="atlantis")
    assert bad.status_code == 422 and set(bad.json()) == {"code", "message", "details"}
    # Export through the API: the same file, the same permission.
    response = api_get(client, users["marketing"], "/companies/export", format="json", province="Đà Nẵng")
    assert response.status_code == 200
    data = json.loads(b"".join(response.streaming_content))
    assert [(c["name"], c["contact_count"]) for c in data] == [("Sao Mai", 2)]
    denied = api_get(client, users["sales"], "/companies/export", format="csv")
    assert denied.status_code == 403 and denied.json()["code"]
    bad = api_get(client, users["marketing"], "/companies/export", format="vcard")
    assert bad.status_code == 422
