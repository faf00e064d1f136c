"""REST endpoints of web forms (``/api/capture``): forms (role object "form") and their
submissions (role object "submission": read, retry a failed one). Bad payloads are 422 with
the problems by field."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from danhba.accounts import permissions as perms
from danhba.accounts.api_auth import api_actor, api_user, require
from danhba.capture.forms import selectors, services
from danhba.capture.forms.schemas import (
    FormSubmissionOut,
    FormSubmissionPage,
    WebFormIn,
    WebFormList,
    WebFormOut,
    WebFormPatch,
)
from danhba.capture.models import FormSubmission, WebForm
from danhba.contacts.api import ERRORS
from danhba.core.errors import NotFound
from danhba.core.keyset import CURSOR_MAX, MAX_PK, paginate

router = Router(tags=["capture"])
FORM_FIELDS = ("id", "name", "slug", "language", "is_active", "fields", "queue", "consents", "submit_label",
               "thanks_message", "redirect_url", "double_opt_in", "allowed_origins", "min_fill_seconds",
               "contact_tags", "created_at", "updated_at")  # fmt: skip
SUBMISSION_FIELDS = ("id", "form_id", "status", "payload", "consents", "utm", "page_url", "referrer", "contact_id",
                     "created_contact", "error", "attempts", "confirmed_at", "created_at", "processed_at")  # fmt: skip


def _id() -> Any:
    return Path(..., ge=1, le=MAX_PK)


def _form_out(form: WebForm, figures: dict[str, Any] | None = None) -> dict[str, Any]:
    hosted = settings.SITE_URL + reverse("webforms_public:hosted", args=[form.slug])
    script = settings.SITE_URL + reverse("webforms_public:embed_js")
    return {
        **{f: getattr(form, f) for f in FORM_FIELDS},
        "hosted_url": hosted,
        "script_embed": f'<script src="{script}" data-form="{form.slug}" async></script>',
        "iframe_embed": f'<iframe src="{hosted}?embed=1" title="{form.name}" width="100%" height="640"></iframe>',
        "figures": figures or selectors.form_figures([form])[form.pk],
    }


def _form(request: HttpRequest, form_id: int) -> WebForm:
    require(api_user(request), "form", perms.VIEW)
    form = WebForm.objects.filter(pk=form_id).first()
    if form is None:
        raise NotFound(_("No such form."))
    return form


@router.get("/forms", response={200: WebFormList, **ERRORS}, summary="List web forms with their figures")
def form_list(request: HttpRequest) -> dict[str, Any]:
    require(api_user(request), "form", perms.VIEW)
    forms = list(WebForm.objects.all())
    figures = selectors.form_figures(forms)
    return {"items": [_form_out(f, figures[f.pk]) for f in forms]}


@router.post("/forms", response={201: WebFormOut, **ERRORS}, summary="Create a web form")
def form_create(request: HttpRequest, payload: WebFormIn) -> Status[dict[str, Any]]:
    form = services.webform_create(actor=api_actor(request), data=payload.model_dump(exclude_unset=True))
    return Status(201, _form_out(form))


@router.get("/forms/{int:form_id}", response={200: WebFormOut, **ERRORS}, summary="Get a web form")
def form_get(request: HttpRequest, form_id: int = _id()) -> dict[str, Any]:
    return _form_out(_form(request, form_id))


@router.patch("/forms/{int:form_id}", response={200: WebFormOut, **ERRORS}, summary="Change a web form")
def form_update(request: HttpRequest, payload: WebFormPatch, form_id: int = _id()) -> dict[str, Any]:
    """Only the fields sent change; a list sent replaces the stored one."""
    form = services.webform_update(
        actor=api_actor(request), form=_form(request, form_id), data=payload.model_dump(exclude_unset=True)
    )
    return _form_out(form)


@router.delete("/forms/{int:form_id}", response={204: None, **ERRORS}, summary="Delete a web form")
def form_delete(request: HttpRequest, form_id: int = _id()) -> Status[None]:
    """A form with submissions is switched off instead (they prove the consents given)."""
    services.webform_delete(actor=api_actor(request), form=_form(request, form_id))
    return Status(204, None)


def _submission_out(submission: FormSubmission) -> dict[str, Any]:
    return {f: getattr(submission, f) for f in SUBMISSION_FIELDS}


@router.get("/submissions", response={200: FormSubmissionPage, **ERRORS}, summary="List form submissions, newest first")
def submission_list(
    request: HttpRequest,
    form_id: int | None = Query(None, ge=1, le=MAX_PK),
    status: str | None = Query(None, pattern="^(received|done|failed)$"),
    cursor: str | None = Query(None, max_length=CURSOR_MAX),
    limit: int = Query(50, ge=1, le=200),
) -> dict[str, Any]:
    qs = selectors.submissions_visible(api_user(request))
    require(api_user(request), "submission", perms.VIEW)
    if form_id is not None:
        qs = qs.filter(form_id=form_id)
    if status:
        qs = qs.filter(status=status)
    page = paginate(qs, "id", cursor, limit, descending=True)
    return {"items": [_submission_out(s) for s in page.items], "next_cursor": page.next_cursor}


def _submission(request: HttpRequest, submission_id: int) -> FormSubmission:
    user = api_user(request)
    require(user, "submission", perms.VIEW)
    submission = selectors.submissions_visible(user).filter(pk=submission_id).first()
    if submission is None:
        raise NotFound(_("No such submission."))
    return submission


@router.get("/submissions/{int:submission_id}", response={200: FormSubmissionOut, **ERRORS}, summary="Get a submission")
def submission_get(request: HttpRequest, submission_id: int = _id()) -> dict[str, Any]:
    return _submission_out(_submission(request, submission_id))


@router.post(
    "/submissions/{int:submission_id}/retry",
    response={200: FormSubmissionOut, **ERRORS},
    summary="Retry a failed submission",
)
def submission_retry(request: HttpRequest, submission_id: int = _id()) -> dict[str, Any]:
    submission = services.submission_retry(actor=api_actor(request), submission=_submission(request, submission_id))
    return _submission_out(submission)
