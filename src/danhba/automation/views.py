"""Pages of automation: the workflow list, a workflow's flow diagram with its per-step counts,
the editor (a form per step), enrolling by hand, each contact's path, and the contact page's
panel. Every page calls the services the API calls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.models import User
from danhba.accounts.views import can, permission_required
from danhba.automation import selectors
from danhba.automation.forms import StepFormSet, TestRunForm, WorkflowForm, graph_from, steps_initial
from danhba.automation.models import Enrolment, Workflow
from danhba.automation.services import enrolments as enrol_services
from danhba.automation.services import playbooks as playbook_services
from danhba.automation.services import workflows as services
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import NotFound, PermissionDenied, ServiceError
from danhba.core.keyset import paginate

PAGE_SIZE = 50


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


def _editor(request: HttpRequest, workflow: Workflow | None) -> HttpResponse:
    graph = workflow.current_version.graph if workflow and workflow.current_version else None
    initial = WorkflowForm.initial_for(workflow) if workflow else {"reenrol": "once", "trigger_kind": "manual"}
    form = WorkflowForm(request.POST or None, initial=initial)
    steps = StepFormSet(request.POST or None, initial=steps_initial(graph), prefix="steps")
    if request.method == "POST" and form.is_valid() and steps.is_valid():
        data = form.data_for_service()
        new_graph = graph_from(steps, graph)
        if new_graph is not None:
            data["graph"] = new_graph
        actor = Actor.from_request(request)
        try:
            if workflow is None:
                workflow = services.workflow_create(actor=actor, data=data)
            else:
                workflow = services.workflow_update(actor=actor, workflow=workflow, data=data)
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Workflow saved."))
            return redirect("automation:detail", pk=workflow.pk)
    context = {
        "nav": "automation",
        "form": form,
        "steps": steps,
        "step_rows": [(f, selectors.branch_arms(graph, f.initial.get("step_id", ""))) for f in steps],
        "conditions": selectors.goal_and_exit(graph),
        "workflow": workflow,
        "kinds": selectors.kinds(),
        "trigger_kinds": selectors.trigger_kinds(),
    }
    return render(request, "automation/form.html", context, status=422 if form.errors or steps.errors else 200)


@permission_required(can("workflow", perms.CREATE))
def workflow_create(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@permission_required(can("workflow", perms.EDIT))
def workflow_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _editor(request, _workflow(pk))


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


def _condition_place(workflow: Workflow, at: str) -> tuple[dict[str, Any] | None, str, str, bool]:
    from danhba.automation.graph import arm_at

    if workflow.current_version is None:
        raise Http404(_("No such condition."))
    try:
        return arm_at(workflow.current_version.graph, at)
    except LookupError:
        raise Http404(_("No such condition.")) from None


@permission_required(can("workflow", perms.EDIT))
def workflow_condition(request: HttpRequest, pk: int) -> HttpResponse:
    """One condition of the workflow — a branch's arm, the goal or the exit — in the segments'
    condition builder (the same component: its tree, its live preview, its endpoints), with the
    arm's label and next step; saving publishes a new version."""
    from danhba.segments import forms as segment_forms
    from danhba.segments.conditions import clean as condition_clean
    from danhba.segments.views import builder_parts

    workflow = _workflow(pk)
    user = request.user
    assert isinstance(user, User)
    at = request.GET.get("at", "")
    tree, label, next_step, is_arm = _condition_place(workflow, at)
    can_remove = not at.endswith(".new") and (is_arm or tree is not None)
    errors: list[str] = []
    if request.method == "POST":
        tree = segment_forms.parse_tree(request.POST)
        label, next_step = request.POST.get("label", "")[:100], request.POST.get("next", "")[:40]
        action = request.POST.get("action", "save")
        if action.startswith(("add_", "remove")):  # without JavaScript: the builder's buttons
            tree = segment_forms.normalize_choices(segment_forms.apply_action(tree, action, user), user)
        else:
            try:
                condition_clean(tree, user=user)
                services.workflow_condition_set(
                    actor=Actor.from_request(request), workflow=workflow, at=at,
                    tree=None if action == "delete" else tree, label=label, next_step=next_step,
                )  # fmt: skip
            except PermissionDenied:
                raise
            except ServiceError as exc:
                errors = [exc.message, *[f"{k}: {m}" for k, v in _details(exc).items() for m in v]]
            else:
                messages.success(request, _("Condition saved: a new version is published."))
                return redirect("automation:edit", pk=pk)
    tree = tree or {"op": "all", "conditions": []}
    if not tree.get("conditions"):
        tree = segment_forms.apply_action(tree, "add_condition:", user)
    context = {
        "nav": "automation", "workflow": workflow, "at": at, "is_arm": is_arm, "label": label, "next": next_step,
        "can_remove": can_remove,
        "errors": errors, "steps": list(workflow.current_version.graph["steps"]) if workflow.current_version else [],
        **builder_parts(request, tree),  # type: ignore[arg-type]
    }  # fmt: skip
    return render(request, "automation/condition.html", context, status=422 if errors else 200)


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
