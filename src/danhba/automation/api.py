"""REST endpoints of workflows under ``/api/automation``: workflows (create, edit — new steps
make a new version —, status), their versions with per-step counts, enrolments (list, enrol by
hand or in bulk, cancel, one enrolment with its path), a contact's enrolments, the kinds of
steps and triggers with their JSON schemas, and the playbooks (list, install as a draft).
Permissions are the role's "workflow" object; enrolments show only contacts inside the caller's
record visibility."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.accounts.models import User
from danhba.automation import selectors
from danhba.automation.kinds import STEP_KINDS, TRIGGER_KINDS
from danhba.automation.models import Enrolment, Workflow
from danhba.automation.schemas import (
    EnrolIn,
    EnrolmentOut,
    EnrolmentPage,
    EnrolOut,
    KindsOut,
    PlaybookInstalledOut,
    PlaybookInstallIn,
    PlaybookList,
    WorkflowIn,
    WorkflowOut,
    WorkflowPage,
    WorkflowPatch,
    WorkflowStatusIn,
    WorkflowTestIn,
    WorkflowTestOut,
    WorkflowVersionList,
)
from danhba.automation.services import enrolments as enrol_services
from danhba.automation.services import playbooks as playbook_services
from danhba.automation.services import workflows as services
from danhba.core.errors import NotFound
from danhba.core.keyset import MAX_PK
from danhba.core.schemas import ErrorOut

ERRORS: dict[Any, Any] = {frozenset({400, 401, 403, 404, 409, 422}): ErrorOut}
MAX_LIMIT = 200

router = Router(tags=["automation"])


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _workflow(request: HttpRequest, workflow_id: int, action: str = perms.VIEW) -> Workflow:
    require(api_user(request), "workflow", action)
    workflow = Workflow.objects.select_related("current_version").filter(pk=workflow_id).first()
    if workflow is None:
        raise NotFound(_("No such workflow."))
    return workflow


def _cursor(raw: str | None) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and int(raw) <= MAX_PK else 0


def workflow_out(workflow: Workflow, counts: dict[str, int] | None = None) -> dict[str, Any]:
    version = workflow.current_version
    return {
        "id": workflow.pk, "name": workflow.name, "description": workflow.description, "status": workflow.status,
        "trigger": workflow.trigger, "reenrol": workflow.reenrol, "window": workflow.window,
        "version": version.number if version else None, "graph": version.graph if version else None,
        "enrolments": selectors.status_counts(workflow.pk) if counts is None else counts,
        "created_at": workflow.created_at, "updated_at": workflow.updated_at,
    }  # fmt: skip


def enrolment_out(enrolment: Enrolment, *, path: bool = False) -> dict[str, Any]:
    data = {
        "id": enrolment.pk, "workflow_id": enrolment.workflow_id, "workflow_name": enrolment.workflow.name,
        "version": enrolment.version.number, "contact_id": enrolment.contact_id, "status": enrolment.status,
        "step": enrolment.step, "due_at": enrolment.due_at, "attempt": enrolment.attempt, "error": enrolment.error,
        "enrolled_at": enrolment.enrolled_at, "finished_at": enrolment.finished_at,
    }  # fmt: skip
    if path:
        data["path"] = [
            {k: getattr(r, k) for k in ("seq", "step", "kind", "outcome", "next_step", "detail", "due_at", "at")}
            for r in selectors.enrolment_path(enrolment)
        ]
    return data


@router.get("/workflows", response={200: WorkflowPage, **ERRORS}, summary="List workflows")
def workflow_list(
    request: HttpRequest,
    status: str = Query("", pattern="^(|draft|active|paused|archived)$"),
    cursor: str | None = Query(None, max_length=20),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    require(api_user(request), "workflow", perms.VIEW)
    qs = Workflow.objects.select_related("current_version").order_by("id")
    if status:
        qs = qs.filter(status=status)
    rows = list(qs.filter(pk__gt=_cursor(cursor))[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    counts = selectors.status_counts_of([w.pk for w in rows])
    return {
        "items": [workflow_out(w, counts.get(w.pk, {})) for w in rows],
        "next_cursor": str(rows[-1].pk) if more else None,
    }


@router.post("/workflows", response={201: WorkflowOut, **ERRORS}, summary="Create a workflow")
def workflow_create(request: HttpRequest, payload: WorkflowIn) -> Status[dict[str, Any]]:
    data = payload.dict(exclude_none=True)
    workflow = services.workflow_create(actor=api_actor(request), data=data)
    return Status(201, workflow_out(Workflow.objects.select_related("current_version").get(pk=workflow.pk)))


@router.get("/workflows/{workflow_id}", response={200: WorkflowOut, **ERRORS}, summary="A workflow")
def workflow_get(request: HttpRequest, workflow_id: int = _id()) -> dict[str, Any]:
    return workflow_out(_workflow(request, workflow_id))


@router.patch("/workflows/{workflow_id}", response={200: WorkflowOut, **ERRORS}, summary="Change a workflow")
def workflow_update(request: HttpRequest, payload: WorkflowPatch, workflow_id: int = _id()) -> dict[str, Any]:
    """New steps (``graph``) publish a new version; contacts under way finish theirs, or move by
    ``move``. With ``base_version``, steps made from an older version than the current are
    refused (409)."""
    workflow = _workflow(request, workflow_id, perms.EDIT)
    data = payload.dict(exclude_unset=True)
    base, move = data.pop("base_version", None), data.pop("move", None)
    services.workflow_update(actor=api_actor(request), workflow=workflow, data=data, base_version=base, move=move)
    return workflow_out(_workflow(request, workflow_id))


@router.post("/workflows/{workflow_id}/status", response={200: WorkflowOut, **ERRORS}, summary="Activate, pause")
def workflow_status(request: HttpRequest, payload: WorkflowStatusIn, workflow_id: int = _id()) -> dict[str, Any]:
    """``active``, ``paused`` or ``archived`` (archiving cancels the enrolments under way)."""
    workflow = _workflow(request, workflow_id, perms.EDIT)
    services.workflow_set_status(actor=api_actor(request), workflow=workflow, status=payload.status)
    return workflow_out(_workflow(request, workflow_id))


@router.get(
    "/workflows/{workflow_id}/versions", response={200: WorkflowVersionList, **ERRORS}, summary="Versions and counts"
)
def workflow_versions(request: HttpRequest, workflow_id: int = _id()) -> dict[str, Any]:
    """Every version, newest first, with per-step counts (runs by outcome; ``at``: waiting there)."""
    workflow = _workflow(request, workflow_id)
    return {
        "items": [
            {"number": v.number, "graph": v.graph, "created_at": v.created_at, "step_counts": selectors.step_counts(v)}
            for v in workflow.versions.order_by("-number")
        ]
    }


@router.post("/workflows/{workflow_id}/test", response={200: WorkflowTestOut, **ERRORS}, summary="Test on a contact")
def workflow_test(request: HttpRequest, payload: WorkflowTestIn, workflow_id: int = _id()) -> dict[str, Any]:
    """Walk one contact through the workflow with the clock moved forward through every wait: a
    dry run (the steps run and are rolled back: no email sent, nothing written, no webhook
    called). Works on drafts too. Each step says what it did and why (which branch, until when)."""
    workflow = _workflow(request, workflow_id)
    sim = services.workflow_test(
        actor=api_actor(request), workflow=workflow, contact_id=payload.contact_id, start=payload.start,
        events=payload.events, version=payload.version,
    )  # fmt: skip
    return dry_run_out(sim, workflow)


def dry_run_out(sim: Any, workflow: Workflow) -> dict[str, Any]:
    version = workflow.versions.get(number=sim.version)
    return {
        "workflow_id": sim.workflow_id, "version": sim.version, "contact_id": sim.contact_id, "start": sim.start,
        "status": sim.status, "status_label": selectors.dry_run_status(sim.status),
        "steps": selectors.dry_run_steps(sim, version),
    }  # fmt: skip


def _visible_enrolments(user: User) -> Any:
    from danhba.contacts.models import Contact

    qs = Enrolment.objects.select_related("workflow", "version")
    if user.role.record_scope != perms.SCOPE_ALL:
        qs = qs.filter(contact__in=Contact.objects.visible_to(user))
    return qs


@router.get(
    "/workflows/{workflow_id}/enrolments", response={200: EnrolmentPage, **ERRORS}, summary="A workflow's enrolments"
)
def workflow_enrolments(
    request: HttpRequest,
    workflow_id: int = _id(),
    status: str = Query("", pattern="^(|active|completed|goal|exited|failed|cancelled)$"),
    cursor: str | None = Query(None, max_length=20),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """Newest first; ``cursor`` is the ``next_cursor`` of the page before."""
    workflow = _workflow(request, workflow_id)
    qs = _visible_enrolments(api_user(request)).filter(workflow=workflow).order_by("-id")
    if status:
        qs = qs.filter(status=status)
    before = _cursor(cursor)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [enrolment_out(e) for e in rows], "next_cursor": str(rows[-1].pk) if more else None}


@router.post("/workflows/{workflow_id}/enrolments", response={200: EnrolOut, **ERRORS}, summary="Enrol contacts")
def workflow_enrol(request: HttpRequest, payload: EnrolIn, workflow_id: int = _id()) -> dict[str, Any]:
    """By hand, in bulk or from another system: contacts already under way (or, for a once-only
    workflow, enrolled before) are left out; ``enrolled`` says how many started."""
    workflow = _workflow(request, workflow_id, perms.EDIT)
    count = enrol_services.enrol_manual(actor=api_actor(request), workflow=workflow, contact_ids=payload.contact_ids)
    return {"enrolled": count}


def _enrolment(request: HttpRequest, enrolment_id: int) -> Enrolment:
    user = api_user(request)
    require(user, "workflow", perms.VIEW)
    enrolment: Enrolment | None = _visible_enrolments(user).filter(pk=enrolment_id).first()
    if enrolment is None:
        raise NotFound(_("No such enrolment."))
    return enrolment


@router.get("/enrolments/{enrolment_id}", response={200: EnrolmentOut, **ERRORS}, summary="An enrolment and its path")
def enrolment_get(request: HttpRequest, enrolment_id: int = _id()) -> dict[str, Any]:
    return enrolment_out(_enrolment(request, enrolment_id), path=True)


@router.post("/enrolments/{enrolment_id}/cancel", response={200: EnrolmentOut, **ERRORS}, summary="Cancel")
def enrolment_cancel(request: HttpRequest, enrolment_id: int = _id()) -> dict[str, Any]:
    enrolment = _enrolment(request, enrolment_id)
    enrolment = enrol_services.enrolment_cancel(actor=api_actor(request), enrolment=enrolment)
    return enrolment_out(enrolment, path=True)


@router.get(
    "/contacts/{contact_id}/enrolments", response={200: EnrolmentPage, **ERRORS}, summary="A contact's enrolments"
)
def contact_enrolments(request: HttpRequest, contact_id: int = _id()) -> dict[str, Any]:
    """Every workflow the contact is or was in, newest first, each with the steps it walked."""
    user = api_user(request)
    require(user, "workflow", perms.VIEW)
    from danhba.contacts.models import Contact

    if not Contact.objects.visible_to(user).filter(pk=contact_id).exists():
        raise NotFound(_("No such contact."))
    rows = list(selectors.contact_enrolments(contact_id)[:MAX_LIMIT])
    return {"items": [enrolment_out(e, path=True) for e in rows], "next_cursor": None}


@router.get("/kinds", response={200: KindsOut, **ERRORS}, summary="Kinds of steps and triggers")
def kinds(request: HttpRequest) -> dict[str, Any]:
    """What a workflow may hold: each kind with the JSON schema of its parameters."""
    require(api_user(request), "workflow", perms.VIEW)
    return {
        "steps": [
            {"key": k.key, "label": str(k.label), "params_schema": k.params.model_json_schema()} for k in STEP_KINDS
        ],
        "triggers": [
            {"key": k.key, "label": str(k.label), "params_schema": k.params.model_json_schema()} for k in TRIGGER_KINDS
        ],
    }


def playbook_out(book: Any, missing: str, ctx: Any) -> dict[str, Any]:
    graph = book.graph(ctx)
    return {
        "key": book.key, "name": str(book.name), "description": str(book.description),
        "outline": [str(line) for line in book.outline], "trigger": book.trigger(ctx), "steps": len(graph["steps"]),
        "emails": [{"key": k, "title": e.title, "subject": e.subject} for k, e in book.emails.items()],
        "tags": [*book.tags, *book.extra_tags(ctx)], "missing": missing,
    }  # fmt: skip


@router.get("/playbooks", response={200: PlaybookList, **ERRORS}, summary="Playbooks ready to install")
def playbook_list(request: HttpRequest) -> dict[str, Any]:
    """The six playbooks: what each does, the emails and tags it makes, and why one cannot be
    installed here yet (``missing``, e.g. no score model with a "hot" grade)."""
    require(api_user(request), "workflow", perms.VIEW)
    ctx = selectors.playbook_context()
    return {"items": [playbook_out(book, missing, ctx) for book, missing in selectors.playbooks_available(ctx)]}


@router.post("/playbooks/{key}/install", response={201: PlaybookInstalledOut, **ERRORS}, summary="Install a playbook")
def playbook_install(
    request: HttpRequest,
    payload: PlaybookInstallIn | None = None,
    key: str = Path(..., min_length=1, max_length=40, pattern=r"^[a-z_]+$"),
) -> Status[dict[str, Any]]:
    """A DRAFT workflow with the playbook's steps, its emails as templates and automated
    campaigns, and its tags; installed again, a second copy with a distinct name."""
    options = payload.dict(exclude_none=True) if payload is not None else {}
    done = playbook_services.playbook_install(actor=api_actor(request), key=key, options=options)
    workflow = Workflow.objects.select_related("current_version").get(pk=done.workflow.pk)
    return Status(201, {"workflow": workflow_out(workflow), "templates": done.templates, "tags": done.tags})
