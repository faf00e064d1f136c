"""Pages of web forms: the forms list (views, submissions, conversion, blocked spam, a chart),
the builder (questions, queued questions, consent checkboxes, spam and embedding settings, a
preview and the embed codes), submissions per form and each submission (its contact, its
consents with their wording, retry when it failed). Every page calls the services the API calls."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, forbidden, permission_required
from danhba.capture.forms import fields as ff
from danhba.capture.forms import selectors, services
from danhba.capture.models import FormSubmission, WebForm
from danhba.core.actor import Actor
from danhba.core.charts import column_chart
from danhba.core.errors import InvalidInput, ServiceError
from danhba.core.keyset import BadCursor, paginate
from danhba.privacy.models import ConsentPurpose

PAGE_SIZE = 50
EXTRA_ROWS = 3


@permission_required(can("form", perms.VIEW))
def form_list(request: HttpRequest) -> HttpResponse:
    forms = list(WebForm.objects.all())
    figures = selectors.form_figures(forms)
    days = selectors.submissions_by_day(forms)
    chart = column_chart([(d.strftime("%d/%m"), n) for d, n in days], title=_("Submissions per day, last 30 days"),
                         integer=True)  # fmt: skip
    rows = [{"form": f, **figures[f.pk]} for f in forms]
    return render(request, "capture/forms/list.html", {"nav": "forms", "rows": rows, "chart": chart})


# --- the builder ----------------------------------------------------------------------------


def _rows(post: Any, prefix: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    i = 0
    while f"{prefix}-{i}-{keys[0]}" in post and i < 100:
        out.append({k: post.get(f"{prefix}-{i}-{k}", "") for k in keys})
        i += 1
    return out


def builder_data(post: Any) -> dict[str, Any]:
    """The builder's POST as the service's (and the API's) data."""
    questions = [r for r in _rows(post, "q", ("target", "label", "required", "stage", "help")) if r["target"]]
    consents = [r for r in _rows(post, "c", ("purpose", "text", "required")) if r["purpose"]]

    def question(r: dict[str, Any]) -> dict[str, Any]:
        return {"target": r["target"], "label": r["label"], "required": r["required"] == "on", "help": r["help"]}

    seconds = post.get("min_fill_seconds", "0").strip() or "0"
    return {
        "name": post.get("name", ""),
        "slug": post.get("slug", ""),
        "language": post.get("language", "vi"),
        "is_active": post.get("is_active") == "on",
        "fields": [question(r) for r in questions if r["stage"] != "queue"],
        "queue": [question(r) for r in questions if r["stage"] == "queue"],
        "consents": [{"purpose": r["purpose"], "text": r["text"], "required": r["required"] == "on"} for r in consents],
        "submit_label": post.get("submit_label", ""),
        "thanks_message": post.get("thanks_message", ""),
        "redirect_url": post.get("redirect_url", ""),
        "double_opt_in": post.get("double_opt_in") == "on",
        "allowed_origins": post.get("allowed_origins", "").split(),
        "min_fill_seconds": int(seconds) if seconds.isdigit() and len(seconds) < 6 else -1,
        "contact_tags": [t.strip() for t in post.get("contact_tags", "").split(",") if t.strip()],
    }


def _builder_context(
    request: HttpRequest, form: WebForm, data: dict[str, Any] | None, errors: dict[str, Any]
) -> dict[str, Any]:
    values = data or {
        "name": form.name, "slug": form.slug, "language": form.language, "is_active": form.is_active,
        "fields": form.fields, "queue": form.queue, "consents": form.consents, "submit_label": form.submit_label,
        "thanks_message": form.thanks_message, "redirect_url": form.redirect_url, "double_opt_in": form.double_opt_in,
        "allowed_origins": form.allowed_origins, "min_fill_seconds": form.min_fill_seconds,
        "contact_tags": form.contact_tags,
    }  # fmt: skip
    questions = [{**q, "stage": "form"} for q in values["fields"]] + [{**q, "stage": "queue"} for q in values["queue"]]
    questions += [{"target": "", "label": "", "required": False, "stage": "form", "help": ""}] * EXTRA_ROWS
    consents = list(values["consents"]) + [{"purpose": "", "text": "", "required": False}] * EXTRA_ROWS
    context: dict[str, Any] = {
        "nav": "forms", "form": form, "values": values, "questions": questions, "consents": consents,
        "targets": ff.target_choices(), "purposes": ConsentPurpose.objects.filter(is_active=True),
        "languages": WebForm.Language.choices, "errors": errors,
        "may_edit": current_user(request).can("form", perms.EDIT if form.pk else perms.CREATE),
    }  # fmt: skip
    if form.pk:
        widgets = [ff.widget(q, ff.custom_fields()) for q in form.fields]
        public = settings.SITE_URL + reverse("webforms_public:hosted", args=[form.slug])
        context.update({
            "preview": {"form": form, "widgets": widgets, "errors": {}, "values": {}, "token": "", "hidden": {},
                        "preview": True, "action": reverse("webforms_public:hosted", args=[form.slug])},
            "public_url": public,
            "script_code": f'<script src="{settings.SITE_URL}{reverse("webforms_public:embed_js")}" '
                           f'data-form="{form.slug}" async></script>',
            "iframe_code": f'<iframe src="{public}?embed=1" title="{form.name}" width="100%" height="640" '
                           f'loading="lazy"></iframe>',
            "figures": selectors.form_figures([form])[form.pk],
        })  # fmt: skip
    return context


def _save(request: HttpRequest, form: WebForm) -> HttpResponse:
    data = builder_data(request.POST)
    actor = Actor.from_request(request)
    try:
        if form.pk:
            form = services.webform_update(actor=actor, form=form, data=data)
        else:
            form = services.webform_create(actor=actor, data=data)
    except InvalidInput as exc:
        context = _builder_context(request, form, data, exc.details)
        return render(request, "capture/forms/builder.html", context, status=422)
    except ServiceError as exc:
        return forbidden(request, exc.message)
    messages.success(request, _("The form is saved."))
    return redirect("webforms:form", form.pk)


@permission_required(can("form", perms.CREATE))
def form_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request, WebForm())
    form = WebForm(fields=[{"target": "full_name", "label": _("Full name"), "required": True, "help": ""},
                           {"target": "email", "label": _("Email"), "required": True, "help": ""}])  # fmt: skip
    return render(request, "capture/forms/builder.html", _builder_context(request, form, None, {}))


@permission_required(can("form", perms.VIEW))
def form_detail(request: HttpRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(WebForm, pk=pk)
    if request.method == "POST":
        if not current_user(request).can("form", perms.EDIT):
            return forbidden(request)
        return _save(request, form)
    return render(request, "capture/forms/builder.html", _builder_context(request, form, None, {}))


@require_POST
@permission_required(can("form", perms.VIEW))
def form_preview(request: HttpRequest) -> HttpResponse:
    """The builder's unsaved questions and consent boxes as the visitor would see them (htmx,
    on every change); rows that are not valid yet are left out."""
    data = builder_data(request.POST)
    errors: dict[str, list[str]] = {}
    questions = ff.clean_questions(data["fields"], "fields", errors, set())
    purposes = set(ConsentPurpose.objects.filter(is_active=True).values_list("key", flat=True))
    consents = ff.clean_consents(data["consents"], purposes, errors)
    language = data["language"] if data["language"] in WebForm.Language.values else WebForm.Language.VI
    form = WebForm(name=data["name"], language=language, consents=consents, submit_label=data["submit_label"])
    context = {"form": form, "widgets": [ff.widget(q, ff.custom_fields()) for q in questions], "errors": {},
               "values": {}, "token": "", "hidden": {}, "preview": True}  # fmt: skip
    with translation.override(language):
        return render(request, "capture/forms/_form.html", context)


@require_POST
@permission_required(can("form", perms.DELETE))
def form_delete(request: HttpRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(WebForm, pk=pk)
    services.webform_delete(actor=Actor.from_request(request), form=form)
    messages.success(request, _("The form is deleted (switched off if it has submissions)."))
    return redirect("webforms:forms")


# --- submissions ----------------------------------------------------------------------------


@permission_required(can("submission", perms.VIEW))
def submission_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    qs = selectors.submissions_visible(user)
    form = None
    if request.GET.get("form", "").isdigit() and len(request.GET["form"]) < 18:
        form = WebForm.objects.filter(pk=int(request.GET["form"])).first()
        if form is not None:
            qs = qs.filter(form=form)
    status = request.GET.get("status", "")
    if status in FormSubmission.Status.values:
        qs = qs.filter(status=status)
    try:
        page = paginate(qs, "id", request.GET.get("cursor") or None, PAGE_SIZE, descending=True)
    except BadCursor as exc:
        messages.error(request, exc.message)
        page = paginate(qs, "id", None, PAGE_SIZE, descending=True)
    context = {"nav": "forms", "page": page, "form": form, "status": status, "statuses": FormSubmission.Status.choices,
               "forms": WebForm.objects.all() if user.can("form", perms.VIEW) else []}  # fmt: skip
    return render(request, "capture/forms/submissions.html", context)


def _submission(request: HttpRequest, pk: int) -> FormSubmission:
    submission = selectors.submissions_visible(current_user(request)).filter(pk=pk).first()
    if submission is None:
        raise Http404(_("No such submission."))
    return submission


@permission_required(can("submission", perms.VIEW))
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _submission(request, pk)
    labels = {q["target"]: q["label"] for q in submission.form.all_questions()}
    answers = [(labels.get(k, k), v) for k, v in submission.payload.items() if k != "consent"]
    context = {"nav": "forms", "submission": submission, "answers": answers,
               "may_retry": current_user(request).can("submission", perms.EDIT)
               and submission.status != FormSubmission.Status.DONE}  # fmt: skip
    return render(request, "capture/forms/submission.html", context)


@require_POST
@permission_required(can("submission", perms.EDIT))
def submission_retry(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _submission(request, pk)
    try:
        submission = services.submission_retry(actor=Actor.from_request(request), submission=submission)
    except InvalidInput as exc:
        messages.error(request, "; ".join(m for ms in exc.details.values() for m in ms))
        return redirect("webforms:submission", pk)
    if submission.status == FormSubmission.Status.DONE:
        messages.success(request, _("The submission is processed."))
    else:
        messages.error(request, _("It failed again: %(error)s") % {"error": submission.error})
    return redirect("webforms:submission", pk)
