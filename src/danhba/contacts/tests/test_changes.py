"""What the listeners of ``contacts.changed`` hear from ``contacts_changed``: the contacts a
write created, changed and is about to delete, and why each changed, in the vocabulary segments
depend on ("*" for a new contact, standing for every other reason)."""

from __future__ import annotations

import pytest

from danhba.contacts.changes import MAX_REASON, ContactsChange, contacts_changed

pytestmark = pytest.mark.django_db


def test_each_contact_is_told_why(heard: list[ContactsChange]) -> None:
    contacts_changed(
        created=[1, "2", 0],
        updated={2: ["phones"], 3: ["province", "tags__add"], 0: ["email"]},
        deleted=[4, None],  # type: ignore[list-item]
        reasons={1: ["orders"], "3": ["event:Order Completed", "x" * 300], 5: [], 0: ["consent"]},  # type: ignore[dict-item]
    )
    [change] = heard
    assert (change.created, change.deleted) == ((1, 2), (4,))
    assert change.updated == {2: ("phones",), 3: ("province", "tags__add")}
    assert change.reasons == {
        1: frozenset({"*"}),
        2: frozenset({"*"}),
        3: frozenset({"field:province", "field:tags__add", "tags", "field:updated_at",
                      "event:Order Completed", "x" * MAX_REASON}),
    }  # fmt: skip


def test_a_write_that_changed_nothing_is_not_told(heard: list[ContactsChange]) -> None:
    contacts_changed()
    contacts_changed(created=[0], updated={}, reasons={7: []})
    assert heard == []
    contacts_changed(deleted=[9])
    assert [(c.deleted, dict(c.reasons)) for c in heard] == [((9,), {})]
