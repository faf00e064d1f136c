"""Fixtures of the contacts tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from danhba.contacts.changes import CONTACTS_CHANGED, ContactsChange


@pytest.fixture
def heard() -> Iterator[list[ContactsChange]]:
    """What the listeners of ``contacts.changed`` hear during the test, one change a call."""
    calls: list[ContactsChange] = []

    def listen(change: ContactsChange) -> None:
        calls.append(change)

    CONTACTS_CHANGED.connect(listen)
    yield calls
    CONTACTS_CHANGED.disconnect(listen)
