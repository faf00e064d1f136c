"""Monthly partitions of the events table on PostgreSQL: made by migration 0005 (rows survive it,
both ways), rows land in their month or in the default partition, months are created ahead and
moved out of the default partition, whole months are dropped by the purge. On SQLite the table
stays plain and the same commands say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from danhba.core.actor import Actor
from danhba.tracking import partitions, retention, tasks
from danhba.tracking.models import Event, EventMessage, EventPurge, EventRetention, Source
from danhba.tracking.partitions import add_months, month_start, partition_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(make_source: Any) -> Source:
    return make_source()[0]


def event(source: Source, when: datetime, message_id: str, **extra: Any) -> Event:
    return Event.objects.create(
        source=source, message_id=message_id, type=extra.pop("type", "track"), name=extra.pop("name", "x"),
        anonymous_id="a", timestamp=when, received_at=timezone.now(), **extra,
    )  # fmt: skip


def partition_of(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM tracking_event WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def children() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'tracking_event'::regclass")
        return {row[0] for row in cursor.fetchall()}


def test_no_model_holds_a_foreign_key_to_events() -> None:
    # On PostgreSQL a key to a partitioned table must name (id, timestamp); keep events a leaf.
    assert [f"{rel.related_model.__name__}.{rel.field.name}" for rel in Event._meta.related_objects] == []


@pytest.mark.postgres
def test_the_events_table_is_partitioned_by_month_with_a_default_partition() -> None:
    assert partitions.is_partitioned()
    this_month = month_start(timezone.now())
    expected = {partition_name(add_months(this_month, n)) for n in range(0, 4)} | {"tracking_event_default"}
    assert expected <= children()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'tracking_event'::regclass "
            "AND contype = 'p'"
        )
        assert cursor.fetchone()[0] == 'PRIMARY KEY (id, "timestamp")'
        # No table may point at events (a key would have to name the partition key too).
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE confrelid = 'tracking_event'::regclass")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'tracking_event'")
        indexes = {row[0] for row in cursor.fetchall()}
    assert {"event_contact_time", "event_name_time_contact", "event_anon_unassigned", "tracking_event_pkey"} <= indexes


@pytest.mark.postgres
def test_rows_land_in_their_month_or_the_default_partition(source: Source) -> None:
    now = timezone.now()
    this_month = event(source, now, "now")
    next_month = event(source, add_months(now, 1), "next")
    ancient = event(source, datetime(2015, 6, 1, tzinfo=UTC), "ancient")
    far = event(source, datetime(2999, 1, 1, tzinfo=UTC), "far")
    assert partition_of(this_month.pk) == partition_name(month_start(now))
    assert partition_of(next_month.pk) == partition_name(month_start(add_months(now, 1)))
    assert partition_of(ancient.pk) == partition_of(far.pk) == "tracking_event_default"
    # Django still works with the table by id alone.
    assert Event.objects.get(pk=ancient.pk).message_id == "ancient"
    assert Event.objects.filter(pk=far.pk).update(name="y") == 1
    assert next_month.pk > this_month.pk


@pytest.mark.postgres
def test_ensure_creates_missing_months_and_moves_their_rows_out_of_the_default(source: Source) -> None:
    old = event(source, datetime(2025, 2, 14, tzinfo=UTC), "feb")
    assert partition_of(old.pk) == "tracking_event_default"
    out = StringIO()
    call_command("events", "partitions", "ensure", "--since", "2025-01", stdout=out)
    assert "tracking_event_y2025m02" in out.getvalue()
    assert {"tracking_event_y2025m01", "tracking_event_y2025m02", "tracking_event_y2025m12"} <= children()
    assert partition_of(old.pk) == "tracking_event_y2025m02"
    assert Event.objects.get(pk=old.pk).message_id == "feb"
    # Nothing missing: a second run (the daily job) creates nothing.
    assert tasks.event_partitions_job.call_local() == []


@pytest.mark.postgres
def test_the_daily_job_keeps_months_ready_ahead(settings: Any) -> None:
    settings.EVENT_PARTITIONS_AHEAD = 6
    created = tasks.event_partitions_job.call_local()
    six_ahead = partition_name(add_months(month_start(timezone.now()), 6))
    assert six_ahead in created and six_ahead in children()


@pytest.mark.postgres
def test_the_purge_drops_whole_months_older_than_the_longest_retention(source: Source) -> None:
    EventRetention.objects.filter(event_type="", name="").update(keep_months=12)
    EventRetention.objects.filter(event_type="page").update(keep_months=3)
    EventRetention.objects.filter(event_type="screen").update(keep_months=3)
    now = timezone.now()
    partitions.partitions_ensure(since=add_months(now, -16))
    gone_month = month_start(add_months(now, -15))
    for i in range(3):
        event(source, gone_month + timedelta(days=i), f"old-{i}", type="page" if i else "track")
    event(source, add_months(now, -6), "page-6", type="page", name="Home")
    event(source, add_months(now, -6), "track-6")
    event(source, datetime(2015, 1, 1, tzinfo=UTC), "ancient")  # default partition: deleted row by row
    dry = retention.events_purge(actor=Actor.system("cli"), dry_run=True)
    assert partition_name(gone_month) in {p["name"] for p in dry.partitions}
    assert dry.deleted == 5 and partition_name(gone_month) in children()

    report = retention.events_purge(actor=Actor.system("job"))
    assert partition_name(gone_month) not in children()
    assert partition_name(month_start(add_months(now, -6))) in children()
    assert report.deleted == 5
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["track-6"]
    run = EventPurge.objects.get()
    dropped = {p["name"]: p["rows"] for p in run.details["partitions"]}
    assert dropped[partition_name(gone_month)] == 3
    # The daily job does not bring dropped months back.
    assert partition_name(gone_month) not in partitions.partitions_ensure()


@pytest.mark.postgres
def test_a_keep_forever_rule_keeps_every_partition(source: Source) -> None:
    EventRetention.objects.filter(event_type="page").update(keep_months=1)
    partitions.partitions_ensure(since=add_months(timezone.now(), -30))
    event(source, add_months(timezone.now(), -29), "old", type="track")
    before = children()
    retention.events_purge(actor=Actor.system("job"))
    assert children() == before and Event.objects.filter(message_id="old").exists()


@pytest.mark.postgres
def test_deleting_a_contact_deletes_its_events_in_every_partition(source: Source, make_contact: Any) -> None:
    contact = make_contact()
    now = timezone.now()
    for i, when in enumerate((now, add_months(now, 2), datetime(2015, 1, 1, tzinfo=UTC))):
        event(source, when, f"c{i}", contact=contact)
    event(source, now, "other")
    contact.delete()
    assert list(Event.objects.values_list("message_id", flat=True)) == ["other"]


def test_the_partitions_command_lists_months_or_says_there_are_none() -> None:
    out = StringIO()
    call_command("events", "partitions", "show", stdout=out)
    if connection.vendor == "postgresql":
        assert "tracking_event_default\tdefault (outside every month)" in out.getvalue()
        assert partition_name(month_start(timezone.now())) in out.getvalue()
    else:
        assert "not partitioned" in out.getvalue()
        assert partitions.partitions_list() == [] and partitions.partitions_ensure() == []


@pytest.mark.slow  # migrates the events table back and forth: 5-15 s
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_survive_the_migration_both_ways(make_source: Any) -> None:
    """Back to 0004 (a plain table with the unique constraint) and forward again: every event,
    its id and the id sequence survive, the recent messageIds are remembered, and on PostgreSQL
    there is a partition for every month from the earliest event on."""
    source = make_source()[0]
    now = timezone.now()
    kept = [event(source, when, f"m{i}") for i, when in enumerate((now, datetime(2019, 3, 1, tzinfo=UTC)))]
    executor = MigrationExecutor(connection)
    executor.migrate([("tracking", "0004_orders")])
    assert not partitions.is_partitioned()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, message_id FROM tracking_event ORDER BY id")
        assert cursor.fetchall() == [(e.pk, e.message_id) for e in kept]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert partitions.is_partitioned() == (connection.vendor == "postgresql")
    assert sorted(Event.objects.values_list("id", "message_id")) == [(e.pk, e.message_id) for e in kept]
    assert event(source, now, "after").pk > max(e.pk for e in kept)
    assert set(EventMessage.objects.values_list("message_id", flat=True)) >= {"m0", "m1"}
    if connection.vendor == "postgresql":
        # Months from the earliest event on.
        assert partition_of(kept[1].pk) == "tracking_event_y2019m03"
        assert {"tracking_event_y2019m04", partition_name(month_start(now))} <= children()
