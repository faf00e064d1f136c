"""The "Fields and stages" settings: custom fields, stages, buyer roles, tags, consent purposes."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import BuyerRole, Contact, CustomField, LifecycleStage, Tag
from danhba.contacts.services import choices as settings_services
from danhba.contacts.services.contacts import contact_create
from danhba.core.errors import PermissionDenied
from danhba.privacy.models import ConsentPurpose
from danhba.privacy.purposes import consent_purpose_save

SETTINGS = "/settings/"


def test_index_lists_every_section_for_admins(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    assert reverse("settings:index") == SETTINGS
    fields = client.get(SETTINGS).content.decode()
    assert "Contact fields" in fields and "Company fields" in fields
    stages = client.get(SETTINGS + "?tab=stages").content.decode()
    assert "Marketing qualified lead" in stages and "Decision maker" in stages
    # In their configured order, not by key.
    order = [stages.index(f"<code>{key}</code>") for key in ("subscriber", "lead", "mql", "sql", "customer")]
    assert order == sorted(order)
    purposes = client.get(SETTINGS + "?tab=purposes").content.decode()
    assert ConsentPurpose.objects.first().name in purposes  # type: ignore[union-attr]


def test_marketing_gets_the_tags_tab_only(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    page = client.get(SETTINGS + "?tab=stages").content.decode()
    assert "Add a tag" in page and "Marketing qualified lead" not in page
    assert client.get(reverse("settings:field_create")).status_code == 403


# --- custom fields --------------------------------------------------------------------------


def test_custom_field_create(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    assert client.get(reverse("settings:field_create") + "?entity=company").status_code == 200
    response = client.post(
        reverse("settings:field_create"),
        {
            "entity": "contact",
            "label": "Kênh yêu thích",
            "type": "choice",
            "choices": "Zalo\nFacebook\nZalo\nEmail",
            "required": "",
            "is_sensitive": "on",
            "help_text": "Where they prefer to hear from us",
            "position": "5",
        },
    )
    assert response.status_code == 302
    field = CustomField.objects.get(label="Kênh yêu thích")
    assert field.key == "kenh_yeu_thich"
    assert field.choices == ["Zalo", "Facebook", "Email"]
    assert (field.is_sensitive, field.required, field.position) == (True, False, 5)
    assert AuditEvent.objects.filter(object_type="customfield", action="create").exists()
    assert "kenh_yeu_thich" in client.get(SETTINGS).content.decode()


@pytest.mark.parametrize(
    ("data", "error_field"),
    [
        ({"entity": "contact", "label": "Size", "type": "choice", "choices": ""}, "choices"),
        ({"entity": "contact", "label": "", "type": "text"}, "label"),
        ({"entity": "contact", "label": "Odd", "type": "colour"}, "type"),
        ({"entity": "planet", "label": "Odd", "type": "text"}, "entity"),
        ({"entity": "contact", "label": "Odd", "type": "text", "position": "-3"}, "position"),
        ({"entity": "contact", "label": "!!!", "type": "text"}, "key"),
    ],
)
def test_custom_field_bad_input_shows_errors(
    client_for: Any, users: dict[str, Any], data: dict[str, str], error_field: str
) -> None:
    response = client_for(users["admin"]).post(reverse("settings:field_create"), data)
    assert response.status_code == 422
    # The error sits in the same field block as the input it is about.
    blocks = response.content.decode().split('<div class="field')
    block = next(b for b in blocks if f'name="{error_field}"' in b)
    assert 'class="errors"' in block
    assert not CustomField.objects.exists()


def test_custom_field_duplicate_key(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    client.post(reverse("settings:field_create"), {"entity": "contact", "label": "Hạng", "type": "text"})
    again = client.post(reverse("settings:field_create"), {"entity": "contact", "label": "hang", "type": "text"})
    assert again.status_code == 422 and "already exists" in again.content.decode()
    # The same key on companies is a different field.
    other = client.post(reverse("settings:field_create"), {"entity": "company", "label": "Hạng", "type": "text"})
    assert other.status_code == 302


def test_custom_field_edit_and_retire(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    client.post(
        reverse("settings:field_create"),
        {"entity": "contact", "label": "Size", "type": "choice", "choices": "S\nM"},
    )
    field = CustomField.objects.get(key="size")
    url = reverse("settings:field_edit", args=[field.pk])
    assert "S\nM" in client.get(url).content.decode()
    response = client.post(url, {"label": "Áo size", "choices": "S\nM\nL", "position": "2", "is_active": "on"})
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.label, field.choices, field.position) == ("Áo size", ["S", "M", "L"], 2)
    empty = client.post(url, {"label": "Áo size", "choices": "", "is_active": "on"})
    assert empty.status_code == 422 and "at least one choice" in empty.content.decode()

    assert client.post(reverse("settings:field_retire", args=[field.pk])).status_code == 302
    field.refresh_from_db()
    assert not field.is_active
    assert "retired" in client.get(SETTINGS).content.decode()
    # Bring it back by editing.
    client.post(url, {"label": "Áo size", "choices": "S\nM\nL", "is_active": "on"})
    field.refresh_from_db()
    assert field.is_active


def test_custom_field_pages_need_the_customfield_permissions(client_for: Any, users: dict[str, Any]) -> None:
    field = CustomField.objects.create(key="x", label="X", type="text")
    client = client_for(users["marketing"])
    assert client.get(reverse("settings:field_edit", args=[field.pk])).status_code == 403
    assert client.post(reverse("settings:field_retire", args=[field.pk])).status_code == 403
    field.refresh_from_db()
    assert field.is_active


# --- lifecycle stages and buyer roles -------------------------------------------------------


def test_stage_rename_and_reorder(client_for: Any, users: dict[str, Any]) -> None:
    stage = LifecycleStage.objects.get(key="mql")
    client = client_for(users["admin"])
    url = reverse("settings:choice_edit", args=["stages", stage.pk])
    assert 'value="Marketing qualified lead"' in client.get(url).content.decode()
    response = client.post(url, {"name": "MQL", "name_vi": "Tiềm năng MQL", "position": "15", "is_active": "on"})
    assert response.status_code == 302
    stage.refresh_from_db()
    assert (stage.key, stage.name, stage.name_vi, stage.position) == ("mql", "MQL", "Tiềm năng MQL", 15)
    event = AuditEvent.objects.get(object_type="lifecycle_stage", action="update")
    assert event.changes["name"] == ["Marketing qualified lead", "MQL"]


def test_stage_inline_edit_with_htmx(client_for: Any, users: dict[str, Any]) -> None:
    stage = LifecycleStage.objects.get(key="lead")
    client = client_for(users["admin"])
    url = reverse("settings:choice_edit", args=["stages", stage.pk])
    form = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert form.lstrip().startswith("<tr") and "hx-post" in form
    bad = client.post(url, {"name": "", "position": "1"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and bad.content.decode().lstrip().startswith("<tr")
    ok = client.post(
        url, {"name": "Lead", "name_vi": "Khách tiềm năng", "position": "10", "is_active": "on"}, HTTP_HX_REQUEST="true"
    )
    assert ok.status_code == 200 and "Khách tiềm năng" in ok.content.decode() and "hx-post" not in ok.content.decode()
    cancel = client.get(url + "?cancel=1", HTTP_HX_REQUEST="true").content.decode()
    assert "<form" not in cancel.split("actions-cell")[0]


def test_stage_deactivate_keeps_contacts_and_new_contacts_skip_it(
    client_for: Any, users: dict[str, Any], admin: Any
) -> None:
    subscriber = LifecycleStage.objects.get(key="subscriber")
    contact = contact_create(actor=actor_for(admin), data={"full_name": "Vũ Văn Cũ"})
    assert contact.lifecycle_stage == subscriber
    client = client_for(users["admin"])
    response = client.post(
        reverse("settings:choice_edit", args=["stages", subscriber.pk]), {"name": "Subscriber", "position": "0"}
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    assert Contact.objects.get(pk=contact.pk).lifecycle_stage == subscriber
    newer = contact_create(actor=actor_for(admin), data={"full_name": "Vũ Văn Mới"})
    assert newer.lifecycle_stage.key == "lead"


def test_the_last_active_stage_stays_active(users: dict[str, Any]) -> None:
    actor = actor_for(users["admin"])
    LifecycleStage.objects.exclude(key="customer").update(is_active=False)
    customer = LifecycleStage.objects.get(key="customer")
    from danhba.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        settings_services.lifecycle_stage_save(actor=actor, stage=customer, data={"is_active": False})
    customer.refresh_from_db()
    assert customer.is_active


def test_stage_add_and_delete_only_when_unused(client_for: Any, users: dict[str, Any], admin: Any) -> None:
    client = client_for(users["admin"])
    response = client.post(
        reverse("settings:choice_create", args=["stages"]),
        {"name": "Churned", "name_vi": "Đã rời bỏ", "is_active": "on"},
    )
    assert response.status_code == 302
    churned = LifecycleStage.objects.get(key="churned")
    assert churned.position > LifecycleStage.objects.get(key="evangelist").position
    duplicate = client.post(reverse("settings:choice_create", args=["stages"]), {"name": "churned", "is_active": "on"})
    assert duplicate.status_code == 422 and "already used" in duplicate.content.decode()

    contact = contact_create(actor=actor_for(admin), data={"full_name": "Lý Thị Đi", "lifecycle_stage": "churned"})
    refused = client.post(reverse("settings:choice_delete", args=["stages", churned.pk]), follow=True)
    assert "not deleted" in refused.content.decode()
    assert LifecycleStage.objects.filter(pk=churned.pk).exists()

    contact.delete()
    assert client.post(reverse("settings:choice_delete", args=["stages", churned.pk])).status_code == 302
    assert not LifecycleStage.objects.filter(pk=churned.pk).exists()
    assert AuditEvent.objects.filter(object_type="lifecycle_stage", action="delete").exists()


def test_buyer_role_add_rename_deactivate(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    client.post(
        reverse("settings:choice_create", args=["buyer-roles"]),
        {"name": "Champion", "name_vi": "Người ủng hộ nội bộ", "is_active": "on"},
    )
    role = BuyerRole.objects.get(key="champion")
    client.post(reverse("settings:choice_edit", args=["buyer-roles", role.pk]), {"name": "Internal champion"})
    role.refresh_from_db()
    assert role.name == "Internal champion" and role.key == "champion" and not role.is_active


def test_only_admins_change_stages_and_purposes(users: dict[str, Any]) -> None:
    stage = LifecycleStage.objects.get(key="lead")
    for role in ("marketing", "sales", "support", "analyst"):
        with pytest.raises(PermissionDenied):
            settings_services.lifecycle_stage_save(actor=actor_for(users[role]), stage=stage, data={"name": "X"})
        with pytest.raises(PermissionDenied):
            consent_purpose_save(actor=actor_for(users[role]), purpose=None, data={"name": "X"})


def test_unknown_list_is_404(client_for: Any, users: dict[str, Any]) -> None:
    assert client_for(users["admin"]).post(reverse("settings:choice_create", args=["planets"]), {}).status_code == 404


# --- consent purposes -----------------------------------------------------------------------


def test_purpose_add_edit_deactivate(client_for: Any, users: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    response = client.post(
        reverse("settings:choice_create", args=["purposes"]),
        {
            "name": "Zalo messages",
            "name_vi": "Tin nhắn Zalo",
            "description": "Offers and reminders over Zalo OA",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    purpose = ConsentPurpose.objects.get(key="zalo_messages")
    assert (purpose.name_vi, purpose.description) == ("Tin nhắn Zalo", "Offers and reminders over Zalo OA")
    assert AuditEvent.objects.filter(object_type="consent_purpose", action="create").exists()
    page = client.get(SETTINGS + "?tab=purposes").content.decode()
    assert "Offers and reminders over Zalo OA" in page

    client.post(
        reverse("settings:choice_edit", args=["purposes", purpose.pk]),
        {"name": "Zalo messages", "name_vi": "Tin nhắn Zalo", "description": "Only reminders"},
    )
    purpose.refresh_from_db()
    assert purpose.description == "Only reminders" and not purpose.is_active
    # Purposes are never deleted: the consent ledger refers to them.
    assert client.post(reverse("settings:choice_delete", args=["purposes", purpose.pk])).status_code == 404
    assert ConsentPurpose.objects.filter(pk=purpose.pk).exists()


def test_purpose_bad_input(client_for: Any, users: dict[str, Any]) -> None:
    before = ConsentPurpose.objects.count()
    response = client_for(users["admin"]).post(
        reverse("settings:choice_create", args=["purposes"]), {"name": "", "description": "x" * 3000}
    )
    assert response.status_code == 422
    assert response.content.decode().count('class="errors"') == 2
    assert ConsentPurpose.objects.count() == before


# --- tags -----------------------------------------------------------------------------------


def test_tags_with_counts_rename_colour_delete(client_for: Any, users: dict[str, Any], make_contact: Any) -> None:
    make_contact(full_name="Một", tags=["VIP"])
    make_contact(full_name="Hai", tags=["VIP", "Hà Nội"])
    vip = Tag.objects.get(name="VIP")
    client = client_for(users["marketing"])
    page = client.get(SETTINGS + "?tab=tags").content.decode()
    row = page[page.index(f'id="tag-{vip.pk}"') :]
    assert "<td>2</td>" in row[: row.index("</tr>")]

    response = client.post(reverse("settings:tag_edit", args=[vip.pk]), {"name": "Khách VIP", "color": "#b91c1c"})
    assert response.status_code == 302
    vip.refresh_from_db()
    assert (vip.name, vip.color) == ("Khách VIP", "#b91c1c")
    clash = client.post(reverse("settings:tag_edit", args=[vip.pk]), {"name": "hà nội", "color": "#b91c1c"})
    assert clash.status_code == 422 and "already exists" in clash.content.decode()
    bad_colour = client.post(reverse("settings:tag_edit", args=[vip.pk]), {"name": "VIP", "color": "red"})
    assert bad_colour.status_code == 422

    assert client.post(reverse("settings:tag_create"), {"name": "Mới", "color": "#047857"}).status_code == 302
    assert Tag.objects.filter(name="Mới").exists()

    assert client.post(reverse("settings:tag_delete", args=[vip.pk])).status_code == 302
    assert not Tag.objects.filter(pk=vip.pk).exists()
    assert AuditEvent.objects.filter(object_type="tag", action="delete").exists()


def test_tag_inline_edit_with_htmx(client_for: Any, users: dict[str, Any]) -> None:
    tag = Tag.objects.create(name="Cũ", name_key="cu")
    client = client_for(users["admin"])
    url = reverse("settings:tag_edit", args=[tag.pk])
    assert "hx-post" in client.get(url, HTTP_HX_REQUEST="true").content.decode()
    ok = client.post(url, {"name": "Khách cũ", "color": "#334155"}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and "Khách cũ" in ok.content.decode()


def test_roles_without_tag_rights_cannot_change_tags(client_for: Any, users: dict[str, Any]) -> None:
    tag = Tag.objects.create(name="Giữ", name_key="giu")
    client = client_for(users["sales"])
    assert client.post(reverse("settings:tag_edit", args=[tag.pk]), {"name": "Đổi"}).status_code == 403
    assert client.post(reverse("settings:tag_delete", args=[tag.pk])).status_code == 403
    assert client.post(reverse("settings:tag_create"), {"name": "Mới"}).status_code == 403
    assert Tag.objects.get(pk=tag.pk).name == "Giữ"
