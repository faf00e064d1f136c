"""Duplicate detection's writes: settings, batch runs (train, predict), the real-time check of
new contacts, reading identity resolution's suspicions, and the reviewer's "not a duplicate".

The batch run trains or reads the model with Splink over every contact (``linkage.py``); the
real-time check scores a new contact against its candidates in Python with the stored model
(``matching.py``). Both write pairs through :func:`pairs_upsert`, which never reopens a pair a
reviewer closed.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.services import audit_event
from danhba.contacts.changes import ContactsChange
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput
from danhba.quality import matching, selectors
from danhba.quality.models import DuplicatePair, DuplicateRun, DuplicateSettings
from danhba.quality.models.duplicates import ordered

log = logging.getLogger(__name__)

OBJECT = "duplicate"
# New contacts of one write checked at once, after its commit; more (an import's batch) are
# checked by a job.
REALTIME_MAX = 50
UPSERT_CHUNK = 2_000
ABSORB_BATCH = 10_000  # identity suspicions read per run
ABSORB_SETTLE = dt.timedelta(minutes=10)  # how long a late commit may lag (see suspected_absorb)
# A run that claimed nothing for this long is taken as dead (its worker was killed).
STALE_RUN_SECONDS = 6 * 3600
# Fewer contacts teach EM nothing reliable: the shipped model is better.
MIN_TRAIN_CONTACTS = 1_000


@dataclass(frozen=True)
class Found:
    """A scored pair, from either engine."""

    id_l: int
    id_r: int
    match_weight: float
    match_probability: float
    levels: dict[str, int]


DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "default_model.json"


def default_model() -> dict[str, Any]:
    """The model danhba ships (trained on generated Vietnamese contacts by ``python -m bench
    duplicates --save-model``): used until a site trains its own on its contacts."""
    return dict(json.loads(DEFAULT_MODEL.read_text(encoding="utf-8")))


def active_model(row: DuplicateSettings) -> dict[str, Any]:
    """The model in use: the site's own once trained, else the one danhba ships."""
    return row.params if row.is_trained else default_model()


def settings_get() -> DuplicateSettings:
    row, _created = DuplicateSettings.objects.get_or_create(key="default")
    return row


def _require(actor: Actor, action: str) -> None:
    perms.require(actor, OBJECT, action)


def settings_update(*, actor: Actor, review_threshold: float, auto_merge_threshold: float | None) -> DuplicateSettings:
    """Change the thresholds: pairs at or above ``review_threshold`` are listed for review;
    at or above ``auto_merge_threshold`` (none: never) they are merged without review."""
    _require(actor, perms.EDIT)
    problems: dict[str, list[str]] = {}
    if not 0.5 <= review_threshold <= 0.999:
        problems["review_threshold"] = [_("must be between 0.5 and 0.999")]
    if auto_merge_threshold is not None and not (review_threshold <= auto_merge_threshold <= 1.0):
        problems["auto_merge_threshold"] = [_("must be between the review threshold and 1")]
    if problems:
        raise InvalidInput(problems)
    with transaction.atomic():
        row = DuplicateSettings.objects.select_for_update().get(pk=settings_get().pk)
        before = {"review_threshold": row.review_threshold, "auto_merge_threshold": row.auto_merge_threshold}
        row.review_threshold = review_threshold
        row.auto_merge_threshold = auto_merge_threshold
        row.updated_at = timezone.now()
        row.save(update_fields=["review_threshold", "auto_merge_threshold", "updated_at"])
        after = {"review_threshold": review_threshold, "auto_merge_threshold": auto_merge_threshold}
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        audit_event(actor=actor, action="update", object_type="duplicate_settings", object_id=row.pk, changes=changes)
    return row


# --- batch runs ---------------------------------------------------------------------------


def run_start(*, actor: Actor, kind: str) -> DuplicateRun:
    """Ask for a batch run: ``train`` (learn the model from the contacts, then find pairs) or
    ``predict`` (find pairs with the stored model). One run at a time."""
    _require(actor, perms.EDIT)
    if kind not in DuplicateRun.Kind.values:
        raise InvalidInput({"kind": [_("must be train or predict")]})
    if (
        kind == DuplicateRun.Kind.TRAIN
        and not Contact.objects.filter(id__gt=0)[MIN_TRAIN_CONTACTS - 1 : MIN_TRAIN_CONTACTS].exists()
    ):
        raise Conflict(
            _("Training needs at least %(n)s contacts; until then the model danhba ships is used.")
            % {"n": f"{MIN_TRAIN_CONTACTS:,}"}
        )
    with transaction.atomic():
        _fail_stale_runs()
        if DuplicateRun.objects.filter(status__in=[DuplicateRun.Status.QUEUED, DuplicateRun.Status.RUNNING]).exists():
            raise Conflict(_("A duplicate run is already under way."))
        run = DuplicateRun.objects.create(kind=kind, requested_by=actor.user)
        audit_event(actor=actor, action="create", object_type="duplicate_run", object_id=run.pk, changes={"kind": kind})
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from danhba.quality.tasks import duplicate_run_job

    duplicate_run_job(run_id)


def _fail_stale_runs() -> None:
    cutoff = timezone.now() - dt.timedelta(seconds=STALE_RUN_SECONDS)
    DuplicateRun.objects.filter(
        Q(status=DuplicateRun.Status.RUNNING, started_at__lt=cutoff)
        | Q(status=DuplicateRun.Status.QUEUED, created_at__lt=cutoff)
    ).update(status=DuplicateRun.Status.FAILED, error="stopped (no progress)", finished_at=timezone.now())


def _progress(run_id: int, share: float, step: str) -> None:
    DuplicateRun.objects.filter(pk=run_id).update(progress=round(min(max(share, 0.0), 1.0), 3), step=step[:40])


def run_execute(run_id: int) -> DuplicateRun | None:
    """Carry out a queued run (the job's body). Claims the run first, so a repeated job does
    nothing; a failure is stored on the run, never lost."""
    claimed = DuplicateRun.objects.filter(pk=run_id, status=DuplicateRun.Status.QUEUED).update(
        status=DuplicateRun.Status.RUNNING, started_at=timezone.now(), step="export"
    )
    if not claimed:
        return None
    run = DuplicateRun.objects.get(pk=run_id)
    try:
        _run(run)
    except Exception as exc:  # a failed run says why on its page; the worker carries on
        log.exception("duplicate run %s failed", run_id)
        DuplicateRun.objects.filter(pk=run_id).update(
            status=DuplicateRun.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
    return DuplicateRun.objects.get(pk=run_id)


def _run(run: DuplicateRun) -> None:
    from danhba.quality import linkage

    row = settings_get()
    engine = linkage.Engine()
    try:
        for chunk in selectors.records_in_chunks():
            engine.add(linkage.arrow_table(chunk))
            _progress(run.pk, 0.05, f"export:{engine.count}")
        DuplicateRun.objects.filter(pk=run.pk).update(contacts=engine.count)
        params = active_model(row)
        if run.kind == DuplicateRun.Kind.TRAIN:
            params = engine.train(lambda share, step: _progress(run.pk, 0.1 + 0.5 * share, f"train:{step}"))
            DuplicateSettings.objects.filter(pk=row.pk).update(
                params=params, trained_at=timezone.now(), trained_contacts=engine.count
            )
        _progress(run.pk, 0.65, "predict")
        threshold = row.review_threshold
        scored = (
            Found(p.id_l, p.id_r, p.match_weight, p.match_probability, p.levels)
            for p in engine.predict(params, threshold=threshold)
        )
        found, new = pairs_upsert(scored, found_by=DuplicatePair.FoundBy.MODEL)
    finally:
        engine.close()
    _progress(run.pk, 0.9, "identity")
    suspected_absorb()
    _progress(run.pk, 0.95, "clusters")
    clusters_refresh()
    merged = auto_merge()
    DuplicateRun.objects.filter(pk=run.pk).update(
        status=DuplicateRun.Status.DONE,
        progress=1.0,
        step="done",
        pairs_found=found,
        pairs_new=new,
        auto_merged=merged,
        finished_at=timezone.now(),
    )


def nightly_predict() -> DuplicateRun | None:
    """The nightly run: find pairs with the stored model (never trains)."""
    try:
        run = run_start(actor=Actor.system(via="job"), kind=DuplicateRun.Kind.PREDICT)
    except Conflict:
        return None
    return run


# --- pairs --------------------------------------------------------------------------------


def pairs_upsert(
    scored: Iterable[Found], *, found_by: str, evidence: dict[tuple[int, int], dict[str, Any]] | None = None
) -> tuple[int, int]:
    """Store scored pairs: new ones open for review, open ones rescored, pairs a reviewer
    closed (not a duplicate, merged) left alone. Returns (pairs seen, pairs new)."""
    seen = new = 0
    batch: list[Found] = []
    for pair in scored:
        batch.append(pair)
        if len(batch) >= UPSERT_CHUNK:
            n = _upsert_batch(batch, found_by, evidence or {})
            seen, new, batch = seen + len(batch), new + n, []
    if batch:
        n = _upsert_batch(batch, found_by, evidence or {})
        seen, new = seen + len(batch), new + n
    return seen, new


def _upsert_batch(batch: Sequence[Found], found_by: str, evidence: dict[tuple[int, int], dict[str, Any]]) -> int:
    wanted = {ordered(p.id_l, p.id_r): p for p in batch}
    existing = {
        (row.contact_a_id, row.contact_b_id): row
        for row in DuplicatePair.objects.filter(contact_a_id__in={a for a, _b in wanted}).only(
            "id", "contact_a_id", "contact_b_id", "status", "evidence"
        )
        if (row.contact_a_id, row.contact_b_id) in wanted
    }
    now = timezone.now()
    updates, creates = [], []
    for key, p in wanted.items():
        row = existing.get(key)
        if row is None:
            creates.append(
                DuplicatePair(
                    contact_a_id=key[0],
                    contact_b_id=key[1],
                    probability=p.match_probability,
                    match_weight=p.match_weight,
                    levels=p.levels,
                    evidence=evidence.get(key, {}),
                    found_by=found_by,
                    found_at=now,
                    scored_at=now,
                )
            )
        elif row.status == DuplicatePair.Status.OPEN:
            row.probability, row.match_weight, row.levels, row.scored_at = (
                p.match_probability,
                p.match_weight,
                p.levels,
                now,
            )
            if key in evidence:
                row.evidence = {**row.evidence, **evidence[key]}
            updates.append(row)
    with transaction.atomic():
        if updates:
            DuplicatePair.objects.bulk_update(
                updates, ["probability", "match_weight", "levels", "scored_at", "evidence"]
            )
        if creates:
            DuplicatePair.objects.bulk_create(creates, ignore_conflicts=True)
    return len(creates)


def clusters_refresh() -> int:
    """Group open pairs into clusters (connected contacts): each pair gets the smallest contact
    id of its group. Returns the number of clusters. Streams the pairs twice (find the groups,
    then write the changed ones a chunk at a time): memory grows with the contacts in open
    pairs, not with the pairs."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    open_pairs = DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN).order_by()
    for a, b in open_pairs.values_list("contact_a_id", "contact_b_id").iterator(chunk_size=UPSERT_CHUNK):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    changed: list[DuplicatePair] = []
    roots: set[int] = set()
    for pid, a, cluster in open_pairs.values_list("id", "contact_a_id", "cluster").iterator(chunk_size=UPSERT_CHUNK):
        root = find(a)
        roots.add(root)
        if cluster != root:
            changed.append(DuplicatePair(id=pid, cluster=root))
        if len(changed) >= UPSERT_CHUNK:
            DuplicatePair.objects.bulk_update(changed, ["cluster"])
            changed = []
    if changed:
        DuplicatePair.objects.bulk_update(changed, ["cluster"])
    return len(roots)


def pair_dismiss(*, actor: Actor, pair: DuplicatePair) -> DuplicatePair:
    """ "Not a duplicate": the pair leaves the queue and is never suggested again."""
    _require(actor, perms.EDIT)
    with transaction.atomic():
        updated = DuplicatePair.objects.filter(pk=pair.pk, status=DuplicatePair.Status.OPEN).update(
            status=DuplicatePair.Status.NOT_DUPLICATE, reviewed_by=actor.user, reviewed_at=timezone.now(), cluster=None
        )
        if not updated:
            raise Conflict(_("This pair was already reviewed."))
        audit_event(
            actor=actor,
            action="update",
            object_type="duplicate_pair",
            object_id=pair.pk,
            object_label=f"{pair.contact_a_id} ~ {pair.contact_b_id}",
            changes={"status": [DuplicatePair.Status.OPEN, DuplicatePair.Status.NOT_DUPLICATE]},
        )
    pair.refresh_from_db()
    return pair


# --- merge (the merge service, when it is installed) -------------------------------------


def merge_service() -> Callable[..., Any] | None:
    """``quality.services.merge.merge_contacts`` when the merge module is there (the merge
    button and auto-merge depend on it)."""
    try:
        module = importlib.import_module("danhba.quality.services.merge")
    except ImportError:
        return None
    return getattr(module, "merge_contacts", None)


def pair_merge(*, actor: Actor, pair: DuplicatePair, survivor_id: int | None = None) -> Any:
    """Merge the pair's two contacts (the merge service checks the actor's permissions and
    records the merge for undo); ``survivor_id`` is the contact that stays (default: the older
    one). The merge drops the pair with the merged-away contact's rows and keeps it in its record:
    the queue's "merged" lists it from there, undo puts it back as it was."""
    merge = merge_service()
    if merge is None:
        raise Conflict(_("Merging is not available on this site."))
    survivor = int(survivor_id or pair.contact_a_id)
    if survivor not in pair.as_key():
        raise InvalidInput({"survivor": [_("must be one of the pair's two contacts")]})
    if pair.status != DuplicatePair.Status.OPEN:
        raise Conflict(_("This pair was already reviewed."))
    return merge(actor, survivor, [pair.other(survivor)])


def auto_merge() -> int:
    """Merge the open pairs at or above the auto-merge threshold (the older contact survives)."""
    row = settings_get()
    merge = merge_service()
    if row.auto_merge_threshold is None or merge is None:
        return 0
    actor = Actor.system(via="job")
    done = 0
    pairs = DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN, probability__gte=row.auto_merge_threshold)
    for pair in pairs.select_related("contact_a", "contact_b").order_by("-probability", "id")[:10_000]:
        try:
            # The merge removes the pair with the merged-away contact and keeps it in its record
            # (undo puts it back); the queue's "merged" reads it there.
            merge(actor, pair.contact_a_id, [pair.contact_b_id])
            done += 1
        except Exception:  # one pair that cannot merge (already merged away) leaves the others
            log.warning("auto-merge of pair %s failed", pair.pk, exc_info=True)
    return done


# --- real time ----------------------------------------------------------------------------


def pairs_check(contact_ids: Iterable[int]) -> int:
    """Check contacts against their candidates with the stored model, at once: the pairs at
    or above the review threshold are stored. Returns how many were found."""
    row = settings_get()
    model = active_model(row)
    candidates = selectors.candidates_of(contact_ids)
    everyone = set(candidates) | {c for cs in candidates.values() for c in cs}
    if not any(candidates.values()):
        return 0
    records = selectors.records_of(everyone)
    found = []
    for mine, others in candidates.items():
        if mine not in records:
            continue
        for other in others:
            if other not in records:
                continue
            score = matching.score(model, records[mine], records[other])
            if score.probability >= row.review_threshold:
                a, b = ordered(mine, other)
                found.append(Found(a, b, score.match_weight, score.probability, score.levels))
    if not found:
        return 0
    pairs_upsert(found, found_by=DuplicatePair.FoundBy.REALTIME)
    _cluster_new(found)
    return len(found)


def _cluster_new(found: Sequence[Found]) -> None:
    for pair in found:
        linked = DuplicatePair.objects.filter(
            Q(contact_a_id__in=[pair.id_l, pair.id_r]) | Q(contact_b_id__in=[pair.id_l, pair.id_r]),
            status=DuplicatePair.Status.OPEN,
        )
        clusters = [c for c in linked.values_list("cluster", flat=True) if c is not None]
        cluster = min([pair.id_l, *clusters])
        DuplicatePair.objects.filter(
            contact_a_id=pair.id_l, contact_b_id=pair.id_r, status=DuplicatePair.Status.OPEN
        ).update(cluster=cluster)


def on_contacts_changed(change: ContactsChange) -> None:
    """Listener of ``contacts.changed``: new contacts are checked once the write commits (a
    failing check never undoes the write); an import's many in a job."""
    if not change.created:
        return
    ids = list(change.created)
    if len(ids) <= REALTIME_MAX:
        transaction.on_commit(lambda: _check_now(ids), robust=True)
    else:
        transaction.on_commit(lambda: _check_later(ids), robust=True)


def _check_now(ids: list[int]) -> None:
    pairs_check(ids)


def _check_later(ids: list[int]) -> None:
    from danhba.quality.tasks import duplicates_check_job

    for start in range(0, len(ids), 5_000):
        duplicates_check_job(ids[start : start + 5_000])


# --- identity resolution's suspicions -----------------------------------------------------


def suspected_absorb() -> int:
    """Read the identity resolver's ``SuspectedDuplicate`` rows (an outbox quality reads with
    its own cursor) into pairs, with what the event said as evidence; scored with the stored
    model when there is one."""
    from danhba.tracking.models import SuspectedDuplicate

    row = settings_get()
    rows = list(
        SuspectedDuplicate.objects.filter(id__gt=row.identity_cursor)
        .order_by("id")
        .values("id", "contact_a_id", "contact_b_id", "reason", "details", "created_at")[:ABSORB_BATCH]
    )
    if not rows:
        return 0
    evidence: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        evidence.setdefault(ordered(r["contact_a_id"], r["contact_b_id"]), {})[r["reason"]] = r["details"]
    model = active_model(row)
    records = selectors.records_of({c for key in evidence for c in key})
    found = []
    for a, b in evidence:
        if a in records and b in records:
            score = matching.score(model, records[a], records[b])
            found.append(Found(a, b, score.match_weight, score.probability, score.levels))
    pairs_upsert(found, found_by=DuplicatePair.FoundBy.IDENTITY, evidence=evidence)
    # Ids come from a sequence: on PostgreSQL a writer that took a lower id can commit after
    # one that took a higher id, and a cursor at the higher id would skip it for good. So the
    # cursor passes only rows older than ABSORB_SETTLE; younger ones are read again next time
    # (pairs_upsert is idempotent). A full batch moves on regardless, so a flood cannot stall it.
    settled = timezone.now() - ABSORB_SETTLE
    cursor = row.identity_cursor
    for r in rows:
        if r["created_at"] >= settled and len(rows) < ABSORB_BATCH:
            break
        cursor = r["id"]
    if cursor != row.identity_cursor:
        DuplicateSettings.objects.filter(pk=row.pk).update(identity_cursor=cursor)
    return len(evidence)
