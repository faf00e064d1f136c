"""The event API's answers are not kept by any browser or proxy (``Cache-Control: no-store``):
they echo message ids and rejections of personal data."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_event_api_answers_are_not_stored(post: Any) -> None:
    accepted = post("/v1/track", {"userId": "u-1", "event": "Signed Up", "messageId": "m-1"})
    assert accepted.status_code == 200 and "no-store" in accepted["Cache-Control"]
    refused = post("/v1/batch", b"{not json")
    assert refused.status_code == 400 and "no-store" in refused["Cache-Control"]
