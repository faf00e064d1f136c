"""The one fan-out of a contact write: every write that changes what is known about contacts
ends in :func:`contacts_changed`, inside its transaction, and the apps above contacts that care
listen to :data:`CONTACTS_CHANGED` (connected in their ``AppConfig.ready()``; ``danhba hooks``
lists them): segments re-evaluate membership, webhooks send ``contact.created`` and
``contact.updated``. Contacts imports none of them.

*Why* a contact changed is said with reasons, the vocabulary segments depend on
(``Segment.depends_on``):

- ``field:<name>`` — a field of the contact (``field:province``, ``field:email``…);
- ``tags``, ``company`` — its tags, its companies (or a linked company's fields);
- ``event:<Name>`` — events of that name arrived for it; ``event:*`` any events (an anonymous
  device's history joining it);
- ``orders`` — its orders or purchase metrics; ``consent`` — its consent state;
- ``list:<id>`` — its membership of a static list;
- ``*`` — anything may have changed (a new contact, an import).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from danhba.core.hooks import Hook

# The reason of a change that can affect any segment (a new contact, a merge, an import).
EVERYTHING = "*"
# The reason of events of any name arriving for a contact (an anonymous visitor's history
# joining it on identify).
ANY_EVENT = "event:*"
# Keys of the audit snapshot (``contact_snapshot``) that are not field names.
_SNAPSHOT_REASONS = {"emails": "field:email", "phones": "field:phone", "tags": "tags", "companies": "company"}
MAX_REASON = 220


def reasons_for_changes(changes: Iterable[str]) -> list[str]:
    """The change reasons of a contact write, from the keys of its audit diff."""
    reasons = {_SNAPSHOT_REASONS.get(key, f"field:{key}") for key in changes}
    if any(key.startswith("tags") for key in changes):
        reasons.add("tags")
    return sorted(reasons | {"field:updated_at"})


@dataclass(frozen=True)
class ContactsChange:
    """What one write did to contacts, as the listeners of :data:`CONTACTS_CHANGED` get it."""

    # New contacts.
    created: tuple[int, ...] = ()
    # Contact id → the names of its changed fields (the keys of the write's audit diff).
    updated: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    # Contacts about to be deleted (the write calls before it deletes them).
    deleted: tuple[int, ...] = ()
    # Contact id → why it changed: "*" for a new contact, the reasons of its changed fields,
    # and whatever the writer adds (events, orders, consent…).
    reasons: Mapping[int, frozenset[str]] = field(default_factory=dict)


CONTACTS_CHANGED: Hook[[ContactsChange], None] = Hook(
    "contacts.changed",
    doc="Contacts were created, changed or are about to be deleted (a ContactsChange), inside the\n"
    "writing transaction; listeners keep what they derive from contacts current.",
)


def contacts_changed(
    *,
    created: Iterable[int] = (),
    updated: Mapping[int, Iterable[str]] | None = None,
    deleted: Iterable[int] = (),
    reasons: Mapping[int, Iterable[str]] | None = None,
) -> None:
    """Tell the listeners what a write did. ``created``: new contacts; ``updated``: contact id →
    names of the changed fields; ``deleted``: contacts about to be deleted (call it before the
    delete); ``reasons``: contact id → more reasons (the vocabulary above) for changes that are
    not fields of the contact — events, orders, consent, a company's fields. Call it inside the
    writing transaction: a rolled-back write leaves nothing behind."""
    new = tuple(int(c) for c in created if c)
    changed = {int(c): tuple(fields) for c, fields in (updated or {}).items() if c}
    gone = tuple(int(c) for c in deleted if c)
    why = _reasons_by_contact(new, changed, reasons or {})
    if not (new or changed or gone or why):
        return
    CONTACTS_CHANGED(ContactsChange(created=new, updated=changed, deleted=gone, reasons=why))


_ANYTHING = frozenset({EVERYTHING})


def _reasons_by_contact(
    new: tuple[int, ...], changed: dict[int, tuple[str, ...]], more: Mapping[int, Iterable[str]]
) -> dict[int, frozenset[str]]:
    """Why each contact changed: "*" for a new contact, the reasons of its changed fields, and
    the writer's own reasons (cut to :data:`MAX_REASON` characters)."""
    why: dict[int, set[str]] = {cid: {EVERYTHING} for cid in new}
    for cid, fields in changed.items():
        why.setdefault(cid, set()).update(reasons_for_changes(fields))
    for cid, extra in more.items():
        if cid:
            why.setdefault(int(cid), set()).update(str(r)[:MAX_REASON] for r in extra)
    # "*" already says that anything may have changed: no segment needs more.
    return {cid: _ANYTHING if EVERYTHING in r else frozenset(r) for cid, r in why.items() if r}
