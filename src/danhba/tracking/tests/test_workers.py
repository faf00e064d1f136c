"""Several workers share the event inbox (PostgreSQL: several ``danhba worker`` processes, or
machines). Each claims its own requests (``SELECT … FOR UPDATE SKIP LOCKED`` and a lease), so
draining at once they store every accepted event exactly once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from danhba.contacts.models import Contact, ExternalId
from danhba.tracking import inbox, tasks
from danhba.tracking.models import Event, EventMessage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def worker_mode(settings: Any, monkeypatch: Any) -> None:
    settings.EVENTS_PROCESS_INLINE = False
    monkeypatch.setattr(tasks, "process_event_inbox", lambda: None)


def send_traffic(post: Any) -> tuple[list[str], set[str], dict[str, str]]:
    """40 requests of 25 events about 30 users (one in five an identify), a few sent twice as an
    SDK retries; returns the message ids, the identified users and each message's device."""
    sent: list[str] = []
    identified: set[str] = set()
    devices: dict[str, str] = {}
    for r in range(40):
        messages = []
        for i in range(25):
            message_id, user = f"r{r}-m{i}", f"u{(r * 25 + i) % 30}"
            message = {"type": "track", "event": "Viewed", "messageId": message_id, "anonymousId": f"dev-{user}"}
            if i % 5 == 0:
                message = {**message, "type": "identify", "userId": user, "traits": {"email": f"{user}@example.vn"}}
                identified.add(user)
            messages.append(message)
            sent.append(message_id)
            devices[message_id] = f"dev-{user}"
        for _ in range(2 if r % 7 == 0 else 1):  # the second: an SDK's retry, while the first waits
            assert post("/v1/batch", {"batch": messages}).status_code == 200
    return sent, identified, devices


def test_two_workers_draining_at_once_store_every_event_exactly_once(post: Any, monkeypatch: Any) -> None:
    sent, identified, devices = send_traffic(post)
    # Each group takes a moment, so the two workers' claims interleave.
    real = inbox.events_store_many

    def slow_store(**kwargs: Any) -> Any:
        time.sleep(0.02)
        return real(**kwargs)

    monkeypatch.setattr(inbox, "events_store_many", slow_store)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    real_claim = inbox.inbox_claim

    def claim(*args: Any, **kwargs: Any) -> Any:
        claims = real_claim(*args, **kwargs)
        claimed[threading.current_thread().name].extend(c.pk for c in claims)
        return claims

    monkeypatch.setattr(inbox, "inbox_claim", claim)
    monkeypatch.setattr(inbox, "GROUP_REQUESTS", 3)
    start = threading.Barrier(2)
    done: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            done[name] = inbox.inbox_drain()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name,), name=name) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert done["a"] > 0 and done["b"] > 0  # both took part
    assert not set(claimed["a"]) & set(claimed["b"])  # no request was taken by both
    assert len(claimed["a"]) + len(claimed["b"]) == 40 + 6
    assert inbox.inbox_rows() == []
    stored = list(Event.objects.values_list("message_id", flat=True))
    assert sorted(stored) == sorted(sent)  # every event once
    assert EventMessage.objects.count() == len(sent)
    # One contact per identified user, whichever worker saw it first; every event of an
    # identified device is attached to it, whichever worker stored it and in which order.
    assert Contact.objects.count() == len(identified) == ExternalId.objects.count()
    owner = dict(ExternalId.objects.values_list("value", "contact_id"))
    for message_id, contact_id in Event.objects.values_list("message_id", "contact_id"):
        user = devices[message_id].removeprefix("dev-")
        assert contact_id == owner.get(user), message_id


def send_people(post: Any, people: int = 24, requests: int = 12) -> dict[str, str]:
    """Requests mixing many people, as an SDK sends them once a device is identified: each
    person's identify, then events carrying their user id and device id. Returns each message's
    user."""
    users: dict[str, str] = {}
    for r in range(requests):
        messages = []
        for p in range(people):
            user, message_id = f"p{p}", f"q{r}-p{p}"
            message = {"type": "track", "event": "Viewed", "messageId": message_id, "userId": user}
            if r == 0:
                message = {**message, "type": "identify", "traits": {"email": f"{user}@example.vn"}}
            messages.append({**message, "anonymousId": f"dev-{user}"})
            users[message_id] = user
        assert post("/v1/batch", {"batch": messages}).status_code == 200
    return users


def test_partitioned_drainers_store_at_the_same_time(post: Any, settings: Any, monkeypatch: Any) -> None:
    """EVENT_DRAINERS=2: each request is split by person into two partitions and each drainer
    stores its own, so neither waits for the other's locks: while one holds its storing
    transaction open, the other stores too. Claiming any request instead (one partition), both
    drainers create the same people's contacts and the second waits for the first's commit."""
    settings.EVENT_DRAINERS = 2
    users = send_people(post)
    rows = inbox.inbox_rows()
    assert len(rows) == 2 * 12  # every request split in two
    real = inbox.events_store_many
    spans: dict[str, list[tuple[float, float]]] = {"0": [], "1": []}

    def store_and_hold(**kwargs: Any) -> Any:
        results = real(**kwargs)
        # Stored, the transaction still open with every lock it took: a drainer that needs one
        # of them cannot finish storing its own group until this one commits.
        held = time.monotonic()
        time.sleep(0.3)
        spans[threading.current_thread().name].append((held, time.monotonic()))
        return results

    monkeypatch.setattr(inbox, "events_store_many", store_and_hold)
    monkeypatch.setattr(inbox, "GROUP_REQUESTS", 3)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drainer(part: int) -> None:
        try:
            start.wait()
            inbox.inbox_drain(partition=part)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drainer, args=(p,), name=str(p)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # At the same time: the two drainers held their storing transactions open together (up to
    # 1.2 s if in step; less on a busy machine); a drainer waiting on the other's locks would
    # never overlap it (0 s).
    together = sum(max(0.0, min(e0, e1) - max(s0, s1)) for s0, e0 in spans["0"] for s1, e1 in spans["1"])
    assert together > 0.15, spans
    assert len(spans["0"]) == len(spans["1"]) == 4  # 12 rows each, 3 per group
    assert inbox.inbox_rows() == []
    assert sorted(Event.objects.values_list("message_id", flat=True)) == sorted(users)
    assert Contact.objects.count() == 24 == ExternalId.objects.count()
    owner = dict(ExternalId.objects.values_list("value", "contact_id"))
    for message_id, contact_id in Event.objects.values_list("message_id", "contact_id"):
        assert contact_id == owner[users[message_id]], message_id
