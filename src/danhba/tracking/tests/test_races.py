"""The two races of event intake, on PostgreSQL where requests really run in parallel (on SQLite a
storing transaction holds the only write lock from its start, so neither can happen):

- an anonymous event stored while the identify that links its device commits is attached all
  the same (``identity.lock_devices``);
- a contact deleted between the lookup and the insert of its events is no 500: the messages are
  resolved again (``intake._resolve_existing_contacts``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from danhba.contacts.models import Contact, ContactEmail
from danhba.core.actor import Actor
from danhba.tracking.models import AnonymousIdentity, Event
from danhba.tracking.services import identity, intake
from danhba.tracking.services.intake import events_ingest
from danhba.tracking.services.messages import parse_message
from danhba.tracking.services.sources import source_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ingest(source: Any, *raws: dict[str, Any]) -> None:
    events_ingest(source=source, messages=[parse_message(r, index=i, received_at=NOW) for i, r in enumerate(raws)])


def in_thread(target: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_an_anonymous_event_stored_while_its_device_is_identified_is_attached(monkeypatch: Any) -> None:
    source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    linked = threading.Event()
    real_move = identity.move_anonymous_events

    def move_then_linger(moves: dict[str, int]) -> int:
        moved = real_move(moves)
        if threading.current_thread() is not threading.main_thread():
            linked.set()  # the identify has linked the device; its transaction commits later
            time.sleep(1.0)
        return moved

    monkeypatch.setattr(identity, "move_anonymous_events", move_then_linger)
    identify = {"type": "identify", "userId": "u1", "anonymousId": "d1", "messageId": "i1", "traits": {}}
    thread, errors = in_thread(lambda: ingest(source, identify))
    assert linked.wait(20)
    # Stored meanwhile: the lookup cannot see the uncommitted link.
    ingest(source, {"type": "page", "anonymousId": "d1", "messageId": "p1", "name": "home"})
    thread.join()
    assert errors == []
    contact_id = AnonymousIdentity.objects.get(anonymous_id="d1").contact_id
    assert dict(Event.objects.values_list("message_id", "contact_id")) == {"i1": contact_id, "p1": contact_id}


def test_a_contact_deleted_between_lookup_and_insert_is_resolved_again(monkeypatch: Any) -> None:
    source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    ingest(source, {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "an@x.vn"}})
    first = Contact.objects.get()
    real_resolve = intake._resolve_contacts
    calls: list[int] = []

    def resolve_then_lose_the_contact(source: Any, messages: list[Any]) -> dict[str, int]:
        links = real_resolve(source, messages)
        calls.append(messages[0].contact_id)
        if len(calls) == 1:  # someone deletes the contact we found, and commits
            thread, errors = in_thread(lambda: Contact.objects.filter(pk=first.pk).delete())
            thread.join()
            assert errors == []
        return links

    monkeypatch.setattr(intake, "_resolve_contacts", resolve_then_lose_the_contact)
    ingest(source, {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "t1", "traits": {}})
    assert calls[0] == first.pk and len(calls) == 2
    event = Event.objects.get(message_id="t1")
    # The user id's contact is gone with its identifiers: the event names a new person.
    assert event.contact_id is not None and event.contact_id != first.pk
    assert not Contact.objects.filter(pk=first.pk).exists()
    assert not ContactEmail.objects.filter(contact_id=first.pk).exists()
