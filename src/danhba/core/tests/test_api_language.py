"""The API answers — errors included — in the language its client asks for with
``Accept-Language``; without one, in its user's own language (the API key's, or the session's),
else in the site's default. A page's language choices (cookie, session, the user's setting) do
not outrank the header there."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db

UNKNOWN_SEGMENT = "/api/contacts?segment=999999"
EN, VI = "no such segment or list", "không có phân khúc hoặc danh sách này"


def message(response: Any) -> str:
    assert response.status_code in (401, 422), response.content
    body = response.json()
    assert set(body) >= {"code", "message"}
    return str(body)


def key_of(user: Any, language: str) -> dict[str, str]:
    user.language = language
    user.save(update_fields=["language"])
    _key, raw = apikey_create(actor=actor_for(user), user=user, name="language")
    return {"Authorization": f"Bearer {raw}"}


def test_an_api_key_client(client: Any, admin: Any) -> None:
    headers = key_of(admin, "vi")
    assert VI in message(client.get(UNKNOWN_SEGMENT, headers=headers))  # the key's user's language
    assert EN in message(client.get(UNKNOWN_SEGMENT, headers={**headers, "Accept-Language": "en-GB,vi;q=0.5"}))
    assert VI in message(client.get(UNKNOWN_SEGMENT, headers={**headers, "Accept-Language": "fr, vi;q=0.8"}))
    # A language danhba does not speak: the user's.
    assert VI in message(client.get(UNKNOWN_SEGMENT, headers={**headers, "Accept-Language": "fr"}))
    admin.language = ""
    admin.save(update_fields=["language"])
    with override_settings(LANGUAGE_CODE="vi"):
        assert VI in message(client.get(UNKNOWN_SEGMENT, headers=headers))  # the site's default
    with override_settings(LANGUAGE_CODE="en"):
        assert EN in message(client.get(UNKNOWN_SEGMENT, headers=headers))


def test_a_session_client_is_answered_in_the_language_it_asks_for(client_for: Any, admin: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client = client_for(admin)
    client.cookies["django_language"] = "vi"
    assert EN in message(client.get(UNKNOWN_SEGMENT, headers={"Accept-Language": "en"}))
    assert VI in message(client.get(UNKNOWN_SEGMENT))  # no header: the user's own
    # The pages keep the user's choice over the browser's.
    assert "Liên hệ" in client.get("/contacts/", headers={"Accept-Language": "en"}).content.decode()


def test_errors_before_anyone_is_known(client: Any, db: Any) -> None:
    with override_settings(LANGUAGE_CODE="vi"):
        wrong = {"Authorization": "Bearer dbk_wrong"}
        vi = message(client.get("/api/contacts", headers=wrong))
        en = message(client.get("/api/contacts", headers={**wrong, "Accept-Language": "en"}))
    assert "The API key is missing, wrong or revoked." in en and "The API key" not in vi
