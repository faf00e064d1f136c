"""What the apps above segments add to it (see ``core/hooks.py``): segments imports none of
them. ``EMAIL_CAMPAIGNS``: the campaigns an ``email`` condition can name (messaging adds them),
for the builder's list and the sentence that reads a condition out. ``CONDITION_KINDS``: kinds
of condition whose data lives above segments (scoring's ``score``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from danhba.core.hooks import Registry


@dataclass(frozen=True)
class CampaignNames:
    """``choices()``: (id, name) of the campaigns to offer, newest first; ``names(ids)``: the
    names of these campaigns (absent when deleted)."""

    choices: Callable[[], list[tuple[int, str]]]
    names: Callable[[Iterable[int]], dict[int, str]]


EMAIL_CAMPAIGNS: Registry[CampaignNames] = Registry(
    "segments.email_campaigns",
    doc="The email campaigns an `email` condition can name (messaging): choices and names.",
)


def campaign_choices() -> list[tuple[int, str]]:
    return [choice for source in EMAIL_CAMPAIGNS for choice in source.choices()]


def campaign_name(campaign_id: int) -> str | None:
    for source in EMAIL_CAMPAIGNS:
        name = source.names([campaign_id]).get(campaign_id)
        if name is not None:
            return name
    return None


@dataclass(frozen=True)
class ConditionKind:
    """A kind of condition an app above segments adds: the checker, compiler, sentence, change
    reasons and builder of segments call these for a leaf ``{"kind": key, ...}``.

    - ``check(node, path, add_error)`` returns the leaf's clean fields (without "kind"), calling
      ``add_error(path, message)`` for each problem;
    - ``compile(node, among)`` is the leaf's two-valued condition on Contact (``among``: only these
      contact ids are asked about, or None);
    - ``describe(node)`` the sentence; ``reasons(node)`` the contact change reasons that can
      change it (``contacts/changes.py``); ``permission`` the object a reader must be allowed to
      view to see or use it;
    - the builder: ``label``, ``new()`` a fresh leaf, ``parse(attrs)`` the leaf from its form
      inputs (name → values), ``template`` its inputs (with ``n``, ``name`` and ``node.extra``:
      ``view(node)``)."""

    label: Any
    permission: str
    check: Callable[[dict[str, Any], str, Callable[[str, str], None]], dict[str, Any]]
    compile: Callable[[dict[str, Any], Sequence[int] | None], Q]
    describe: Callable[[dict[str, Any]], str]
    reasons: Callable[[dict[str, Any]], list[str]]
    new: Callable[[], dict[str, Any]]
    parse: Callable[[dict[str, list[str]]], dict[str, Any]]
    template: str
    view: Callable[[dict[str, Any]], dict[str, Any]]


CONDITION_KINDS: Registry[ConditionKind] = Registry(
    "segments.condition_kinds",
    doc="Kinds of segment condition whose data lives in an app above segments (scoring: score).",
)
