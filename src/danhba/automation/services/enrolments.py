"""Enrolling contacts in a workflow: by a trigger (``triggers.py``), by hand, in bulk or through
the API. Never twice at once (a partial unique index on active enrolments; inserts that would
break it are dropped), once only unless the workflow re-enrols; the worker is woken after the
commit."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.automation.models import Enrolment, Workflow
from danhba.contacts.selectors import visible_contact_ids
from danhba.core import jobs
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput

MAX_BULK = 100_000
_DIGITS = re.compile(r"[0-9]{1,19}")
CHUNK = 2000


def enrol_many(*, workflow: Workflow, contact_ids: Iterable[int], via: str, now: dt.datetime | None = None) -> int:
    """Enrol these contacts in the workflow's current version (inside the caller's transaction).
    Returns how many were enrolled."""
    if workflow.status != Workflow.Status.ACTIVE or workflow.current_version_id is None:
        return 0
    version = workflow.current_version
    assert version is not None
    start = version.graph["start"]
    moment = now or timezone.now()
    ids = sorted({int(c) for c in contact_ids})
    added = 0
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        taken = Enrolment.objects.filter(workflow=workflow, contact_id__in=chunk)
        if workflow.reenrol == Workflow.Reenrol.AGAIN:
            taken = taken.filter(status=Enrolment.Status.ACTIVE)
        busy = set(taken.values_list("contact_id", flat=True))
        new = [c for c in chunk if c not in busy]
        if not new:
            continue
        before = Enrolment.objects.filter(workflow=workflow, contact_id__in=new, status=Enrolment.Status.ACTIVE).count()
        Enrolment.objects.bulk_create(
            [
                Enrolment(workflow=workflow, version=version, contact_id=c, step=start, due_at=moment, via=via[:20],
                          enrolled_at=moment)
                for c in new
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )  # fmt: skip
        added += (
            Enrolment.objects.filter(workflow=workflow, contact_id__in=new, status=Enrolment.Status.ACTIVE).count()
            - before
        )
    if added:
        wake_soon()
    return added


def wake_soon() -> None:
    """After the commit, queue the worker job (``core.jobs.wake_soon``: asked at most every
    0.25 s per process, one waiting copy at a time). A rolled-back write asks nothing."""
    transaction.on_commit(_wake)


def _wake() -> None:
    from danhba.automation.tasks import automation_run_job

    jobs.wake_soon("automation", automation_run_job)


def _contact_ids(actor: Actor, raw: Iterable[Any]) -> list[int]:
    values = list(raw)
    if len(values) > MAX_BULK and len(set(map(str, values))) > MAX_BULK:
        raise InvalidInput({"contact_ids": [_("At most %d contacts at once.") % MAX_BULK]})
    return visible_contact_ids(actor.user, values)


def enrol_manual(
    *, actor: Actor, workflow: Workflow, contact_ids: Iterable[Any], now: dt.datetime | None = None
) -> int:
    """Enrol contacts by hand, in bulk or through the API ("workflow: edit")."""
    perms.require(actor, "workflow", perms.EDIT)
    if workflow.status != Workflow.Status.ACTIVE or workflow.current_version_id is None:
        raise Conflict(_("Only an active workflow enrols contacts."))
    ids = _contact_ids(actor, contact_ids)
    with transaction.atomic():
        return enrol_many(workflow=workflow, contact_ids=ids, via=actor.via, now=now)


def enrolment_cancel(*, actor: Actor, enrolment: Enrolment, now: dt.datetime | None = None) -> Enrolment:
    perms.require(actor, "workflow", perms.EDIT)
    updated = Enrolment.objects.filter(pk=enrolment.pk, status=Enrolment.Status.ACTIVE).update(
        status=Enrolment.Status.CANCELLED, due_at=None, finished_at=now or timezone.now(), claim="", claimed_until=None
    )
    if not updated:
        raise Conflict(_("This enrolment has already ended."))
    enrolment.refresh_from_db()
    return enrolment
