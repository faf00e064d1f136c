"""Saved column mappings: keep a file layout's mapping and options under a name, apply it to the
next file of that layout, delete it.

Mappings are shared by everyone who may run imports. Changing or deleting one somebody else
saved takes a role that sees all records (as for their imports).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.core.normalize import clean_text
from danhba.ingest.fields import header_key, valid_target
from danhba.ingest.models import Import, SavedMapping
from danhba.ingest.services import import_configure

# The options that describe a file layout (kept with a mapping); the rest belong to one import.
MAPPING_OPTIONS = frozenset(
    {
        "name_order",
        "given_words",
        "day_first",
        "add_tags",
        "lifecycle_stage",
        "owner",
        "multi_value_separator",
        "tag_ignore",
        "tag_delimiters",
        "external_id_system",
        "gender_map",
        "preset",
    }
)
NAME_MAX = 120


def _may_change(actor: Actor, mapping: SavedMapping) -> bool:
    user = actor.user
    return user is None or mapping.created_by_id in (None, user.pk) or user.role.record_scope == perms.SCOPE_ALL


def saved_mapping_get(*, actor: Actor, pk: int | None = None, name: str | None = None) -> SavedMapping:
    perms.require(actor, "import", perms.CREATE)
    query = SavedMapping.objects.filter(pk=pk) if pk is not None else SavedMapping.objects.filter(name=name or "")
    mapping = query.first()
    if mapping is None:
        raise NotFound(_("No such saved mapping."))
    return mapping


def saved_mapping_save(
    *, actor: Actor, name: str, columns: dict[str, str], options: dict[str, Any] | None = None
) -> SavedMapping:
    """Create the mapping ``name``, or replace the columns and options of the one so named."""
    perms.require(actor, "import", perms.CREATE)
    name = clean_text(name)
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("give the mapping a name")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("at most %(n)s characters") % {"n": NAME_MAX}]
    if not isinstance(columns, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        errors["columns"] = [_("must map column names to targets")]
    else:
        bad = sorted({t for t in columns.values() if not valid_target(t)})
        if bad:
            errors["columns"] = [_("unknown target '%(value)s'") % {"value": t} for t in bad]
        if not any(columns.values()):
            errors.setdefault("columns", []).append(_("map at least one column"))
    if errors:
        raise InvalidInput(errors)
    kept = {k: v for k, v in (options or {}).items() if k in MAPPING_OPTIONS}
    now = timezone.now()
    with transaction.atomic():
        mapping = SavedMapping.objects.select_for_update().filter(name=name).first()
        if mapping is None:
            mapping = SavedMapping.objects.create(
                name=name, columns=columns, options=kept, created_by=actor.user, created_at=now, updated_at=now
            )
            action, before = AuditEvent.Action.CREATE, {}
        else:
            if not _may_change(actor, mapping):
                raise Conflict(_("Another user saved a mapping with this name; choose another name."))
            before = {"columns": mapping.columns, "options": mapping.options}
            mapping.columns, mapping.options, mapping.updated_at = columns, kept, now
            mapping.save(update_fields=["columns", "options", "updated_at"])
            action = AuditEvent.Action.UPDATE
        changes = {
            key: [before.get(key), value]
            for key, value in (("columns", columns), ("options", kept))
            if before.get(key) != value
        }
        audit_event(
            actor=actor,
            action=action,
            object_type="savedmapping",
            object_id=mapping.pk,
            object_label=mapping.name,
            changes=changes,
        )
    return mapping


def saved_mapping_delete(*, actor: Actor, mapping: SavedMapping) -> None:
    perms.require(actor, "import", perms.CREATE)
    if not _may_change(actor, mapping):
        raise Conflict(_("Only the person who saved this mapping, or an administrator, may delete it."))
    with transaction.atomic():
        pk, label = mapping.pk, mapping.name
        mapping.delete()
        audit_event(actor=actor, action=AuditEvent.Action.DELETE, object_type="savedmapping", object_id=pk,
                    object_label=label, changes={"name": [label, None]})  # fmt: skip


def saved_mapping_apply(*, actor: Actor, run: Import, mapping: SavedMapping) -> Import:
    """Map a draft's columns as the saved mapping says (columns it does not name are skipped)
    and take its options."""
    # The same layout next month may spell a header differently ("Số ĐT" / "số đt"): fall back
    # to the folded header.
    folded = {header_key(h): t for h, t in mapping.columns.items()}
    columns = {h: mapping.columns.get(h, folded.get(header_key(h), "")) for h in run.headers}
    if not any(columns.values()):
        raise InvalidInput({"saved_mapping": [_("none of this file's columns is in the mapping “%(name)s”") % {
            "name": mapping.name}]})  # fmt: skip
    options = {k: v for k, v in (mapping.options or {}).items() if k in MAPPING_OPTIONS}
    return import_configure(actor=actor, run=run, columns=columns, options=options)
