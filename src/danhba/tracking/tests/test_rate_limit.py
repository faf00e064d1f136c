"""The per-source rate limit of the event API: a source over its events per second gets 429 with
Retry-After and nothing of the refused request is stored; other sources are not slowed; the
pixel still answers its GIF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from danhba.core.ratelimit import buckets
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def slow_limit(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # One event per second, three at once, and the buckets' clock stopped: nothing refills
    # while the test sends, however slow the machine.
    settings.EVENTS_RATE_LIMIT_PER_SECOND = 1
    settings.EVENTS_RATE_LIMIT_BURST = 3
    monkeypatch.setattr(buckets, "clock", lambda: 1_000.0)
    buckets.clear()
    yield
    buckets.clear()


def track(message_id: str) -> dict[str, Any]:
    return {"type": "track", "event": "Signed Up", "anonymousId": "a-1", "messageId": message_id}


def test_over_the_limit_is_429_with_retry_after_and_nothing_stored(post: Any) -> None:
    for i in range(3):
        assert post("/v1/track", track(f"m{i}")).status_code == 200
    response = post("/v1/track", track("refused"))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert body["code"] == "too_many_requests"
    assert "1 events per second" in body["message"]
    assert response["Access-Control-Allow-Origin"] == "*"
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m0", "m1", "m2"]


def test_a_batch_costs_one_token_per_event_and_is_refused_whole(post: Any) -> None:
    # From a full bucket a batch bigger than the burst still goes through (charged the burst).
    first = post("/v1/batch", {"batch": [track(f"b{i}") for i in range(5)]})
    assert first.status_code == 200
    assert first.json()["accepted"] == 5
    second = post("/v1/batch", {"batch": [track(f"c{i}") for i in range(2)]})
    assert second.status_code == 429
    assert second.json()["code"] == "too_many_requests"
    assert not Event.objects.filter(message_id__startswith="c").exists()
    assert Event.objects.count() == 5


def test_each_source_has_its_own_bucket(post: Any, make_source: Callable[..., tuple[Any, str]]) -> None:
    for i in range(3):
        post("/v1/track", track(f"m{i}"))
    assert post("/v1/track", track("m3")).status_code == 429
    _, other_key = make_source(name="Backend", kind="server")
    assert post("/v1/track", track("other"), key=other_key).status_code == 200


def test_zero_turns_the_limit_off(post: Any, settings: Any) -> None:
    settings.EVENTS_RATE_LIMIT_PER_SECOND = 0
    for i in range(10):
        assert post("/v1/track", track(f"m{i}")).status_code == 200
    assert Event.objects.count() == 10


def test_the_pixel_answers_its_gif_and_drops_what_is_over(client: Any, write_key: str) -> None:
    for i in range(5):
        query = urlencode({"writeKey": write_key, "event": "Opened", "userId": "u", "messageId": f"p{i}"})
        response = client.get("/v1/pixel.gif?" + query)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
    assert Event.objects.count() == 3


def test_the_write_key_in_the_body_is_limited_too(client: Any, write_key: str) -> None:
    def send(i: int) -> Any:
        return client.generic(
            "POST", "/v1/track", f'{{"writeKey": "{write_key}", "type": "track", "event": "E", "userId": "u", '
            f'"messageId": "k{i}"}}', content_type="text/plain",
        )  # fmt: skip

    assert [send(i).status_code for i in range(4)] == [200, 200, 200, 429]
    assert Event.objects.count() == 3


def test_the_bucket_refills_with_time(post: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        assert post("/v1/track", track(f"m{i}")).status_code == 200
    assert post("/v1/track", track("early")).status_code == 429
    monkeypatch.setattr(buckets, "clock", lambda: 1_001.5)  # 1.5 s later: one event's worth
    assert post("/v1/track", track("later")).status_code == 200
    assert post("/v1/track", track("too soon")).status_code == 429
