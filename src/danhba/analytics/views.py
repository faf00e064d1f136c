"""The home page: where the login and the brand link land. What it shows follows the viewer's role
(``selectors.home``); the charts are drawn as the events explorer draws them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from danhba.accounts.views import current_user
from danhba.analytics import selectors
from danhba.core.charts import Bar, format_number
from danhba.tracking.selectors import CUSTOM, bucket_label, events_label, local_input


def _bars(
    w: selectors.Window, tally: selectors.Tally, title: Callable[[int], str], href: Callable[[dt.date], str]
) -> list[Bar]:
    """One bar per day, labelled like the explorer's day buckets, linking to that day's list."""
    bars = []
    for day in tally.by_day:
        short, full = bucket_label(w.day_start(day.day), "day", w.tz)
        text = title(day.count) + ("+" if day.capped else "")
        bars.append(Bar(short, day.count, f"{full}: {text}", href(day.day)))
    return bars


def _contacts_on(day: dt.date) -> str:
    query = {"created_after": day.isoformat(), "created_before": day.isoformat(), "sort": "-created"}
    return reverse("contacts:list") + "?" + urlencode(query)


def _events_on(w: selectors.Window) -> Callable[[dt.date], str]:
    def href(day: dt.date) -> str:
        query = {
            "range": CUSTOM,
            "from": local_input(w.day_start(day), w.tz),
            "to": local_input(w.day_start(day + dt.timedelta(days=1)), w.tz),
            "bucket": "hour",
        }
        return reverse("events:explorer") + "?" + urlencode(query)

    return href


def _new_contacts_text(n: int) -> str:
    return ngettext("%(n)s new contact", "%(n)s new contacts", n) % {"n": format_number(n)}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    data = selectors.home(user, timezone.get_current_timezone())
    w = data.window
    context: dict[str, Any] = {"nav": "home", "home": data}
    if data.contacts is not None:
        context["contact_bars"] = _bars(w, data.contacts.tally, _new_contacts_text, _contacts_on)
    if data.events is not None:
        context["event_bars"] = _bars(w, data.events.tally, events_label, _events_on(w))
    context["since"] = w.start
    context["chart_title_contacts"] = _("New contacts per day")
    context["chart_title_events"] = _("Events per day")
    return render(request, "analytics/home.html", context)
