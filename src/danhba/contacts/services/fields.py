"""Writes of custom field definitions."""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import (
    CustomField,
)
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.errors import InvalidInput
from danhba.core.normalize import (
    clean_text,
    fold,
)

# --- custom field definitions ---------------------------------------------------------------


_AUDITED = ("label", "choices", "required", "is_sensitive", "is_active")
_CHOICE_TYPES = (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE)


def _choices_of(field: CustomField, data: dict[str, Any], errors: dict[str, list[str]]) -> Any:
    """The field's choices after this change: a list, or a text of comma- or line-separated ones."""
    choices = data.get("choices", field.choices)
    if isinstance(choices, str):
        choices = [c for c in (clean_text(x) for x in choices.replace("\n", ",").split(",")) if c]
    if field.type in _CHOICE_TYPES and not choices:
        errors["choices"] = [_("a choice field needs at least one choice")]
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        errors["choices"] = [_("a list of texts")]
    return choices


def _new_field_identity(field: CustomField, data: dict[str, Any], label: str, errors: dict[str, list[str]]) -> None:
    """Entity, type and key of a field being created (they never change afterwards)."""
    entity = data.get("entity") or CustomField.Entity.CONTACT
    if entity not in CustomField.Entity.values:
        errors["entity"] = [_("must be one of %(choices)s") % {"choices": ", ".join(CustomField.Entity.values)}]
    ftype = data.get("type")
    if ftype not in CustomField.Type.values:
        errors["type"] = [_("must be one of %(choices)s") % {"choices": ", ".join(CustomField.Type.values)}]
    key = slugify(fold(data.get("key") or label)).replace("-", "_")[:54]
    if key in _reserved_custom_keys():
        # "contains", "in", "gt"… would be read as query lookups in filters on the JSON column.
        key = f"{key}_field"
    if not key:
        errors["key"] = [_("letters, digits and underscores")]
    elif CustomField.objects.filter(entity=entity, key=key).exists():
        errors["key"] = [_("a field with key '%(key)s' already exists") % {"key": key}]
    field.entity, field.type, field.key = entity, ftype or "", key


def _set_options(field: CustomField, data: dict[str, Any]) -> None:
    for flag in ("required", "is_sensitive", "is_active"):
        if flag in data:
            setattr(field, flag, bool(data[flag]))
    if "help_text" in data:
        field.help_text = clean_text(data["help_text"])[:240]
    if "position" in data:
        try:
            field.position = max(0, min(int(data["position"]), 32000))
        except (TypeError, ValueError):
            raise InvalidInput({"position": [_("a whole number")]}) from None


def customfield_save(*, actor: Actor, field: CustomField | None, data: dict[str, Any]) -> CustomField:
    require(actor, "customfield", perms.CREATE if field is None else perms.EDIT)
    creating = field is None
    field = field or CustomField()
    errors: dict[str, list[str]] = {}
    label = clean_text(data.get("label", field.label))
    if not label or len(label) > 120:
        errors["label"] = [_("between 1 and 120 characters")]
    if creating:
        _new_field_identity(field, data, label, errors)
    elif "type" in data and data["type"] != field.type:
        errors["type"] = [_("the type of an existing field cannot change; add a new field instead")]
    choices = _choices_of(field, data, errors)
    if errors:
        raise InvalidInput(errors)
    before = {} if creating else {key: getattr(field, key) for key in _AUDITED}
    field.label = label
    field.choices = list(dict.fromkeys(choices)) if field.type in _CHOICE_TYPES else []
    _set_options(field, data)
    field.save()
    audit_event(
        actor=actor,
        action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
        object_type="customfield",
        object_id=field.pk,
        object_label=field.label,
        changes=changes_between(before, {key: getattr(field, key) for key in _AUDITED}),
    )
    return field


def _reserved_custom_keys() -> set[str]:
    from django.db.models import JSONField

    return {name.lower() for name in JSONField.get_lookups()} | {"pk", "id"}


def customfield_delete(*, actor: Actor, field: CustomField) -> None:
    """Retire a field: values stay in the JSON column (the audit trail can still explain them)
    but the field no longer shows, validates or exports."""
    require(actor, "customfield", perms.DELETE)
    field.is_active = False
    field.save(update_fields=["is_active"])
    audit_event(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        object_type="customfield",
        object_id=field.pk,
        object_label=field.label,
    )
