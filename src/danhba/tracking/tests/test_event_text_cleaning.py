"""The event API cleans what it takes in as every other entry point does
(``core/tests/test_text_cleaning.py``): names without control characters or direction
overrides, fullwidth emails read as ASCII; and it refuses timestamps outside the years danhba
accepts everywhere (1900–2200), reporting each as a rejected event with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.contacts.models import ContactEmail
from danhba.core.tests.test_text_cleaning import BELL_NAME, assert_clean

pytestmark = pytest.mark.django_db


def test_through_the_event_api(post: Any) -> None:
    # ("test@…" is a junk address to the intake: it never identifies anyone.)
    traits = {"name": BELL_NAME, "email": "ｈｏａ＠probe.vn"}
    assert post("/v1/identify", {"userId": "u-1", "messageId": "i1", "traits": traits}).status_code == 200
    assert_clean(ContactEmail.objects.get(email="hoa@probe.vn").contact, "hoa@probe.vn")


def test_event_timestamps_in_year_one_are_refused_with_a_reason(post: Any) -> None:
    single = post(
        "/v1/track", {"userId": "u-1", "event": "Viewed", "messageId": "t0", "timestamp": "0001-01-01T00:00:00Z"}
    )
    assert single.status_code == 400
    assert single.json()["code"] == "invalid_timestamp" and "1900" in single.json()["message"]
    good = {"type": "track", "userId": "u-1", "event": "Viewed", "messageId": "t1"}
    batch = post(
        "/v1/batch",
        {"batch": [
            good,
            {**good, "messageId": "t2", "timestamp": "0001-01-01T00:00:00Z"},
            {**good, "messageId": "t3", "originalTimestamp": "9999-12-31T23:59:59Z"},
            {**good, "messageId": "t4", "timestamp": "2026-01-01T00:00:00Z", "sentAt": "0001-01-01T00:00:00Z"},
        ]},
    )  # fmt: skip
    body = batch.json()
    assert batch.status_code == 200 and body["accepted"] == 1
    assert [(r["index"], r["messageId"], r["code"]) for r in body["rejected"]] == [
        (1, "t2", "invalid_timestamp"),
        (2, "t3", "invalid_timestamp"),
        (3, "t4", "invalid_timestamp"),
    ]
