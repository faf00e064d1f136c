"""Pages of automation: the workflow list, a workflow's flow diagram with its per-step counts,
the editor (a form per step), enrolling by hand, each contact's path, and the contact page's
panel. Every page calls the services the API calls."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.models import User
from danhba.accounts.views import can, permission_required
from danhba.automation import selectors
from danhba.automation.forms import TestRunForm, WorkflowForm, editor_forms, editor_refresh, graph_from
from danhba.automation.graph import step_choices
from danhba.automation.models import Enrolment, Workflow
from danhba.automation.params_forms import NO_STEP
from danhba.automation.services import enrolments as enrol_services
from danhba.automation.services import playbooks as playbook_services
from danhba.automation.services import workflows as services
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.core.keyset import paginate
from danhba.core.normalize import clean_text

PAGE_SIZE = 50
# A step's settings prefix in the editor ("steps-3-update_field").
PREFIX = re.compile(r"[A-Za-z0-9_-]{1,100}")


def _workflow(pk: int) -> Workflow:
    workflow = Workflow.objects.select_related("current_version").filter(pk=pk).first()
    if workflow is None:
        raise Http404(_("No such workflow."))
    return workflow


@permission_required(can("workflow", perms.VIEW))
def workflow_list(request: HttpRequest) -> HttpResponse:
    workflows = Workflow.objects.select_related("current_version")
    error = ""
    try:
        page = paginate(workflows, "name", request.GET.get("cursor") or None, PAGE_SIZE)
    except ServiceError as exc:
        error = exc.message
        page = paginate(workflows, "name", None, PAGE_SIZE)
    counts = selectors.status_counts_of([w.pk for w in page.items])
    rows = [(w, counts.get(w.pk, {})) for w in page.items]
    return render(request, "automation/list.html", {"nav": "automation", "rows": rows, "page": page, "error": error})


# The editor's unsaved state while a branch's conditions are edited in the builder, per
# workflow ("new" for one not created yet): {"data": the workflow's settings, "graph": its steps}.
DRAFTS = "automation_drafts"


def _draft_key(workflow: Workflow | None) -> str:
    return str(workflow.pk) if workflow else "new"


def _draft(request: HttpRequest, workflow: Workflow | None) -> dict[str, Any] | None:
    """The draft the page was asked to go on with (``?draft=1``), if the session holds one."""
    if not request.GET.get("draft"):
        return None
    draft = request.session.get(DRAFTS, {}).get(_draft_key(workflow))
    return draft if isinstance(draft, dict) and isinstance(draft.get("graph"), dict) else None


def _draft_keep(request: HttpRequest, key: str, draft: dict[str, Any] | None) -> None:
    """Keep the draft under ``key`` (a workflow's id, "new"), or drop it (None)."""
    drafts = {k: v for k, v in request.session.get(DRAFTS, {}).items() if k != key}
    if draft is not None:
        drafts[key] = draft
    if drafts or DRAFTS in request.session:
        request.session[DRAFTS] = drafts


def _editor_url(workflow: Workflow | None) -> str:
    from django.urls import reverse

    return reverse("automation:edit", args=[workflow.pk]) if workflow else reverse("automation:create")


def _condition_url(workflow: Workflow | None) -> str:
    from django.urls import reverse

    return reverse("automation:condition", args=[workflow.pk]) if workflow else reverse("automation:draft_condition")


def _conditions_of_row(steps: Any, graph: dict[str, Any], row: str) -> str | None:
    """Where the builder opens for the editor's row ``row`` (its first branch), or None with the
    row's error said when the row is not a branch."""
    form = steps.forms[int(row)] if row.isascii() and row.isdigit() and int(row) < len(steps.forms) else None
    if form is None:
        return None
    step_id = form.cleaned_data.get("step_id")
    if form.cleaned_data.get("kind") != "branch" or not step_id or step_id not in graph.get("steps", {}):
        form.add_error("kind", _("Name the step and choose “If / else” to give it branch conditions."))
        return None
    return f"{step_id}.0"


def _editor(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    draft = _draft(request, workflow)
    graph = _editing(workflow, draft)
    if draft and (draft.get("data") or workflow is None):
        initial = WorkflowForm.initial_from_data(draft.get("data") or {})
    else:
        initial = WorkflowForm.initial_for(workflow) if workflow else {"reenrol": "once", "trigger_kind": "manual"}
    form, steps = editor_forms(request.POST or None, initial, graph, request.user)
    refresh = "refresh" in request.POST
    if request.method == "POST" and form.is_valid() and steps.is_valid() and not refresh:
        done = _editor_post(request, workflow, form, steps, graph)
        if done is not None:
            return done
    rows = []
    for f in steps:
        arms = selectors.branch_arms(graph, f.initial.get("step_id", ""))
        rows.append((f, arms, arms is None and (f["kind"].value() or "") in ("", "branch")))
    context = {
        "nav": "automation", "form": form, "steps": steps, "step_rows": rows,
        "conditions": selectors.goal_and_exit(graph), "workflow": workflow, "draft": draft is not None,
        "condition_url": _condition_url(workflow), "kinds": selectors.kinds(),
        "trigger_kinds": selectors.trigger_kinds(), "publish": _publish_context(request, workflow, draft, graph),
    }  # fmt: skip
    if refresh:
        editor_refresh(form, steps)
    failed = not refresh and (form.errors or steps.errors)
    return render(request, "automation/form.html", context, status=422 if failed else 200)


def _editor_post(
    request: HttpRequest, workflow: Workflow | None, form: WorkflowForm, steps: Any, graph: dict[str, Any] | None
) -> HttpResponse | None:
    """Save the editor (publish), or keep it as a draft while a branch's conditions are edited
    (``edit_conditions``: the row); None when the page shows again with the errors."""
    data = form.data_for_service()
    new_graph = graph_from(steps, graph)
    key = _draft_key(workflow)
    base = _base_version(request, workflow)
    row = request.POST.get("edit_conditions")
    if row is not None:
        # A branch's conditions in the builder before anything is saved: the editor's state is
        # kept in the session, the builder edits it there, and "Save" publishes it all.
        at = _conditions_of_row(steps, new_graph or {}, row)
        if at is None or new_graph is None:
            return None
        _draft_keep(request, key, {"data": data, "graph": new_graph, "base": base})
        return redirect(f"{_condition_url(workflow)}?at={at}&draft=1")
    if new_graph is not None:
        data["graph"] = new_graph
    actor = Actor.from_request(request)
    try:
        if workflow is None:
            workflow = services.workflow_create(actor=actor, data=data)
        else:
            move = {"rule": request.POST.get("move_rule") or "keep", "step": request.POST.get("move_step", "")}
            workflow = services.workflow_update(actor=actor, workflow=workflow, data=data, base_version=base, move=move)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        apply_service_error(form, exc)
        return None
    _draft_keep(request, key, None)
    messages.success(request, _("Workflow saved."))
    return redirect("automation:detail", pk=workflow.pk)


def _base_version(request: HttpRequest, workflow: Workflow | None) -> int | None:
    """The version the editor's steps were made from: the draft's, else the one the page showed
    (``base_version``, posted by ``_publish_rule.html``). None for a new workflow."""
    if workflow is None:
        return None
    draft = _draft(request, workflow)
    raw = draft.get("base") if draft else request.POST.get("base_version")
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        return None


def _publish_context(
    request: HttpRequest, workflow: Workflow | None, draft: dict[str, Any] | None, graph: dict[str, Any] | None
) -> dict[str, Any] | None:
    """What the editor says about publishing: the version the steps come from, how many contacts
    are under way, and the rule for them (``services.workflows.enrolments_move``)."""
    if workflow is None or workflow.current_version is None:
        return None
    if draft:
        base = draft.get("base")
    else:  # the page shown again after a refused Save keeps the version its steps came from
        posted = _base_version(request, workflow) if request.method == "POST" else None
        base = posted or workflow.current_version.number
    return {
        "base": base,
        "current": workflow.current_version.number,
        "under_way": Enrolment.objects.filter(workflow=workflow, status=Enrolment.Status.ACTIVE).count(),
        "rule": request.POST.get("move_rule") or services.MOVE_KEEP,
        "step": request.POST.get("move_step", ""),
        "steps": step_choices((graph or {}).get("steps", {})),
    }


@permission_required(can("workflow", perms.CREATE))
def workflow_create(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@permission_required(can("workflow", perms.EDIT))
def workflow_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _editor(request, _workflow(pk))


def _edits_workflows(user: User) -> bool:
    return user.can("workflow", perms.CREATE) or user.can("workflow", perms.EDIT)


@require_GET
@permission_required(_edits_workflows)
def value_input(request: HttpRequest) -> HttpResponse:
    """The input of a step's setting that follows another (an update-field step's value, by the
    field's type), for editor.js to swap in when the field changes: the same field the editor
    renders after "Show its input"."""
    from danhba.automation.kinds import STEP_KINDS
    from danhba.automation.params_forms import ParamsForm

    kind = STEP_KINDS.get(request.GET.get("kind", ""))
    prefix = request.GET.get("prefix", "")
    if kind is None or not PREFIX.fullmatch(prefix):
        raise Http404(_("No such setting."))
    form = ParamsForm(kind, prefix=prefix, previous={})
    followers = [s for s in form.specs if s.hint.follows]
    if not followers:
        raise Http404(_("No such setting."))
    form = ParamsForm(kind, prefix=prefix, previous={followers[0].hint.follows: request.GET.get("field", "")})
    return render(request, "accounts/_field.html", {"field": form[followers[0].name]})


def _visible_enrolments(request: HttpRequest) -> Any:
    user = request.user
    qs = Enrolment.objects.select_related("contact", "workflow", "version")
    if user.role.record_scope != perms.SCOPE_ALL:  # type: ignore[union-attr]
        qs = qs.filter(contact__in=Contact.objects.visible_to(user))
    return qs


@permission_required(can("workflow", perms.VIEW))
def workflow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = _workflow(pk)
    version = workflow.current_version
    status = request.GET.get("status", "")
    enrolments = _visible_enrolments(request).filter(workflow=workflow).order_by("-id")
    if status in Enrolment.Status.values:
        enrolments = enrolments.filter(status=status)
    context = {
        "nav": "automation",
        "workflow": workflow,
        "boxes": selectors.diagram(version) if version else [],
        "counts": selectors.status_counts(workflow.pk),
        "enrolments": list(enrolments[:50]),
        "status": status,
        "statuses": Enrolment.Status.choices,
        "trigger": selectors.describe_trigger(workflow),
    }
    return render(request, "automation/detail.html", context)


@permission_required(can("workflow", perms.VIEW))
def workflow_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Test the workflow on one contact with the clock moved forward: the path it would take,
    step by step (a dry run: nothing sent, nothing kept)."""
    workflow = _workflow(pk)
    initial = {"contact": request.GET.get("contact", "")}
    form = TestRunForm(request.POST or None, initial=initial)
    result: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            sim = services.workflow_test(
                actor=Actor.from_request(request), workflow=workflow, contact_id=form.cleaned_data["contact"],
                start=form.cleaned_data["start"], events=form.event_names(),
            )  # fmt: skip
        except ServiceError as exc:
            apply_service_error(form, exc, {"contact_ids": "contact"})
        else:
            version = workflow.versions.get(number=sim.version)
            rows = selectors.dry_run_steps(sim, version)
            result = {
                "sim": sim, "rows": rows, "status": selectors.dry_run_status(sim.status),
                "contact": Contact.objects.filter(pk=sim.contact_id).first(),
                "boxes": selectors.diagram(version, walked_steps={r["step"] for r in rows}),
            }  # fmt: skip
    context = {"nav": "automation", "workflow": workflow, "form": form, "result": result}
    return render(request, "automation/test.html", context, status=422 if form.errors else 200)


def _condition_place(graph: dict[str, Any] | None, at: str) -> tuple[dict[str, Any] | None, str, str, bool]:
    from danhba.automation.graph import arm_at

    if graph is None:
        raise Http404(_("No such condition."))
    try:
        return arm_at(graph, at)
    except LookupError:
        raise Http404(_("No such condition.")) from None


@permission_required(can("workflow", perms.EDIT))
def workflow_condition(request: HttpRequest, pk: int) -> HttpResponse:
    """One condition of the workflow — a branch's arm, the goal or the exit — in the segments'
    condition builder (the same component: its tree, its live preview, its endpoints), with the
    arm's label and next step; saving keeps it in the editor's draft and goes back to the editor
    (:func:`_editor`), whose Save publishes the new version."""
    return _condition_page(request, _workflow(pk))


@permission_required(can("workflow", perms.CREATE))
def draft_condition(request: HttpRequest) -> HttpResponse:
    """A branch's condition in the steps of a workflow not created yet (the editor's draft)."""
    return _condition_page(request, None)


def _editing(workflow: Workflow | None, draft: dict[str, Any] | None) -> dict[str, Any] | None:
    """The graph the editor's pages work on: the draft's, else the workflow's current version."""
    if draft:
        return draft["graph"]  # type: ignore[no-any-return]
    return workflow.current_version.graph if workflow and workflow.current_version else None


def _condition_page(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    from danhba.segments import forms as segment_forms

    user = request.user
    assert isinstance(user, User)
    draft = _draft(request, workflow)
    if workflow is None and draft is None:
        raise Http404(_("No such condition."))
    at = request.GET.get("at", "")
    tree, label, next_step, is_arm = _condition_place(_editing(workflow, draft), at)
    graph = _editing(workflow, draft) or {}
    can_remove = not at.endswith(".new") and (is_arm or tree is not None)
    errors: list[str] = []
    if request.method == "POST":
        tree = segment_forms.parse_tree(request.POST)
        label, next_step = request.POST.get("label", "")[:100], request.POST.get("next", "")[:40]
        action = request.POST.get("action", "save")
        if action.startswith(("add_", "remove")):  # without JavaScript: the builder's buttons
            tree = segment_forms.normalize_choices(segment_forms.apply_action(tree, action, user), user)
        else:
            errors = [] if action == "delete" else _condition_errors(tree, next_step, graph, user)
            if not errors:
                kept = None if action == "delete" else tree
                return _condition_keep(request, workflow, draft, at, kept, label, next_step)
    context = {
        "nav": "automation", "workflow": workflow, "at": at, "is_arm": is_arm, "label": label, "next": next_step,
        "can_remove": can_remove, "errors": errors, "steps": step_choices(graph.get("steps", {})),
        "back_url": _editor_url(workflow) + ("?draft=1" if draft is not None else ""),
        "name": workflow.name if workflow else (draft or {}).get("data", {}).get("name", ""),
    }  # fmt: skip
    return _condition_render(request, context, tree)


def _condition_render(request: HttpRequest, context: dict[str, Any], tree: dict[str, Any] | None) -> HttpResponse:
    from danhba.segments import forms as segment_forms
    from danhba.segments.views import builder_parts

    tree = tree or {"op": "all", "conditions": []}
    if not tree.get("conditions"):
        tree = segment_forms.apply_action(tree, "add_condition:", request.user)  # type: ignore[arg-type]
    context = {**context, **builder_parts(request, tree)}  # type: ignore[arg-type]
    return render(request, "automation/condition.html", context, status=422 if context["errors"] else 200)


def _condition_errors(tree: dict[str, Any], next_step: str, graph: dict[str, Any], user: User) -> list[str]:
    """What stops a condition from being kept: a "go to" naming no step of the workflow, or the
    condition as segments check it for the author."""
    from danhba.segments.conditions import clean as condition_clean

    errors = [str(NO_STEP % {"value": next_step})] if next_step and next_step not in graph.get("steps", {}) else []
    try:
        condition_clean(tree, user=user)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        errors += [exc.message, *[f"{k}: {m}" for k, v in _details(exc).items() for m in v]]
    return errors


def _condition_keep(
    request: HttpRequest, workflow: Workflow | None, draft: dict[str, Any] | None, at: str,
    tree: dict[str, Any] | None, label: str, next_step: str,
) -> HttpResponse:  # fmt: skip
    """Set (None: remove) the condition at ``at`` in the editor's draft — a saved workflow's
    condition starts one from its current version — published only by the editor's Save:
    contacts under way see nothing of it until then."""
    from danhba.automation.graph import with_arm

    if draft is None:
        assert workflow is not None and workflow.current_version is not None
        draft = {"data": None, "graph": workflow.current_version.graph, "base": workflow.current_version.number}
    graph = with_arm(draft["graph"], at, tree, label=clean_text(label)[:100], next_step=clean_text(next_step))
    _draft_keep(request, _draft_key(workflow), {**draft, "graph": graph})
    messages.success(request, _("Condition kept: save the workflow to publish it."))
    return redirect(f"{_editor_url(workflow)}?draft=1")


def _details(exc: ServiceError) -> dict[str, list[str]]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in details.items()}


@require_POST
@permission_required(can("workflow", perms.EDIT))
def workflow_status(request: HttpRequest, pk: int) -> HttpResponse:
    workflow = _workflow(pk)
    try:
        services.workflow_set_status(
            actor=Actor.from_request(request), workflow=workflow, status=request.POST.get("status", "")
        )
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("automation:detail", pk=pk)


@require_POST
@permission_required(can("workflow", perms.EDIT))
def workflow_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    """Enrol contacts by id, one per line or separated by commas (bulk enrolment)."""
    workflow = _workflow(pk)
    raw = request.POST.get("contact_ids", "").replace(",", " ").split()
    try:
        count = enrol_services.enrol_manual(actor=Actor.from_request(request), workflow=workflow, contact_ids=raw)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        messages.error(request, " ".join([exc.message, *[str(m) for v in details.values() for m in v]]))
    else:
        messages.success(request, _("%(n)s contacts enrolled.") % {"n": count})
    return redirect("automation:detail", pk=pk)


@permission_required(can("workflow", perms.VIEW))
def enrolment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _visible_enrolments(request).filter(pk=pk).first()
    if enrolment is None:
        raise Http404(_("No such enrolment."))
    context = {
        "nav": "automation",
        "enrolment": enrolment,
        "path": selectors.enrolment_path(enrolment),
        "boxes": selectors.diagram(enrolment.version, walked=enrolment),
    }
    return render(request, "automation/enrolment.html", context)


@require_POST
@permission_required(can("workflow", perms.EDIT))
def enrolment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _visible_enrolments(request).filter(pk=pk).first()
    if enrolment is None:
        raise Http404(_("No such enrolment."))
    try:
        enrol_services.enrolment_cancel(actor=Actor.from_request(request), enrolment=enrolment)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("automation:enrolment", pk=pk)


@permission_required(can("workflow", perms.VIEW))
def playbook_gallery(request: HttpRequest) -> HttpResponse:
    """The playbooks: what each does, the emails and tags it will make, and an install button
    (a draft to review, then activate)."""
    ctx = selectors.playbook_context()
    cards = [
        {
            "book": book, "missing": missing, "emails": list(book.emails.values()),
            "tags": [*book.tags, *book.extra_tags(ctx)], "steps": len(book.graph(ctx)["steps"]),
        }
        for book, missing in selectors.playbooks_available(ctx)
    ]  # fmt: skip
    return render(request, "automation/playbooks.html", {"nav": "automation", "cards": cards})


@require_POST
@permission_required(can("workflow", perms.CREATE))
def playbook_install(request: HttpRequest, key: str) -> HttpResponse:
    try:
        done = playbook_services.playbook_install(actor=Actor.from_request(request), key=key)
    except NotFound:
        raise Http404(_("No such playbook.")) from None
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("automation:playbooks")
    messages.success(
        request,
        _("Installed as the draft workflow “%(name)s”: review its steps and emails, then activate it.")
        % {"name": done.workflow.name},
    )
    return redirect("automation:detail", pk=done.workflow.pk)


def contact_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.can("workflow", perms.VIEW):
        return None
    return {"workflow_enrolments": list(selectors.contact_enrolments(contact.pk)[:10])}
