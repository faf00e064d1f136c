"""The data-quality dashboard page (``/quality/``): the newest snapshot's cards and charts, and
the button that computes the figures again. The API (``api.py``) answers the same cards."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, permission_required
from danhba.core.actor import Actor
from danhba.core.charts import Bar, column_chart
from danhba.core.errors import ServiceError
from danhba.core.formatting import day_month, number, percent
from danhba.quality.cards import dashboard_cards
from danhba.quality.services import snapshots


def _bar(label: str, value: float, url: str) -> Bar:
    return Bar(label, value, f"{label}: {number(value)}", url)


def _charts(cards: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's charts: every bar links to the contacts it counts."""
    months = cards["duplicates"]["months"]
    nv_url = cards["overview"]["needs_verification"]["url"]
    queue = cards["duplicates"]["queue_url"]
    merged_url = f"{queue}?status=merged" if queue else ""
    history = cards["history"]
    return {
        "freshness": column_chart(
            [_bar(r["label"], r["count"], r["url"]) for r in cards["freshness"]],
            title=_("Contacts by freshness"), integer=True, width=420, height=200,
        ),
        "validity": column_chart(
            [_bar(r["label"], r["count"], r["url"]) for r in cards["validity"]],
            title=_("Contacts by decay signal"), integer=True, width=420, height=200,
        ),
        "completeness": column_chart(
            [
                Bar(r["label"], 100 * r["share"], f"{r['label']}: {percent(r['share'])}", r["url"])
                for r in cards["completeness"]
            ],
            title=_("Share of contacts with the field filled (%)"), width=420, height=200,
        ),
        "duplicates": column_chart(
            [_bar(f"{m['month'][5:]}/{m['month'][:4]}", m.get("found", 0), queue) for m in months],
            title=_("Suspected duplicates found per month"), integer=True, width=420, height=180,
        ) if months else "",
        "merges": column_chart(
            [_bar(f"{m['month'][5:]}/{m['month'][:4]}", m.get("merged", 0), merged_url) for m in months],
            title=_("Merges done per month"), integer=True, width=420, height=180,
        ) if months else "",
        "history": column_chart(
            [
                _bar(day_month(dt.date.fromisoformat(h["day"])), h["needs_verification"], nv_url)
                for h in history
            ],
            title=_("Contacts needing verification, per day"), integer=True, width=420, height=180,
        ) if len(history) > 1 else "",
    }  # fmt: skip


@permission_required(can("quality", perms.VIEW))
def dashboard(request: HttpRequest) -> HttpResponse:
    """``/quality/``: the data-quality dashboard, read from the newest snapshot."""
    actor = Actor.from_request(request)
    try:
        snapshot = snapshots.snapshot_latest(actor=actor)
    except ServiceError as exc:
        return render(request, "quality/dashboard.html", {"nav": "quality", "refused": str(exc)}, status=exc.status)
    context: dict[str, Any] = {"nav": "quality", "snapshot": snapshot}
    if snapshot is not None:
        cards = dashboard_cards(snapshot, current_user(request))
        context.update(cards=cards, charts=_charts(cards))
    return render(request, "quality/dashboard.html", context)


@require_POST
@permission_required(can("quality", perms.VIEW))
def dashboard_refresh(request: HttpRequest) -> HttpResponse:
    try:
        done = snapshots.snapshot_refresh(actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("quality:dashboard")
    if done is None:
        messages.info(request, _("The figures are being computed: this page shows them when they are ready."))
    else:
        messages.success(request, _("The figures are up to date."))
    return redirect("quality:dashboard")
