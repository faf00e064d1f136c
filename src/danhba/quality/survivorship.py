"""Survivorship: which value of the merged contacts the survivor keeps, field by field (pure:
it reads contacts it is given and writes nothing).

Single-valued fields come in groups that travel together (a name's parts, an address's parts):
the rule picks the contact, the group's values come from it. Emails, phones, external ids,
tags, companies and social profiles are rows, all kept (``services/merge.py`` moves them); the
survivor's primary email and phone follow the rule of the ``email`` and ``phone`` groups. The
earliest created time and the latest activity are kept whatever the rules say."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.contacts.models import Contact
from danhba.quality.models import Rule

# Group key → (label, the Contact attnames it carries).
GROUPS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "name": (_("name"), ("full_name", "family_name", "middle_name", "given_name", "name_order", "name_key")),
    "email": (_("primary email"), ("email",)),
    "phone": (_("primary phone"), ("phone",)),
    "address": (_("address"), ("street", "ward", "province", "address_raw", "country")),
    "birthday": (_("birthday"), ("birthday",)),
    "gender": (_("gender"), ("gender",)),
    "occupation": (_("occupation"), ("occupation",)),
    "job_title": (_("job title"), ("job_title",)),
    "education": (_("education"), ("education",)),
    "income_band": (_("income band"), ("income_band",)),
    "family": (_("family"), ("family",)),
    "lifestyle": (_("lifestyle"), ("lifestyle",)),
    "hobbies": (_("hobbies"), ("hobbies",)),
    "preferences": (_("preferences"), ("preferences",)),
    "motivations": (_("motivations"), ("motivations",)),
    "likes": (_("likes"), ("likes",)),
    "dislikes": (_("dislikes"), ("dislikes",)),
    "lifecycle_stage": (_("lifecycle stage"), ("lifecycle_stage_id",)),
    "buyer_role": (_("buyer role"), ("buyer_role_id",)),
    "source": (_("source"), ("source",)),
    "owner": (_("owner"), ("owner_id",)),
}
# The group whose emptiness decides (the address's raw text alone counts as an address).
_DECIDES: dict[str, tuple[str, ...]] = {
    "name": ("full_name",),
    "address": ("street", "ward", "province", "address_raw"),
}
CUSTOM = "custom."
DEFAULT_SOURCE_RANKING: tuple[str, ...] = (
    "order", "loyalty", "warranty", "registration", "subscription", "form", "api", "import",
    "questionnaire", "contest", "complaint", "review", "web_analytics", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Choice:
    """The survivor's value of one group (or custom field): taken from ``contact_id`` by
    ``rule`` ("pick" when a person chose it)."""

    key: str
    contact_id: int
    rule: str
    values: dict[str, Any]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _has(contact: Contact, key: str) -> bool:
    if key.startswith(CUSTOM):
        return not _empty((contact.custom or {}).get(key[len(CUSTOM) :]))
    attnames = _DECIDES.get(key, GROUPS[key][1])
    return any(not _empty(getattr(contact, a)) for a in attnames)


def _values(contact: Contact, key: str) -> dict[str, Any]:
    if key.startswith(CUSTOM):
        return {key: (contact.custom or {}).get(key[len(CUSTOM) :])}
    return {a: getattr(contact, a) for a in GROUPS[key][1]}


def _recent(contacts: Sequence[Contact]) -> list[Contact]:
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(contacts, key=lambda c: (c.updated_at or epoch, c.pk), reverse=True)


def _ordered(rule: str, survivor: Contact, contacts: Sequence[Contact], ranking: Sequence[str]) -> list[Contact]:
    """The contacts in the order the rule prefers them."""
    recent = _recent(contacts)
    if rule == Rule.SURVIVOR:
        return [survivor, *(c for c in recent if c.pk != survivor.pk)]
    if rule == Rule.SOURCE:
        rank = {s: i for i, s in enumerate(ranking)}
        return sorted(recent, key=lambda c: rank.get(c.source, len(rank)))  # stable: recent breaks ties
    return recent


def rule_for(key: str, rules: Mapping[str, Any], default_rule: str) -> Any:
    return rules.get(key, default_rule)


def choose(
    survivor: Contact,
    others: Sequence[Contact],
    *,
    rules: Mapping[str, Any],
    default_rule: str = Rule.RECENT,
    ranking: Sequence[str] = DEFAULT_SOURCE_RANKING,
) -> list[Choice]:
    """The survivor's value of every group and custom field. ``rules`` maps a group key (or
    "custom.<key>") to a rule name or to the id of the contact whose value to take."""
    contacts = [survivor, *others]
    by_id = {c.pk: c for c in contacts}
    keys = list(GROUPS) + sorted({f"{CUSTOM}{k}" for c in contacts for k in (c.custom or {})})
    choices = []
    for key in keys:
        rule = rule_for(key, rules, default_rule)
        if isinstance(rule, int) and rule in by_id:
            chosen, how = by_id[rule], "pick"
        else:
            how = rule if rule in Rule.values else default_rule
            ordered = _ordered(how, survivor, contacts, ranking)
            chosen = next((c for c in ordered if _has(c, key)), survivor)
        choices.append(Choice(key=key, contact_id=chosen.pk, rule=how, values=_values(chosen, key)))
    return choices


def merged_fields(survivor: Contact, others: Sequence[Contact], choices: Sequence[Choice]) -> dict[str, Any]:
    """The survivor's new column values (attname → value) from the choices, with the earliest
    created time, the latest activity and the custom values."""
    contacts = [survivor, *others]
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for choice in choices:
        if choice.key.startswith(CUSTOM):
            value = choice.values[choice.key]
            if not _empty(value):
                custom[choice.key[len(CUSTOM) :]] = value
        else:
            values.update(choice.values)
    values["custom"] = custom
    values["created_at"] = min(c.created_at for c in contacts)
    values["last_activity_at"] = max(c.last_activity_at for c in contacts)
    return values
