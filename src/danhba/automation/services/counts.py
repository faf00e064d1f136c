"""The per-step counters (``StepCount``), added to inside the transactions that move
enrolments — the engine's step groups, enrolment, a version's move rule — so the diagram reads a
few rows instead of counting every StepRun (1.1 s at 500,000 runs on PostgreSQL). One upsert per
transaction: ``INSERT … ON CONFLICT (version, step, shard) DO UPDATE SET n = n + excluded.n``
(SQLite and PostgreSQL alike), rows in step order so two writers lock them in the same order."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import connection

from danhba.automation.models import StepCount

SHARDS = 8
COLUMNS = ("entered", "done", "waiting", "skipped", "error", "goal", "exited")
# (step) → (column) → how many to add
Deltas = Mapping[str, Mapping[str, int]]


def new_deltas() -> defaultdict[str, defaultdict[str, int]]:
    return defaultdict(lambda: defaultdict(int))


def shard_of(token: str | None = None) -> int:
    """A worker's shard from its claim token (stable for its batches), else a random one."""
    if token:
        return sum(token.encode()) % SHARDS
    return secrets.randbelow(SHARDS)


def counts_add(*, version_id: int, deltas: Deltas, shard: int | None = None) -> None:
    """Add to a version's step counters (inside the caller's transaction)."""
    rows: list[list[Any]] = [
        [version_id, step, shard_of() if shard is None else shard, *(int(cols.get(c, 0)) for c in COLUMNS)]
        for step, cols in sorted(deltas.items())
        if any(cols.get(c) for c in COLUMNS)
    ]
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(StepCount._meta.db_table)
    names = ["version_id", "step", "shard", *COLUMNS]
    marks = "(" + ", ".join(["%s"] * len(names)) + ")"
    sets = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in COLUMNS)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(n) for n in names)}) VALUES {', '.join([marks] * len(rows))} "  # noqa: S608
        f"ON CONFLICT (version_id, step, shard) DO UPDATE SET {sets}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


def counts_of(version_id: int) -> dict[str, dict[str, int]]:
    """The counters of a version by step (shards summed; zeros left out)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for row in StepCount.objects.filter(version_id=version_id).values("step", *COLUMNS):
        for column in COLUMNS:
            if row[column]:
                out[row["step"]][column] = out[row["step"]].get(column, 0) + row[column]
    return dict(out)
