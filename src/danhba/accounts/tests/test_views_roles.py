"""The roles pages: permission matrix, record visibility, sensitive fields; and teams."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from danhba.accounts.models import Role, Team, User
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, CustomField
from danhba.contacts.selectors import contact_data, hidden_fields
from danhba.contacts.services.contacts import contact_delete
from danhba.contacts.services.fields import customfield_save
from danhba.core.errors import PermissionDenied


def role_form(role: Role, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": role.name,
        "record_scope": role.record_scope,
        "permissions": [f"{obj}.{a}" for obj, actions in role.permissions.items() for a in actions],
        "sensitive_fields": [k for k in role.sensitive_fields if k != "*"],
    }
    if "*" in role.sensitive_fields:
        data["all_sensitive"] = "on"
    data.update(changes)
    return data


def test_role_list_shows_builtin_roles(client_for: Any, users: dict[str, Any]) -> None:
    page = client_for(users["admin"]).get("/roles/").content.decode()
    for name in ("Admin", "Marketing", "Sales", "Support", "Analyst"):
        assert name in page


def test_role_edit_page_shows_the_matrix(client_for: Any, users: dict[str, Any]) -> None:
    support = Role.objects.get(key="support")
    page = client_for(users["admin"]).get(reverse("accounts:role_edit", args=[support.pk])).content.decode()
    assert 'value="contact.edit" class="perm-contact" aria-label="Contacts: edit" checked' in page
    assert 'value="contact.delete" class="perm-contact" aria-label="Contacts: delete">' in page
    assert 'value="birthday"' in page


def test_granting_contact_delete_lets_support_delete(client_for: Any, users: dict[str, Any], make_contact: Any) -> None:
    support_user = users["support"]
    contact = make_contact(full_name="Phạm Thị Xoá")
    with pytest.raises(PermissionDenied):
        contact_delete(actor=actor_for(support_user), contact=contact)

    support = Role.objects.get(key="support")
    form = role_form(support)
    form["permissions"].append("contact.delete")
    response = client_for(users["admin"]).post(reverse("accounts:role_edit", args=[support.pk]), form)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(object_type="role", action="update", object_id=str(support.pk)).exists()

    support_user = User.objects.get(pk=support_user.pk)
    assert support_user.can("contact", "delete")
    contact_delete(actor=actor_for(support_user), contact=contact)
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_removing_a_permission_takes_it_away(client_for: Any, users: dict[str, Any]) -> None:
    marketing = Role.objects.get(key="marketing")
    form = role_form(marketing)
    form["permissions"] = [p for p in form["permissions"] if not p.startswith("tag.")]
    client_for(users["admin"]).post(reverse("accounts:role_edit", args=[marketing.pk]), form)
    user = User.objects.get(pk=users["marketing"].pk)
    assert not user.can("tag", "view")
    assert user.can("contact", "export")


def test_sensitive_field_grant_makes_the_field_visible(
    client_for: Any, users: dict[str, Any], make_contact: Any
) -> None:
    admin = users["admin"]
    field = customfield_save(
        actor=actor_for(admin), field=None, data={"label": "Số CCCD", "type": "text", "is_sensitive": True}
    )
    contact = make_contact(full_name="Đỗ Văn Bí Mật", custom={field.key: "079123456789"}, birthday="1990-02-03")
    support_user = users["support"]
    assert field.permission_key in hidden_fields(support_user)
    assert field.key not in contact_data(contact, support_user)["custom"]

    support = Role.objects.get(key="support")
    page = client_for(admin).get(reverse("accounts:role_edit", args=[support.pk])).content.decode()
    assert f'value="{field.permission_key}"' in page and "Số CCCD" in page
    response = client_for(admin).post(
        reverse("accounts:role_edit", args=[support.pk]), role_form(support, sensitive_fields=[field.permission_key])
    )
    assert response.status_code == 302
    support_user = User.objects.get(pk=support_user.pk)
    assert contact_data(contact, support_user)["custom"][field.key] == "079123456789"
    assert "birthday" not in contact_data(contact, support_user)

    client_for(admin).post(reverse("accounts:role_edit", args=[support.pk]), role_form(support, all_sensitive="on"))
    support_user = User.objects.get(pk=support_user.pk)
    assert hidden_fields(support_user) == set()
    assert Role.objects.get(pk=support.pk).sensitive_fields == ["*"]


def test_saving_a_role_keeps_grants_to_retired_fields(client_for: Any, users: dict[str, Any]) -> None:
    admin = users["admin"]
    field = customfield_save(
        actor=actor_for(admin), field=None, data={"label": "Old secret", "type": "text", "is_sensitive": True}
    )
    field.is_active = False
    field.save()
    analyst = Role.objects.get(key="analyst")
    analyst.sensitive_fields = [CustomField.objects.get(pk=field.pk).permission_key]
    analyst.save()
    page = client_for(admin).get(reverse("accounts:role_edit", args=[analyst.pk])).content.decode()
    assert "retired" in page
    client_for(admin).post(reverse("accounts:role_edit", args=[analyst.pk]), role_form(analyst))
    assert Role.objects.get(pk=analyst.pk).sensitive_fields == [field.permission_key]


def test_record_visibility_change(client_for: Any, users: dict[str, Any]) -> None:
    sales = Role.objects.get(key="sales")
    client_for(users["admin"]).post(
        reverse("accounts:role_edit", args=[sales.pk]), role_form(sales, record_scope="team")
    )
    assert Role.objects.get(pk=sales.pk).record_scope == "team"
    bad = client_for(users["admin"]).post(
        reverse("accounts:role_edit", args=[sales.pk]), role_form(sales, record_scope="x")
    )
    assert bad.status_code == 422 and "errorlist" in bad.content.decode()


def test_builtin_admin_role_is_not_editable(client_for: Any, users: dict[str, Any]) -> None:
    admin_role = Role.objects.get(key="admin")
    client = client_for(users["admin"])
    page = client.get(reverse("accounts:role_edit", args=[admin_role.pk])).content.decode()
    assert "<fieldset disabled" in page
    response = client.post(reverse("accounts:role_edit", args=[admin_role.pk]), role_form(admin_role, permissions=[]))
    assert response.status_code == 422
    assert "always has every permission" in response.content.decode()
    assert Role.objects.get(pk=admin_role.pk).allows("user", "edit")


def test_create_and_delete_a_custom_role(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    response = client.post(
        reverse("accounts:role_create"),
        {"name": "Call centre", "record_scope": "all", "permissions": ["contact.view", "timeline.create"]},
    )
    assert response.status_code == 302
    role = Role.objects.get(key="call-centre")
    assert role.permissions == {"contact": ["view"], "timeline": ["create"]}
    assert not role.is_builtin

    member = User.objects.create_user("agent@example.vn", "x", role=role)
    refused = client.post(reverse("accounts:role_delete", args=[role.pk]), follow=True)
    assert "not deleted" in refused.content.decode()
    assert Role.objects.filter(pk=role.pk).exists()

    member.role = Role.objects.get(key="support")
    member.save()
    assert client.post(reverse("accounts:role_delete", args=[role.pk])).status_code == 302
    assert not Role.objects.filter(pk=role.pk).exists()


def test_builtin_roles_cannot_be_deleted(client_for: Any, users: dict[str, Any]) -> None:
    analyst = Role.objects.get(key="analyst")
    User.objects.filter(role=analyst).update(role=Role.objects.get(key="sales"))
    client_for(users["admin"]).post(reverse("accounts:role_delete", args=[analyst.pk]))
    assert Role.objects.filter(pk=analyst.pk).exists()


def test_role_create_bad_input(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    empty = client.post(reverse("accounts:role_create"), {"name": "", "record_scope": "own"})
    assert empty.status_code == 422 and 'class="errors"' in empty.content.decode()
    taken = client.post(reverse("accounts:role_create"), {"name": "Sales", "record_scope": "own"})
    assert taken.status_code == 422 and "taken" in taken.content.decode()
    junk = client.post(reverse("accounts:role_create"), {"name": "Junk", "record_scope": "own", "permissions": ["x.y"]})
    assert junk.status_code == 422
    assert Role.objects.count() == 5


def test_teams_create_rename_and_members(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    assert client.post(reverse("accounts:team_create"), {"name": "Miền Bắc"}).status_code == 302
    team = Team.objects.get(name="Miền Bắc")
    User.objects.filter(pk=users["sales"].pk).update(team=team)
    page = client.get("/roles/").content.decode()
    assert "Miền Bắc" in page and "Sales" in page
    client.post(reverse("accounts:team_edit", args=[team.pk]), {"name": "Hà Nội"})
    assert Team.objects.get(pk=team.pk).name == "Hà Nội"
    duplicate = client.post(reverse("accounts:team_create"), {"name": "hà nội"}, follow=True)
    assert "already exists" in duplicate.content.decode()
    assert Team.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="team").count() == 2
