"""What accounts asks the apps above it: the fields they hold that a role may be denied.

accounts knows the standard sensitive fields (``permissions.SENSITIVE_STANDARD_FIELDS``); other
apps define more (contacts: custom fields marked sensitive) and add them here in their
``AppConfig.ready()`` (see ``core/hooks.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from danhba.accounts import permissions as perms
from danhba.core.hooks import Hook

if TYPE_CHECKING:
    from danhba.accounts.models import Role, User

HIDDEN_FIELDS: Hook[[User], set[str]] = Hook(
    "accounts.hidden_fields",
    doc="Sensitive field keys beyond the standard ones that the user may not see (the union of the answers).",
)
SENSITIVE_FIELDS: Hook[[Role | None], list[tuple[str, str]]] = Hook(
    "accounts.sensitive_fields",
    doc="Fields beyond the standard sensitive ones that a role can be granted, as (key, label) pairs.\n"
    "Answers are listed in listener order.",
)
USER_DEACTIVATED: Hook[[User], None] = Hook(
    "accounts.user_deactivated",
    doc="A user was deactivated (inside the writing transaction): apps hand their open work over.",
)


def hidden_fields(user: User) -> set[str]:
    """Keys of every sensitive field this user may not see."""
    hidden = {k for k in perms.SENSITIVE_STANDARD_FIELDS if not user.sees_field(k)}
    for answer in HIDDEN_FIELDS(user):
        hidden |= answer
    return hidden


def sensitive_field_choices(role: Role | None) -> list[tuple[str, str]]:
    """Every field a role can be granted: the standard sensitive ones, then the other apps'."""
    choices: list[tuple[str, str]] = [(k, str(label)) for k, label in perms.SENSITIVE_STANDARD_FIELDS.items()]
    for answer in SENSITIVE_FIELDS(role):
        choices.extend(answer)
    return choices
