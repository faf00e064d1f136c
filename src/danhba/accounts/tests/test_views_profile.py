"""The profile page: own name, language, time zone, password and API keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.sessions.models import Session
from django.urls import reverse

from danhba.accounts.models import ApiKey, User
from danhba.accounts.services import apikey_authenticate, apikey_create
from danhba.audit.models import AuditEvent
from danhba.conftest import PASSWORD, actor_for

PROFILE = "/profile/"
NEW_PASSWORD = "a-much-better-secret-42"


def test_profile_shows_own_details(client_for: Any, users: dict[str, Any]) -> None:
    page = client_for(users["support"]).get(PROFILE).content.decode()
    assert "support@example.vn" in page
    assert 'value="Asia/Ho_Chi_Minh" selected' in page


def test_profile_saves_name_language_and_time_zone(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["support"])
    response = client.post(PROFILE, {"full_name": " Trần  Thị Hỗ Trợ ", "language": "en", "time_zone": "Asia/Bangkok"})
    assert response.status_code == 302
    user = User.objects.get(pk=users["support"].pk)
    assert (user.full_name, user.language, user.time_zone) == ("Trần Thị Hỗ Trợ", "en", "Asia/Bangkok")
    assert "Your profile is saved" in client.get(PROFILE).content.decode()
    assert AuditEvent.objects.filter(object_type="user", object_id=str(user.pk), action="update").exists()


def test_profile_rejects_bad_input_next_to_the_field(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["support"])
    response = client.post(PROFILE, {"full_name": "x", "language": "klingon", "time_zone": "Mars/Olympus"})
    assert response.status_code == 422
    assert response.content.decode().count('class="errors"') == 2
    assert User.objects.get(pk=users["support"].pk).time_zone == ""


def test_time_zone_of_the_user_is_used_for_times(client_for: Any, users: dict[str, Any]) -> None:
    user = users["sales"]
    key, _raw = apikey_create(actor=actor_for(user), user=user, name="Clock")
    ApiKey.objects.filter(pk=key.pk).update(created_at=dt.datetime(2025, 7, 1, 12, 0, tzinfo=dt.UTC))
    client = client_for(user)
    assert "1 Jul 2025, 19:00" in client.get(PROFILE).content.decode()  # Asia/Ho_Chi_Minh, the default
    User.objects.filter(pk=user.pk).update(time_zone="Europe/London")
    assert "1 Jul 2025, 13:00" in client.get(PROFILE).content.decode()


def test_password_change(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["analyst"])
    url = reverse("accounts:password_change")
    wrong = client.post(url, {"current_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert "not your current password" in wrong.content.decode()
    mismatch = client.post(url, {"current_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "x"})
    assert "not the same" in mismatch.content.decode()
    weak = client.post(url, {"current_password": PASSWORD, "new_password1": "12345", "new_password2": "12345"})
    assert weak.status_code == 422 and "too short" in weak.content.decode()
    assert User.objects.get(pk=users["analyst"].pk).check_password(PASSWORD)

    ok = client.post(url, {"current_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert ok.status_code == 302
    assert User.objects.get(pk=users["analyst"].pk).check_password(NEW_PASSWORD)
    # Still logged in on this session.
    assert client.get(PROFILE).status_code == 200


def test_api_key_is_shown_once_and_stored_hashed(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    response = client.post(reverse("accounts:apikey_create"), {"name": "Website sync"})
    assert response.status_code == 200
    page = response.content.decode()
    key = ApiKey.objects.get(user=users["marketing"])
    start = page.index('id="new-api-key">') + len('id="new-api-key">')
    raw = page[start : page.index("<", start)]
    assert raw.startswith("dbk_") and len(raw) > 30
    assert "Copy" in page
    # Only a hash is stored; the raw key is nowhere in the key table.
    assert raw not in {key.key_hash, key.prefix, key.name}
    assert not ApiKey.objects.filter(key_hash=raw).exists()
    assert raw.startswith(key.prefix)
    assert apikey_authenticate(raw) == key
    assert not AuditEvent.objects.filter(object_label__contains=raw).exists()
    assert not Session.objects.filter(session_data__contains=raw).exists()
    # The next page shows the key's prefix, never the raw key again.
    later = client.get(PROFILE).content.decode()
    assert key.prefix in later and raw not in later
    assert "Website sync" in later


def test_api_key_create_with_htmx_returns_the_panel(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    response = client.post(reverse("accounts:apikey_create"), {"name": "Zapier"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert page.lstrip().startswith("<section") and 'id="new-api-key"' in page
    bad = client.post(reverse("accounts:apikey_create"), {"name": ""}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and 'class="errors"' in bad.content.decode()
    assert ApiKey.objects.filter(user=users["marketing"]).count() == 1


def test_api_key_revoke(client_for: Any, users: dict[str, Any]) -> None:
    user = users["sales"]
    key, raw = apikey_create(actor=actor_for(user), user=user, name="CRM")
    client = client_for(user)
    response = client.post(reverse("accounts:apikey_revoke", args=[key.pk]))
    assert response["Location"] == PROFILE
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert apikey_authenticate(raw) is None
    assert "revoked" in client.get(PROFILE).content.decode()


def test_someone_elses_key_is_not_found_without_apikey_permission(client_for: Any, users: dict[str, Any]) -> None:
    owner = users["sales"]
    key, _raw = apikey_create(actor=actor_for(owner), user=owner, name="CRM")
    response = client_for(users["support"]).post(reverse("accounts:apikey_revoke", args=[key.pk]))
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_admin_sees_and_revokes_another_users_keys(client_for: Any, users: dict[str, Any]) -> None:
    owner = users["sales"]
    key, _raw = apikey_create(actor=actor_for(owner), user=owner, name="Old integration")
    client = client_for(users["admin"])
    page = client.get(reverse("accounts:user_edit", args=[owner.pk])).content.decode()
    assert "Old integration" in page and key.prefix in page
    response = client.post(reverse("accounts:apikey_revoke", args=[key.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(object_type="apikey", action="delete", actor=users["admin"]).exists()
