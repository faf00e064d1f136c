"""Logging in and out, throttling, the language switch and per-user language."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.conftest import PASSWORD

LOGIN = "/login/"


def post_login(client: Any, email: str, password: str, **extra: str) -> Any:
    return client.post(LOGIN, {"email": email, "password": password, **extra})


def test_login_page_has_the_agreed_fields(client: Any, db: Any) -> None:
    assert reverse("accounts:login") == LOGIN
    page = client.get(LOGIN).content.decode()
    assert 'name="email"' in page and 'name="password"' in page
    assert "Tiếng Việt" in page and "English" in page


def test_login_success_rotates_the_session_and_redirects(client: Any, users: dict[str, Any]) -> None:
    client.get(LOGIN)
    session = client.session
    session["seen"] = True
    session.save()
    before = session.session_key
    response = post_login(client, "Sales@Example.vn ", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    assert client.session.session_key != before
    assert int(client.session["_auth_user_id"]) == users["sales"].pk
    assert AuditEvent.objects.filter(action="login", actor=users["sales"]).exists()


def test_wrong_password_is_refused_and_recorded(client: Any, users: dict[str, Any]) -> None:
    response = post_login(client, "sales@example.vn", "wrong-password-1")
    assert response.status_code == 422
    assert "_auth_user_id" not in client.session
    assert "do not match" in response.content.decode()
    assert AuditEvent.objects.filter(action="login_failed", object_label="sales@example.vn").exists()


def test_empty_form_shows_field_errors(client: Any, db: Any) -> None:
    response = post_login(client, "", "")
    assert response.status_code == 422
    assert response.content.decode().count('class="errors"') == 2


def test_throttled_after_repeated_failures_without_revealing_the_account(
    client: Any, users: dict[str, Any], settings: Any
) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        post_login(client, "sales@example.vn", "wrong-password-1")
        post_login(client, "nobody@example.vn", "wrong-password-1")
    # Even the right password is refused while the email is blocked.
    blocked = post_login(client, "sales@example.vn", PASSWORD)
    unknown = post_login(client, "nobody@example.vn", PASSWORD)
    assert "_auth_user_id" not in client.session
    for response in (blocked, unknown):
        assert "Too many failed attempts" in response.content.decode()
    # Another account is not blocked by someone else's failures.
    assert post_login(client, "support@example.vn", PASSWORD).status_code == 302


def test_failure_counter_resets_on_success(client: Any, users: dict[str, Any], settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(2):
        post_login(client, "sales@example.vn", "wrong-password-1")
    assert post_login(client, "sales@example.vn", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    for _ in range(2):
        post_login(client, "sales@example.vn", "wrong-password-1")
    assert post_login(client, "sales@example.vn", PASSWORD).status_code == 302


def test_inactive_user_cannot_log_in(client: Any, make_user: Any) -> None:
    make_user("sales", email="gone@example.vn", is_active=False)
    response = post_login(client, "gone@example.vn", PASSWORD)
    assert response.status_code == 422
    assert "_auth_user_id" not in client.session


def test_user_without_password_cannot_log_in(client: Any, admin: Any) -> None:
    from danhba.accounts.services import user_create
    from danhba.conftest import actor_for

    user_create(actor=actor_for(admin), email="later@example.vn", password=None, role="sales")
    assert post_login(client, "later@example.vn", "").status_code == 422
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/x", "javascript:alert(1)", "http://testserver.evil/"]
)
def test_unsafe_next_is_ignored(client: Any, users: dict[str, Any], target: str) -> None:
    response = post_login(client, "sales@example.vn", PASSWORD, next=target)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)


def test_safe_next_is_honoured(client: Any, users: dict[str, Any]) -> None:
    page = client.get(LOGIN + "?next=/profile/").content.decode()
    assert 'name="next" value="/profile/"' in page
    response = post_login(client, "sales@example.vn", PASSWORD, next="/profile/")
    assert response["Location"] == "/profile/"


def test_logged_in_user_visiting_login_goes_on(client: Any, users: dict[str, Any]) -> None:
    client.force_login(users["sales"])
    assert client.get(LOGIN + "?next=/profile/")["Location"] == "/profile/"


def test_logout_is_post_only(client: Any, users: dict[str, Any]) -> None:
    client.force_login(users["sales"])
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="logout", actor=users["sales"]).exists()


def test_language_switch_on_the_login_page(client: Any, db: Any) -> None:
    assert '<html lang="en">' in client.get(LOGIN).content.decode()
    response = client.post(reverse("accounts:language"), {"language": "vi", "next": LOGIN + "?next=/profile/"})
    assert response["Location"] == LOGIN + "?next=/profile/"
    assert '<html lang="vi">' in client.get(LOGIN).content.decode()
    client.post(reverse("accounts:language"), {"language": "en", "next": "https://evil.example.com/"})
    assert '<html lang="en">' in client.get(LOGIN).content.decode()


def test_unknown_language_is_ignored(client: Any, db: Any) -> None:
    client.post(reverse("accounts:language"), {"language": "xx"})
    assert '<html lang="en">' in client.get(LOGIN).content.decode()


def test_the_users_language_applies_on_the_next_request(client: Any, users: dict[str, Any]) -> None:
    user = users["sales"]
    client.force_login(user)
    assert '<html lang="en">' in client.get(reverse("accounts:profile")).content.decode()
    response = client.post(
        reverse("accounts:profile"), {"full_name": "Bán Hàng", "language": "vi", "time_zone": "Asia/Ho_Chi_Minh"}
    )
    assert response.status_code == 302
    assert '<html lang="vi">' in client.get(reverse("accounts:profile")).content.decode()
    # The language follows the user to a new session: it is stored on the user.
    client.logout()
    client.force_login(user)
    assert '<html lang="vi">' in client.get(reverse("accounts:profile")).content.decode()


def test_the_users_language_beats_the_browser(client: Any, users: dict[str, Any]) -> None:
    user = users["sales"]
    user.language = "vi"
    user.save()
    client.force_login(user)
    page = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="vi">' in page


def test_browser_default_in_the_profile_drops_the_login_page_choice(client: Any, users: dict[str, Any]) -> None:
    client.post(reverse("accounts:language"), {"language": "vi"})
    client.force_login(users["sales"])
    assert '<html lang="vi">' in client.get(reverse("accounts:profile")).content.decode()
    client.post(reverse("accounts:profile"), {"full_name": "Sales", "language": "", "time_zone": "Asia/Ho_Chi_Minh"})
    page = client.get(reverse("accounts:profile"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in page
