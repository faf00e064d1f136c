"""Pages of lead assignment (sales settings): the rules in priority order (up / down buttons,
no JavaScript needed), who is away (a rep marks themself; a manager anyone), the latest
assignments, and handing a leaving rep's open items over (a preview, then the move). Every page
calls the services the API calls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.models import User
from danhba.accounts.views import can, current_user, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.views import next_url
from danhba.sales.forms import AbsenceForm, HandoverForm, RuleForm
from danhba.sales.models import Absence, Assignment, AssignmentRule
from danhba.sales.services import rules as R


def _rule(pk: int) -> AssignmentRule:
    rule = AssignmentRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404(_("No such assignment rule."))
    return rule


def _away_users(request: HttpRequest) -> Any:
    me = current_user(request)
    if me.can("pipeline", perms.EDIT):
        return User.objects.filter(is_active=True)
    return User.objects.filter(pk=me.pk)


def _page_context(request: HttpRequest, users: Any) -> dict[str, Any]:
    me = current_user(request)
    now = timezone.now()
    going_on = Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    recent = Assignment.objects.select_related("contact", "user", "previous", "rule")
    if not me.can("pipeline", perms.EDIT):
        recent = recent.filter(Q(user=me) | Q(previous=me))
    rules = AssignmentRule.objects.select_related("team", "last_user").prefetch_related("members")
    return {
        "nav": "sales_assignment",
        "rules": rules if me.can("pipeline", perms.VIEW) else [],
        "away": Absence.objects.filter(user__in=users)
        .filter(going_on)
        .select_related("user")
        .order_by("starts_at")[:100],
        "away_now": Absence.objects.filter(user=me, starts_at__lte=now).filter(going_on).exists(),
        "recent": recent[:20],
        "reps": User.objects.filter(is_active=True).select_related("team"),
        "now": now,
    }


@permission_required(can("task", perms.VIEW))
def assignment_page(request: HttpRequest) -> HttpResponse:
    actor = Actor.from_request(request)
    users = _away_users(request)
    rule_form = RuleForm(request.POST if "add_rule" in request.POST else None)
    absence_form = AbsenceForm(request.POST if "add_absence" in request.POST else None, users=users,
                               initial={"user_id": current_user(request).pk})  # fmt: skip
    bound = rule_form if rule_form.is_bound else absence_form if absence_form.is_bound else None
    try:
        if rule_form.is_bound and rule_form.is_valid():
            R.rule_create(actor=actor, data=rule_form.cleaned_data)
            messages.success(request, _("Rule added."))
            return redirect("sales:assignment")
        if absence_form.is_bound and absence_form.is_valid():
            data = absence_form.cleaned_data
            R.absence_add(actor=actor, user=users.get(pk=data["user_id"]), data=data)
            messages.success(request, _("Absence saved."))
            return redirect("sales:assignment")
    except InvalidInput as exc:
        assert bound is not None
        apply_service_error(bound, exc)
    context = {**_page_context(request, users), "rule_form": rule_form, "absence_form": absence_form}
    return render(request, "sales/assignment.html", context, status=422 if bound else 200)


@permission_required(can("pipeline", perms.EDIT))
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule(pk)
    form = RuleForm(request.POST or None, initial=RuleForm.initial_for(rule))
    if form.is_bound and form.is_valid():
        try:
            R.rule_update(actor=Actor.from_request(request), rule=rule, data=form.cleaned_data)
            messages.success(request, _("Rule saved."))
            return redirect("sales:assignment")
        except InvalidInput as exc:
            apply_service_error(form, exc)
    context = {"nav": "sales_assignment", "rule": rule, "form": form}
    return render(request, "sales/assignment_rule.html", context, status=422 if form.is_bound else 200)


@require_POST
@permission_required(can("pipeline", perms.EDIT))
def rule_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Up, down, switch on or off, delete: small forms of the rules list."""
    rule = _rule(pk)
    actor = Actor.from_request(request)
    action = request.POST.get("action", "")
    if action in ("up", "down"):
        R.rule_move(actor=actor, rule=rule, step=-1 if action == "up" else 1)
    elif action == "toggle":
        R.rule_update(actor=actor, rule=rule, data={"is_active": not rule.is_active})
    elif action == "delete":
        R.rule_delete(actor=actor, rule=rule)
        messages.success(request, _("Rule deleted."))
    else:
        return HttpResponse(status=400)
    return redirect("sales:assignment")


@require_POST
@permission_required(can("task", perms.VIEW))
def availability(request: HttpRequest) -> HttpResponse:
    """ "I am away now" / "I am back" (a manager: for the rep named in ``user_id``)."""
    actor = Actor.from_request(request)
    raw = request.POST.get("user_id") or str(current_user(request).pk)
    user = _away_users(request).filter(pk=int(raw) if raw.isdigit() else 0).first()
    if user is None:
        raise Http404(_("No such user."))
    if request.POST.get("action") == "back":
        R.absence_end(actor=actor, user=user)
    else:
        R.absence_add(actor=actor, user=user, data={"note": request.POST.get("note", "")[:200]})
    return redirect(next_url(request, reverse("sales:assignment")))


@permission_required(can("pipeline", perms.EDIT))
def handover_page(request: HttpRequest, user_id: int) -> HttpResponse:
    rep = User.objects.filter(pk=user_id).first()
    if rep is None:
        raise Http404(_("No such user."))
    form = HandoverForm(request.POST or request.GET or None, rep=rep)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    actor = Actor.from_request(request)
    if request.method == "POST" and form.is_valid():
        plan = R.handover(actor=actor, rep=rep, data=data)
        moved = sum(len(x) for x in (plan.contacts, plan.deals, plan.tasks))
        messages.success(request, _("%(n)s open items of %(rep)s were handed over.") % {"n": moved, "rep": rep})
        return redirect("sales:assignment")
    preview = R.handover_preview(actor=actor, rep=rep, data=data)
    context = {"nav": "sales_assignment", "rep": rep, "form": form, "rows": preview.summary()}
    return render(request, "sales/assignment_handover.html", context)
