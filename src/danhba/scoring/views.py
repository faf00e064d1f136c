"""Pages of lead scoring: the models list, a model's page (its settings, rules and recompute),
the rule form, and the score panel of the contact page. Each parses, calls one service or
selector, renders; the API (``api.py``) does the same through the same services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.forms import apply_service_error
from danhba.accounts.views import can, current_user, permission_required
from danhba.contacts.models import Contact
from danhba.core import formatting
from danhba.core.actor import Actor
from danhba.core.charts import Bar, column_chart
from danhba.core.errors import PermissionDenied, ServiceError
from danhba.scoring import selectors
from danhba.scoring.forms import EXAMPLE_CONDITION, AdjustForm, ModelForm, RuleForm
from danhba.scoring.models import ScoreModel, ScoreRule
from danhba.scoring.services import models as services

RULE_ERRORS = {f"trigger.{k}": f"trigger_{k}" for k in ("on", "name", "url", "campaign", "where")}


@permission_required(can("score", perms.VIEW))
def model_list(request: HttpRequest) -> HttpResponse:
    return render(request, "scoring/model_list.html", {"nav": "scoring", "models": selectors.models_list()})


def _model_page(request: HttpRequest, model: ScoreModel | None, form: ModelForm) -> HttpResponse:
    user = current_user(request)
    context = {
        "nav": "scoring",
        "model": model,
        "form": form,
        "editable": user.can("score", perms.EDIT if model else perms.CREATE),
        "rules": [(r, selectors.rule_text(r)) for r in model.rules.all()] if model else [],
        "grades": selectors.grade_labels(model) if model else [],
    }
    return render(request, "scoring/model_form.html", context, status=422 if form.errors else 200)


@permission_required(can("score", perms.CREATE))
def model_create(request: HttpRequest) -> HttpResponse:
    initial = {"decay": "half_life", "decay_days": 30, "is_active": True}
    form = ModelForm(request.POST or None, initial={**initial, "grades": ModelForm.grades_text(_default_grades())})
    if request.method == "POST" and form.is_valid():
        try:
            model = services.score_model_create(actor=Actor.from_request(request), data=form.data_for_service())
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
            return _model_page(request, None, form)
        messages.success(request, _("The score model is saved. Add its rules."))
        return redirect("scoring:model", pk=model.pk)
    return _model_page(request, None, form)


def _default_grades() -> list[dict[str, Any]]:
    from danhba.scoring.models import default_grades

    return default_grades()


@permission_required(can("score", perms.VIEW))
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(pk)
    initial = {name: getattr(model, name) for name in ModelForm.base_fields if name != "grades"}
    form = ModelForm(request.POST or None, initial={**initial, "grades": ModelForm.grades_text(model.grades)})
    if request.method == "POST":
        if not current_user(request).can("score", perms.EDIT):
            raise PermissionDenied(_("Your role may look at score models, not change them."))
        if form.is_valid():
            try:
                services.score_model_update(
                    actor=Actor.from_request(request), model=model, data=form.data_for_service()
                )
            except PermissionDenied:
                raise
            except ServiceError as exc:
                apply_service_error(form, exc)
                return _model_page(request, model, form)
            messages.success(request, _("The score model is saved."))
            return redirect("scoring:model", pk=model.pk)
    return _model_page(request, model, form)


@permission_required(can("score", perms.EDIT))
@require_POST
def model_recompute(request: HttpRequest, pk: int) -> HttpResponse:
    services.score_model_recompute(actor=Actor.from_request(request), model=selectors.model_get(pk))
    messages.success(request, _("Every contact's score is being computed again."))
    return redirect("scoring:model", pk=pk)


@permission_required(can("score", perms.DELETE))
@require_POST
def model_delete(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(pk)
    services.score_model_delete(actor=Actor.from_request(request), model=model)
    messages.success(request, _("The score model %(name)s is deleted.") % {"name": model.name})
    return redirect("scoring:list")


def _rule_page(request: HttpRequest, model: ScoreModel, rule: ScoreRule | None, form: RuleForm) -> HttpResponse:
    example = json.dumps(EXAMPLE_CONDITION, ensure_ascii=False)
    context = {"nav": "scoring", "model": model, "rule": rule, "form": form, "example_json": example}
    return render(request, "scoring/rule_form.html", context, status=422 if form.errors else 200)


def _rule_save(request: HttpRequest, model: ScoreModel, rule: ScoreRule | None, form: RuleForm) -> HttpResponse:
    data = form.data_for_service()
    if form.errors:
        return _rule_page(request, model, rule, form)
    actor = Actor.from_request(request)
    try:
        if rule is None:
            services.score_rule_create(actor=actor, model=model, data={**data, "kind": form.cleaned_data["kind"]})
        else:
            services.score_rule_update(actor=actor, rule=rule, data=data)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        apply_service_error(form, exc, rename=RULE_ERRORS)
        return _rule_page(request, model, rule, form)
    messages.success(request, _("The rule is saved; every score is being computed again."))
    return redirect("scoring:model", pk=model.pk)


@permission_required(can("score", perms.EDIT))
def rule_create(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(pk)
    kind = request.GET.get("kind", ScoreRule.Kind.FIT)
    initial = {"kind": kind, "trigger_on": "page", "points": 10, "is_active": True}
    form = RuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        return _rule_save(request, model, None, form)
    return _rule_page(request, model, None, form)


@permission_required(can("score", perms.EDIT))
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule_get(pk)
    form = RuleForm(request.POST or None, initial=RuleForm.initial_of(rule))
    form.fields["kind"].disabled = True
    if request.method == "POST" and form.is_valid():
        return _rule_save(request, rule.model, rule, form)
    return _rule_page(request, rule.model, rule, form)


@permission_required(can("score", perms.EDIT))
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule_get(pk)
    services.score_rule_delete(actor=Actor.from_request(request), rule=rule)
    messages.success(request, _("The rule is deleted; every score is being computed again."))
    return redirect("scoring:model", pk=rule.model_id)


def score_panel(request: HttpRequest, contact: Contact) -> dict[str, Any] | None:
    """The contact page's score panel (``contacts.extensions.CONTACT_PANELS``): per model the
    total and grade, the points by rule with the events behind them, and a history chart."""
    user = current_user(request)
    if not user.can("score", perms.VIEW):
        return None
    scores = selectors.contact_scores(contact, user)
    for score in scores:
        bars = [
            Bar(formatting.day(h["day"]), max(float(h["total"]), 0.0), f"{formatting.day(h['day'])}: {h['total']}")
            for h in score["history"]
        ]
        score["chart"] = column_chart(bars, title=_("Score by day"), height=140) if len(bars) > 1 else ""
    return {"scores": scores, "score_contact": contact.pk, "can_adjust": user.can("score", perms.EDIT)}


@permission_required(can("score", perms.EDIT))
def contact_adjust(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Adjust one contact's score by hand (``services.adjustments.score_adjust``, audited); back to
    the contact page's score panel when done."""
    from django.urls import reverse

    from danhba.contacts.services.contacts import contact_get
    from danhba.scoring.services.adjustments import score_adjust

    actor = Actor.from_request(request)
    contact = contact_get(actor=actor, pk=contact_id)
    form = AdjustForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            score_adjust(
                actor=actor, contact=contact, model=data["model"], points=data["points"], grade=data["grade"].strip(),
                reason=data["reason"], expires_days=data["expires_days"], decays=data["decays"],
            )  # fmt: skip
        except PermissionDenied:
            raise
        except ServiceError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("The score is adjusted."))
            return redirect(reverse("contacts:detail", args=[contact.pk]) + "#scores")
    context = {"nav": "contacts", "contact": contact, "form": form}
    return render(request, "scoring/adjust.html", context, status=422 if form.errors else 200)
