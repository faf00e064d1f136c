"""What a message tells of who it is about, before any look-up: the ids and identifying traits
``message_identity`` keeps (junk left out), and the contact fields ``contact_fields_from_traits``
reads from Segment's reserved traits (each only when it normalises)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from danhba.tracking.services.identity import Identity, contact_fields_from_traits, message_identity
from danhba.tracking.services.messages import parse_message


def identity(raw: dict[str, Any]) -> Identity:
    return message_identity(parse_message(raw, index=0, received_at=datetime(2026, 12, 7, tzinfo=UTC)))


def test_ids_and_identifying_traits_are_kept() -> None:
    found = identity(
        {"type": "identify", "userId": "u-1", "anonymousId": "d-1",
         "traits": {"email": " Lan@Example.VN ", "phone": "0912 345 678", "plan": "pro"}}
    )  # fmt: skip
    assert (found.user_id, found.anonymous_id, found.email) == ("u-1", "d-1", "lan@example.vn")
    assert (found.phone, found.phone_raw, found.identified) == ("+84912345678", "0912 345 678", True)
    assert found.traits["plan"] == "pro"
    alias = identity({"type": "alias", "userId": "u-1", "previousId": "d-0"})
    assert alias.previous_id == "d-0"
    number = identity({"type": "identify", "userId": "u-1", "traits": {"phone": 912345678}})
    assert (number.phone, number.phone_raw) == ("+84912345678", "912345678")


@pytest.mark.parametrize(
    "traits",
    [
        {"email": "test@test.com"},
        {"email": "null@example.vn"},
        {"email": "not an email"},
        {"email": 7},
        {"phone": "1234567890"},
        {"phone": "999 999 999"},
        {"phone": "12"},
        {"phone": True},
        {"phone": "   "},
    ],
)
def test_junk_traits_identify_no_one(traits: dict[str, Any]) -> None:
    found = identity({"type": "identify", "anonymousId": "d-1", "traits": traits})
    assert (found.email, found.phone, found.phone_raw, found.identified) == ("", "", "", False)


def test_junk_ids_are_dropped_and_group_traits_are_not_the_persons() -> None:
    found = identity({"type": "track", "event": "x", "userId": "undefined", "anonymousId": "null"})
    assert (found.user_id, found.anonymous_id) == ("", "")
    group = identity({"type": "group", "userId": "u-1", "groupId": "acme", "traits": {"email": "sales@acme.vn"}})
    assert group.email == ""
    track = identity({"type": "track", "event": "x", "userId": "u-1", "context": {"traits": {"email": "a@b.vn"}}})
    assert track.email == "a@b.vn"


def test_contact_fields_from_readable_traits() -> None:
    traits = {
        "birthday": "1990-05-12T00:00:00.000Z", "gender": "Nam", "title": "  Kế toán  ",
        "address": {"street": " 12 Lý Thường Kiệt ", "city": "Atlantis", "state": "Hà Nội", "country": " vn "},
    }  # fmt: skip
    assert contact_fields_from_traits(traits) == {
        "birthday": "1990-05-12", "gender": "male", "job_title": "Kế toán",
        "street": "12 Lý Thường Kiệt", "province": "ha-noi", "country": "VN",
    }  # fmt: skip
    assert contact_fields_from_traits({"title": "x" * 200, "address": {"street": "y" * 300}}) == {
        "job_title": "x" * 120, "street": "y" * 255,
    }  # fmt: skip


@pytest.mark.parametrize(
    "traits",
    [
        {"birthday": "1899-12-31"},
        {"birthday": (timezone.localdate() + timedelta(days=1)).isoformat()},
        {"birthday": "someday"},
        {"birthday": 19900512},
        {"gender": "robot"},
        {"gender": "  "},
        {"title": "   "},
        {"title": ["CEO"]},
        {"address": "12 Lý Thường Kiệt, Hà Nội"},
        {"address": {"street": 12, "city": "Atlantis", "state": None, "country": "VNM"}},
        {"address": {"country": "v1"}},
        {"name": "Lan", "email": "lan@example.vn", "phone": "0912345678"},
    ],
)
def test_unreadable_traits_are_left_out(traits: dict[str, Any]) -> None:
    assert contact_fields_from_traits(traits) == {}
