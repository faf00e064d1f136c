"""API answers carry personal data: no browser or proxy may keep a copy (``Cache-Control:
no-store``), whatever the answer — data, an error, the docs, a file."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(admin: Any) -> dict[str, str]:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="cache")
    return {"Authorization": f"Bearer {raw}"}


def no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/contacts", 200),
        ("get", "/api/contacts/999999", 404),
        ("get", "/api/me", 200),
        ("get", "/api/openapi.json", 200),
        ("get", "/api/nope", 404),
        ("put", "/api/contacts", 405),
    ],
)
def test_api_answers_are_not_stored(client: Any, headers: dict[str, str], method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == status
    assert no_store(response), response.get("Cache-Control")


def test_a_contact_read_is_not_stored(client: Any, headers: dict[str, str], make_contact: Any) -> None:
    contact = make_contact(full_name="Lê Thị Riêng", emails=["rieng@example.vn"])
    response = client.get(f"/api/contacts/{contact.pk}", headers=headers)
    assert response.json()["full_name"] == "Lê Thị Riêng"
    assert no_store(response)


def test_unauthenticated_and_docs_answers_are_not_stored(client: Any, admin: Any) -> None:
    assert no_store(client.get("/api/contacts"))
    client.force_login(admin)
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and no_store(docs)
