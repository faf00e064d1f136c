"""A URL over danhba's limit answers 414 in danhba's words: JSON for the APIs, text for pages."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.core.longurl import URL_MAX

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(admin: Any) -> dict[str, str]:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="long urls")
    return {"headers": {"X-API-Key": raw}}


def test_an_api_url_over_the_limit_is_a_json_414(client: Any, headers: dict[str, str]) -> None:
    response = client.get("/api/contacts", {"q": "a" * URL_MAX}, **headers)
    assert response.status_code == 414
    body = response.json()
    assert body["code"] == "url_too_long"
    assert body["details"]["max"] == URL_MAX
    assert str(URL_MAX) in body["message"]


def test_a_long_url_under_the_limit_reaches_the_api(client: Any, headers: dict[str, str]) -> None:
    response = client.get("/api/contacts", {"q": "a" * 9000}, **headers)
    assert response.status_code != 414


def test_a_page_url_over_the_limit_is_a_short_414_in_the_readers_language(client: Any, admin: Any) -> None:
    client.force_login(admin)
    response = client.get("/contacts/", {"q": "a" * URL_MAX}, HTTP_ACCEPT_LANGUAGE="vi")
    assert response.status_code == 414
    assert response["Content-Type"].startswith("text/plain")
    assert "quá dài" in response.content.decode()


def test_the_tracking_pixel_answers_its_gif_to_any_url_length(client: Any) -> None:
    """An email client loads whatever pixel URL it was given: the pixel answers its GIF and
    tells nothing, however long the URL (its view stores nothing past its own size limit)."""
    response = client.get("/v1/pixel.gif", {"writeKey": "k", "event": "Email Opened", "userId": "u" * URL_MAX})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
