"""REST endpoints of duplicate detection (``/api/quality/duplicates``): the review queue with
filters and cursor pages (most likely first), one pair with its per-field explanation, "not a
duplicate", the thresholds, and batch runs (train, predict) with their progress. Role object
"duplicate"; pairs show only contacts the caller may open (404 otherwise). Bad input is 4xx JSON."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.errors import NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK, paginate
from danhba.quality import selectors
from danhba.quality.models import DuplicatePair, DuplicateRun
from danhba.quality.schemas import DuplicateSettingsIn, DuplicateSettingsOut, PairOut, PairPage, RunIn, RunOut
from danhba.quality.services import duplicates as services

router = Router(tags=["quality"])
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
    qs = selectors.queue(
        user, status=status, min_probability=min_probability, max_probability=max_probability,
        cluster=cluster, contact=contact, found_by=found_by,
    )  # fmt: skip
    page = paginate(qs, "probability", cursor, limit, descending=True)
    model = services.active_model(services.settings_get())
    return {
        "items": selectors.pair_rows(user, page.items, model),
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }


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
