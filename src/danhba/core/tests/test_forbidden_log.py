"""A refused request (403) is one log line — method, path, user, reason — never a traceback:
a role that clicks where it may not go is not an error of the site."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


def forbidden_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "status_code", 0) == 403]


def test_a_page_refused_by_role_is_one_line(client: Any, users: Any, caplog: pytest.LogCaptureFixture) -> None:
    analyst = users["analyst"]
    client.force_login(analyst)
    with caplog.at_level(logging.WARNING):
        assert client.get("/contacts/new/").status_code == 403
    (record,) = forbidden_lines(caplog)
    assert record.exc_info is None and not record.exc_text
    line = record.getMessage()
    assert "\n" not in line
    assert "GET /contacts/new/" in line and analyst.email in line and "reason=" in line
    assert "Traceback" not in caplog.text


def test_an_api_refusal_is_one_line_with_its_reason(client: Any, users: Any, caplog: pytest.LogCaptureFixture) -> None:
    analyst = users["analyst"]
    _key, raw = apikey_create(actor=actor_for(analyst), user=analyst, name="log")
    with caplog.at_level(logging.WARNING):
        response = client.post(
            "/api/contacts", {"full_name": "A"}, content_type="application/json", headers={"X-API-Key": raw}
        )
    assert response.status_code == 403
    (record,) = forbidden_lines(caplog)
    line = record.getMessage()
    assert "POST /api/contacts" in line and analyst.email in line
    assert response.json()["message"] in line


def test_a_csrf_refusal_is_one_line(users: Any, caplog: pytest.LogCaptureFixture) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    with caplog.at_level(logging.WARNING):
        assert client.post("/contacts/new/", {"full_name": "A"}).status_code == 403
    (record,) = forbidden_lines(caplog)
    line = record.getMessage()
    assert "POST /contacts/new/" in line and "CSRF" in line and users["admin"].email in line
