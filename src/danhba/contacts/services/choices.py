"""Writes to the admin-configurable choice lists: lifecycle stages and buyer roles.

Both are :class:`~danhba.contacts.models.LabelledChoice` rows; consent purposes
(``danhba.privacy.purposes``) share :func:`labelled_choice_save`. Only admins change them:
their keys are what segments, workflows, imports and the API refer to.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import BuyerRole, LabelledChoice, LifecycleStage
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, PermissionDenied
from danhba.core.formatting import number
from danhba.core.normalize import clean_text, fold

C = TypeVar("C", bound=LabelledChoice)
MAX_POSITION = 32000


def require_admin(actor: Actor, what: str) -> None:
    """``what`` is already translated (a plural noun such as "lifecycle stages")."""
    if actor.user is not None and not (actor.user.is_active and actor.user.is_admin):
        raise PermissionDenied(_("Only admins can change %(what)s.") % {"what": what})


def _choice_key(
    model: type[LabelledChoice], obj: LabelledChoice, data: dict[str, Any], name: str, *, creating: bool
) -> str | None:
    """The key of a new choice (made once); for an existing one, None or the reason it cannot change."""
    if creating:
        key = slugify(fold(data.get("key") or name)).replace("-", "_")[:60]
        obj.key = key
        if not key:
            return _("letters, digits and underscores")
        if model._default_manager.filter(key=key).exists():
            return _("the key '%(key)s' is already used") % {"key": key}
    elif data.get("key") not in (None, "", obj.key):
        return _("the key cannot change: other parts of danhba refer to it")
    return None


def _choice_position(
    model: type[LabelledChoice], obj: LabelledChoice, data: dict[str, Any], *, creating: bool
) -> tuple[int, str | None]:
    """The position given (checked), else the current one, else after the last choice."""
    if data.get("position") in (None, ""):
        if not creating:
            return obj.position, None
        highest = model._default_manager.aggregate(top=Max("position"))["top"]
        return min((highest or 0) + 10, MAX_POSITION), None
    try:
        position = int(data["position"])
    except (TypeError, ValueError):
        return obj.position, _("a whole number")
    if not 0 <= position <= MAX_POSITION:
        return position, _("between 0 and %(max)s") % {"max": MAX_POSITION}
    return position, None


def _choice_values(
    model: type[LabelledChoice],
    obj: LabelledChoice,
    data: dict[str, Any],
    extra_text: dict[str, int],
    *,
    creating: bool,
) -> dict[str, Any]:
    """The choice's values after this change, checked; :class:`InvalidInput` names each problem."""
    problems: dict[str, str | None] = {}
    name = clean_text(data.get("name", obj.name))
    if not name or len(name) > 120:
        problems["name"] = _("between 1 and 120 characters")
    values: dict[str, Any] = {"name": name, "name_vi": clean_text(data.get("name_vi", obj.name_vi))}
    for field, limit in {"name_vi": 120, **extra_text}.items():
        values[field] = values.get(field, str(data.get(field, getattr(obj, field)) or "").strip())
        if len(values[field]) > limit:
            problems[field] = _("at most %(n)s characters") % {"n": limit}
    problems["key"] = _choice_key(model, obj, data, name, creating=creating)
    values["position"], problems["position"] = _choice_position(model, obj, data, creating=creating)
    values["is_active"] = bool(data.get("is_active", obj.is_active))
    errors = {field: [problem] for field, problem in problems.items() if problem}
    if errors:
        raise InvalidInput(errors)
    return values


def labelled_choice_save(
    *,
    actor: Actor,
    model: type[C],
    item: C | None,
    data: dict[str, Any],
    object_type: str,
    extra_text: dict[str, int] | None = None,
    extra_flags: tuple[str, ...] = (),
) -> C:
    """Create or change one choice: English and Vietnamese names, position, active flag, the
    ``extra_text`` fields (name → max length) and the ``extra_flags`` (boolean fields). The key
    is made once, from the English name unless given, and never changes afterwards."""
    creating = item is None
    obj: C = item if item is not None else model()
    after = _choice_values(model, obj, data, extra_text or {}, creating=creating)
    after |= {field: bool(data.get(field, getattr(obj, field))) for field in extra_flags}
    before = {} if creating else {field: getattr(obj, field) for field in after}
    for field, value in after.items():
        setattr(obj, field, value)
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    try:
        with transaction.atomic():
            obj.save()
            if changes:
                audit_event(
                    actor=actor,
                    action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
                    object_type=object_type,
                    object_id=obj.pk,
                    object_label=f"{obj.key}: {obj.name}",
                    changes=changes,
                )
    except IntegrityError:
        # Another admin created the same key a moment ago.
        raise Conflict(
            _("The key '%(key)s' is already used.") % {"key": obj.key}, {"key": [_("already used")]}
        ) from None
    return obj


def _delete_unused(*, actor: Actor, item: LabelledChoice, object_type: str, in_use: int) -> None:
    if in_use:
        raise Conflict(
            ngettext(
                "%(n)s contact uses '%(name)s'; deactivate it instead, or move it first.",
                "%(n)s contacts use '%(name)s'; deactivate it instead, or move them first.",
                in_use,
            )
            % {"n": number(in_use), "name": item.label},
            {
                "item": [
                    ngettext(
                        "in use by %(n)s contact: deactivate it instead",
                        "in use by %(n)s contacts: deactivate it instead",
                        in_use,
                    )
                    % {"n": number(in_use)}
                ]
            },
        )
    with transaction.atomic():
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type=object_type,
            object_id=item.pk,
            object_label=f"{item.key}: {item.name}",
        )
        item.delete()


# --- lifecycle stages -----------------------------------------------------------------------


def lifecycle_stage_save(*, actor: Actor, stage: LifecycleStage | None, data: dict[str, Any]) -> LifecycleStage:
    require_admin(actor, _("lifecycle stages"))
    with transaction.atomic():
        # A contact always has a stage and new contacts start in the first active one.
        if stage is not None and stage.is_active and not bool(data.get("is_active", True)):
            others = LifecycleStage.objects.select_for_update().filter(is_active=True).exclude(pk=stage.pk)
            if not others.exists():
                raise InvalidInput({"is_active": [_("at least one lifecycle stage must stay active")]})
        return labelled_choice_save(
            actor=actor, model=LifecycleStage, item=stage, data=data, object_type="lifecycle_stage"
        )


def lifecycle_stage_delete(*, actor: Actor, stage: LifecycleStage) -> None:
    require_admin(actor, _("lifecycle stages"))
    if stage.is_active and not LifecycleStage.objects.filter(is_active=True).exclude(pk=stage.pk).exists():
        raise InvalidInput({"item": [_("at least one lifecycle stage must stay active")]})
    _delete_unused(actor=actor, item=stage, object_type="lifecycle_stage", in_use=stage.contacts.count())


# --- buyer roles ----------------------------------------------------------------------------


def buyer_role_save(*, actor: Actor, buyer_role: BuyerRole | None, data: dict[str, Any]) -> BuyerRole:
    require_admin(actor, _("buyer roles"))
    return labelled_choice_save(actor=actor, model=BuyerRole, item=buyer_role, data=data, object_type="buyer_role")


def buyer_role_delete(*, actor: Actor, buyer_role: BuyerRole) -> None:
    require_admin(actor, _("buyer roles"))
    _delete_unused(actor=actor, item=buyer_role, object_type="buyer_role", in_use=buyer_role.contacts.count())
