"""Bulk merge: a reviewed set of merges (from the duplicates review queue, the API) run by the
worker with progress. Each merge is its own transaction with the job's position, so the job can
be left and come back to, killed and resumed, and a group that fails (a contact deleted since,
one the starter may no longer see) is recorded and skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError
from danhba.quality.models import BulkMerge, DuplicatePair
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


# --- from the duplicates review queue's selection ------------------------------------------


@dataclass
class Selection:
    """Selected pairs of the review queue as merges: pairs that share a contact are one merge
    (A~B and B~C: A, B and C become one contact), the oldest contact (lowest id) survives.
    ``skipped`` are the selected pairs that cannot be merged, with why."""

    pairs: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def merged_away(self) -> int:
        return sum(len(g["others"]) for g in self.groups)


def _components(edges: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int, int]]]:
    """The pairs (id, a, b) by the smallest contact of their connected group."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _pk, a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    out: dict[int, list[tuple[int, int, int]]] = {}
    for edge in edges:
        out.setdefault(find(edge[1]), []).append(edge)
    return out


def selection_groups(*, actor: Actor, pair_ids: Any) -> Selection:
    """What merging the selected pairs would do (the preview): the merges, and the pairs left
    out (not open any more, not visible, or in a group of more than ``MAX_CONTACTS``)."""
    from danhba.quality import selectors

    perms.require(actor, "duplicate", perms.VIEW)
    if not isinstance(pair_ids, list) or not pair_ids:
        raise InvalidInput({"pairs": [_("select at least one pair")]})
    if len(pair_ids) > MAX_GROUPS:
        raise InvalidInput({"pairs": [_("at most %(n)s pairs at once") % {"n": f"{MAX_GROUPS:,}"}]})
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in pair_ids):
        raise InvalidInput({"pairs": [_("each a pair id")]})
    if actor.user is None:
        raise PermissionDenied(_("Select pairs as a user."))
    wanted = set(pair_ids)
    found = list(
        selectors.queue(actor.user, status=DuplicatePair.Status.OPEN)
        .filter(pk__in=wanted)
        .values_list("pk", "contact_a_id", "contact_b_id")
    )
    selection = Selection(pairs=len(found))
    gone = _("already reviewed, or not yours to see")
    selection.skipped = [{"pair": pk, "reason": gone} for pk in sorted(wanted - {f[0] for f in found})]
    for root, edges in sorted(_components(found).items()):
        contacts = sorted({c for _pk, a, b in edges for c in (a, b)})
        if len(contacts) > MAX_CONTACTS:
            reason = _("one group of %(n)s contacts: at most %(max)s in one merge") % {
                "n": len(contacts),
                "max": MAX_CONTACTS,
            }
            selection.skipped.extend({"pair": pk, "reason": reason} for pk, _a, _b in edges)
            selection.pairs -= len(edges)
            continue
        selection.groups.append({"survivor": root, "others": contacts[1:], "pairs": sorted(e[0] for e in edges)})
    return selection


def selection_merge_start(*, actor: Actor, pair_ids: Any) -> tuple[BulkMerge, Selection]:
    """Merge the selected pairs as one bulk merge (a background job with progress)."""
    selection = selection_groups(actor=actor, pair_ids=pair_ids)
    if not selection.groups:
        raise Conflict(_("None of the selected pairs can be merged."))
    groups = [{"survivor": g["survivor"], "others": g["others"]} for g in selection.groups]
    return bulk_merge_start(actor=actor, groups=groups), selection


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
