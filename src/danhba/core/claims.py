"""Work kept in a table and done by whichever worker claims it: the one owner of how such rows
are taken and given back (the contacts the segments must look at again, the contacts whose
scores must be computed again…).

A row is free when nobody claimed it or its claim's lease ran out (its worker died). A worker
:func:`claim` s a batch with a token and a lease in one short transaction: PostgreSQL skips the
rows another worker is claiming at that moment (``FOR UPDATE SKIP LOCKED``); SQLite runs one
write transaction at a time (IMMEDIATE), so the read and the update cannot interleave with
another worker's. A writer that marks a row again clears its claim (its upsert sets ``claim``
to ``""``), so :func:`release` deletes only the rows that are still the worker's: a contact
changed while it was being looked at stays for the next pass.

The model needs ``claim`` (a short text, ``""`` when free) and ``claimed_until`` (nullable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from danhba.core import deferred
from danhba.core.bulk import chunks

# Rows per marking statement: at most 3 values each, well under SQLite's variable limit.
MARK_CHUNK = 2000


def _free(now: dt.datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def claim(
    rows: models.QuerySet[Any],
    *,
    token: str,
    lease: dt.timedelta,
    limit: int,
    fields: Sequence[str] = ("id",),
    order_by: Sequence[str] = ("id",),
    now: dt.datetime | None = None,
) -> list[tuple[Any, ...]]:
    """Claim up to ``limit`` free rows of ``rows`` (oldest first by ``order_by``) for ``lease``;
    returns their ``fields`` (the first must be the primary key)."""
    now = now or timezone.now()
    with transaction.atomic():
        taken = list(
            rows.filter(_free(now)).order_by(*order_by).select_for_update(skip_locked=True).values_list(*fields)[:limit]
        )
        if taken:
            rows.model._default_manager.filter(_free(now), pk__in=[r[0] for r in taken]).update(
                claim=token, claimed_until=now + lease
            )
    return taken


# Inside core.deferred.writes_at_end, marks are collected in its bucket
# {(model, unique_fields): rows} and written when the block ends, each table in one call, in key
# order, the tables in name order. The worker marks the contacts of each stored request for
# several listeners (freshness, segments, scores): one call per table instead of one per request
# and listener, and on PostgreSQL two drainers then take these rows' locks in one order (a
# contact marked by both in different orders was a deadlock, decision 0007). A savepoint rolled
# back inside the block keeps its marks: a contact marked for nothing is computed once more (the
# jobs read the contacts that exist).
_MARKS = "core.claims.marks"
_Collected = dict[tuple[type[models.Model], tuple[str, ...]], set[tuple[Any, ...]]]


def _write_marks(collected: _Collected) -> None:
    for (model, unique_fields), keys in sorted(collected.items(), key=lambda item: item[0][0]._meta.db_table):
        mark(model, keys, unique_fields=unique_fields)


deferred.register(_MARKS, _write_marks, order=10)


def mark(
    model: type[models.Model],
    keys: Iterable[Any],
    *,
    unique_fields: Sequence[str] = ("contact_id",),
    marked_at: dt.datetime | None = None,
) -> int:
    """Put these rows of work in ``model``'s table, or mark again the ones already there: a
    row marked again gets the new ``marked_at`` and loses its claim, because the worker holding
    it may have read before this write; it stays for another pass. ``keys``: the values of
    ``unique_fields`` of each row (a plain value when there is one field, else tuples). The
    model also needs ``marked_at``. Returns how many rows were marked.

    Raw ``INSERT … ON CONFLICT DO UPDATE`` (both databases), in key order (two writers lock
    the rows in one order) and without repeats (PostgreSQL refuses to update a row twice in
    one statement): the event worker marks the contacts of every stored request for several
    listeners, and the ORM's ``bulk_create`` spent more time building and preparing the model
    objects than the database spent storing them (docs/decisions/0023). Inside
    :func:`danhba.core.deferred.writes_at_end` the rows are collected and written when that block
    ends."""
    collected: _Collected | None = deferred.bucket(_MARKS, dict) if marked_at is None else None
    if collected is not None:
        wanted = {k if isinstance(k, tuple) else (k,) for k in keys}
        collected.setdefault((model, tuple(unique_fields)), set()).update(wanted)
        return len(wanted)
    rows = sorted({k if isinstance(k, tuple) else (k,) for k in keys})
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key_columns = [quote(_column(model, f)) for f in unique_fields]
    columns = ", ".join([*key_columns, quote("marked_at"), quote("claim"), quote("claimed_until")])
    stamp = connection.ops.adapt_datetimefield_value(marked_at or timezone.now())
    one = "(" + ", ".join(["%s"] * (len(key_columns) + 1)) + ", '', NULL)"
    conflict = ", ".join(key_columns)
    with connection.cursor() as cursor:
        for chunk in chunks(rows, MARK_CHUNK):
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608 - names quoted
                f"ON CONFLICT ({conflict}) DO UPDATE SET marked_at = excluded.marked_at, claim = '', "
                "claimed_until = NULL",
                [value for row in chunk for value in (*row, stamp)],
            )
    return len(rows)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field.column


def release(model: type[models.Model], *, token: str, ids: Sequence[int]) -> None:
    """Delete the done rows that are still this worker's. On PostgreSQL a row a writer still
    has locked is skipped, not waited for (its upsert clears the claim when it commits), so
    this never deadlocks with the writers."""
    with transaction.atomic():
        mine = list(
            model._default_manager.filter(pk__in=list(ids), claim=token)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        model._default_manager.filter(pk__in=mine).delete()
