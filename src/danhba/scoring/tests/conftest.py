"""Scoring fixtures: events stored through the real intake (page views and track events of a
contact at given times), a model built through the services."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.scoring.models import ScoreModel
from danhba.scoring.services.models import score_model_create, score_rule_create
from danhba.tracking.models import Event
from danhba.tracking.services.intake import events_ingest
from danhba.tracking.services.messages import Message
from danhba.tracking.services.server import internal_source

_ids = itertools.count(1)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def send_events() -> Callable[..., None]:
    """``send_events(contact, [(name_or_url, at, properties), ...], type="track"|"page")``."""

    def send(contact: Any, events: list[tuple[str, dt.datetime, dict[str, Any]]], type: str = "track") -> None:
        messages = []
        for i, (what, at, props) in enumerate(events):
            page = type == Event.Type.PAGE
            messages.append(
                Message(
                    index=i, type=type, message_id=f"m{next(_ids)}", name="" if page else what, user_id="",
                    anonymous_id="", previous_id="", timestamp=at, original_timestamp=at, sent_at=None,
                    properties={"url": what, **props} if page else props, context={}, traits={},
                    known_contact=contact.pk,
                )
            )  # fmt: skip
        events_ingest(source=internal_source("tests"), messages=messages, received_at=timezone.now())

    return send


@pytest.fixture
def make_model(admin: Any) -> Callable[..., ScoreModel]:
    def make(name: str = "Engagement", rules: list[dict[str, Any]] | None = None, **data: Any) -> ScoreModel:
        actor = actor_for(admin)
        model = score_model_create(actor=actor, data={"name": name, **data})
        for rule in rules or []:
            score_rule_create(actor=actor, model=model, data=rule)
        model.refresh_from_db()
        return model

    return make
