"""Bulk merge: a reviewed set of merges (from the duplicates review queue, the API) run by the
worker with progress. Each merge is its own transaction with the job's position, so the job can
be left and come back to, killed and resumed, and a group that fails (a contact deleted since,
one the starter may no longer see) is recorded and skipped."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from danhba.quality.models import BulkMerge
from danhba.quality.services.merge import MAX_CONTACTS, PERM, merge_contacts

MAX_GROUPS = 10_000


def _group(raw: Any, errors: dict[str, list[str]], index: int, seen: set[int]) -> dict[str, Any] | None:
    key = f"groups.{index}"
    if not isinstance(raw, dict):
        errors[key] = [_("must be an object with a survivor and others")]
        return None
    survivor, others = raw.get("survivor"), raw.get("others")
    ids = [survivor, *(others if isinstance(others, list) else [None])]
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids) or len(ids) < 2:
        errors[key] = [_("the survivor and at least one other, each a contact id")]
        return None
    if len(ids) > MAX_CONTACTS or len(set(ids)) != len(ids):
        errors[key] = [_("at most %(n)s different contacts") % {"n": MAX_CONTACTS}]
        return None
    if seen & set(ids):
        errors[key] = [_("a contact is in two groups")]
        return None
    seen.update(ids)
    return {"survivor": survivor, "others": list(others or [])}


def bulk_merge_start(*, actor: Actor, groups: Any, rules: dict[str, Any] | None = None) -> BulkMerge:
    """Check the set and queue the job (after the commit)."""
    perms.require(actor, PERM, perms.CREATE)
    perms.require(actor, "contact", perms.EDIT)
    errors: dict[str, list[str]] = {}
    if not isinstance(groups, list) or not groups:
        raise InvalidInput({"groups": [_("a list of merges to do")]})
    if len(groups) > MAX_GROUPS:
        raise InvalidInput({"groups": [_("at most %(n)s merges at once") % {"n": MAX_GROUPS}]})
    seen: set[int] = set()
    clean = [_group(raw, errors, i, seen) for i, raw in enumerate(groups)]
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        job = BulkMerge.objects.create(groups=clean, rules=rules or {}, created_by=actor.user)
        pk = job.pk
        transaction.on_commit(lambda: _queue(pk))
    return job


def _queue(pk: int) -> None:
    from danhba.quality.tasks import bulk_merge_job

    bulk_merge_job(pk)


def bulk_merge_get(*, actor: Actor, pk: int) -> BulkMerge:
    perms.require(actor, PERM, perms.VIEW)
    job = BulkMerge.objects.filter(pk=pk).first()
    if job is None or (
        actor.user is not None and job.created_by_id != actor.user.pk and not actor.user.can(PERM, perms.EDIT)
    ):
        raise NotFound(_("No such bulk merge."))
    return job


def bulk_merge_cancel(*, actor: Actor, pk: int) -> BulkMerge:
    job = bulk_merge_get(actor=actor, pk=pk)
    perms.require(actor, PERM, perms.CREATE)
    updated = BulkMerge.objects.filter(pk=pk, status__in=[BulkMerge.Status.QUEUED, BulkMerge.Status.RUNNING]).update(
        status=BulkMerge.Status.CANCELLED, finished_at=timezone.now()
    )
    if not updated:
        raise Conflict(_("This bulk merge has already ended."))
    job.refresh_from_db()
    return job


def _one(job: BulkMerge, groups: list[dict[str, Any]], actor: Actor) -> bool:
    """Do the next merge of the job; False when there is none (or the job was cancelled)."""
    with transaction.atomic():
        state = BulkMerge.objects.select_for_update().filter(pk=job.pk).values("status", "position").first()
        if state is None or state["status"] == BulkMerge.Status.CANCELLED or state["position"] >= len(groups):
            return False
        group = groups[state["position"]]
        changes: dict[str, Any] = {"position": F("position") + 1, "status": BulkMerge.Status.RUNNING}
        try:
            with transaction.atomic():
                merge_contacts(actor, group["survivor"], group["others"], job.rules or None)
        except ServiceError as exc:
            # Only failures are listed (the merges are in the history); few, so the list stays small.
            errors = BulkMerge.objects.filter(pk=job.pk).values_list("results", flat=True).first() or []
            changes["results"] = [*errors, {**group, "error": str(exc.message)}]
            changes["failed"] = F("failed") + 1
        else:
            changes["merged"] = F("merged") + 1
        BulkMerge.objects.filter(pk=job.pk).update(**changes)
    return True


def bulk_merge_run(pk: int) -> BulkMerge | None:
    """Run a job from where it stands (the worker; safe to run twice)."""
    job = BulkMerge.objects.filter(pk=pk).select_related("created_by").first()
    if job is None or job.status in (BulkMerge.Status.DONE, BulkMerge.Status.CANCELLED):
        return job
    actor = Actor.system(via="job", user=job.created_by)
    groups = list(job.groups)
    while _one(job, groups, actor):
        pass
    BulkMerge.objects.filter(pk=pk, status__in=[BulkMerge.Status.QUEUED, BulkMerge.Status.RUNNING]).update(
        status=BulkMerge.Status.DONE, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job
