"""Pages of duplicate detection: the review queue (filters, most likely first, cursor pages),
a pair side by side with its explanation and waterfall (merge, not a duplicate), and the
settings with the batch runs. Each parses, calls one service or selector, renders."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, permission_required
from danhba.core.actor import Actor
from danhba.core.errors import PermissionDenied, ServiceError
from danhba.core.keyset import Page, paginate
from danhba.quality import selectors
from danhba.quality.charts import waterfall_svg
from danhba.quality.forms import FiltersForm, ThresholdsForm
from danhba.quality.models import DuplicatePair, DuplicateRun
from danhba.quality.services import duplicates as services
from danhba.quality.services.bulk import selection_groups, selection_merge_start

PAGE_SIZE = 25


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = current_user(request)
    may_merge = user.can("merge", perms.CREATE) and user.can("contact", perms.EDIT)
    return {
        "nav": "duplicates",
        "can_review": user.can("duplicate", perms.EDIT),
        "can_merge": may_merge and services.merge_service() is not None,
        **extra,
    }


@permission_required(can("duplicate", perms.VIEW))
def duplicate_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = FiltersForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.queue(
        user,
        status=data.get("status") or DuplicatePair.Status.OPEN,
        min_probability=float(data["min_probability"]) if data.get("min_probability") else None,
        found_by=data.get("found_by") or None,
        cluster=data.get("cluster"),
    )
    error = ""
    if data.get("status") == DuplicatePair.Status.MERGED:
        # Merged pairs live in the merges' records (newest first, one page).
        min_probability = float(data["min_probability"]) if data.get("min_probability") else None
        merged = [] if data.get("cluster") else selectors.merged_pairs(
            user, limit=PAGE_SIZE, min_probability=min_probability, found_by=data.get("found_by") or None
        )  # fmt: skip
        page: Page[DuplicatePair] = Page(items=merged)
    else:
        try:
            page = paginate(qs, "probability", request.GET.get("cursor") or None, PAGE_SIZE, descending=True)
        except ServiceError as exc:
            error = exc.message
            page = paginate(qs, "probability", None, PAGE_SIZE, descending=True)
    row = services.settings_get()
    rows = selectors.pair_rows(user, page.items, services.active_model(row))
    query = request.GET.copy()
    query.pop("cursor", None)
    context = _context(
        request, form=form, rows=rows, page=page, error=error, query=query.urlencode(), settings_row=row,
        run=DuplicateRun.objects.first(),
    )  # fmt: skip
    # Open pairs can be selected and merged together.
    context["can_select"] = context["can_merge"] and (data.get("status") or "open") == DuplicatePair.Status.OPEN
    return render(request, "quality/duplicate_list.html", context)


def _pair(request: HttpRequest, pk: int) -> DuplicatePair:
    pair = selectors.pair_get(current_user(request), pk)
    if pair is None:
        raise Http404(_("No such pair."))
    return pair


@permission_required(can("duplicate", perms.VIEW))
def duplicate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pair = _pair(request, pk)
    row = selectors.pair_rows(current_user(request), [pair], services.active_model(services.settings_get()))[0]
    fields = []
    parts = {p["field"]: p for p in (row["explanation"] or {}).get("parts", [])}
    for key, label in selectors.field_names():
        fields.append(
            {
                "key": key,
                "label": label,
                "a": row["contact_a"].get(key),
                "b": row["contact_b"].get(key),
                "part": parts.get(key),
            }
        )
    chart = waterfall_svg(row["explanation"]) if row["explanation"] else ""
    return render(
        request, "quality/duplicate_detail.html", _context(request, row=row, pair=pair, fields=fields, chart=chart)
    )


@permission_required(can("duplicate", perms.EDIT))
@require_POST
def duplicate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.pair_dismiss(actor=Actor.from_request(request), pair=_pair(request, pk))
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("quality:duplicate", pk=pk)
    messages.success(request, _("Marked as not a duplicate: this pair will not be suggested again."))
    return redirect("quality:duplicates")


@permission_required(can("duplicate", perms.VIEW))
@require_POST
def duplicate_merge(request: HttpRequest, pk: int) -> HttpResponse:
    pair = _pair(request, pk)
    survivor = request.POST.get("survivor", "")
    try:
        services.pair_merge(
            actor=Actor.from_request(request), pair=pair, survivor_id=int(survivor) if survivor.isdigit() else None
        )
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("quality:duplicate", pk=pk)
    messages.success(request, _("The two contacts are merged. The merge can be undone from the merge history."))
    return redirect("quality:duplicates")


def _selected(request: HttpRequest) -> list[int]:
    values = request.POST.getlist("pair")
    return list(dict.fromkeys(int(v) for v in values if v.isdigit() and 0 < len(v) <= 18))


@permission_required(can("duplicate", perms.VIEW))
@require_POST
def duplicate_bulk_merge(request: HttpRequest) -> HttpResponse:
    """ "Merge selected" of the review queue: first a preview (the merges it makes, the pairs it
    leaves out), then, confirmed, a bulk merge job whose progress page it opens."""
    actor = Actor.from_request(request)
    pairs = _selected(request)
    try:
        if request.POST.get("confirm"):
            job, _selection = selection_merge_start(actor=actor, pair_ids=pairs)
            return redirect("quality:bulk_merge", pk=job.pk)
        selection = selection_groups(actor=actor, pair_ids=pairs)
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("quality:duplicates")
    ids = {c for g in selection.groups for c in (g["survivor"], *g["others"])}
    names = selectors.contact_names(current_user(request), ids)
    groups = [
        {"survivor": (g["survivor"], names.get(g["survivor"], "")), "others": [(c, names.get(c, "")) for c in rest]}
        for g in selection.groups
        for rest in [g["others"]]
    ]
    context = _context(request, selection=selection, groups=groups, pairs=pairs)
    return render(request, "quality/duplicate_bulk_merge.html", context)


@permission_required(can("duplicate", perms.VIEW))
def duplicate_settings(request: HttpRequest) -> HttpResponse:
    row = services.settings_get()
    initial = {
        "review_percent": round(row.review_threshold * 100),
        "auto_merge_percent": round(row.auto_merge_threshold * 100) if row.auto_merge_threshold is not None else None,
    }
    form = ThresholdsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not current_user(request).can("duplicate", perms.EDIT):
            raise PermissionDenied(_("Your role may look at these settings, not change them."))
        if form.is_valid():
            auto = form.cleaned_data.get("auto_merge_percent")
            try:
                services.settings_update(
                    actor=Actor.from_request(request),
                    review_threshold=form.cleaned_data["review_percent"] / 100,
                    auto_merge_threshold=auto / 100 if auto is not None else None,
                )
            except PermissionDenied:
                raise
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("The thresholds are saved."))
                return redirect("quality:duplicate_settings")
    runs = DuplicateRun.objects.all()[:10]
    context = _context(request, form=form, settings_row=row, runs=runs, active=any(r.is_active for r in runs))
    return render(request, "quality/duplicate_settings.html", context, status=422 if form.errors else 200)


@permission_required(can("duplicate", perms.EDIT))
@require_POST
def duplicate_run(request: HttpRequest) -> HttpResponse:
    try:
        services.run_start(actor=Actor.from_request(request), kind=request.POST.get("kind", ""))
    except PermissionDenied:
        raise
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The run is queued; this page shows its progress."))
    return redirect(reverse("quality:duplicate_settings"))
