"""Sources and their write keys: the CLI, the settings page and who may use it."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from danhba.accounts.models import Role
from danhba.audit.models import AuditEvent
from danhba.tracking.models import Source, hash_write_key

pytestmark = pytest.mark.django_db


def test_cli_create_prints_the_key_once_and_stores_only_its_hash(post: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command("source", "create", "Backend", "--kind", "server", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    source = Source.objects.get(name="Backend")
    assert raw.startswith("dbw_") and source.key_hash == hash_write_key(raw) and raw not in source.key_prefix
    assert raw.startswith(source.key_prefix)
    assert post("/v1/track", {"userId": "u", "event": "x"}, key=raw).status_code == 200

    out = StringIO()
    call_command("source", "list", stdout=out)
    assert "Backend" in out.getvalue() and raw not in out.getvalue()

    call_command("source", "disable", source.key_prefix, stdout=StringIO())
    assert post("/v1/track", {"userId": "u", "event": "x"}, key=raw).status_code == 401
    assert AuditEvent.objects.filter(object_type="source", object_id=str(source.pk)).count() == 2


def test_cli_refuses_an_ambiguous_prefix_and_an_empty_name(make_source: Any) -> None:
    make_source("A")
    make_source("B")
    with pytest.raises(CommandError):
        call_command("source", "disable", "dbw_", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("source", "create", "  ", stdout=StringIO(), stderr=StringIO())


def test_admin_role_has_the_source_permission() -> None:
    assert set(Role.objects.get(key="admin").permissions["source"]) >= {"view", "create", "edit"}
    assert "source" not in Role.objects.get(key="marketing").permissions


def test_settings_page_creates_shows_the_key_once_and_disables(client_for: Any, admin: Any, post: Any) -> None:
    client = client_for(admin)
    page = client.get("/settings/sources/")
    assert page.status_code == 200 and b"Event sources" in page.content
    created = client.post("/settings/sources/new/", {"name": "Shop website", "kind": "website"})
    assert created.status_code == 200
    raw = re.search(rb'id="new-write-key">([^<]+)<', created.content).group(1).decode()  # type: ignore[union-attr]
    source = Source.objects.get(name="Shop website")
    assert source.created_by == admin and source.key_hash == hash_write_key(raw)
    assert raw.encode() not in client.get("/settings/sources/").content  # never shown again
    assert post("/v1/page", {"anonymousId": "a"}, key=raw).status_code == 200

    response = client.post(f"/settings/sources/{source.pk}/disable/")
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.disabled_at is not None
    assert post("/v1/page", {"anonymousId": "a"}, key=raw).status_code == 401


def test_form_errors_are_shown_not_raised(client_for: Any, admin: Any) -> None:
    response = client_for(admin).post("/settings/sources/new/", {"name": "", "kind": "satellite"})
    assert response.status_code == 400
    assert not Source.objects.exists()


@pytest.mark.parametrize("role", ["marketing", "sales", "support", "analyst"])
def test_other_roles_may_not_manage_sources(client_for: Any, users: Any, role: str, make_source: Any) -> None:
    source, _raw = make_source()
    client = client_for(users[role])
    assert client.get("/settings/sources/").status_code == 403
    assert client.post("/settings/sources/new/", {"name": "X", "kind": "server"}).status_code == 403
    assert client.post(f"/settings/sources/{source.pk}/disable/").status_code == 403
    source.refresh_from_db()
    assert source.disabled_at is None and Source.objects.count() == 1


def test_anonymous_visitors_are_sent_to_login(client: Any) -> None:
    response = client.get("/settings/sources/")
    assert response.status_code == 302 and "/login/" in response["Location"]
