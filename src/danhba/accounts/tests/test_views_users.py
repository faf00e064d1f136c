"""The users pages: list, create, edit, deactivate, and the rules that keep admins in."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from danhba.accounts.models import Role, Team, User
from danhba.accounts.services import role_save
from danhba.audit.models import AuditEvent
from danhba.conftest import PASSWORD, actor_for

USERS = "/users/"


def edit_data(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "full_name": user.full_name,
        "role": user.role.key,
        "team": user.team_id or "",
        "language": user.language,
        "is_active": "on" if user.is_active else "",
        "is_available": "on" if user.is_available else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_user_list_shows_role_team_status_and_last_login(client: Any, users: dict[str, Any]) -> None:
    team = Team.objects.create(name="Hà Nội")
    User.objects.filter(pk=users["sales"].pk).update(team=team)
    client.post("/login/", {"email": "admin@example.vn", "password": PASSWORD})
    page = client.get(USERS).content.decode()
    for email in ("admin@example.vn", "sales@example.vn", "analyst@example.vn"):
        assert email in page
    assert "Hà Nội" in page and "Marketing" in page
    assert "never" in page  # the others have not logged in yet


def test_deactivated_users_are_listed_apart(client_for: Any, users: dict[str, Any], make_user: Any) -> None:
    make_user("sales", email="left@example.vn", is_active=False)
    client = client_for(users["admin"])
    assert "left@example.vn" not in client.get(USERS).content.decode()
    assert "left@example.vn" in client.get(USERS + "?status=inactive").content.decode()
    assert "left@example.vn" in client.get(USERS + "?status=all").content.decode()


def test_create_user_with_password(client_for: Any, users: dict[str, Any]) -> None:
    team = Team.objects.create(name="Sài Gòn")
    client = client_for(users["admin"])
    response = client.post(
        reverse("accounts:user_create"),
        {
            "email": " New.Rep@Example.VN ",
            "full_name": "nguyễn văn mới",
            "role": "sales",
            "team": team.pk,
            "language": "vi",
            "password": "long-enough-pass-77",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.rep@example.vn")
    assert (user.role.key, user.team, user.language) == ("sales", team, "vi")
    assert user.check_password("long-enough-pass-77")
    assert AuditEvent.objects.filter(object_type="user", action="create", object_label=user.email).exists()
    client.logout()
    assert client.post("/login/", {"email": "new.rep@example.vn", "password": "long-enough-pass-77"}).status_code == 302


def test_create_user_password_set_later(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    client.post(reverse("accounts:user_create"), {"email": "later@example.vn", "role": "support"})
    user = User.objects.get(email="later@example.vn")
    assert not user.has_usable_password()
    assert "no password" in client.get(USERS).content.decode()
    response = client.post(reverse("accounts:user_set_password", args=[user.pk]), {"password": "now-a-real-one-99"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("now-a-real-one-99")


def test_create_user_bad_input_shows_errors(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    bad = client.post(reverse("accounts:user_create"), {"email": "not-an-email", "role": "sales", "password": "short"})
    assert bad.status_code == 422
    assert bad.content.decode().count('class="errors"') == 2  # email and password
    duplicate = client.post(reverse("accounts:user_create"), {"email": "SALES@example.vn", "role": "sales"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.content.decode()
    unknown_role = client.post(reverse("accounts:user_create"), {"email": "x@example.vn", "role": "nope"})
    assert unknown_role.status_code == 422 and 'class="errors"' in unknown_role.content.decode()
    assert User.objects.count() == 5


def test_edit_role_team_active_and_availability(client_for: Any, users: dict[str, Any]) -> None:
    team = Team.objects.create(name="Đà Nẵng")
    member = users["sales"]
    client = client_for(users["admin"])
    assert client.get(reverse("accounts:user_edit", args=[member.pk])).status_code == 200
    response = client.post(
        reverse("accounts:user_edit", args=[member.pk]),
        edit_data(member, role="support", team=team.pk, is_available="", full_name="Lê Văn Hỗ Trợ"),
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.role.key, member.team, member.is_available, member.full_name) == (
        "support",
        team,
        False,
        "Lê Văn Hỗ Trợ",
    )
    # Deactivate rather than delete: the user stays, and can no longer log in.
    client.post(reverse("accounts:user_edit", args=[member.pk]), edit_data(member, is_active=""))
    member.refresh_from_db()
    assert member.is_active is False
    assert User.objects.filter(pk=member.pk).exists()
    client.logout()
    assert client.post("/login/", {"email": member.email, "password": PASSWORD}).status_code == 422


def test_admin_cannot_lock_themselves_out(client_for: Any, users: dict[str, Any]) -> None:
    admin = users["admin"]
    client = client_for(admin)
    url = reverse("accounts:user_edit", args=[admin.pk])
    demote = client.post(url, edit_data(admin, role="sales"))
    assert demote.status_code == 422
    assert "cannot remove your own admin access" in demote.content.decode()
    deactivate = client.post(url, edit_data(admin, is_active=""))
    assert "cannot deactivate your own account" in deactivate.content.decode()
    admin.refresh_from_db()
    assert admin.is_active and admin.role.key == "admin"


def test_user_managers_cannot_change_admins(client_for: Any, users: dict[str, Any]) -> None:
    # A user manager who is not an admin cannot demote, deactivate or take over an admin.
    managers = role_save(
        actor=actor_for(users["admin"]),
        role=None,
        data={"name": "User managers", "record_scope": "own", "permissions": {"user": ["view", "create", "edit"]}},
    )
    manager = User.objects.create_user("manager@example.vn", PASSWORD, role=managers)
    client = client_for(manager)
    admin = users["admin"]
    response = client.post(reverse("accounts:user_edit", args=[admin.pk]), edit_data(admin, is_active=""))
    assert response.status_code == 403
    taken = client.post(reverse("accounts:user_set_password", args=[admin.pk]), {"password": "taken-over-1234"})
    assert taken.status_code == 403
    admin.refresh_from_db()
    assert admin.is_active and admin.check_password(PASSWORD)


def test_the_last_admin_rule_with_two_admins(client_for: Any, users: dict[str, Any], make_user: Any) -> None:
    other = make_user("admin", email="second@example.vn")
    client = client_for(users["admin"])
    # With two admins, one may demote the other …
    response = client.post(reverse("accounts:user_edit", args=[other.pk]), edit_data(other, role="analyst"))
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.role.key == "analyst"
    # … but no one can remove the last one (the service's error is shown on the page).
    User.objects.filter(pk=other.pk).update(role=Role.objects.get(key="admin"), is_active=False)
    admin = users["admin"]
    response = client.post(reverse("accounts:user_edit", args=[admin.pk]), edit_data(admin, role="sales"))
    assert response.status_code == 422
    assert 'class="errors"' in response.content.decode()


def test_only_admins_hand_out_the_admin_role(client_for: Any, users: dict[str, Any]) -> None:
    managers = role_save(
        actor=actor_for(users["admin"]),
        role=None,
        data={"name": "User managers", "record_scope": "own", "permissions": {"user": ["view", "create", "edit"]}},
    )
    manager = User.objects.create_user("manager@example.vn", PASSWORD, role=managers)
    client = client_for(manager)
    response = client.post(reverse("accounts:user_edit", args=[manager.pk]), edit_data(manager, role="admin"))
    assert response.status_code == 422 and "Admin role" in response.content.decode()
    created = client.post(reverse("accounts:user_create"), {"email": "evil@example.vn", "role": "admin"})
    assert created.status_code == 422
    assert not User.objects.filter(email="evil@example.vn").exists()
    # A role no wider than the manager's own is fine; a wider one is not.
    sales = users["sales"]
    response = client.post(reverse("accounts:user_edit", args=[sales.pk]), edit_data(sales, role="support"))
    assert response.status_code == 422
    role_save(
        actor=actor_for(users["admin"]), role=None,
        data={"name": "Viewers", "record_scope": "own", "permissions": {"user": ["view"]}},
    )  # fmt: skip
    response = client.post(reverse("accounts:user_edit", args=[sales.pk]), edit_data(sales, role="viewers"))
    assert response.status_code == 302


def test_unknown_user_is_404(client_for: Any, users: dict[str, Any]) -> None:
    assert client_for(users["admin"]).get(reverse("accounts:user_edit", args=[99999])).status_code == 404


def test_built_in_role_names_are_in_the_readers_language_custom_ones_as_named(db: Any) -> None:
    from django.utils import translation

    from danhba.accounts.models import Role

    sales = Role.objects.get(key="sales")
    custom = Role.objects.create(key="kho", name="Sales")  # an admin's own role, named in English
    with translation.override("vi"):
        assert str(sales) == "Bán hàng" and str(custom) == "Sales"
    with translation.override("en"):
        assert str(sales) == "Sales"
