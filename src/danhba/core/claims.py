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
from collections.abc import Sequence
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone


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


def mark(
    rows: Sequence[models.Model], *, unique_fields: Sequence[str] = ("contact_id",), batch_size: int = 2000
) -> None:
    """Put these rows of work in their table, or mark again the ones already there (same
    ``unique_fields``): a row marked again gets the new ``marked_at`` and loses its claim,
    because the worker holding it may have read before this write; it stays for another pass.
    The model also needs ``marked_at``."""
    if not rows:
        return
    type(rows[0])._default_manager.bulk_create(
        list(rows),
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=list(unique_fields),
        update_fields=["marked_at", "claim", "claimed_until"],
    )


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
