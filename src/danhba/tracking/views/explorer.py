"""The event explorer (/events/): filter events by name, type, source, a property and a time
range; count them over time as a chart; list them, or the people who did them; export those
people as CSV. Times are read and bucketed in the user's time zone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.views import can, current_user, permission_required
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.charts import Bar
from danhba.core.errors import InvalidInput
from danhba.core.keyset import BadCursor, Page
from danhba.tracking import selectors
from danhba.tracking.exports import event_people_export_csv
from danhba.tracking.models import Event
from danhba.tracking.selectors import EventFilters

VIEWS = ("events", "people")
# Drilling into a bar shows its period counted by the next smaller bucket.
_FINER = {"week": "day", "day": "hour", "hour": "hour"}
FILTER_ERRORS = 422  # swapped in by htmx like a form with errors (see base.html)


def _chart(filters: EventFilters, buckets: list[selectors.Bucket], view: str) -> list[Bar]:
    bars = []
    for b in buckets:
        short, full = selectors.bucket_label(b.start, filters.bucket, filters.tz)
        drill = filters.params(
            range=selectors.CUSTOM,
            **{"from": selectors.local_input(b.start, filters.tz), "to": selectors.local_input(b.end, filters.tz)},
            bucket=_FINER[filters.bucket],
            view=view,
        )
        bars.append(Bar(short, b.count, f"{full}: {selectors.events_label(b.count)}", "?" + urlencode(drill)))
    return bars


def _filter_values(request: HttpRequest) -> dict[str, str]:
    keys = ("name", "type", "source", "contact", "prop", "op", "value", "range", "from", "to", "bucket")
    return {k: request.GET.get(k, "") for k in keys}


@permission_required(can("event", perms.VIEW))
def explorer(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    tz = timezone.get_current_timezone()
    view = request.GET.get("view", "")
    view = view if view in VIEWS else "events"
    cursor = request.GET.get("cursor") or None
    context: dict[str, Any] = {
        "nav": "events",
        "view": view,
        "values": _filter_values(request),
        "errors": {},
        "can_export": user.can("event", perms.EXPORT) and user.can("contact", perms.EXPORT),
    }
    status = 200
    try:
        filters = EventFilters.from_params(request.GET, tz=tz)
        context["filters"] = filters
        values = context["values"]
        if not values["from"] and not values["to"]:
            # So that choosing "Custom…" starts from the range on screen instead of an error.
            values["from"] = selectors.local_input(filters.start, tz)
            values["to"] = selectors.local_input(filters.end, tz)
        context["query"] = urlencode(filters.params(view=view))
        page: Page[Any] = (
            selectors.people_page(user, filters, cursor)
            if view == "people"
            else selectors.event_page(user, filters, cursor)
        )
        context["page"] = page
        context["next_query"] = urlencode(filters.params(view=view, cursor=page.next_cursor or ""))
        if cursor and getattr(request, "htmx", False):  # "load more": only the next rows
            return render(request, f"tracking/_explorer_{view}_rows.html", context)
        buckets = selectors.event_counts(user, filters)
        context["bars"] = _chart(filters, buckets, view)
        context["total"] = sum(b.count for b in buckets)
        context["chart_title"] = {
            "hour": _("Matching events per hour"),
            "day": _("Matching events per day"),
            "week": _("Matching events per week"),
        }[filters.bucket]
        context["views"] = [(v, urlencode(filters.params(view=v))) for v in VIEWS]
        if filters.contact is not None:
            context["contact"] = Contact.objects.get(pk=filters.contact)
    except (InvalidInput, BadCursor) as exc:
        context["errors"] = exc.details or {"cursor": [exc.message]}
        context["error_message"] = exc.message
        status = FILTER_ERRORS
    if getattr(request, "htmx", False) and request.headers.get("HX-Target") == "explorer-results":
        return render(request, "tracking/_explorer_results.html", context, status=status)
    choices = selectors.explorer_choices()
    context.update(
        {
            "names": choices.names,
            "sources": choices.sources,
            "types": Event.Type.choices,
            "ranges": [(k, label) for k, (label, _span) in selectors.RANGES.items()],
            "buckets": list(selectors.BUCKETS.items()),
            "ops": list(selectors.PROPERTY_OPS.items()),
        }
    )
    return render(request, "tracking/explorer.html", context, status=status)


@permission_required(lambda user: user.can("event", perms.EXPORT) and user.can("contact", perms.EXPORT))
def people_export(request: HttpRequest) -> HttpResponseBase:
    """The people of the explorer's filters as CSV, streamed."""
    try:
        filters = EventFilters.from_params(request.GET, tz=timezone.get_current_timezone())
    except InvalidInput as exc:
        lines = [exc.message] + [f"{field}: {' '.join(msgs)}" for field, msgs in exc.details.items()]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    chunks = event_people_export_csv(actor=Actor.from_request(request), filters=filters)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse((c.encode("utf-8") for c in chunks), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-people-{stamp}.csv"'
    return response
