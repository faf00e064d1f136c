"""Identity resolution is batch-first: a request's messages resolved together give the same
contacts with the same identifiers, the same events attached, the same device links and
suspected duplicates as the same messages sent one request each (a batch of one) — checked by
hypothesis on random traffic full of collisions (shared devices, one email under two user ids,
aliases, junk ids, repeated messageIds) over contacts that already exist. And when writing the
batch fails (a concurrent writer took an identifier), the request is still stored, one message
at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.tests.properties import examples
from danhba.tracking.models import AnonymousIdentity, Event, SuspectedDuplicate
from danhba.tracking.services import identity
from danhba.tracking.services.intake import events_ingest
from danhba.tracking.services.messages import parse_message
from danhba.tracking.services.sources import source_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 1, tzinfo=UTC)

DEVICES = st.sampled_from(["d1", "d2", "d3", "d4", "anonymous", "d5"])
USERS = st.sampled_from(["u1", "u2", "u3", "null", "u4"])
TRAITS = st.fixed_dictionaries(
    {},
    optional={
        "email": st.sampled_from(["a@x.vn", "B@x.vn ", "c@x.vn", "test@test.com", "not-an-email"]),
        "phone": st.sampled_from(["0912345001", "+84912345002", "0912 345 003", "0123456789", "12"]),
        "name": st.sampled_from(["Nguyễn Văn An", "Trần Thị Bình", "", "x" * 300]),
    },
)


@st.composite
def message(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["identify", "track", "alias", "page"]))
    out: dict[str, Any] = {"type": kind, "messageId": f"m{draw(st.integers(0, 40))}"}
    if draw(st.booleans()):
        out["anonymousId"] = draw(DEVICES)
    if kind == "alias":
        out["userId"] = draw(USERS)
        out["previousId"] = draw(st.one_of(DEVICES, USERS))
        return out
    if draw(st.booleans()) or "anonymousId" not in out:
        out["userId"] = draw(USERS)
    if kind == "track":
        out["event"] = draw(st.sampled_from(["Viewed", "Signed Up"]))
    if kind == "page":
        out["name"] = "home"
    traits = draw(TRAITS)
    if kind == "identify":
        out["traits"] = traits
    elif traits and draw(st.booleans()):
        out["context"] = {"traits": traits}
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


@pytest.mark.slow
@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(message(), max_size=8), batch=st.lists(message(), min_size=1, max_size=30))
def test_a_batch_gives_what_the_same_messages_give_one_at_a_time(
    before: list[dict[str, Any]], batch: list[dict[str, Any]]
) -> None:
    before = [{**m, "messageId": f"before-{m['messageId']}"} for m in before]
    with transaction.atomic():
        source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
        results = {}
        for way in ("one at a time", "batch"):
            with transaction.atomic():
                ingest(source, before)  # contacts and devices that already exist
                if way == "batch":
                    ingest(source, batch)
                else:
                    for raw in batch:
                        ingest(source, [raw])
                results[way] = outcome()
                transaction.set_rollback(True)
        transaction.set_rollback(True)
    expected, got = results["one at a time"], results["batch"]
    assert got["contacts"] == expected["contacts"]
    assert got["events"] == expected["events"]
    assert got["devices"] == expected["devices"]
    assert got["suspects"] == expected["suspects"]
    # One audit row per contact created (a contact created then extended in one request is
    # written once by the batch).
    assert got["created"] == expected["created"]


def test_a_batch_that_cannot_be_written_is_resolved_again_one_message_at_a_time(monkeypatch: Any) -> None:
    source, _ = source_create(actor=Actor.system("cli"), name="Web", kind="website")
    real_create = identity.ContactsBulk.create

    calls = []

    def create_then_lose_a_race(self: Any, items: Any) -> list[int]:
        calls.append(len(items))
        ids = real_create(self, items)
        if len(calls) == 1:  # written, then undone with the batch's savepoint
            raise IntegrityError("UNIQUE constraint failed: contacts_contactemail.email")
        return ids

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
    assert calls == [1, 1, 0, 0]  # the batch, then each message as a batch of one
