"""Which contact field each field of a channel's lead goes to (pure).

A mapping is ``{channel field name: target}``; a target is a contact field of ``TARGETS``,
``custom:<key>`` (a custom field), ``consent:<purpose key>`` (a ticked box grants that purpose,
the question as the wording) or ``ignore``. Fields nobody mapped are kept with the lead and
on its event, never written to the contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

TARGETS: dict[str, Any] = {
    "full_name": _("Full name"),
    "given_name": _("Given name"),
    "family_name": _("Family name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "province": _("Province / city"),
    "ward": _("Ward"),
    "street": _("Street address"),
    "address_raw": _("Address as written"),
    "birthday": _("Birthday"),
    "gender": _("Gender"),
    "job_title": _("Job title"),
    "occupation": _("Occupation"),
    "ignore": _("Ignore"),
}
PREFIXES = ("custom:", "consent:")
KEY = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,79}$")
MAX_FIELDS = 100

FACEBOOK_DEFAULT = {
    "full_name": "full_name",
    "first_name": "given_name",
    "last_name": "family_name",
    "email": "email",
    "work_email": "email",
    "phone_number": "phone",
    "work_phone_number": "phone",
    "city": "province",
    "state": "province",
    "street_address": "street",
    "date_of_birth": "birthday",
    "gender": "gender",
    "job_title": "job_title",
}
ZALO_DEFAULT = {
    "name": "full_name",
    "phone": "phone",
    "address": "street",
    "city": "province",
    "ward": "ward",
}
TRUE_WORDS = {"1", "true", "yes", "y", "on", "checked", "agree", "có", "đồng ý", "x"}


def default_mapping(kind: str) -> dict[str, str]:
    return dict(FACEBOOK_DEFAULT if kind == "facebook" else ZALO_DEFAULT)


def target_ok(target: str) -> bool:
    if target in TARGETS:
        return True
    prefix, _sep, key = target.partition(":")
    return f"{prefix}:" in PREFIXES and bool(KEY.match(key))


def mapping_problems(mapping: Any) -> list[str]:
    """What is wrong with a mapping given by a person (empty: nothing)."""
    if not isinstance(mapping, dict):
        return [str(_("must be an object of field name → target"))]
    if len(mapping) > MAX_FIELDS:
        return [str(_("at most %(n)s fields")) % {"n": MAX_FIELDS}]
    problems = []
    for name, target in mapping.items():
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            problems.append(str(_("a field name must be 1 to 100 characters")))
        elif not isinstance(target, str) or not target_ok(target):
            problems.append(str(_("“%(name)s”: unknown target “%(target)s”")) % {"name": name, "target": target})
    return problems


def mapping_from_text(text: str) -> tuple[dict[str, str], list[str]]:
    """``field = target`` one per line (the settings form)."""
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, target = line.partition("=")
        if not sep:
            problems.append(str(_("line %(n)s: write “field = target”")) % {"n": number})
            continue
        mapping[name.strip()] = target.strip()
    return mapping, problems + mapping_problems(mapping)


def mapping_as_text(mapping: dict[str, str]) -> str:
    return "\n".join(f"{name} = {target}" for name, target in mapping.items())


@dataclass
class Mapped:
    """A lead's fields sorted by target: contact fields, emails, phones, custom values and the
    consent purposes it grants (purpose key → the question, the wording shown)."""

    fields: dict[str, str] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    consents: dict[str, str] = field(default_factory=dict)


def is_yes(value: str) -> bool:
    return value.strip().lower() in TRUE_WORDS


def apply_mapping(values: dict[str, str], mapping: dict[str, str]) -> Mapped:
    out = Mapped()
    lowered = {k.lower(): v for k, v in mapping.items()}
    for name, value in values.items():
        target = mapping.get(name) or lowered.get(name.lower()) or "ignore"
        value = (value or "").strip()
        if not value or target == "ignore":
            continue
        if target == "email":
            out.emails.append(value)
        elif target == "phone":
            out.phones.append(value)
        elif target.startswith("custom:"):
            out.custom[target.removeprefix("custom:")] = value
        elif target.startswith("consent:"):
            if is_yes(value):
                out.consents[target.removeprefix("consent:")] = name
        elif target in TARGETS:
            # Two fields into one target (first and work email aside): the first one wins.
            out.fields.setdefault(target, value)
    return out
