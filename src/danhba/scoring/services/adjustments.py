"""Score adjustments: points given to or taken from contacts in one model outside its rules, by
a workflow's "update score" step or by a user (decision 0012, 7 December 2026).

A score is computed from scratch (``compute``), so an adjustment is a row every computation
reads (``ScoreAdjustment``) and an item of the breakdown, never an increment of the total: the
breakdown still adds up, decay applies to adjustments that decay, and one that expires stops
counting. Writing one computes the contacts' scores in that model at once, in the same
transaction (``scores_update``): the items, the history and ``scoring.score_reached`` for a
grade crossed, as for any other change. A write with a key already written (a workflow step's
"enrolment-seq" run again) adds nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.scoring import rules as R
from danhba.scoring.models import ScoreAdjustment, ScoreItem, ScoreModel
from danhba.scoring.services.compute import compute, contacts_lock, scores_update

Source = ScoreAdjustment.Source
MAX_REASON = 200


def scores_adjust(
    *, model: ScoreModel, contact_ids: Sequence[int], points: int | None = None, grade: str = "",
    now: dt.datetime | None = None, source: str, keys: Mapping[int, str] | None = None, reason: str = "",
    expires_at: dt.datetime | None = None, decays: bool = False, workflow_id: int | None = None,
    workflow_name: str = "", step: str = "", created_by: Any = None,
) -> dict[int, ScoreAdjustment]:  # fmt: skip
    """Give each contact ``points`` in ``model`` — or, with ``grade``, the points that bring its
    total now to the grade's minimum — and compute their scores in that model. ``keys``: the
    idempotency key of each contact's adjustment; a contact whose key exists gets nothing new.
    Returns the adjustments written, by contact."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = contacts_lock(contact_ids)
        if keys:
            done = set(
                ScoreAdjustment.objects.filter(key__in=[keys[c] for c in ids if c in keys]).values_list(
                    "key", flat=True
                )
            )
            ids = [c for c in ids if keys.get(c, "") not in done]
        if not ids:
            return {}
        given = _points(model, ids, points, grade, now)
        made = ScoreAdjustment.objects.bulk_create(
            [
                ScoreAdjustment(
                    contact_id=cid, model=model, points=given[cid], decays=decays, at=now, expires_at=expires_at,
                    source=source, workflow_id=workflow_id, workflow_name=workflow_name[:200], step=step[:40],
                    reason=reason[:MAX_REASON], key=(keys or {}).get(cid, "")[:80], created_by=created_by,
                )
                for cid in ids
                if given[cid]
            ]
        )  # fmt: skip
        scores_update(contact_ids=ids, now=now, models=[model])
    return {a.contact_id: a for a in made}


def _points(model: ScoreModel, ids: list[int], points: int | None, grade: str, now: dt.datetime) -> dict[int, Decimal]:
    if not grade:
        return dict.fromkeys(ids, R.cents(points or 0))
    target = next((Decimal(g["min"]) for g in model.grades if g["key"] == grade), None)
    if target is None:  # the model's grades were edited since the step was saved
        reason = _("The score model “%(model)s” has no grade “%(grade)s”.") % {"model": model.name, "grade": grade}
        raise InvalidInput({"grade": [reason]})
    totals = compute(model, ids, now)
    cap = Decimal(R.MAX_CAP)
    return {cid: max(-cap, min(cap, target - totals[cid].total)) for cid in ids}


def score_adjust(
    *, actor: Actor, contact: Contact, model: ScoreModel, points: Any = None, grade: str = "", reason: str = "",
    expires_days: Any = None, decays: bool = False,
) -> ScoreAdjustment | None:  # fmt: skip
    """A user's adjustment of one contact's score (the role's "score" edit right), audited.
    None when setting a grade the contact already has the minimum of (nothing to give)."""
    perms.require(actor, "score", perms.EDIT)
    errors = R.adjustment_problems(model, points=points, grade=grade, decays=decays, expires_days=expires_days)
    text = " ".join(str(reason or "").split())
    if len(text) > MAX_REASON:
        errors["reason"] = [_("At most %(n)s characters.") % {"n": MAX_REASON}]
    if errors:
        raise InvalidInput(errors)
    now = timezone.now()
    days = R.whole(expires_days, 1, R.MAX_ADJUSTMENT_DAYS) if expires_days not in (None, "") else None
    given = None if grade else R.whole(points, -R.MAX_POINTS, R.MAX_POINTS)
    with transaction.atomic():
        made = scores_adjust(
            model=model, contact_ids=[contact.pk], points=given,
            grade=grade, now=now, source=Source.MANUAL, reason=text, decays=decays,
            expires_at=now + dt.timedelta(days=days) if days else None, created_by=actor.user,
        ).get(contact.pk)  # fmt: skip
        if made is not None:
            audit_event(
                actor=actor, action=AuditEvent.Action.CREATE, object_type="score_adjustment", object_id=made.pk,
                object_label=f"{model.name}: {made.points:+}"[:200], contact_id=contact.pk,
                changes={"points": [None, str(made.points)], "reason": [None, text], "model": [None, model.name]},
            )  # fmt: skip
    return made


def expired_adjustments_mark(*, now: dt.datetime | None = None) -> int:
    """Nightly: the contacts whose score still counts an adjustment that has expired (an item of
    it, computed before it expired) are computed again (``dirty.scores_mark``). Read from the
    scores, not from a window of the last nights: however long the worker was down, the first
    night it runs catches up, and a night after that finds nothing. Only active models: an
    inactive model is not computed, so its items stay as they were (and would be marked every
    night); it is computed whole when it is switched on again."""
    from danhba.scoring.services.dirty import scores_mark

    now = now or timezone.now()
    ids = set(
        ScoreItem.objects.filter(adjustment__expires_at__lte=now, model__is_active=True).values_list(
            "contact_id", flat=True
        )
    )
    scores_mark(contact_ids=ids)
    return len(ids)
