"""The pure parts of the channels: the mapping language and the signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.capture.channels.mapping import apply_mapping, default_mapping, mapping_from_text, mapping_problems
from danhba.capture.channels.signatures import (
    facebook_signature,
    facebook_signature_ok,
    zalo_signature,
    zalo_signature_ok,
)


def test_mapping_text_round_trip_and_problems() -> None:
    mapping, problems = mapping_from_text(
        "# comment\nfull_name = full_name\n\nbudget = custom:budget\nok = consent:zalo_oa"
    )
    assert problems == [] and mapping == {"full_name": "full_name", "budget": "custom:budget", "ok": "consent:zalo_oa"}
    _mapping, problems = mapping_from_text("a = b\nno equals sign\nc = custom:Bad Key")
    assert len(problems) == 3 and "line 2" in problems[0]
    assert mapping_problems(["not", "a", "dict"]) != []


def test_apply_mapping_sorts_values_by_target() -> None:
    values = {"Full_Name": "Lý Thu", "email": "a@ex.vn", "work_email": "b@ex.vn", "phone_number": "0912 345 678",
              "city": "Hà Nội", "unmapped": "x", "agree": "Đồng ý", "refuse": "no"}  # fmt: skip
    mapping = default_mapping("facebook") | {"agree": "consent:marketing", "refuse": "consent:sms"}
    mapped = apply_mapping(values, mapping)
    assert mapped.fields == {"full_name": "Lý Thu", "province": "Hà Nội"}  # a field's name in any case
    assert mapped.emails == ["a@ex.vn", "b@ex.vn"] and mapped.phones == ["0912 345 678"]
    assert mapped.consents == {"marketing": "agree"}  # an unticked box grants nothing


def test_facebook_signature() -> None:
    body = b'{"object":"page"}'
    good = facebook_signature(body, "secret")
    assert facebook_signature_ok(body, good, "secret")
    assert facebook_signature_ok(body, good.upper().replace("SHA256=", "sha256="), "secret")
    assert not facebook_signature_ok(body + b" ", good, "secret")
    assert not facebook_signature_ok(body, good, "other")
    assert not facebook_signature_ok(body, None, "secret") and not facebook_signature_ok(body, "", "secret")
    assert not facebook_signature_ok(body, "sha256=ệ", "secret")


@pytest.mark.parametrize(
    ("body", "ok"),
    [({"event_name": "follow", "timestamp": "1765000000123"}, True), ({"event_name": "follow"}, False),
     ({"event_name": "follow", "timestamp": True}, False)],
)  # fmt: skip
def test_zalo_signature_needs_the_bodys_timestamp(body: dict[str, Any], ok: bool) -> None:
    raw = json.dumps(body).encode()
    header = zalo_signature(raw, "app", str(body.get("timestamp", "")), "oa-key")
    assert zalo_signature_ok(raw, header, "app", "oa-key") is ok
    assert not zalo_signature_ok(raw, header, "another-app", "oa-key")
    assert not zalo_signature_ok(b"[1, 2]", header, "app", "oa-key")
