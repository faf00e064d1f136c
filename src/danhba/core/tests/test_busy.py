"""A busy database (SQLite "database is locked", PostgreSQL lock or statement timeouts, deadlocks,
serialization failures) answers 503 with ``Retry-After``, never 500: JSON for the APIs, a short
page for the web UI. Any other database error stays a 500."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, connections

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts import selectors
from danhba.contacts.services import contacts as contact_services
from danhba.core.busy import is_busy

pytestmark = pytest.mark.django_db


def locked(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("database is locked")


def broken(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("no such table: contacts_contact")


@pytest.fixture
def headers(admin: Any) -> dict[str, str]:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="busy")
    return {"X-API-Key": raw}


def busy_json(response: Any) -> dict[str, Any]:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "2"
    body = response.json()
    assert body["code"] == "busy" and body["message"] and set(body) == {"code", "message", "details"}
    return body


def test_the_rest_api_answers_503_when_the_database_is_locked(
    client: Any, headers: dict[str, str], monkeypatch: Any
) -> None:
    monkeypatch.setattr(contact_services, "contact_create", locked)
    response = client.post("/api/contacts", {"full_name": "An"}, content_type="application/json", headers=headers)
    busy_json(response)


def test_a_page_answers_a_short_503_page(client: Any, admin: Any, monkeypatch: Any) -> None:
    client.force_login(admin)
    monkeypatch.setattr(selectors, "contact_page", locked)
    response = client.get("/contacts/")
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert response["Content-Type"].startswith("text/html")
    assert "The database is busy" in response.content.decode()


def test_the_busy_page_is_in_the_readers_language(client: Any, admin: Any, monkeypatch: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client.force_login(admin)
    monkeypatch.setattr(selectors, "contact_page", locked)
    response = client.get("/contacts/")
    assert response.status_code == 503
    assert "Cơ sở dữ liệu đang bận" in response.content.decode()


def test_other_database_errors_stay_500(client: Any, headers: dict[str, str], monkeypatch: Any) -> None:
    monkeypatch.setattr(contact_services, "contact_create", broken)
    response = client.post("/api/contacts", {"full_name": "An"}, content_type="application/json", headers=headers)
    assert response.status_code == 500 and "Retry-After" not in response


@pytest.mark.parametrize(
    ("cause", "busy"),
    [
        (psycopg.errors.LockNotAvailable, True),
        (psycopg.errors.SerializationFailure, True),
        (psycopg.errors.DeadlockDetected, True),
        (psycopg.errors.QueryCanceled, True),
        (psycopg.errors.UndefinedTable, False),
    ],
)
def test_postgresql_lock_and_timeout_errors_are_busy(cause: type[Exception], busy: bool) -> None:
    try:
        try:
            raise cause("x")
        except Exception as exc:
            raise OperationalError("x") from exc
    except OperationalError as wrapped:
        assert is_busy(wrapped) is busy


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_row_locked_past_the_lock_timeout_answers_503_on_postgresql(
    client: Any, admin: Any, headers: dict[str, str], make_contact: Any
) -> None:
    contact = make_contact(full_name="Lê Hoa")
    holding, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT 1 FROM contacts_contact WHERE id = %s FOR UPDATE", [contact.pk])
                holding.set()
                release.wait(20)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    thread = threading.Thread(target=hold_the_row)
    thread.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = client.patch(
            f"/api/contacts/{contact.pk}", {"job_title": "Kế toán"}, content_type="application/json", headers=headers
        )
        busy_json(response)
    finally:
        release.set()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
