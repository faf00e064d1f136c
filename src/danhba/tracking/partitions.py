"""Monthly partitions of the events table on PostgreSQL (by ``timestamp``, in UTC months).

Migration 0005 turns ``tracking_event`` into a partitioned table with one partition per month
from the earliest event to ``EVENT_PARTITIONS_AHEAD`` months ahead, plus a default partition
for timestamps outside every month (a backfill from years ago, a sender's clock in the far
future). ``partitions_ensure`` (daily job, ``danhba events partitions ensure``) keeps months
ready ahead of today; the purge drops whole months older than every retention rule.

On SQLite the table is a plain table and every function here does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from danhba.tracking.models import Event

TABLE = Event._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_default"
_MONTHLY = re.compile(rf"^{TABLE}_y(\d{{4}})m(\d{{2}})$")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime | None  # None for the default partition
    end: datetime | None
    rows_estimate: int

    @property
    def is_default(self) -> bool:
        return self.start is None


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` shifted by whole calendar months, the day clamped to the month's length."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31,
            30, 31][month - 1]  # fmt: skip
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def partition_name(month: datetime) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row and row[0] == "p")


def partitions_list() -> list[Partition]:
    """The partitions of the events table, oldest month first, the default partition last; the
    row counts are PostgreSQL's estimates (no table is scanned)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), GREATEST(c.reltuples, 0)::bigint "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [TABLE],
        )
        rows = cursor.fetchall()
    monthly: list[Partition] = []
    default: list[Partition] = []
    for name, bound, estimate in rows:
        match = _MONTHLY.match(name)
        if bound == "DEFAULT":
            default.append(Partition(name, None, None, estimate))
        elif match:
            start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            monthly.append(Partition(name, start, add_months(start, 1), estimate))
    return sorted(monthly, key=lambda p: p.start or datetime.min.replace(tzinfo=UTC)) + default


def partitions_ensure(*, since: datetime | None = None, ahead: int | None = None) -> list[str]:
    """Create the missing monthly partitions from ``since`` (default: the oldest existing month,
    so months the purge dropped are not recreated) to ``ahead`` months after this one. Rows of a
    new month already in the default partition move into it. Returns the names created."""
    if not is_partitioned():
        return []
    ahead = settings.EVENT_PARTITIONS_AHEAD if ahead is None else ahead
    existing = partitions_list()
    months = {p.start for p in existing if p.start is not None}
    this_month = month_start(timezone.now())
    first = month_start(since) if since else min(months, default=this_month)
    last = add_months(this_month, max(ahead, 0))
    created: list[str] = []
    month = min(first, this_month)
    while month <= last:
        if month not in months:
            _create_month(month)
            created.append(partition_name(month))
        month = add_months(month, 1)
    return created


def _create_month(month: datetime) -> None:
    """Attach one month. Built as a separate table first, so rows of that month sitting in the
    default partition can move into it before it is attached (attaching a month that the
    default partition still has rows of fails)."""
    name = connection.ops.quote_name(partition_name(month))
    table, default = connection.ops.quote_name(TABLE), connection.ops.quote_name(DEFAULT_PARTITION)
    start, end = month, add_months(month, 1)
    with transaction.atomic(), connection.cursor() as cursor:
        # No event may reach the default partition between the move and the attach.
        cursor.execute(f"LOCK TABLE {default} IN EXCLUSIVE MODE")
        cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING STORAGE)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE timestamp >= %s AND timestamp < %s RETURNING *) "  # noqa: S608
            f"INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        # DDL takes no parameters; the bounds are dates this module computed, never input.
        bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {bounds}")


def partition_rows(partition: Partition) -> int:
    """The exact number of rows of one partition."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(partition.name)}")  # noqa: S608
        return int(cursor.fetchone()[0])


def partition_drop(partition: Partition) -> None:
    """Detach and drop one monthly partition: its rows are gone at once, with no row-by-row
    delete and no dead tuples left for vacuum."""
    if partition.is_default:
        raise ValueError("the default partition is never dropped")
    with transaction.atomic(), connection.cursor() as cursor:
        name = connection.ops.quote_name(partition.name)
        # Foreign-key checks of rows written earlier in this transaction are deferred; a table
        # with pending checks cannot be dropped, so run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {connection.ops.quote_name(TABLE)} DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
