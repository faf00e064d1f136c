"""Writes of companies."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.changes import contacts_changed
from danhba.contacts.custom_fields import clean_custom_values, clean_value
from danhba.contacts.keys import company_key
from danhba.contacts.models import (
    Company,
    CustomField,
)
from danhba.contacts.search import search_index, search_index_soon
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.core.normalize import (
    clean_long_text,
    clean_text,
)
from danhba.core.vn import province_key

# --- companies ------------------------------------------------------------------------------

COMPANY_TEXT_FIELDS = ("name", "industry", "size", "street", "ward", "tax_code")


def company_save_new(actor: Actor, company: Company) -> Company:
    company.name_key = company_key(company.name)
    company.save()
    audit_event(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        object_type="company",
        object_id=company.pk,
        object_label=company.name,
        changes={"name": [None, company.name]},
    )
    return company


def company_save(*, actor: Actor, company: Company | None, data: dict[str, Any]) -> Company:
    creating = company is None
    require(actor, "company", perms.CREATE if creating else perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    allowed = {
        *COMPANY_TEXT_FIELDS,
        "domain",
        "website",
        "email",
        "phone",
        "province",
        "description",
        "owner",
        "custom",
    }
    for key in data:
        if key not in allowed:
            errors[key] = [_("unknown field")]
    for key in COMPANY_TEXT_FIELDS:
        if key in data:
            cleaned[key] = clean_text(data[key])
            limit = int(getattr(Company._meta.get_field(key), "max_length", 0) or 255)
            if len(cleaned[key]) > limit:
                errors[key] = [_("at most %(n)s characters") % {"n": limit}]
    if "description" in data:
        cleaned["description"] = clean_long_text(data["description"])
    if "domain" in data:
        cleaned["domain"] = clean_text(data["domain"]).lower().removeprefix("www.")[:200]
    for key, ftype in (
        ("website", CustomField.Type.URL),
        ("email", CustomField.Type.EMAIL),
        ("phone", CustomField.Type.PHONE),
    ):
        if key in data:
            if not clean_text(data[key]):
                cleaned[key] = ""
                continue
            try:
                cleaned[key] = clean_value(CustomField(type=ftype), data[key])
            except ValueError as exc:
                errors[key] = [str(exc)]
                continue
            limit = int(getattr(Company._meta.get_field(key), "max_length", 0) or 255)
            if len(cleaned[key]) > limit:
                errors[key] = [_("at most %(n)s characters") % {"n": limit}]
    if "province" in data:
        province = province_key(data["province"]) if clean_text(data["province"]) else ""
        if province is None:
            errors["province"] = [_("unknown province '%(value)s'") % {"value": data["province"]}]
        cleaned["province"] = province or ""
    if "owner" in data:
        cleaned["owner"] = None
        if data["owner"] not in (None, ""):
            cleaned["owner"] = (
                User.objects.filter(pk=data["owner"], is_active=True).first() if str(data["owner"]).isdigit() else None
            )
            if cleaned["owner"] is None:
                errors["owner"] = [_("no such active user")]
    custom_in = data.get("custom") or {}
    if not isinstance(custom_in, dict):
        errors["custom"] = [_("must be an object of field key → value")]
        custom_in = {}
    if custom_in and actor.user is not None:
        user = actor.user
        sensitive = CustomField.objects.filter(
            entity=CustomField.Entity.COMPANY, key__in=list(custom_in), is_sensitive=True
        )
        hidden = [f"custom.{f.key}" for f in sensitive if not user.sees_field(f.permission_key)]
        if hidden:
            raise PermissionDenied(
                _("Your role cannot change these fields."), {k: [_("not permitted for your role")] for k in hidden}
            )
    custom, custom_errors = clean_custom_values(
        CustomField.Entity.COMPANY, custom_in, company.custom if company else None, creating=creating
    )
    errors.update(custom_errors)
    if creating and not cleaned.get("name"):
        errors["name"] = [_("this field is required")]
    if not creating and "name" in cleaned and not cleaned["name"]:
        errors["name"] = [_("cannot be empty")]
    if errors:
        raise InvalidInput(errors)
    company = company or Company()
    before = {} if creating else _company_snapshot(company)
    renamed = not creating and "name" in cleaned and cleaned["name"] != company.name
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(company, key, value)
        company.custom = custom
        company.name_key = company_key(company.name)
        company.updated_at = timezone.now()
        company.save()
        if renamed:
            search_index_soon(list(company.contact_links.values_list("contact_id", flat=True)))
        changes = changes_between(before, _company_snapshot(company))
        if creating or changes:
            audit_event(
                actor=actor,
                action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
                object_type="company",
                object_id=company.pk,
                object_label=company.name,
                changes=changes,
            )
        if changes and not creating:
            contacts_changed(
                reasons={cid: ["company"] for cid in company.contact_links.values_list("contact_id", flat=True)}
            )
    return company


def _company_snapshot(company: Company) -> dict[str, Any]:
    snap = {
        k: getattr(company, k)
        for k in (*COMPANY_TEXT_FIELDS, "domain", "website", "email", "phone", "province", "description")
    }
    snap["owner"] = company.owner.email if company.owner_id and company.owner else None
    snap.update({f"company_custom.{k}": v for k, v in (company.custom or {}).items()})
    return snap


def company_delete(*, actor: Actor, company: Company) -> None:
    require(actor, "company", perms.DELETE)
    with transaction.atomic():
        contact_ids = list(company.contact_links.values_list("contact_id", flat=True))
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="company",
            object_id=company.pk,
            object_label=company.name,
            changes=changes_between(_company_snapshot(company), {}),
        )
        company.delete()
        search_index(contact_ids)
