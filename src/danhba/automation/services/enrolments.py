"""Enrolling contacts in a workflow: by a trigger (``triggers.py``), by hand, in bulk or through
the API. Never twice at once (a partial unique index on active enrolments; inserts that would
break it are dropped), once only unless the workflow re-enrols; the worker is woken after the
commit."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.automation.models import Enrolment, Workflow
from danhba.automation.services.counts import counts_add
from danhba.contacts.models import Contact
from danhba.contacts.selectors import visible_contact_ids
from danhba.core import jobs
from danhba.core.actor import Actor
from danhba.core.bulk import chunks
from danhba.core.errors import Conflict, InvalidInput

MAX_BULK = 100_000
_DIGITS = re.compile(r"[0-9]{1,19}")


def enrol_many(*, workflow: Workflow, contact_ids: Iterable[int], via: str, now: dt.datetime | None = None) -> int:
    """Enrol these contacts in the workflow's current version (inside the caller's transaction).
    Returns how many were enrolled.

    One ``INSERT … SELECT`` per chunk of ids, from the contacts that exist and are not enrolled
    (ever, or at the moment when the workflow re-enrols), ``ON CONFLICT DO NOTHING`` for a
    concurrent enrolment (the partial unique index): the ORM's ``bulk_create`` with its count
    queries took 39 s for 100,000 contacts on a loaded machine, and every enrolment's first
    step waited for that (docs/decisions/0013, 7 December)."""
    if workflow.status != Workflow.Status.ACTIVE or workflow.current_version_id is None:
        return 0
    version = workflow.current_version
    assert version is not None
    moment = connection.ops.adapt_datetimefield_value(now or timezone.now())
    ids = sorted({int(c) for c in contact_ids})
    quote = connection.ops.quote_name
    table = quote(Enrolment._meta.db_table)
    contacts = quote(Contact._meta.db_table)
    only_active = " AND e.status = 'active'" if workflow.reenrol == Workflow.Reenrol.AGAIN else ""
    head = (
        f"INSERT INTO {table} (workflow_id, version_id, contact_id, status, step, seq, attempt, due_at, state, "  # noqa: S608
        "waiting_for, claim, claimed_until, via, enrolled_at, finished_at, error) "
        "SELECT %s, %s, c.id, 'active', %s, 0, 0, %s, '{}', '', '', NULL, %s, %s, NULL, '' "
        f"FROM {contacts} c WHERE c.id IN "
    )
    tail = (
        f" AND NOT EXISTS (SELECT 1 FROM {table} e WHERE e.workflow_id = %s AND e.contact_id = c.id{only_active})"  # noqa: S608
        " ON CONFLICT DO NOTHING"
    )
    added = 0
    with connection.cursor() as cursor:
        for chunk in chunks(ids):
            marks = "(" + ", ".join(["%s"] * len(chunk)) + ")"
            cursor.execute(
                head + marks + tail,
                [workflow.pk, version.pk, version.graph["start"], moment, via[:20], moment, *chunk, workflow.pk],
            )
            added += max(0, cursor.rowcount)
    if added:
        counts_add(version_id=version.pk, deltas={version.graph["start"]: {"entered": added}})
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
