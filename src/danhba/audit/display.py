"""How audit rows are shown: the reader-facing shape of a change, and the extension points the
apps above fill (they know their fields, their codes and who may see what).

The audit app sits below contacts, so it cannot name a contact's fields, mask what a role may
not see or tell which contacts a reader may open. Those come through hooks filled in the
apps' ``AppConfig.ready()`` (``contacts/apps.py``):

- :data:`AUDIT_TYPES`: each app describes its own object types (the model whose fields name a
  row's changes, names for the other keys, how to say structured values and, when the stored
  label is not enough, the row's label in the reader's language);
- :data:`AUDIT_VOCABULARY`: names fields and values in the reader's language (using the types);
- the field keys whose values a reader may not see: ``accounts.hooks.hidden_fields``;
- :data:`AUDIT_VISIBLE`: which rows a reader may see at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.db.models import Q

from danhba.core.hooks import Hook, Registry

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


@dataclass(frozen=True)
class AuditType:
    """How the audit log shows the rows of one object type; the app that writes them adds it to
    :data:`AUDIT_TYPES` under the object type, so no app has to know the others' rows.

    - ``model``: "app_label.Model", whose fields' verbose names name the row's changes;
    - ``keys``: names for the keys that are not fields of the model (related rows, counts);
    - ``values``: for a key holding structured data (a dict), how to say it as text;
    - ``label``: the row's label in the reader's language, from the row itself, when the label
      stored with it (written in no particular language, kept as proof) is not for reading.
    """

    model: str = ""
    keys: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    label: Callable[[Any], str | None] | None = None


AUDIT_TYPES: Registry[AuditType] = Registry(
    "audit.types",
    doc="How the audit log shows each object type's rows (key: the object type): its model, the names\n"
    "of keys that are not fields, how to say structured values, its label in the reader's language.",
)
NO_TYPE = AuditType()


def audit_type(object_type: str) -> AuditType:
    return AUDIT_TYPES.get(object_type) or NO_TYPE


def key_label(object_type: str, key: str) -> Any:
    """A name for ``key`` from the row's own type, else from any type that names it (keys such as
    "deleted" or "rows" mean the same in every app's rows); None when no type names it."""
    own = audit_type(object_type).keys.get(key)
    if own is not None:
        return own
    return next((t.keys[key] for t in AUDIT_TYPES if key in t.keys), None)


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
