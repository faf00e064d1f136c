"""Idempotency of the event API now that it lives in EventMessage (the events table has no unique
constraint: on PostgreSQL it is partitioned by time): a messageId is stored once per source, the
answer counts duplicates right, a duplicate changes nothing (not even a contact), across
requests, inside a batch and between concurrent requests; the dedupe window is purged."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from danhba.contacts.models import Contact, ContactEmail
from danhba.core.actor import Actor
from danhba.tracking import retention
from danhba.tracking.models import Event, EventMessage, Source
from danhba.tracking.services import intake
from danhba.tracking.services import messages as message_parsing

pytestmark = pytest.mark.django_db


def track(message_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed", "anonymousId": "a-1", "messageId": message_id, **extra}


def test_a_retry_with_a_new_sent_at_is_still_one_event(post: Any) -> None:
    # The SDKs re-send a retry with a new sentAt, so its corrected timestamp differs.
    first = {**track("r-1"), "timestamp": "2026-03-01T10:00:00Z", "sentAt": "2026-03-01T10:00:01Z"}
    retry = {**first, "sentAt": "2026-03-01T10:05:00Z"}
    assert post("/v1/track", first).json()["accepted"] == 1
    answer = post("/v1/track", retry).json()
    assert (answer["accepted"], answer["duplicates"]) == (0, 1)
    assert Event.objects.filter(message_id="r-1").count() == 1
    assert EventMessage.objects.filter(message_id="r-1").count() == 1


def test_batch_answer_counts_repeats_inside_and_across_requests(post: Any) -> None:
    post("/v1/batch", {"batch": [track("b-1"), track("b-2")]})
    answer = post("/v1/batch", {"batch": [track("b-2"), track("b-3"), track("b-3"), track("b-1"), track("b-4")]})
    assert answer.json() == {"success": True, "accepted": 2, "duplicates": 3, "rejected": []}
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["b-1", "b-2", "b-3", "b-4"]


def test_the_same_message_id_from_two_sources_is_two_events(make_source: Any, post: Any) -> None:
    _, other_key = make_source("Backend", "server")
    assert post("/v1/track", track("shared")).json()["accepted"] == 1
    assert post("/v1/track", track("shared"), key=other_key).json()["accepted"] == 1
    assert Event.objects.filter(message_id="shared").count() == 2


def test_a_duplicate_creates_no_contact(post: Any) -> None:
    identify = {"userId": "u-dup", "messageId": "id-1", "traits": {"email": "dup@example.vn"}}
    assert post("/v1/identify", identify).json()["accepted"] == 1
    Contact.objects.filter(emails__email="dup@example.vn").delete()
    assert post("/v1/identify", identify).json()["duplicates"] == 1
    assert not ContactEmail.objects.filter(email="dup@example.vn").exists()


def test_message_ids_past_the_dedupe_window_are_forgotten(post: Any, settings: Any) -> None:
    settings.EVENT_DEDUPE_DAYS = 7
    post("/v1/batch", {"batch": [track("old"), track("recent")]})
    EventMessage.objects.filter(message_id="old").update(received_at=timezone.now() - timedelta(days=8))
    dry = retention.events_purge(actor=Actor.system("cli"), dry_run=True)
    assert dry.messages == 1 and EventMessage.objects.count() == 2
    report = retention.events_purge(actor=Actor.system("job"))
    assert report.messages == 1
    assert list(EventMessage.objects.values_list("message_id", flat=True)) == ["recent"]
    # Past the window a retry is a new event again (Segment's window is 24 hours); inside it, not.
    answer = post("/v1/batch", {"batch": [track("old"), track("recent")]}).json()
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)


def test_deleting_a_contact_deletes_its_events(post: Any) -> None:
    post(
        "/v1/batch",
        {"batch": [{**track(f"c-{i}"), "userId": "u-gone"} for i in range(3)] + [track("keep", anonymousId="a-2")]},
    )
    contact = Contact.objects.get(external_ids__value="u-gone")
    assert Event.objects.filter(contact=contact).count() == 3
    contact.delete()
    assert list(Event.objects.values_list("message_id", flat=True)) == ["keep"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_with_the_same_message_ids_store_each_once(write_key: str) -> None:
    source = Source.objects.get()
    barrier = threading.Barrier(4)
    results: list[intake.IngestResult] = []
    errors: list[BaseException] = []

    def send(i: int) -> None:
        # Overlapping batches in different orders: one lock order, so no deadlock either.
        ids = ["p-1", "p-2", "p-3", f"own-{i}"]
        messages = [
            message_parsing.parse_message(
                {**track(mid), "userId": "u-par"}, index=n, received_at=timezone.now(), forced_type=None
            )
            for n, mid in enumerate(ids if i % 2 else reversed(ids))
        ]
        barrier.wait()
        try:
            results.append(intake.events_ingest(source=source, messages=messages))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.accepted for r in results) == 3 + 4
    assert sum(r.duplicates for r in results) == 3 * 3
    assert Event.objects.count() == 7
    assert Event.objects.filter(message_id="p-1").count() == 1
    assert Contact.objects.filter(external_ids__value="u-par").count() == 1


def test_requests_stored_together_count_each_ones_repeats(make_source: Any) -> None:
    source, _key = make_source()
    now = timezone.now()

    def parsed(raws: list[dict[str, Any]]) -> list[Any]:
        return [message_parsing.parse_message(raw, index=i, received_at=now) for i, raw in enumerate(raws)]

    first = parsed([track("a", event="First"), track("b"), track("a", event="Again")])
    second = parsed([track("b"), track("c"), {"type": "identify", "userId": "u-1", "anonymousId": "a-1",
                                              "messageId": "i", "traits": {"email": "an@probe.vn"}}])  # fmt: skip
    results = intake.events_ingest_many(source=source, requests=[(first, now), (second, now)])
    assert [(r.accepted, r.duplicates) for r in results] == [(2, 1), (2, 1)]
    stored = dict(Event.objects.values_list("message_id", "name"))
    assert stored == {"a": "First", "b": "Viewed", "c": "Viewed", "i": ""}
    # The identify at the end names the device: the requests' earlier events are its contact's.
    contact = ContactEmail.objects.get(email="an@probe.vn").contact_id
    assert set(Event.objects.filter(contact_id=contact).values_list("message_id", flat=True)) == {"a", "b", "c", "i"}
    again = intake.events_ingest_many(source=source, requests=[(parsed([track("a"), track("c")]), now)])
    assert [(r.accepted, r.duplicates) for r in again] == [(0, 2)]
    assert Event.objects.count() == 4
