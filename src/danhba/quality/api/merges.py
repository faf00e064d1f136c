"""REST endpoints of merging (``/api/quality/merges``, ``/api/quality/merge-settings``): preview,
merge, undo, history, and the survivorship rules. Bad input is 422 with reasons by field; a merge that
cannot be undone any more is 409."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.contacts.api import ERRORS
from danhba.core.keyset import MAX_PK
from danhba.quality import selectors
from danhba.quality.models import MergeSettings
from danhba.quality.schemas import (
    BulkMergeIn,
    BulkMergeOut,
    ContactsMergeIn,
    ContactsMergeOut,
    ContactsMergePage,
    MergePreviewOut,
    MergeSettingsIO,
)
from danhba.quality.services import merge as merging
from danhba.quality.services.bulk import bulk_merge_cancel, bulk_merge_get, bulk_merge_start
from danhba.quality.services.rules import merge_settings_update
from danhba.quality.survivorship import GROUPS

router = Router(tags=["merges"])


def _label(key: str) -> str:
    return str(GROUPS[key][0]) if key in GROUPS else key


@router.post("/merges/preview", response={200: MergePreviewOut, **ERRORS}, summary="What a merge would keep")
def merge_preview(request: HttpRequest, payload: ContactsMergeIn) -> dict[str, Any]:
    choices = merging.merge_preview(
        actor=api_actor(request), survivor=payload.survivor, others=payload.others, rules=payload.rules
    )
    fields = [
        {"field": c.key, "label": _label(c.key), "contact_id": c.contact_id, "rule": c.rule, "values": c.values}
        for c in choices
    ]
    return {"survivor": payload.survivor, "others": payload.others, "fields": fields}


@router.post("/merges", response={201: ContactsMergeOut, **ERRORS}, summary="Merge contacts into a survivor")
def merge_create(request: HttpRequest, payload: ContactsMergeIn) -> Status[dict[str, Any]]:
    merge = merging.merge_contacts(api_actor(request), payload.survivor, payload.others, payload.rules)
    return Status(201, selectors.merge_out(merge))


@router.get("/merges", response={200: ContactsMergePage, **ERRORS}, summary="Merge history, newest first")
def merge_list(
    request: HttpRequest,
    contact: int | None = Query(None, ge=1, le=MAX_PK, description="Merges into or of this contact."),
    before: int | None = Query(None, ge=1, le=MAX_PK),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    user = api_user(request)
    require(user, "merge", perms.VIEW)
    rows, next_before = selectors.merges_page(user, contact_id=contact, before=before, limit=limit)
    return {"items": [selectors.merge_out(m) for m in rows], "next_before": next_before}


@router.get("/merges/{int:merge_id}", response={200: ContactsMergeOut, **ERRORS}, summary="Get a merge")
def merge_get(request: HttpRequest, merge_id: int = Path(..., ge=1, le=MAX_PK)) -> dict[str, Any]:
    return selectors.merge_out(merging.merge_get(actor=api_actor(request), merge_id=merge_id))


@router.post("/merges/{int:merge_id}/undo", response={200: ContactsMergeOut, **ERRORS}, summary="Undo a merge")
def merge_undo(request: HttpRequest, merge_id: int = Path(..., ge=1, le=MAX_PK)) -> dict[str, Any]:
    """Both sides come back as they were, plus what each gained since (rows created on the
    survivor after the merge stay there). For 90 days."""
    return selectors.merge_out(merging.undo_merge(api_actor(request), merge_id))


def _settings_out(settings: MergeSettings) -> dict[str, Any]:
    return {
        "default_rule": settings.default_rule,
        "rules": settings.rules or {},
        "source_ranking": settings.source_ranking or [],
    }


@router.get("/merge-settings", response={200: MergeSettingsIO, **ERRORS}, summary="The survivorship rules")
def settings_get(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "merge", perms.VIEW)
    return _settings_out(MergeSettings.current())


@router.patch("/merge-settings", response={200: MergeSettingsIO, **ERRORS}, summary="Change the survivorship rules")
def settings_update(request: HttpRequest, payload: MergeSettingsIO) -> dict[str, Any]:
    data = payload.model_dump(exclude_unset=True, exclude_none=True)
    return _settings_out(merge_settings_update(actor=api_actor(request), data=data))


@router.post("/bulk-merges", response={202: BulkMergeOut, **ERRORS}, summary="Merge a reviewed set in the background")
def bulk_create(request: HttpRequest, payload: BulkMergeIn) -> Status[dict[str, Any]]:
    """Each group is one merge (survivor, others); the job's progress is at GET /bulk-merges/{id}."""
    data = payload.model_dump()
    job = bulk_merge_start(actor=api_actor(request), groups=data["groups"], rules=data.get("rules"))
    job.refresh_from_db()
    return Status(202, selectors.bulk_merge_out(job))


@router.get("/bulk-merges/{int:job_id}", response={200: BulkMergeOut, **ERRORS}, summary="A bulk merge's progress")
def bulk_get(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_PK)) -> dict[str, Any]:
    return selectors.bulk_merge_out(bulk_merge_get(actor=api_actor(request), pk=job_id))


@router.post("/bulk-merges/{int:job_id}/cancel", response={200: BulkMergeOut, **ERRORS}, summary="Stop a bulk merge")
def bulk_cancel(request: HttpRequest, job_id: int = Path(..., ge=1, le=MAX_PK)) -> dict[str, Any]:
    """The merges done stay (each can be undone from the history)."""
    return selectors.bulk_merge_out(bulk_merge_cancel(actor=api_actor(request), pk=job_id))
