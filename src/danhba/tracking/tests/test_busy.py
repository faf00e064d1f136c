"""The event API answers 503 with ``Retry-After`` when the database is busy (``core/busy.py``),
so SDKs retry the batch instead of dropping it on a 500."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.core.tests.test_busy import busy_json, locked
from danhba.tracking.views import events as event_views

pytestmark = pytest.mark.django_db


def test_the_event_api_answers_503_when_the_database_is_locked(post: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(event_views, "events_accept", locked)
    busy_json(post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "d1", "messageId": "p1"}]}))
    busy_json(post("/v1/track", {"event": "Viewed", "anonymousId": "d1", "messageId": "t1"}))
