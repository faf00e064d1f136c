"""Which contacts' scores to compute again, and the worker that does it.

1. Every contact write ends in ``contacts.changed`` with the reasons (``event:Page Viewed``,
   ``field:job_title``…); :func:`on_contacts_changed` keeps the contacts whose reasons meet what
   an active model depends on (``ScoreModel.depends_on``) and marks them in :class:`ScoreDirty`:
   one upsert per write, whatever the number of events, and a wake-up after the commit.
2. :func:`dirty_process` (the woken job, a minutely sweep) claims a batch of rows with a token
   and a lease, computes the batch's scores (``compute.scores_update``) and deletes the rows that
   are still its claim: a row marked again meanwhile stays for the next pass.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from danhba.contacts.changes import ContactsChange
from danhba.core import claims, jobs
from danhba.scoring import rules as R
from danhba.scoring.models import ScoreDirty, ScoreModel
from danhba.scoring.services.compute import active_models, scores_update

# Contacts computed per transaction.
BATCH = 500
LEASE = dt.timedelta(minutes=5)


def on_contacts_changed(change: ContactsChange) -> None:
    """Listener of ``contacts.changed`` (``apps.py``). Scores' own changes (``score:…``) are
    left alone; a deleted contact's scores go with it (foreign keys)."""
    if not change.reasons:
        return
    needs: set[str] = set()
    for depends_on in ScoreModel.objects.filter(is_active=True).values_list("depends_on", flat=True):
        needs.update(depends_on or ())
    if not needs:
        return
    gone = set(change.deleted)
    scores_mark(contact_ids=[cid for cid, why in change.reasons.items() if cid not in gone and R.matters(why, needs)])


def scores_mark(*, contact_ids: Iterable[int]) -> None:
    """Have these contacts' scores computed again: now, inside the writer's transaction, with
    ``SCORING_INLINE`` (tests, tiny sites); else by the worker after the commit."""
    ids = sorted({int(c) for c in contact_ids if c})
    if not ids:
        return
    if settings.SCORING_INLINE:
        scores_update(contact_ids=ids)
        return
    claims.mark(ScoreDirty, ids)
    transaction.on_commit(_wake)


def _wake() -> None:
    """Queue the worker after a writing commit (``core.jobs.wake_soon``)."""
    from danhba.scoring.tasks import process_score_dirty

    jobs.wake_soon("score-dirty", process_score_dirty)


def _claim(*, token: str, limit: int) -> list[tuple[int, int]]:
    """Claim the oldest free rows (or rows whose lease ran out): ``core.claims``."""
    return claims.claim(ScoreDirty.objects.all(), token=token, lease=LEASE, limit=limit, fields=("id", "contact_id"))


def _release(*, token: str, ids: list[int]) -> None:
    claims.release(ScoreDirty, token=token, ids=ids)


def dirty_process(*, now: dt.datetime | None = None, max_batches: int | None = None, batch: int = BATCH) -> int:
    """Compute the scores of marked contacts; returns how many contacts."""
    token = uuid.uuid4().hex
    models = active_models()
    done = batches = 0
    while max_batches is None or batches < max_batches:
        rows = _claim(token=token, limit=batch)
        if not rows:
            break
        batches += 1
        scores_update(contact_ids=[r[1] for r in rows], now=now, models=models)
        _release(token=token, ids=[r[0] for r in rows])
        done += len(rows)
    return done
