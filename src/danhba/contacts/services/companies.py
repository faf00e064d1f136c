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


_TYPED_FIELDS = (
    ("website", CustomField.Type.URL),
    ("email", CustomField.Type.EMAIL),
    ("phone", CustomField.Type.PHONE),
)
_ALLOWED = {*COMPANY_TEXT_FIELDS, "domain", "website", "email", "phone", "province", "description", "owner", "custom"}


def _too_long(key: str, value: str) -> list[str] | None:
    limit = int(getattr(Company._meta.get_field(key), "max_length", 0) or 255)
    return [_("at most %(n)s characters") % {"n": limit}] if len(value) > limit else None


def _clean_typed(key: str, ftype: str, raw: Any) -> tuple[str, list[str] | None]:
    """A website, email or phone cleaned by the custom-field rule of its type."""
    if not clean_text(raw):
        return "", None
    try:
        value = clean_value(CustomField(type=ftype), raw)
    except ValueError as exc:
        return "", [str(exc)]
    return value, _too_long(key, value)


def _clean_owner(raw: Any) -> tuple[User | None, list[str] | None]:
    if raw in (None, ""):
        return None, None
    owner = User.objects.filter(pk=raw, is_active=True).first() if str(raw).isdigit() else None
    return owner, None if owner else [_("no such active user")]


def _clean_fields(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """The standard fields present in ``data``, cleaned; problems go to ``errors``."""
    cleaned: dict[str, Any] = {}
    problems: dict[str, list[str] | None] = {key: [_("unknown field")] for key in data if key not in _ALLOWED}
    for key in COMPANY_TEXT_FIELDS:
        if key in data:
            cleaned[key] = clean_text(data[key])
            problems[key] = _too_long(key, cleaned[key])
    if "description" in data:
        cleaned["description"] = clean_long_text(data["description"])
    if "domain" in data:
        cleaned["domain"] = clean_text(data["domain"]).lower().removeprefix("www.")[:200]
    for key, ftype in _TYPED_FIELDS:
        if key in data:
            cleaned[key], problems[key] = _clean_typed(key, ftype, data[key])
    if "province" in data:
        cleaned["province"], problems["province"] = _clean_province(data["province"])
    if "owner" in data:
        cleaned["owner"], problems["owner"] = _clean_owner(data["owner"])
    errors.update({key: found for key, found in problems.items() if found})
    return cleaned


def _clean_province(raw: Any) -> tuple[str, list[str] | None]:
    province = province_key(raw) if clean_text(raw) else ""
    if province is None:
        return "", [_("unknown province '%(value)s'") % {"value": raw}]
    return province, None


def _clean_custom(
    actor: Actor, company: Company | None, data: dict[str, Any], errors: dict[str, list[str]]
) -> dict[str, Any]:
    """The company's custom values after this change. A role that may not see a sensitive field
    may not change it either (PermissionDenied)."""
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
        CustomField.Entity.COMPANY, custom_in, company.custom if company else None, creating=company is None
    )
    errors.update(custom_errors)
    return custom


def company_save(*, actor: Actor, company: Company | None, data: dict[str, Any]) -> Company:
    creating = company is None
    require(actor, "company", perms.CREATE if creating else perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned = _clean_fields(data, errors)
    custom = _clean_custom(actor, company, data, errors)
    if creating and not cleaned.get("name"):
        errors["name"] = [_("this field is required")]
    if not creating and "name" in cleaned and not cleaned["name"]:
        errors["name"] = [_("cannot be empty")]
    if errors:
        raise InvalidInput(errors)
    return _company_write(actor, company or Company(), cleaned, custom, creating=creating)


def _company_write(
    actor: Actor, company: Company, cleaned: dict[str, Any], custom: dict[str, Any], *, creating: bool
) -> Company:
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
        _company_changed(actor, company, changes_between(before, _company_snapshot(company)), creating=creating)
    return company


def _company_changed(actor: Actor, company: Company, changes: dict[str, Any], *, creating: bool) -> None:
    """The audit row of a company write, and the "changed" fan-out to its contacts."""
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
