"""Each built-in role gets the right answer on every accounts and settings page."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

# Page → the roles that may open it; everyone else gets 403.
PAGES: dict[str, set[str]] = {
    "accounts:profile": {"admin", "marketing", "sales", "support", "analyst"},
    "accounts:user_list": {"admin"},
    "accounts:user_create": {"admin"},
    "accounts:role_list": {"admin"},
    "accounts:role_create": {"admin"},
    "settings:index": {"admin", "marketing"},
    "settings:field_create": {"admin"},
}


@pytest.mark.parametrize("role", ["admin", "marketing", "sales", "support", "analyst"])
def test_each_role_gets_the_right_status_on_each_page(role: str, users: dict[str, Any], client: Any) -> None:
    client.force_login(users[role])
    for name, allowed in PAGES.items():
        response = client.get(reverse(name))
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, f"{role} on {name}: {response.status_code}"


@pytest.mark.parametrize("role", ["admin", "marketing", "sales", "support", "analyst"])
def test_object_pages_and_settings_tabs(role: str, users: dict[str, Any], client: Any) -> None:
    from danhba.accounts.models import Role
    from danhba.contacts.models import LifecycleStage, Tag
    from danhba.privacy.models import ConsentPurpose

    client.force_login(users[role])
    tag = Tag.objects.create(name="VIP", name_key="vip")
    stage = LifecycleStage.objects.get(key="lead")
    purpose = ConsentPurpose.objects.order_by("pk").first()
    assert purpose is not None
    is_admin = role == "admin"
    checks = [
        (reverse("accounts:user_edit", args=[users["sales"].pk]), is_admin),
        (reverse("accounts:role_edit", args=[Role.objects.get(key="support").pk]), is_admin),
        (reverse("settings:choice_edit", args=["stages", stage.pk]), is_admin),
        (reverse("settings:choice_edit", args=["purposes", purpose.pk]), is_admin),
        (reverse("settings:tag_edit", args=[tag.pk]), role in ("admin", "marketing")),
    ]
    for url, allowed in checks:
        assert client.get(url).status_code == (200 if allowed else 403), f"{role} on {url}"
    if role in ("admin", "marketing"):
        page = client.get(reverse("settings:index")).content.decode()
        assert ("?tab=stages" in page) is is_admin
        assert ("?tab=purposes" in page) is is_admin
        assert "?tab=tags" in page


def test_anonymous_visitors_are_sent_to_login(client: Any) -> None:
    for name in [*PAGES, "accounts:profile"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_forbidden_actions_change_nothing(users: dict[str, Any], client: Any) -> None:
    from danhba.accounts.models import Role

    client.force_login(users["sales"])
    support = Role.objects.get(key="support")
    response = client.post(
        reverse("accounts:role_edit", args=[support.pk]),
        {"name": "Support", "record_scope": "all", "permissions": ["contact.delete"]},
    )
    assert response.status_code == 403
    support.refresh_from_db()
    assert not support.allows("contact", "delete")
    response = client.post(reverse("settings:choice_create", args=["stages"]), {"name": "Hacked"})
    assert response.status_code == 403
