"""The event inbox with a worker (``EVENTS_PROCESS_INLINE`` off, as in production): the API answers
after one write, the worker stores the events, a retry is stored once, a failing request is kept
with its error and does not hold back the ones after it."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from danhba.contacts.models import ExternalId
from danhba.tracking import inbox, tasks
from danhba.tracking.models import Event, EventInbox

REAL_STORE, REAL_STORE_MANY = inbox.events_store, inbox.events_store_many

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def worker_mode(settings: Any, monkeypatch: Any) -> list[int]:
    """Production mode; wake-ups are recorded instead of queued, the tests run the worker."""
    settings.EVENTS_PROCESS_INLINE = False
    woken: list[int] = []
    monkeypatch.setattr(inbox, "_last_wake", 0.0)
    monkeypatch.setattr(tasks, "process_event_inbox", lambda: woken.append(1))
    return woken


def batch(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"batch": list(messages)}


def page(message_id: str, anonymous_id: str = "dev-1") -> dict[str, Any]:
    return {"type": "page", "messageId": message_id, "anonymousId": anonymous_id, "name": "home"}


def identify(message_id: str, user_id: str, anonymous_id: str = "dev-1") -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "traits": {"email": f"{user_id}@example.vn", "name": "Trần Thị Mai"},
    }


def test_accepted_events_wait_in_the_inbox_until_the_worker_stores_them(
    post: Any, django_capture_on_commit_callbacks: Any, worker_mode: list[int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post("/v1/batch", batch(page("p1"), page("p2"), identify("i1", "u-7")))
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 3, "duplicates": 0, "rejected": []}
    assert worker_mode == [1], "the commit wakes the worker"
    assert Event.objects.count() == 0 and [r["count"] for r in inbox.inbox_rows()] == [3]

    assert inbox.inbox_process() == 3
    assert inbox.inbox_rows() == []
    contact = ExternalId.objects.get(system="segment", value="u-7").contact
    # The identify, and the page views of the device it named, belong to the new contact.
    assert set(Event.objects.filter(contact=contact).values_list("message_id", flat=True)) == {"p1", "p2", "i1"}
    assert contact.email == "u-7@example.vn" and contact.full_name == "Trần Thị Mai"


def test_a_retry_accepted_while_the_first_copy_waits_is_stored_once(post: Any) -> None:
    first = post("/v1/batch", batch(page("p1"), page("p2")))
    retry = post("/v1/batch", batch(page("p1"), page("p2"), page("p3")))
    # The first copy is not stored yet: the API cannot tell, the worker can.
    assert (first.json()["accepted"], retry.json()["accepted"]) == (2, 3)
    inbox.inbox_process()
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["p1", "p2", "p3"]
    # Once stored, a retry is answered as a duplicate at once.
    again = post("/v1/batch", batch(page("p1"), page("p4")))
    assert (again.json()["accepted"], again.json()["duplicates"]) == (1, 1)


def test_timestamps_and_payload_survive_the_inbox(post: Any) -> None:
    message = {
        "type": "track",
        "event": "Đã xem sản phẩm",
        "messageId": "t1",
        "anonymousId": "dev-9",
        "timestamp": "2026-11-20T08:30:00+07:00",
        "sentAt": "2026-11-20T08:30:05+07:00",
        "properties": {"giá": 199000, "nested": {"list": [1, "hai", None]}},
        "context": {"page": {"url": "https://shop.example.vn/áo"}},
    }
    post("/v1/track", message)
    inbox.inbox_process()
    event = Event.objects.get(message_id="t1")
    assert event.name == "Đã xem sản phẩm"
    assert event.properties == {"giá": 199000, "nested": {"list": [1, "hai", None]}}
    assert event.context["page"] == {"url": "https://shop.example.vn/áo"}
    assert event.original_timestamp is not None and event.original_timestamp.isoformat() == "2026-11-20T01:30:00+00:00"


def break_request(monkeypatch: Any, message_id: str, error: Exception) -> None:
    """Storing the request whose first message is ``message_id`` raises ``error``: alone, or in
    a group of requests (which are then stored one by one)."""
    real, real_many = inbox.events_store, inbox.events_store_many

    def store(*, source: Any, messages: list[Any], received_at: Any) -> Any:
        if messages[0].message_id == message_id:
            raise error
        return real(source=source, messages=messages, received_at=received_at)

    def store_many(*, source: Any, requests: list[Any]) -> Any:
        if any(messages[0].message_id == message_id for messages, _ in requests):
            raise error
        return real_many(source=source, requests=requests)

    monkeypatch.setattr(inbox, "events_store", store)
    monkeypatch.setattr(inbox, "events_store_many", store_many)


def test_pending_requests_of_a_source_are_stored_together(post: Any, monkeypatch: Any) -> None:
    post("/v1/batch", batch(page("g1"), page("g2")))
    post("/v1/batch", batch(page("g2"), page("g3")))  # a retry overlapping the first
    post("/v1/batch", batch(page("g4")))

    def alone(**kwargs: Any) -> Any:
        raise AssertionError("stored one request at a time")

    monkeypatch.setattr(inbox, "events_store", alone)
    assert inbox.inbox_process() == 5  # 4 stored + 1 duplicate
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["g1", "g2", "g3", "g4"]
    assert inbox.inbox_rows() == []


def test_a_failing_request_is_kept_with_its_error_and_does_not_block_the_next(post: Any, monkeypatch: Any) -> None:
    post("/v1/batch", batch(page("bad-1")))
    post("/v1/batch", batch(page("good-1")))
    real = inbox.events_store
    break_request(monkeypatch, "bad-1", ValueError("broken"))
    inbox.inbox_process()
    assert list(Event.objects.values_list("message_id", flat=True)) == ["good-1"]
    # Tried once; the next try waits (10 s, then 20, 40, 80).
    (waiting,) = inbox.inbox_rows()
    assert waiting["attempts"] == 1 and waiting["failed_at"] is None
    assert inbox.inbox_process() == 0 and inbox.inbox_rows()[0]["attempts"] == 1
    # As if each wait had passed.
    monkeypatch.setattr(inbox, "retry_delay", lambda attempts: -1.0)
    EventInbox.objects.update(claimed_until=None)
    inbox.inbox_process()
    (failed,) = inbox.inbox_rows()
    assert failed["failed_at"] is not None and failed["attempts"] == inbox.MAX_ATTEMPTS
    assert failed["error"] == "ValueError: broken"
    # Nothing pending: the worker is not stuck retrying it.
    assert inbox.inbox_status()["pending_requests"] == 0 and inbox.inbox_status()["failed_requests"] == 1
    # Once the cause is fixed, `danhba events inbox --retry-failed` puts it back in line.
    monkeypatch.setattr(inbox, "events_store", real)
    assert inbox.inbox_retry_failed() == 1
    inbox.inbox_process()
    assert set(Event.objects.values_list("message_id", flat=True)) == {"good-1", "bad-1"}
    assert inbox.inbox_rows() == []


def test_a_database_timeout_is_retried_later_not_raised(post: Any, monkeypatch: Any) -> None:
    from django.db import OperationalError

    post("/v1/batch", batch(page("p1")))
    post("/v1/batch", batch(page("p2")))
    break_request(monkeypatch, "p1", OperationalError("canceling statement due to statement timeout"))
    inbox.inbox_process()
    # The request after it was stored; the one that timed out waits for its next try.
    assert list(Event.objects.values_list("message_id", flat=True)) == ["p2"]
    assert [r["attempts"] for r in inbox.inbox_rows()] == [1]


def test_a_claimed_request_is_not_taken_twice_and_is_processed_once_released(post: Any) -> None:
    post("/v1/batch", batch(page("p1")))
    (claimed,) = inbox.inbox_claim()
    assert inbox.inbox_claim() == []  # leased: no one else takes it
    assert inbox.inbox_process() == 0
    inbox.inbox_release(claimed)
    assert inbox.inbox_process() == 1 and Event.objects.filter(message_id="p1").exists()


def test_a_claim_whose_worker_died_is_taken_again_after_its_lease(post: Any) -> None:
    post("/v1/batch", batch(page("p1"), page("p2")))
    (dead,) = inbox.inbox_claim()  # the worker that took it was killed (kill -9)
    assert inbox.inbox_process() == 0
    EventInbox.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))  # the lease ran out
    assert inbox.inbox_process() == 2 and Event.objects.count() == 2
    # The dead worker's token no longer names the row: it cannot delete or fail another claim.
    inbox.inbox_fail(dead, "late")
    assert inbox.inbox_rows() == []


def test_two_claims_never_share_a_request(post: Any) -> None:
    for i in range(5):
        post("/v1/batch", batch(page(f"p{i}")))
    first, second = inbox.inbox_claim(3), inbox.inbox_claim(3)
    assert len(first) == 3 and len(second) == 2
    assert not {c.pk for c in first} & {c.pk for c in second}
    assert len({c.token for c in first}) == 1 and first[0].token != second[0].token


def test_storing_a_request_twice_stores_its_events_once(post: Any) -> None:
    """The worker died after storing but before removing the request from the inbox."""
    post("/v1/batch", batch(page("p1"), page("p2")))
    (claim,) = inbox.inbox_claim()
    source = inbox.Source.objects.get(pk=claim.source_id)
    messages = [inbox.message_from_json(d) for d in inbox.json.loads(claim.messages)]
    inbox.events_store(source=source, messages=messages, received_at=claim.received_at)
    inbox.inbox_release(claim)
    assert inbox.inbox_process() == 2  # both counted as duplicates the second time
    assert Event.objects.count() == 2 and inbox.inbox_rows() == []


def test_a_parked_request_is_tried_again_by_itself_later_and_later(post: Any, monkeypatch: Any) -> None:
    post("/v1/batch", batch(page("bad-1")))
    EventInbox.objects.update(attempts=inbox.MAX_ATTEMPTS - 1)
    break_request(monkeypatch, "bad-1", ValueError("broken"))
    inbox.inbox_process()
    (parked,) = inbox.inbox_rows()
    assert parked["failed_at"] is not None and parked["attempts"] == inbox.MAX_ATTEMPTS
    parked_at = parked["failed_at"]
    # Not yet: 5 minutes after it was parked.
    assert inbox.inbox_retry_parked(now=parked_at + timedelta(minutes=4)) == 0
    assert inbox.inbox_retry_parked(now=parked_at + timedelta(minutes=5)) == 1
    inbox.inbox_process()  # still broken: parked again, for 10 minutes this time
    (again,) = inbox.inbox_rows()
    assert again["failed_at"] is not None and again["attempts"] == inbox.MAX_ATTEMPTS + 1
    assert inbox.park_delay(again["attempts"]) == 600
    assert inbox.inbox_retry_parked(now=again["failed_at"] + timedelta(minutes=9)) == 0
    # The cause is gone: the periodic task stores it without anyone's help.
    monkeypatch.setattr(inbox, "events_store", REAL_STORE)
    monkeypatch.setattr(inbox, "events_store_many", REAL_STORE_MANY)
    monkeypatch.setattr(inbox.timezone, "now", lambda: again["failed_at"] + timedelta(minutes=10))
    monkeypatch.setattr(tasks, "process_event_inbox", lambda: inbox.inbox_process())
    assert tasks.retry_parked_event_requests.call_local() == 1
    assert Event.objects.filter(message_id="bad-1").exists() and inbox.inbox_rows() == []
    assert inbox.park_delay(100) == 6 * 3600  # never dropped; at most 6 hours apart


def test_requests_left_in_the_old_inbox_file_are_moved_in(settings: Any, post: Any) -> None:
    """An upgrade from the version that kept the inbox in a raw SQLite file loses nothing."""
    source = inbox.Source.objects.get()
    payload = inbox.json.dumps([inbox.message_to_json(m) for m in _messages(source, "old-1", "old-2")])
    with sqlite3.connect(settings.EVENT_INBOX_PATH) as old:
        old.execute(
            "CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, source_id INTEGER NOT NULL, "
            "received_at TEXT NOT NULL, messages TEXT NOT NULL, count INTEGER NOT NULL, "
            "attempts INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '', claimed_until REAL, "
            "failed_at TEXT)"
        )
        old.execute(
            "INSERT INTO inbox (source_id, received_at, messages, count) VALUES (?, ?, ?, 2)",
            (source.pk, "2026-11-20T01:30:00+00:00", payload),
        )
    tasks.process_event_inbox_sweep.call_local()
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["old-1", "old-2"]
    with sqlite3.connect(settings.EVENT_INBOX_PATH) as old:
        assert old.execute("SELECT count(*) FROM sqlite_master WHERE name = 'inbox'").fetchone() == (0,)


def _messages(source: Any, *ids: str) -> list[Any]:
    from danhba.tracking.services.messages import parse_message

    now = timezone.now()
    return [parse_message(page(i), index=n, received_at=now) for n, i in enumerate(ids)]


def test_wake_ups_are_throttled_per_process(monkeypatch: Any, worker_mode: list[int]) -> None:
    clock = iter([100.0, 100.1, 100.2, 100.5])
    monkeypatch.setattr(inbox.time, "monotonic", lambda: next(clock))
    for _ in range(4):
        inbox.wake()
    assert len(worker_mode) == 2  # at 100.0 and at 100.5


def test_the_minutely_sweep_processes_what_a_lost_wake_up_left(post: Any) -> None:
    post("/v1/batch", batch(page("p1")))
    tasks.process_event_inbox_sweep.call_local()
    assert Event.objects.filter(message_id="p1").exists() and inbox.inbox_rows() == []
