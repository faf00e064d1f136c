"""One Segment message, as ``parse_message`` takes or refuses it: each type's required fields,
the code a refused message gets back (the first problem found), and what an accepted one holds
(ids, names cleaned, context merged with the batch's, identify traits from context.traits,
timestamps corrected by the sender's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from danhba.tracking.services.messages import MAX_EVENT_BYTES, Message, Rejected, parse_message

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def parse(raw: Any, **kwargs: Any) -> Message:
    return parse_message(raw, index=0, received_at=NOW, **kwargs)


def refused(raw: Any, **kwargs: Any) -> str:
    with pytest.raises(Rejected) as caught:
        parse(raw, **kwargs)
    return caught.value.code


TRACK = {"type": "track", "userId": "u-1", "event": "Order Completed", "messageId": "m-1"}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (["not", "an", "object"], "invalid_type"),
        ({**TRACK, "type": "purchase"}, "invalid_type"),
        ({**TRACK, "userId": None}, "missing_id"),
        ({**TRACK, "userId": True}, "invalid_type"),
        ({**TRACK, "anonymousId": "x" * 201}, "too_long"),
        ({**TRACK, "messageId": {"id": 1}}, "invalid_type"),
        ({**TRACK, "properties": [1, 2]}, "invalid_type"),
        ({**TRACK, "context": "web"}, "invalid_type"),
        ({**TRACK, "integrations": "all"}, "invalid_type"),
        ({**TRACK, "context": {"traits": "vip"}}, "invalid_type"),
        ({**TRACK, "event": "  "}, "missing_event"),
        ({**TRACK, "event": "x" * 201}, "too_long"),
        ({"type": "page", "anonymousId": "d-1", "name": 5}, "invalid_type"),
        ({"type": "group", "userId": "u-1"}, "missing_id"),
        ({"type": "alias", "userId": "u-1"}, "missing_id"),
        ({"type": "alias", "anonymousId": "d-1", "previousId": "d-0"}, "missing_id"),
        ({**TRACK, "timestamp": "yesterday"}, "invalid_timestamp"),
        ({**TRACK, "timestamp": 1700000000}, "invalid_type"),
        ({**TRACK, "timestamp": "2199-01-01T00:00:00Z", "sentAt": "1901-01-01T00:00:00Z"}, "invalid_timestamp"),
        # Two problems: the first found is the one reported (the id before the event name).
        ({"type": "track", "event": ""}, "missing_id"),
    ],
)
def test_refused_messages_say_why(raw: Any, code: str) -> None:
    assert refused(raw) == code


def test_the_size_is_checked_only_when_asked() -> None:
    big = {**TRACK, "properties": {"blob": "x" * MAX_EVENT_BYTES}}
    assert refused(big, check_size=True) == "too_large"
    assert parse(big).properties["blob"] == "x" * MAX_EVENT_BYTES


def test_a_track_is_taken_with_its_ids_and_cleaned_name() -> None:
    message = parse({**TRACK, "event": "  Order\u0007 Completed ", "userId": 42, "anonymousId": " d-1 "})
    assert (message.type, message.name, message.user_id, message.anonymous_id) == (
        "track", "Order Completed", "42", "d-1",
    )  # fmt: skip
    assert (message.message_id, message.previous_id, message.timestamp) == ("m-1", "", NOW)
    assert parse({k: v for k, v in TRACK.items() if k != "messageId"}).message_id.startswith("danhba-")


def test_each_type_names_what_it_is_about() -> None:
    assert parse({"type": "page", "anonymousId": "d-1", "name": "Home"}).name == "Home"
    assert parse({"type": "screen", "anonymousId": "d-1"}).name == ""
    assert parse({"type": "group", "userId": "u-1", "groupId": "g-7"}).name == "g-7"
    assert parse({"type": "identify", "userId": "u-1", "event": "ignored"}).name == ""
    alias = parse({"type": "alias", "userId": "u-1", "previousId": "d-0", "properties": {"a": 1}})
    assert (alias.name, alias.previous_id, alias.properties) == ("", "d-0", {"a": 1, "previousId": "d-0"})
    assert parse({**TRACK, "type": "page"}, forced_type="track").type == "track"


def test_context_and_identify_traits() -> None:
    message = parse(
        {"type": "identify", "userId": "u-1", "traits": {"email": "a@b.vn"},
         "context": {"ip": "10.0.0.1", "traits": {"email": "old@b.vn", "name": "Lan"}}},
        batch_context={"ip": "10.0.0.9", "library": {"name": "analytics-python"}},
    )  # fmt: skip
    assert message.context["ip"] == "10.0.0.1" and message.context["library"] == {"name": "analytics-python"}
    # RudderStack's context.traits under Segment's top-level traits.
    assert message.traits == {"email": "a@b.vn", "name": "Lan"}
    track = parse({**TRACK, "traits": {"plan": "pro"}, "context": {"traits": {"email": "a@b.vn"}}})
    assert track.traits == {"plan": "pro"}


def test_timestamps_follow_the_senders_clock_offset() -> None:
    sent = NOW - timedelta(minutes=5)  # the sender's clock is five minutes behind
    message = parse({**TRACK, "timestamp": "2026-12-07T11:00:00Z", "sentAt": sent.isoformat()})
    assert message.timestamp == datetime(2026, 12, 7, 11, 5, tzinfo=UTC)
    assert message.original_timestamp == datetime(2026, 12, 7, 11, 0, tzinfo=UTC) and message.sent_at == sent
    batch = parse({**TRACK, "originalTimestamp": "2026-12-07T11:00:00"}, batch_sent_at=sent)
    assert batch.timestamp == datetime(2026, 12, 7, 11, 5, tzinfo=UTC) and batch.sent_at == sent
    assert parse({**TRACK, "timestamp": "2026-12-07T10:00:00+07:00"}).timestamp == datetime(
        2026, 12, 7, 3, 0, tzinfo=UTC
    )
