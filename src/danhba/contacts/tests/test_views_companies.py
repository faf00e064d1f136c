"""Company pages: list with folded search and keyset pages, page with its contacts, create, edit, delete."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Company
from danhba.contacts.services.companies import company_save

pytestmark = pytest.mark.django_db


def names(response: Any) -> list[str]:
    found = re.findall(r'class="name" href="/contacts/companies/\d+/">([^<]+)</a>', response.content.decode())
    return [html.unescape(n) for n in found]


@pytest.fixture
def companies(admin: Any) -> list[Company]:
    return [
        company_save(actor=actor_for(admin), company=None, data={"name": name, "domain": domain})
        for name, domain in (("Công ty Hòa Phát", "hoaphat.vn"), ("Bình Minh JSC", "binhminh.vn"), ("Ánh Dương", ""))
    ]


def test_company_list_and_search(client_for: Any, admin: Any, companies: list[Company]) -> None:
    client = client_for(admin)
    response = client.get(reverse("contacts:company_list"))
    assert response.status_code == 200
    assert names(response) == ["Ánh Dương", "Bình Minh JSC", "Công ty Hòa Phát"]
    assert names(client.get(reverse("contacts:company_list"), {"q": "cong ty hoa"})) == ["Công ty Hòa Phát"]
    assert names(client.get(reverse("contacts:company_list"), {"q": "binhminh.vn"})) == ["Bình Minh JSC"]
    partial = client.get(reverse("contacts:company_list"), {"q": "anh"}, HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<div id="company-results"')
    assert names(partial) == ["Ánh Dương"]


def test_company_list_keyset_pages(client_for: Any, admin: Any) -> None:
    Company.objects.bulk_create([Company(name=f"Co {i:03d}", name_key=f"co {i:03d}") for i in range(55)])
    client = client_for(admin)
    first = client.get(reverse("contacts:company_list"))
    assert len(names(first)) == 50
    cursor = re.search(r'rel="next" href="/contacts/companies/\?cursor=([\w-]+)"', first.content.decode())
    assert cursor
    second = client.get(reverse("contacts:company_list"), {"cursor": cursor.group(1)})
    assert names(second) == [f"Co {i:03d}" for i in range(50, 55)]
    bad = client.get(reverse("contacts:company_list"), {"cursor": "???"})
    assert bad.status_code == 200 and "cursor is not valid" in bad.content.decode()


def test_company_page_lists_visible_contacts(client_for: Any, users: Any, make_contact: Any) -> None:
    make_contact(full_name="Trần An", companies=["Công ty Hòa Phát"])
    make_contact(full_name="Lê Bình", companies=["Công ty Hòa Phát"], owner=users["marketing"].pk)
    company = Company.objects.get()
    url = reverse("contacts:company_detail", kwargs={"pk": company.pk})
    admin_page = client_for(users["admin"]).get(url).content.decode()
    assert "Trần An" in admin_page and "Lê Bình" in admin_page
    sales_page = client_for(users["sales"]).get(url).content.decode()
    assert "Trần An" in sales_page and "Lê Bình" not in sales_page
    assert client_for(users["admin"]).get("/contacts/companies/99999/").status_code == 404


def test_company_create_and_errors(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    assert client.get(reverse("contacts:company_create")).status_code == 200
    bad = client.post(reverse("contacts:company_create"), {"name": "", "website": "not a url", "email": "x@"})
    assert bad.status_code == 422
    body = bad.content.decode()
    assert "this field is required" in body and "must be a web address" in body
    assert not Company.objects.exists()
    ok = client.post(
        reverse("contacts:company_create"),
        {"name": "Công ty Mới", "website": "https://moi.vn", "phone": "024 3825 1234", "province": "da-nang"},
    )
    company = Company.objects.get()
    assert ok.status_code == 302 and ok.url == f"/contacts/companies/{company.pk}/"
    assert (company.website, company.phone, company.province) == ("https://moi.vn", "+842438251234", "da-nang")


def test_company_edit(client_for: Any, admin: Any, companies: list[Company]) -> None:
    company = companies[0]
    url = reverse("contacts:company_edit", kwargs={"pk": company.pk})
    client = client_for(admin)
    assert 'value="Công ty Hòa Phát"' in client.get(url).content.decode()
    response = client.post(url, {"name": "Tập đoàn Hòa Phát", "domain": "hoaphat.com.vn", "industry": "Thép"})
    assert response.status_code == 302
    company.refresh_from_db()
    assert (company.name, company.domain, company.industry) == ("Tập đoàn Hòa Phát", "hoaphat.com.vn", "Thép")
    event = AuditEvent.objects.filter(object_type="company", action="update").get()
    assert event.changes["name"] == ["Công ty Hòa Phát", "Tập đoàn Hòa Phát"]
    assert client.post(url, {"name": ""}).status_code == 422


def test_company_delete(client_for: Any, users: Any, companies: list[Company]) -> None:
    url = reverse("contacts:company_delete", kwargs={"pk": companies[1].pk})
    assert client_for(users["sales"]).post(url).status_code == 403
    client = client_for(users["marketing"])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert not Company.objects.filter(pk=companies[1].pk).exists()


def test_company_permissions(client_for: Any, users: Any, companies: list[Company]) -> None:
    detail = reverse("contacts:company_detail", kwargs={"pk": companies[0].pk})
    edit = reverse("contacts:company_edit", kwargs={"pk": companies[0].pk})
    create = reverse("contacts:company_create")
    support = client_for(users["support"])
    assert support.get(reverse("contacts:company_list")).status_code == 200
    assert support.get(detail).status_code == 200
    assert "/edit/" not in support.get(detail).content.decode()
    assert support.get(edit).status_code == 403
    assert support.get(create).status_code == 403
    assert client_for(users["sales"]).get(edit).status_code == 200
