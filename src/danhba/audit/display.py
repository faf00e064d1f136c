"""How audit rows are shown: the reader-facing shape of a change, and the extension points the
apps above fill (they know their fields, their codes and who may see what).

The audit app sits below contacts, so it cannot name a contact's fields, mask what a role may
not see or tell which contacts a reader may open. Those come through hooks filled in the
apps' ``AppConfig.ready()`` (``contacts/apps.py``):

- :data:`AUDIT_VOCABULARY`: names fields and values in the reader's language;
- the field keys whose values a reader may not see: ``accounts.hooks.hidden_fields``;
- :data:`AUDIT_VISIBLE`: which rows a reader may see at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.db.models import Q

from danhba.core.hooks import Hook

if TYPE_CHECKING:
    from danhba.accounts.models import User

MASK = "•••"


@dataclass(frozen=True)
class Change:
    """One changed field of an audit row, ready to show."""

    field: str
    before: str
    after: str


class Vocabulary(Protocol):
    """Names for the fields and values of one page of audit rows."""

    def stored_changes(self, event: Any) -> dict[str, Any]: ...

    def label(self, event: Any, stored: str) -> str: ...

    def changes(self, object_type: str, pairs: Iterable[tuple[str, Any, Any]]) -> list[Change]: ...


class PlainVocabulary:
    """Keys and values as stored (when no app names them)."""

    def __init__(self, events: Iterable[Any] = ()) -> None:
        pass

    def stored_changes(self, event: Any) -> dict[str, Any]:
        return dict(event.changes or {})

    def label(self, event: Any, stored: str) -> str:
        return stored

    def changes(self, object_type: str, pairs: Iterable[tuple[str, Any, Any]]) -> list[Change]:
        def show(value: Any) -> str:
            return "—" if value in (None, "", [], {}) else str(value)

        return [Change(key, show(before), show(after)) for key, before, after in pairs]


AUDIT_VOCABULARY: Hook[[list[Any]], Vocabulary] = Hook(
    "audit.vocabulary",
    doc="Names the fields and values of a page of audit rows (the events) in the reader's language.\n"
    "Each listener returns a Vocabulary for the page; the last one is used.",
)
AUDIT_VISIBLE: Hook[[User], Q | None] = Hook(
    "audit.visible_rows",
    doc="Which audit rows a reader (the user) may see: a Q on AuditEvent, or None for no limit.\n"
    "Every listener's condition applies.",
)


def vocabulary(events: list[Any]) -> Vocabulary:
    answers = AUDIT_VOCABULARY(events)
    return answers[-1] if answers else PlainVocabulary(events)


def visible_rows(user: User) -> Q | None:
    conditions = [q for q in AUDIT_VISIBLE(user) if q is not None]
    if not conditions:
        return None
    combined = conditions[0]
    for q in conditions[1:]:
        combined &= q
    return combined
