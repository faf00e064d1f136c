"""Every event row is written by ``intake.events_insert`` through ``core.bulk.Table``; on SQLite
as one statement over a JSON array. Whatever a sender puts in an event reads back the same as
through the row-by-row path (which PostgreSQL and values JSON cannot hold use)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from danhba.core.bulk import Table
from danhba.core.tests.properties import examples
from danhba.tracking.models import Event, Source
from danhba.tracking.services.intake import EVENT_COLUMNS

pytestmark = pytest.mark.django_db

# What the event API passes on: no NUL characters (``messages.storable``; PostgreSQL refuses them).
_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3))
_objects = st.dictionaries(_text, _json, max_size=4)
_times = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))


def _rows(source_id: int, tag: str, values: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [
        (source_id, f"{tag}-{i}", "track", name, None, "dev", user, at, None if i % 2 else at, at, at, p, c, t)
        for i, (name, user, at, p, c, t) in enumerate(values)
    ]


def _read(tag: str) -> list[tuple[Any, ...]]:
    fields = ("name", "user_id", "timestamp", "original_timestamp", "properties", "context", "traits")
    return list(Event.objects.filter(message_id__startswith=f"{tag}-").order_by("id").values_list(*fields))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_text, _text, _times, _objects, _objects, _objects), max_size=4))
def test_events_written_as_one_statement_read_back_as_written_row_by_row(
    make_source: Any, values: list[tuple[Any, ...]]
) -> None:
    source = Source.objects.filter(name="Rows").first() or make_source(name="Rows")[0]
    Event.objects.all().delete()
    Table(Event, EVENT_COLUMNS, one_statement=True).insert(_rows(source.pk, "one", values))
    Table(Event, EVENT_COLUMNS).insert(_rows(source.pk, "many", values))
    assert _read("one") == _read("many")
    assert len(_read("one")) == len(values)


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), Decimal("1.5"), dt.date(2026, 12, 6)])
def test_values_json_cannot_hold_fare_as_they_did_row_by_row(make_source: Any, amount: Any) -> None:
    source, _ = make_source(name="Odd")
    at = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
    outcomes = []
    for tag, table in (("one", Table(Event, EVENT_COLUMNS, one_statement=True)), ("many", Table(Event, EVENT_COLUMNS))):
        try:
            with transaction.atomic():
                table.insert(_rows(source.pk, tag, [("Paid", "u1", at, {"amount": amount}, {}, {})]))
            outcomes.append(_read(tag))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]
