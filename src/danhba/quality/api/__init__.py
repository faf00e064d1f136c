"""REST endpoints of the quality app (``/api/quality``): a contact's freshness and decay
signals, marking its data verified, and the data-quality dashboard (all cards, or one)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.contacts.services.contacts import contact_get
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK, paginate
from danhba.quality import selectors
from danhba.quality.cards import CARDS, dashboard_cards
from danhba.quality.models import CleaningJob, CleaningRun, DuplicatePair, DuplicateRun
from danhba.quality.schemas import (
    CleaningChangePage,
    CleaningJobIn,
    CleaningJobList,
    CleaningJobOut,
    CleaningJobPatch,
    CleaningRunOut,
    ContactQualityOut,
    DashboardOut,
    DuplicateSettingsIn,
    DuplicateSettingsOut,
    MergeIn,
    MergeOut,
    PairOut,
    PairPage,
    PairsMergePreviewOut,
    PairsMergeStartOut,
    PairsSelectionIn,
    RefreshOut,
    RunIn,
    RunOut,
)
from danhba.quality.services import cleaning, snapshots
from danhba.quality.services import duplicates as services
from danhba.quality.services.bulk import Selection, selection_groups, selection_merge_start
from danhba.quality.services.verify import contact_verify

router = Router(tags=["quality"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


@router.get(
    "/contacts/{int:contact_id}",
    response={200: ContactQualityOut, **ERRORS},
    summary="A contact's freshness and decay signals",
)
def contact_quality(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    require(api_user(request), "contact", perms.VIEW)
    contact = contact_get(actor=api_actor(request), pk=contact_id)
    return {"contact_id": contact.pk, **selectors.contact_quality(contact)}


@router.post(
    "/contacts/{int:contact_id}/verify",
    response={200: ContactQualityOut, **ERRORS},
    summary="Mark a contact's data as verified now",
)
def contact_verify_api(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    actor = api_actor(request)
    require(actor.user, "contact", perms.EDIT)  # type: ignore[arg-type]
    contact = contact_get(actor=actor, pk=contact_id)
    contact_verify(actor=actor, contact=contact)
    return {"contact_id": contact.pk, **selectors.contact_quality(contact)}


def _cards(request: HttpRequest) -> dict[str, Any] | None:
    snapshot = snapshots.snapshot_latest(actor=api_actor(request))
    return dashboard_cards(snapshot, api_user(request)) if snapshot is not None else None


@router.get(
    "/dashboard",
    response={200: DashboardOut, 202: RefreshOut, **ERRORS},
    summary="The data-quality dashboard: every card, with the contact-list URL behind each number",
)
def dashboard(request: HttpRequest) -> Any:
    cards = _cards(request)
    if cards is None:
        return Status(202, {"status": "computing"})
    return cards


@router.post(
    "/dashboard/refresh",
    response={200: RefreshOut, 202: RefreshOut, **ERRORS},
    summary="Compute the dashboard's figures again (at once on a small site, else by the worker)",
)
def dashboard_refresh(request: HttpRequest) -> Any:
    done = snapshots.snapshot_refresh(actor=api_actor(request))
    if done is None:
        return Status(202, {"status": "computing"})
    return {"status": "done", "day": done.day.isoformat()}


@router.get(
    "/dashboard/{card}",
    response={200: dict[str, Any], 202: RefreshOut, **ERRORS},
    summary="One card of the data-quality dashboard",
    description="card: " + ", ".join(CARDS),
)
def dashboard_card(request: HttpRequest, card: str) -> Any:
    if card not in CARDS:
        raise NotFound(_("No such card: %(card)s (one of %(cards)s)") % {"card": card, "cards": ", ".join(CARDS)})
    cards = _cards(request)
    if cards is None:
        return Status(202, {"status": "computing"})
    return {"card": card, "day": cards["day"], "value": cards[card]}


# --- cleaning ---------------------------------------------------------------------------------


def _job(request: HttpRequest, job_id: int) -> CleaningJob:
    require(api_user(request), "quality", perms.VIEW)
    job = CleaningJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(_("No such cleaning job."))
    return job


def _run(request: HttpRequest, run_id: int) -> CleaningRun:
    require(api_user(request), "quality", perms.VIEW)
    run = CleaningRun.objects.select_related("job").filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such cleaning run."))
    return run


@router.get("/cleaning", response={200: CleaningJobList, **ERRORS}, summary="List cleaning jobs")
def cleaning_jobs(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "quality", perms.VIEW)
    return {"items": [selectors.job_out(j) for j in CleaningJob.objects.all()]}


@router.post("/cleaning", response={201: CleaningJobOut, **ERRORS}, summary="Create a cleaning job")
def cleaning_job_create(request: HttpRequest, payload: CleaningJobIn) -> Any:
    job = cleaning.cleaning_job_create(actor=api_actor(request), data=payload.dict())
    return Status(201, selectors.job_out(job))


@router.get("/cleaning/{int:job_id}", response={200: CleaningJobOut, **ERRORS}, summary="A cleaning job")
def cleaning_job_get(request: HttpRequest, job_id: int = _id()) -> dict[str, Any]:
    return selectors.job_out(_job(request, job_id))


@router.patch("/cleaning/{int:job_id}", response={200: CleaningJobOut, **ERRORS}, summary="Change a cleaning job")
def cleaning_job_patch(request: HttpRequest, payload: CleaningJobPatch, job_id: int = _id()) -> dict[str, Any]:
    job = _job(request, job_id)
    data = payload.dict(exclude_unset=True)
    job = cleaning.cleaning_job_update(actor=api_actor(request), job=job, data=data)
    return selectors.job_out(job)


@router.delete("/cleaning/{int:job_id}", response={204: None, **ERRORS}, summary="Delete a cleaning job")
def cleaning_job_delete(request: HttpRequest, job_id: int = _id()) -> Any:
    cleaning.cleaning_job_delete(actor=api_actor(request), job=_job(request, job_id))
    return Status(204, None)


@router.post(
    "/cleaning/{int:job_id}/runs",
    response={202: CleaningRunOut, **ERRORS},
    summary="Start a run: its preview first (counts and sample rows); apply it when the preview is ready",
)
def cleaning_run_start(request: HttpRequest, job_id: int = _id()) -> Any:
    run = cleaning.cleaning_run_start(actor=api_actor(request), job=_job(request, job_id))
    return Status(202, selectors.run_out(run))


@router.get("/cleaning/runs/{int:run_id}", response={200: CleaningRunOut, **ERRORS}, summary="A run's progress")
def cleaning_run_get(request: HttpRequest, run_id: int = _id()) -> dict[str, Any]:
    return selectors.run_out(_run(request, run_id))


@router.post(
    "/cleaning/runs/{int:run_id}/apply", response={202: CleaningRunOut, **ERRORS}, summary="Apply a previewed run"
)
def cleaning_run_apply(request: HttpRequest, run_id: int = _id()) -> Any:
    run = cleaning.cleaning_run_apply(actor=api_actor(request), run=_run(request, run_id))
    return Status(202, selectors.run_out(run))


@router.post("/cleaning/runs/{int:run_id}/cancel", response={200: CleaningRunOut, **ERRORS}, summary="Cancel a run")
def cleaning_run_cancel(request: HttpRequest, run_id: int = _id()) -> dict[str, Any]:
    return selectors.run_out(cleaning.cleaning_run_cancel(actor=api_actor(request), run=_run(request, run_id)))


@router.get(
    "/cleaning/runs/{int:run_id}/changes",
    response={200: CleaningChangePage, **ERRORS},
    summary="The report: every change a run made, linked to its contact (pages of 100 in id order)",
)
def cleaning_run_changes(request: HttpRequest, run_id: int = _id(), action: str = "", cursor: str = "") -> Any:
    run = _run(request, run_id)
    if action and action not in CleaningJob.Action.values:
        raise InvalidInput({"action": [_("one of: %s") % ", ".join(CleaningJob.Action.values)]})
    if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidInput({"cursor": [_("not a cursor from this list")]})
    page = selectors.run_report(run, action=action, after=cursor)
    items = [
        {"id": c.pk, "contact_id": c.contact_id, "label": c.label, "action": c.action, "before": c.before,
         "after": c.after, "at": c.at}
        for c in page["items"]
    ]  # fmt: skip
    return {"items": items, "next_cursor": page["next"] or None}


@router.post(
    "/contacts/{int:contact_id}/restore",
    response={200: ContactQualityOut, **ERRORS},
    summary="Take an archived contact out of the archive",
)
def contact_restore_api(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    actor = api_actor(request)
    contact = contact_get(actor=actor, pk=contact_id)
    cleaning.contact_restore(actor=actor, contact=contact)
    return {"contact_id": contact.pk, **selectors.contact_quality(contact)}


# --- duplicate detection ----------------------------------------------------------------------
# REST endpoints of duplicate detection (``/api/quality/duplicates``): the review queue with


PAGE_MAX = 100


def _pair(request: HttpRequest, pair_id: int) -> DuplicatePair:
    user = api_user(request)
    require(user, "duplicate", perms.VIEW)
    pair = selectors.pair_get(user, pair_id)
    if pair is None:
        raise NotFound(_("No such pair."))
    return pair


def _one(request: HttpRequest, pair: DuplicatePair) -> dict[str, Any]:
    model = services.active_model(services.settings_get())
    return selectors.pair_rows(api_user(request), [pair], model)[0]


@router.get("/duplicates", response={200: PairPage, **ERRORS}, summary="The review queue: pairs, most likely first")
def pair_list(
    request: HttpRequest,
    status: Literal["open", "not_duplicate", "merged"] = "open",
    min_probability: float | None = Query(None, ge=0, le=1),
    max_probability: float | None = Query(None, ge=0, le=1),
    cluster: int | None = Query(None, ge=1, le=MAX_PK),
    contact: int | None = Query(None, ge=1, le=MAX_PK),
    found_by: Literal["model", "realtime", "identity"] | None = None,
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(25, ge=1, le=PAGE_MAX),
) -> Any:
    user = api_user(request)
    require(user, "duplicate", perms.VIEW)
    model = services.active_model(services.settings_get())
    if status == "merged":
        # Merged pairs live in the merges' records (newest first, one page: no cursor).
        merged = [] if cluster is not None else selectors.merged_pairs(
            user, limit=limit, min_probability=min_probability, max_probability=max_probability,
            contact=contact, found_by=found_by,
        )  # fmt: skip
        return {"items": selectors.pair_rows(user, merged, model), "next_cursor": None, "prev_cursor": None}
    qs = selectors.queue(
        user, status=status, min_probability=min_probability, max_probability=max_probability,
        cluster=cluster, contact=contact, found_by=found_by,
    )  # fmt: skip
    page = paginate(qs, "probability", cursor, limit, descending=True)
    return {
        "items": selectors.pair_rows(user, page.items, model),
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


def _selection_out(selection: Selection) -> dict[str, Any]:
    return {
        "pairs": selection.pairs,
        "merges": len(selection.groups),
        "merged_away": selection.merged_away,
        "groups": selection.groups,
        "skipped": selection.skipped,
    }


@router.post(
    "/duplicates/bulk-merge/preview",
    response={200: PairsMergePreviewOut, **ERRORS},
    summary="What merging the selected pairs would do",
)
def pairs_merge_preview(request: HttpRequest, payload: PairsSelectionIn) -> dict[str, Any]:
    """Pairs that share a contact become one merge; the oldest contact (lowest id) survives."""
    return _selection_out(selection_groups(actor=api_actor(request), pair_ids=payload.pairs))


@router.post(
    "/duplicates/bulk-merge",
    response={202: PairsMergeStartOut, **ERRORS},
    summary="Merge the selected pairs in the background",
)
def pairs_merge(request: HttpRequest, payload: PairsSelectionIn) -> Status[dict[str, Any]]:
    """Starts a bulk merge (its progress at GET /api/quality/bulk-merges/{id}); pairs that cannot
    be merged are listed as skipped."""
    job, selection = selection_merge_start(actor=api_actor(request), pair_ids=payload.pairs)
    job.refresh_from_db()
    return Status(202, {**selectors.bulk_merge_out(job), "skipped": selection.skipped})


@router.get(
    "/duplicates/settings", response={200: DuplicateSettingsOut, **ERRORS}, summary="Thresholds and the model in use"
)
def settings_get(request: HttpRequest) -> Any:
    require(api_user(request), "duplicate", perms.VIEW)
    return _settings_out()


def _settings_out() -> dict[str, Any]:
    row = services.settings_get()
    return {
        "review_threshold": row.review_threshold,
        "auto_merge_threshold": row.auto_merge_threshold,
        "trained_at": row.trained_at,
        "trained_contacts": row.trained_contacts,
        "model": "trained" if row.is_trained else "shipped",
        "merge_available": services.merge_service() is not None,
    }


@router.put("/duplicates/settings", response={200: DuplicateSettingsOut, **ERRORS}, summary="Change the thresholds")
def settings_put(request: HttpRequest, data: DuplicateSettingsIn) -> Any:
    services.settings_update(
        actor=api_actor(request),
        review_threshold=data.review_threshold,
        auto_merge_threshold=data.auto_merge_threshold,
    )
    return _settings_out()


@router.post("/duplicates/runs", response={202: RunOut, **ERRORS}, summary="Start a batch run (train or predict)")
def run_create(request: HttpRequest, data: RunIn) -> Any:
    run = services.run_start(actor=api_actor(request), kind=data.kind)
    return Status(202, run)


@router.get("/duplicates/runs/{run_id}", response={200: RunOut, **ERRORS}, summary="A batch run and its progress")
def run_get(request: HttpRequest, run_id: int = Path(..., ge=1, le=MAX_PK)) -> Any:
    require(api_user(request), "duplicate", perms.VIEW)
    run = DuplicateRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such run."))
    return run


@router.get("/duplicates/{pair_id}", response={200: PairOut, **ERRORS}, summary="One pair with its explanation")
def pair_detail(request: HttpRequest, pair_id: int = Path(..., ge=1, le=MAX_PK)) -> Any:
    return _one(request, _pair(request, pair_id))


@router.post(
    "/duplicates/{pair_id}/not-duplicate",
    response={200: PairOut, **ERRORS},
    summary="Not a duplicate: never suggested again",
)
def pair_not_duplicate(request: HttpRequest, pair_id: int = Path(..., ge=1, le=MAX_PK)) -> Any:
    pair = services.pair_dismiss(actor=api_actor(request), pair=_pair(request, pair_id))
    return _one(request, pair)


@router.post("/duplicates/{pair_id}/merge", response={200: MergeOut, **ERRORS}, summary="Merge the pair's two contacts")
def pair_merge(request: HttpRequest, data: MergeIn, pair_id: int = Path(..., ge=1, le=MAX_PK)) -> Any:
    merge = services.pair_merge(actor=api_actor(request), pair=_pair(request, pair_id), survivor_id=data.survivor)
    return {"merge_id": merge.pk, "survivor": merge.survivor_id}
