"""The worker's batch path (``BatchResolver``) decides exactly as the one-message-at-a-time
``Resolver``: same contacts with the same identifiers, same events attached, same device links
and suspected duplicates — checked on seeded random traffic full of collisions (shared devices,
one email under two user ids, aliases, junk ids) over contacts that already exist. And when
writing the batch fails (a concurrent writer took an identifier), the request is still stored,
one message at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.tracking.models import AnonymousIdentity, Event, SuspectedDuplicate
from danhba.tracking.services import identity, intake
from danhba.tracking.services.intake import events_ingest
from danhba.tracking.services.messages import parse_message
from danhba.tracking.services.sources import source_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def traffic(seed: int, count: int, prefix: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        device = rng.choice(["d1", "d2", "d3", "d4", "anonymous", "d5", "d6"])
        user = rng.choice(["u1", "u2", "u3", "u4", "null", "u5"])
        base: dict[str, Any] = {"messageId": f"{prefix}{i}", "anonymousId": device}
        roll = rng.random()
        if roll < 0.3:
            out.append({**base, "type": "page", "name": "home"})
        elif roll < 0.5:
            out.append({**base, "type": "track", "event": "Viewed", "userId": user})
        elif roll < 0.9:
            traits: dict[str, Any] = {}
            if rng.random() < 0.7:
                traits["email"] = rng.choice(["a@x.vn", "b@x.vn", "c@x.vn", "test@test.com"])
            if rng.random() < 0.5:
                traits["phone"] = rng.choice(["0912345001", "0912345002", "0912345003", "0123456789"])
            if rng.random() < 0.5:
                traits["name"] = rng.choice(["Nguyễn Văn An", "Trần Thị Bình", ""])
            message = {**base, "type": "identify", "traits": traits}
            if rng.random() < 0.6:
                message["userId"] = user
            out.append(message)
        else:
            out.append({**base, "type": "alias", "userId": user, "previousId": rng.choice(["d1", "d2", "u1", "d7"])})
    return out


def ingest(source: Any, raws: list[dict[str, Any]]) -> None:
    messages = [parse_message(r, index=i, received_at=NOW) for i, r in enumerate(raws)]
    events_ingest(source=source, messages=messages, received_at=NOW)


def label(contact_id: int | None) -> Any:
    """A contact named by what identifies it, not by its id (which differs between the runs)."""
    if contact_id is None:
        return None
    contact = Contact.objects.get(pk=contact_id)
    return (
        contact.full_name,
        contact.email,
        contact.phone,
        tuple(sorted(contact.emails.values_list("email", "is_primary"))),
        tuple(sorted(contact.phones.values_list("e164", "is_primary"))),
        tuple(sorted(contact.external_ids.values_list("system", "value"))),
    )


def outcome() -> dict[str, Any]:
    return {
        "contacts": sorted(label(pk) for pk in Contact.objects.values_list("pk", flat=True)),
        "events": sorted((e.message_id, label(e.contact_id)) for e in Event.objects.all()),
        "devices": sorted((a.anonymous_id, label(a.contact_id)) for a in AnonymousIdentity.objects.all()),
        "suspects": sorted(
            (tuple(sorted([label(s.contact_a_id), label(s.contact_b_id)], key=repr)), s.reason)
            for s in SuspectedDuplicate.objects.all()
        ),
        "created": AuditEvent.objects.filter(object_type="contact", action="create").count(),
    }


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_the_batch_path_decides_as_the_one_at_a_time_path(seed: int, monkeypatch: Any) -> None:
    source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    ingest(source, traffic(seed, 15, "before-"))  # contacts and devices that already exist
    second = traffic(seed + 100, 60, "batch-")

    with transaction.atomic():
        with monkeypatch.context() as patch:
            patch.setattr(intake, "BatchResolver", None)  # calling None raises TypeError
            patch.setattr(intake, "_resolve_contacts", _one_at_a_time)
            ingest(source, second)
        expected = outcome()
        transaction.set_rollback(True)

    ingest(source, second)
    got = outcome()
    assert got["contacts"] == expected["contacts"]
    assert got["events"] == expected["events"]
    assert got["devices"] == expected["devices"]
    assert got["suspects"] == expected["suspects"]
    # One audit row per contact created (a contact created then extended in one request is
    # written once by the batch path).
    assert got["created"] == expected["created"]


def _one_at_a_time(source: Any, messages: list[Any]) -> dict[str, int]:
    resolver = identity.Resolver(source)
    resolver.prefetch(messages)
    for message in messages:
        message.contact_id = resolver.resolve(message)
    return resolver.anonymous


def test_a_batch_that_cannot_be_written_falls_back_to_one_at_a_time(monkeypatch: Any) -> None:
    source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    real_create = identity.ContactsBulk.create

    def create_then_lose_a_race(self: Any, items: Any) -> list[int]:
        real_create(self, items)  # written, then undone with the batch's savepoint
        raise IntegrityError("UNIQUE constraint failed: contacts_contactemail.email")

    monkeypatch.setattr(identity.ContactsBulk, "create", create_then_lose_a_race)
    ingest(
        source,
        [
            {"type": "identify", "userId": "u9", "messageId": "i1", "traits": {"email": "moi@x.vn"}},
            {"type": "track", "event": "Viewed", "userId": "u9", "messageId": "t1"},
            {"type": "page", "anonymousId": "d9", "userId": "u9", "messageId": "p1"},
        ],
    )
    contact = Contact.objects.get()
    assert contact.email == "moi@x.vn"
    assert set(Event.objects.values_list("message_id", "contact_id")) == {
        ("i1", contact.pk), ("t1", contact.pk), ("p1", contact.pk)
    }  # fmt: skip
    assert AnonymousIdentity.objects.get().contact_id == contact.pk
    assert AuditEvent.objects.filter(object_type="contact", action="create").count() == 1
