"""Planner statistics: SQLite gets them, and with them picks the contact's index for one
contact's events of one name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from danhba.core.maintenance import database_statistics_refresh

pytestmark = pytest.mark.django_db


def test_statistics_refresh(make_contact: Any) -> None:
    from danhba.core.actor import Actor
    from danhba.tracking.models import Event
    from danhba.tracking.services.sources import source_create

    if connection.vendor == "postgresql":
        make_contact(full_name="Nguyễn Văn An")
        assert database_statistics_refresh() is True
        with connection.cursor() as cursor:
            # The planner's statistics of the search index's table, what its plan choice reads.
            cursor.execute("SELECT COUNT(*) FROM pg_stats WHERE tablename = 'contacts_searchentry'")
            assert cursor.fetchone()[0] > 0
        return
    source, _key = source_create(actor=Actor.system("cli"), name="s")
    contacts = [make_contact(full_name=f"Người {i}") for i in range(20)]
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            source=source, message_id=f"m{i}", type="track", name=f"E{i % 3}", contact=contacts[i % 20],
            timestamp=now - dt.timedelta(hours=i), received_at=now,
        )
        for i in range(600)
    )  # fmt: skip
    assert database_statistics_refresh() is True
    with connection.cursor() as cursor:
        cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'tracking_event'")
        indexes = {row[0] for row in cursor.fetchall()}
        assert {"event_contact_time", "event_name_time_contact"} <= indexes
        cursor.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM tracking_event WHERE contact_id = %s AND name = %s "
            "AND timestamp >= %s",
            [contacts[0].pk, "E0", now - dt.timedelta(days=30)],
        )
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "event_contact_time" in plan, plan
