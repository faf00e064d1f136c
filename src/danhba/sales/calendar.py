"""A user's tasks and appointments as an iCalendar feed (RFC 5545) for their calendar app."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from danhba.accounts.models import User
from danhba.sales.models import Task

PAST_DAYS = 90
MAX_EVENTS = 2000


def feed_ics(user: User, now: dt.datetime | None = None) -> bytes:
    now = now or timezone.now()
    cal = Calendar()
    cal.add("prodid", "-//danhba//tasks//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"danhba — {user.email}")
    tasks = Task.objects.filter(owner=user, due_at__gte=now - dt.timedelta(days=PAST_DAYS)).order_by("due_at", "id")
    for task in tasks.select_related("contact", "deal")[:MAX_EVENTS]:
        event = Event()
        event.add("uid", f"task-{task.pk}@danhba")
        event.add("summary", f"✓ {task.title}" if task.done_at else task.title)
        event.add("dtstamp", task.updated_at)
        event.add("dtstart", task.due_at)
        event.add("dtend", task.due_at + dt.timedelta(minutes=task.duration_minutes or 15))
        event.add("categories", [task.kind])
        event.add("priority", {"high": 1, "normal": 5, "low": 9}[task.priority])
        about = [
            x for x in (task.contact.display_name if task.contact else "", task.deal.title if task.deal else "") if x
        ]
        event.add("description", "\n".join([*about, task.notes]).strip())
        event.add("url", f"{settings.SITE_URL}{reverse('sales:today')}")
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical
