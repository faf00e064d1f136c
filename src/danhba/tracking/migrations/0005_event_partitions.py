"""Events at volume: idempotency moves from a unique constraint on the events table to the small
EventMessage table; retention rules and the purge log; on PostgreSQL, the events table becomes
partitioned by month of ``timestamp`` (existing rows are copied across; nothing happens on
SQLite). Self-contained: the partition SQL is written out here, not imported."""

# The SQL names only this migration's constant table names, never input.
# ruff: noqa: S608

from datetime import UTC, datetime, timedelta

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

TABLE = "tracking_event"
NEW = "tracking_event_partitioned"
SEQUENCE = "tracking_event_id_seq"
MAX_MONTHS_BACK = 120


def seed_rules(apps, schema_editor):
    """Page and screen views are kept 13 months (the usual limit for audience measurement);
    everything else forever until an admin says otherwise."""
    EventRetention = apps.get_model("tracking", "EventRetention")
    for event_type, keep_months in (("", None), ("page", 13), ("screen", 13)):
        EventRetention.objects.get_or_create(event_type=event_type, name="", defaults={"keep_months": keep_months})


def copy_message_ids(apps, schema_editor):
    """Remember the messageIds of the events received within the dedupe window, so a retry
    arriving just after the upgrade is still recognised."""
    since = datetime.now(UTC) - timedelta(days=getattr(settings, "EVENT_DEDUPE_DAYS", 7))
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracking_eventmessage (source_id, message_id, received_at) "
            "SELECT source_id, message_id, received_at FROM tracking_event WHERE received_at >= %s",
            [connection.ops.adapt_datetimefield_value(since)],
        )


def _month(moment):
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _next_month(month):
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def _definitions(cursor, table):
    """CREATE INDEX statements and ALTER TABLE … ADD CONSTRAINT clauses of ``table`` (the
    primary key and unique indexes left out: they change with partitioning)."""
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s::regclass "
        "AND NOT i.indisprimary AND NOT i.indisunique",
        [table],
    )
    # A partitioned table's definitions say "ON ONLY"; on the new table they must recurse.
    indexes = [row[0].replace(" ON ONLY ", " ON ", 1) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('f', 'c')",
        [table],
    )
    return indexes, cursor.fetchall()


def _swap(cursor, old, new, create_new, primary_key):
    """Copy ``old`` into ``new`` (created by ``create_new``), then let ``new`` take its name,
    id sequence, indexes and constraints."""
    indexes, constraints = _definitions(cursor, old)
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [old])
    old_sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT last_value, is_called FROM {old_sequence}")
    last_value, is_called = cursor.fetchone()
    create_new()
    cursor.execute(f"CREATE SEQUENCE {new}_id_seq AS bigint")
    cursor.execute(f"ALTER TABLE {new} ALTER COLUMN id SET DEFAULT nextval('{new}_id_seq')")
    cursor.execute(f"ALTER SEQUENCE {new}_id_seq OWNED BY {new}.id")
    cursor.execute(f"INSERT INTO {new} SELECT * FROM {old}")
    cursor.execute(f"SELECT setval('{new}_id_seq', GREATEST(%s, COALESCE((SELECT max(id) FROM {old}), 1)), %s)",
                   [last_value, is_called or last_value > 1])  # fmt: skip
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {TABLE}")
    cursor.execute(f"ALTER SEQUENCE {new}_id_seq RENAME TO {SEQUENCE}")
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY ({primary_key})")
    for statement in indexes:
        cursor.execute(statement)
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        if cursor.fetchone()[0] == "p":
            return
        cursor.execute(f"SELECT min(timestamp) FROM {TABLE}")
        earliest = cursor.fetchone()[0]

        def create_partitioned():
            cursor.execute(
                f"CREATE TABLE {NEW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS) "
                "PARTITION BY RANGE (timestamp)"
            )
            cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {NEW} DEFAULT")
            now = datetime.now(UTC)
            # From the earliest event, but no more than MAX_MONTHS_BACK: a sender's clock stuck
            # in 1970 must not make hundreds of partitions; such rows go to the default one.
            oldest = datetime(now.year - MAX_MONTHS_BACK // 12, now.month, 1, tzinfo=UTC)
            month = _month(max(min(earliest, now), oldest) if earliest else now)
            last = _month(now)
            for _ in range(max(getattr(settings, "EVENT_PARTITIONS_AHEAD", 3), 0)):
                last = _next_month(last)
            while month <= last:
                end = _next_month(month)
                cursor.execute(
                    f"CREATE TABLE {TABLE}_y{month.year:04d}m{month.month:02d} PARTITION OF {NEW} "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
                )
                month = end

        _swap(cursor, TABLE, NEW, create_partitioned, "id, timestamp")


def unpartition(apps, schema_editor):
    """Back to one plain table (every partition's rows copied back)."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
        if cursor.fetchone()[0] != "p":
            return
        plain = "tracking_event_plain"

        def create_plain():
            cursor.execute(
                f"CREATE TABLE {plain} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)"
            )

        # Dropping the partitioned table drops its partitions.
        _swap(cursor, TABLE, plain, create_plain, "id")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0004_orders"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventMessage",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("message_id", models.CharField(max_length=200)),
                ("received_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.CreateModel(
            name="EventPurge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("via", models.CharField(default="job", max_length=10)),
                ("deleted", models.BigIntegerField(default=0)),
                ("messages_deleted", models.BigIntegerField(default=0)),
                ("details", models.JSONField(blank=True, default=dict)),
            ],
            options={
                "ordering": ["-started_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="EventRetention",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "event_type",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("identify", "Identify"),
                            ("track", "Track"),
                            ("page", "Page"),
                            ("screen", "Screen"),
                            ("group", "Group"),
                            ("alias", "Alias"),
                        ],
                        max_length=10,
                        verbose_name="event type",
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=200, verbose_name="event name")),
                ("keep_months", models.PositiveIntegerField(blank=True, null=True, verbose_name="keep (months)")),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="event",
            name="event_source_message_unique",
        ),
        migrations.AddField(
            model_name="eventmessage",
            name="source",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tracking.source"
            ),
        ),
        migrations.AddConstraint(
            model_name="eventretention",
            constraint=models.UniqueConstraint(fields=("event_type", "name"), name="event_retention_unique"),
        ),
        migrations.AddConstraint(
            model_name="eventmessage",
            constraint=models.UniqueConstraint(fields=("source", "message_id"), name="event_message_unique"),
        ),
        migrations.RunPython(seed_rules, migrations.RunPython.noop),
        migrations.RunPython(copy_message_ids, migrations.RunPython.noop),
        migrations.RunPython(partition, unpartition),
    ]
