"""The HTTP event API with bad, odd and hostile input: every case gets the right 4xx with a
``{"code","message"}`` body, and no valid event of a batch is lost."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db


def track(message_id: str = "m1", **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Signed Up", "anonymousId": "a-1", "messageId": message_id, **extra}


def test_single_track_is_stored_with_its_payload(post: Any) -> None:
    response = post(
        "/v1/track",
        {"userId": "u-1", "event": "Order Completed", "properties": {"total": 120000}, "messageId": "m-1"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 1
    event = Event.objects.get()
    assert (event.type, event.name, event.user_id, event.properties) == (
        "track",
        "Order Completed",
        "u-1",
        {"total": 120000},
    )


def test_every_endpoint_stores_its_type(post: Any) -> None:
    calls = {
        "identify": {"userId": "u", "traits": {"plan": "gold"}},
        "page": {"anonymousId": "a", "name": "Home", "properties": {"url": "https://shop.vn/"}},
        "screen": {"anonymousId": "a", "name": "Cart"},
        "group": {"userId": "u", "groupId": "company-9", "traits": {"name": "ACME"}},
        "alias": {"userId": "u", "previousId": "a"},
    }
    for i, (kind, body) in enumerate(calls.items()):
        assert post(f"/v1/{kind}", {**body, "messageId": f"m{i}"}).status_code == 200
    assert dict(Event.objects.values_list("type", "name")) == {
        "identify": "", "page": "Home", "screen": "Cart", "group": "company-9", "alias": "",
    }  # fmt: skip


def test_a_retry_with_the_same_message_id_is_stored_once(post: Any) -> None:
    assert post("/v1/track", track("same")).json()["accepted"] == 1
    again = post("/v1/track", track("same"))
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    batch = post("/v1/batch", {"batch": [track("same"), track("new"), track("new")]})
    assert batch.json() == {"success": True, "accepted": 1, "duplicates": 2, "rejected": []}
    assert Event.objects.count() == 2


def test_write_key_in_the_body_works_and_is_not_stored(post: Any, write_key: str) -> None:
    response = post("/v1/batch", {"writeKey": write_key, "batch": [track()]}, key=None)
    assert response.status_code == 200
    assert write_key not in json.dumps(list(Event.objects.values("properties", "context", "traits")))


@pytest.mark.parametrize("key", [None, "dbw_wrong", ""])
def test_missing_or_wrong_key_is_401(post: Any, key: str | None) -> None:
    response = post("/v1/track", track(), key=key)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized" and response.json()["message"]
    assert not Event.objects.exists()


def test_a_bearer_or_garbled_authorization_header_is_401(post: Any) -> None:
    for header in ("Bearer abc", "Basic !!!not-base64"):
        response = post("/v1/track", track(), key=None, headers={"Authorization": header})
        assert response.status_code == 401, header


def test_a_disabled_source_is_refused(post: Any, write_key: str) -> None:
    from danhba.core.actor import Actor
    from danhba.tracking.models import Source
    from danhba.tracking.services.sources import source_disable

    source_disable(actor=Actor.system("cli"), source=Source.objects.get())
    assert post("/v1/track", track()).status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"event": "x", "anonymousId": "a", "properties": {"n": NaN}}', "invalid_json"),
        (b'{"event": "x", "anonymousId": "a", "properties": {"n": 1e999}}', "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "invalid_json"),
        (json.dumps({"event": "x"}).encode(), "missing_id"),
        (json.dumps({"event": "x", "userId": "", "anonymousId": None}).encode(), "missing_id"),
        (json.dumps({"anonymousId": "a"}).encode(), "missing_event"),
        (json.dumps({"event": 5, "anonymousId": "a"}).encode(), "missing_event"),
        (json.dumps({"event": "x", "userId": {"id": 1}}).encode(), "invalid_type"),
        (json.dumps({"event": "x", "userId": True}).encode(), "invalid_type"),
        (json.dumps({"event": "x", "anonymousId": "a", "properties": [1]}).encode(), "invalid_type"),
        (json.dumps({"event": "x", "anonymousId": "a", "context": "web"}).encode(), "invalid_type"),
        (json.dumps({"event": "x", "anonymousId": "a", "timestamp": "yesterday"}).encode(), "invalid_timestamp"),
        (json.dumps({"event": "x", "anonymousId": "a", "timestamp": 1700000000}).encode(), "invalid_type"),
        (json.dumps({"event": "x", "anonymousId": "a" * 201}).encode(), "too_long"),
        (json.dumps({"event": "x" * 201, "anonymousId": "a"}).encode(), "too_long"),
    ],
)
def test_bad_single_events_get_400_with_a_reason(post: Any, body: bytes, code: str) -> None:
    response = post("/v1/track", body)
    assert response.status_code in (400, 413), response.content
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Event.objects.exists()


def test_bad_batches_get_400(post: Any) -> None:
    for body in ({"batch": "nope"}, {"events": []}, {"batch": [track()], "context": [1]}, {"batch": [], "sentAt": "x"}):
        response = post("/v1/batch", body)
        assert response.status_code == 400, body
        assert response.json()["code"]
    assert not Event.objects.exists()


def test_a_batch_stores_its_valid_events_and_lists_the_rejects(post: Any) -> None:
    batch = [
        track("ok-1"),
        "not an object",
        {"type": "track", "event": "x", "messageId": "no-id"},
        {"type": "launch", "anonymousId": "a", "messageId": "bad-type"},
        track("too-big", properties={"blob": "x" * 40_000}),
        track("ok-2", properties={"nul": "a\u0000b", "half": "\ud800"}),
        {"type": "alias", "userId": "u", "messageId": "no-prev"},
    ]
    response = post("/v1/batch", {"batch": batch})
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (1, "invalid_type"), (2, "missing_id"), (3, "invalid_type"), (4, "too_large"), (6, "missing_id"),
    ]  # fmt: skip
    assert result["rejected"][1]["messageId"] == "no-id"
    assert set(Event.objects.values_list("message_id", flat=True)) == {"ok-1", "ok-2"}
    assert Event.objects.get(message_id="ok-2").properties == {"nul": "ab", "half": "\ufffd"}


def test_size_limits(post: Any) -> None:
    big_event = track(properties={"blob": "x" * (33 * 1024)})
    response = post("/v1/track", big_event)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    many = [track(f"m{i}", properties={"blob": "x" * 20_000}) for i in range(30)]  # ~600 KB
    response = post("/v1/batch", {"batch": many})
    assert response.status_code == 413 and response.json()["details"]["limit"] == 500 * 1024
    under = [track(f"m{i}", properties={"blob": "x" * 20_000}) for i in range(20)]  # ~400 KB
    assert post("/v1/batch", {"batch": under}).json()["accepted"] == 20


def test_gzip_bodies_are_accepted(post: Any) -> None:
    response = post("/v1/batch", {"batch": [track("g1"), track("g2")]}, gzip=True)
    assert response.status_code == 200 and response.json()["accepted"] == 2


def test_a_gzip_bomb_is_cut_off_not_inflated(post: Any) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (200 * 1024 * 1024) + b"]}", compresslevel=9)
    assert len(bomb) < 500 * 1024
    response = post("/v1/batch", bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_broken_or_unknown_encodings(post: Any) -> None:
    assert post("/v1/batch", b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"}).status_code == 400
    truncated = gzip.compress(json.dumps({"batch": [track()]}).encode())[:-12]
    assert post("/v1/batch", truncated, headers={"Content-Encoding": "gzip"}).status_code == 400
    assert post("/v1/batch", b"{}", headers={"Content-Encoding": "br"}).status_code == 415
    assert not Event.objects.exists()


def test_get_is_405_and_no_csrf_or_session_is_needed(client: Any, post: Any) -> None:
    assert client.get("/v1/batch").status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    from danhba.tracking.models import Source
    from danhba.tracking.tests.conftest import basic

    assert Source.objects.exists()
    response = strict.post(
        "/v1/track", json.dumps(track()), content_type="application/json", HTTP_AUTHORIZATION=basic("x")
    )
    assert response.status_code == 401  # reached the view: CSRF did not answer 403


def test_timestamps_are_corrected_for_the_senders_clock(post: Any) -> None:
    # The sender's clock is one hour fast: it says it sent at now+1h an event from now+1h-5min.
    now = datetime.now(UTC)
    sent = now + timedelta(hours=1)
    happened = sent - timedelta(minutes=5)
    post("/v1/batch", {"sentAt": sent.isoformat(), "batch": [track("skew", timestamp=happened.isoformat())]})
    event = Event.objects.get()
    assert abs(event.timestamp - (now - timedelta(minutes=5))) < timedelta(seconds=5)
    assert event.original_timestamp == happened and event.sent_at == sent
    # Without sentAt the timestamp is taken as it is; without a timestamp, it is the receive time.
    post("/v1/track", track("plain", timestamp="2026-01-02T03:04:05Z"))
    assert Event.objects.get(message_id="plain").timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    post("/v1/track", track("none"))
    assert abs(Event.objects.get(message_id="none").timestamp - now) < timedelta(seconds=5)


def test_batch_context_applies_to_each_event(post: Any) -> None:
    post("/v1/batch", {"context": {"app": "pos"}, "batch": [track("c1", context={"ip": "1.2.3.4"})]})
    assert Event.objects.get().context == {"app": "pos", "ip": "1.2.3.4"}


def test_an_event_over_32_kb_in_a_batch_is_rejected_and_the_rest_stored(post: Any) -> None:
    big = track("big", properties={"blob": "ệ" * 11_500})  # ~34 KB of UTF-8
    response = post("/v1/batch", {"batch": [track("s1"), big, track("s2")]})
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 2
    assert [(r["index"], r["messageId"], r["code"], r["message"]) for r in body["rejected"]] == [
        (1, "big", "too_large", "the event is larger than 32 KB")
    ]
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["s1", "s2"]


def test_an_event_that_only_grows_over_32_kb_once_re_encoded_is_rejected(post: Any) -> None:
    # 2,000 × "1e15" is about 10 KB as sent and 38 KB as stored ("1000000000000000.0").
    numbers = ",".join(["1e15"] * 2000)
    small = json.dumps({"type": "track", "event": "E", "anonymousId": "a", "messageId": "ok"})
    head = '"type": "track", "event": "E", "anonymousId": "a", "messageId": "grows"'
    raw = f'{{{head}, "properties": {{"n": [{numbers}]}}}}'
    body = f'{{"batch": [{small}, {raw}], "pad": "{"x" * 30_000}"}}'.encode()
    answer = post("/v1/batch", body).json()
    assert answer["accepted"] == 1
    assert [(r["messageId"], r["code"]) for r in answer["rejected"]] == [("grows", "too_large")]


def test_event_sizes_are_measured_from_the_body_as_sent() -> None:
    from danhba.tracking.views.events import _event_sizes

    events = ['{"a": 1}', '{ "b" : "ệ\\u00e9" }', "[1, 2]", '"x"']
    body = ('{"sentAt": null, "batch": [], "context": {"k": [1, {"batch": [9]}]},\n "batch" : [ '
            + " ,\n".join(events) + " ] }").encode()  # fmt: skip
    assert _event_sizes(body) == [len(e.encode()) for e in events]
    assert _event_sizes(b'{"batch": 1}') is None
    assert _event_sizes(b"[1]") is None
