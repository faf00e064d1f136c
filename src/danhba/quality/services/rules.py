"""The survivorship rules of merges (one settings row): written by the settings page and the API."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import CustomField, Source
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.quality.models import MergeSettings, Rule
from danhba.quality.survivorship import CUSTOM, GROUPS


def _rules_clean(rules: Any, errors: dict[str, list[str]]) -> dict[str, str]:
    if not isinstance(rules, dict):
        errors["rules"] = [_("must be an object: field → rule")]
        return {}
    custom = set(CustomField.objects.filter(entity=CustomField.Entity.CONTACT).values_list("key", flat=True))
    clean: dict[str, str] = {}
    for key, rule in rules.items():
        known = key in GROUPS or (str(key).startswith(CUSTOM) and str(key)[len(CUSTOM) :] in custom)
        if not known:
            errors[f"rules.{key}"] = [_("unknown field")]
        elif rule not in Rule.values:
            errors[f"rules.{key}"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Rule.values)}]
        else:
            clean[str(key)] = str(rule)
    return clean


def _ranking_clean(ranking: Any, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(ranking, list) or not all(isinstance(s, str) for s in ranking):
        errors["source_ranking"] = [_("must be a list of sources, most trusted first")]
        return []
    unknown = [s for s in ranking if s not in Source.values]
    if unknown:
        errors["source_ranking"] = [_("unknown source: %(value)s") % {"value": ", ".join(unknown)}]
    if len(set(ranking)) != len(ranking):
        errors["source_ranking"] = [_("each source at most once")]
    return list(ranking)


def merge_settings_update(*, actor: Actor, data: dict[str, Any]) -> MergeSettings:
    """Change the rules (only the keys given): ``default_rule``, ``rules`` (replaced whole) and
    ``source_ranking`` (replaced whole)."""
    perms.require(actor, "merge", perms.EDIT)
    errors: dict[str, list[str]] = {}
    settings = MergeSettings.current()
    before = {"default_rule": settings.default_rule, "rules": settings.rules, "source_ranking": settings.source_ranking}
    if "default_rule" in data:
        if data["default_rule"] not in Rule.values:
            errors["default_rule"] = [_("must be one of %(choices)s") % {"choices": ", ".join(Rule.values)}]
        else:
            settings.default_rule = data["default_rule"]
    if "rules" in data:
        settings.rules = _rules_clean(data["rules"], errors)
    if "source_ranking" in data:
        settings.source_ranking = _ranking_clean(data["source_ranking"], errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        settings.updated_at = timezone.now()
        settings.updated_by = actor.user
        settings.save()
        after = {
            "default_rule": settings.default_rule,
            "rules": settings.rules,
            "source_ranking": settings.source_ranking,
        }
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        audit_event(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            object_type="merge_settings",
            object_id=settings.pk,
            object_label=_("Merge rules"),
            changes=changes,
        )
    return settings
