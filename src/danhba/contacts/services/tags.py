"""Writes of tags."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.permissions import require
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.keys import tag_key
from danhba.contacts.models import (
    Tag,
)
from danhba.core.actor import Actor
from danhba.core.audit import changes_between
from danhba.core.errors import InvalidInput
from danhba.core.normalize import (
    clean_text,
)


def tags_get_or_create(actor: Actor, names: Iterable[str]) -> list[Tag]:
    tags = []
    for name in names:
        tag, created = Tag.objects.get_or_create(name_key=tag_key(name), defaults={"name": name})
        if created:
            audit_event(
                actor=actor, action=AuditEvent.Action.CREATE, object_type="tag", object_id=tag.pk,
                object_label=tag.name, changes={"name": [None, tag.name]},
            )  # fmt: skip
        tags.append(tag)
    return tags


# --- tags -----------------------------------------------------------------------------------


def tag_save(*, actor: Actor, tag: Tag | None, name: str, color: str = "") -> Tag:
    require(actor, "tag", perms.CREATE if tag is None else perms.EDIT)
    text = clean_text(name)
    errors: dict[str, list[str]] = {}
    if not text or len(text) > 80:
        errors["name"] = [_("between 1 and 80 characters")]
    if color and not (
        len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        errors["color"] = [_("a colour like #1d4ed8")]
    clashes = Tag.objects.filter(name_key=tag_key(text))
    clash = (clashes.exclude(pk=tag.pk) if tag else clashes).first()
    if clash:
        errors["name"] = [_("the tag '%(name)s' already exists") % {"name": clash.name}]
    if errors:
        raise InvalidInput(errors)
    tag = tag or Tag()
    before = {"name": tag.name, "color": tag.color}
    tag.name, tag.name_key = text, tag_key(text)
    if color:
        tag.color = color
    try:
        with transaction.atomic():
            tag.save()
    except IntegrityError:
        raise InvalidInput({"name": [_("this tag already exists")]}) from None
    audit_event(
        actor=actor,
        action=AuditEvent.Action.UPDATE if before["name"] else AuditEvent.Action.CREATE,
        object_type="tag",
        object_id=tag.pk,
        object_label=tag.name,
        changes=changes_between(before if before["name"] else {}, {"name": tag.name, "color": tag.color}),
    )
    return tag


def tag_delete(*, actor: Actor, tag: Tag) -> None:
    require(actor, "tag", perms.DELETE)
    audit_event(
        actor=actor, action=AuditEvent.Action.DELETE, object_type="tag", object_id=tag.pk, object_label=tag.name
    )
    tag.delete()
