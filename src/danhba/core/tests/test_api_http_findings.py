"""Bad input that schemathesis found over HTTP answering 500: now a 4xx with a JSON body, and
nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Company, Contact, ContactCompany
from danhba.ingest.models import Import

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(admin: Any) -> dict[str, str]:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="findings")
    return {"Authorization": f"Bearer {raw}"}


def json_4xx(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    return body


def test_one_company_twice_on_create_is_refused(client: Any, headers: dict[str, str]) -> None:
    company = Company.objects.create(name="Sao Mai", name_key="sao mai")
    payload = {"full_name": "Trần Văn Hai", "companies": [{"company_id": company.pk}, {"company_id": company.pk}]}
    body = json_4xx(client.post("/api/contacts", payload, content_type="application/json", headers=headers), 422)
    assert list(body["details"]) == ["companies.1"]
    assert not Contact.objects.exists()


def test_one_company_twice_on_update_is_refused(client: Any, headers: dict[str, str], make_contact: Any) -> None:
    company = Company.objects.create(name="Sao Mai", name_key="sao mai")
    contact = make_contact()
    payload = {"companies": [{"company_id": company.pk}, {"name": "sao mai"}]}
    response = client.patch(f"/api/contacts/{contact.pk}", payload, content_type="application/json", headers=headers)
    assert list(json_4xx(response, 422)["details"]) == ["companies.1"]
    assert not ContactCompany.objects.exists()


def test_one_new_company_named_twice_is_one_company_refused(client: Any, headers: dict[str, str]) -> None:
    payload = {"full_name": "Lê Ba", "companies": [{"name": "Hoa Sen"}, {"name": "HOA SEN"}]}
    json_4xx(client.post("/api/contacts", payload, content_type="application/json", headers=headers), 422)
    assert not Company.objects.exists()


def test_two_different_companies_still_link(client: Any, headers: dict[str, str]) -> None:
    one = Company.objects.create(name="Sao Mai", name_key="sao mai")
    payload = {"full_name": "Lê Bốn", "companies": [{"company_id": one.pk}, {"name": "Hoa Sen", "is_primary": True}]}
    response = client.post("/api/contacts", payload, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.content
    assert sorted(link["name"] for link in response.json()["companies"]) == ["Hoa Sen", "Sao Mai"]


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\x7f"]
)
def test_a_multipart_upload_without_a_boundary_is_400(client: Any, headers: dict[str, str], content_type: str) -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nname\r\nAn\r\n--x--\r\n'
    response = client.generic("POST", "/api/imports", body, content_type=content_type, headers=headers)
    assert response.status_code in (400, 422)
    json_4xx(response, response.status_code)
    assert not Import.objects.exists()
