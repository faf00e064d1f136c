"""Tasks and appointments: the "my day" page with overdue ones highlighted, reminders at the
chosen time before the due time (a controllable clock: ``tasks_remind(now=…)``) as an in-app
notice and a real email through SMTP, once per task, again after the time changes; the API;
and the secret iCalendar feed, parsed back with the icalendar library, that a reset revokes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import icalendar
import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput
from danhba.sales.models import Notification
from danhba.sales.services import tasks as T

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 3, 10, 2, 0, tzinfo=dt.UTC)  # 09:00 in Hồ Chí Minh City


def test_reminders_at_the_chosen_time_once_by_notice_and_email(
    users: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rep = users["sales"]
    data = {"title": "Gọi chị Lan", "kind": "call", "priority": "high", "due_at": NOW + dt.timedelta(hours=1),
            "remind_before_minutes": 15}  # fmt: skip
    task = T.task_create(actor=actor_for(rep), data=data)
    assert task.remind_at == NOW + dt.timedelta(minutes=45)
    with django_capture_on_commit_callbacks(execute=True):
        assert T.tasks_remind(now=NOW + dt.timedelta(minutes=44)) == 0
        assert T.tasks_remind(now=NOW + dt.timedelta(minutes=45)) == 1
        assert T.tasks_remind(now=NOW + dt.timedelta(minutes=46)) == 0  # once
    notice = Notification.objects.get(user=rep)
    assert "Gọi chị Lan" in notice.text
    assert [m.rcpt_to for m in smtp.received] == [[rep.email]]
    assert "Gọi chị Lan" in smtp.received[0].message["Subject"]
    # Moving the task asks for a new reminder; a task done is not reminded.
    T.task_update(actor=actor_for(rep), task=task, data={"due_at": NOW + dt.timedelta(days=1)})
    assert task.reminded_at is None
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert T.tasks_remind(now=NOW + dt.timedelta(days=1)) == 1
    done = T.task_create(actor=actor_for(rep), data={"title": "x", "due_at": NOW, "remind_before_minutes": 0})
    T.task_update(actor=actor_for(rep), task=done, data={"done": True})
    assert T.tasks_remind(now=NOW + dt.timedelta(days=2)) == 0
    assert AuditEvent.objects.filter(object_type="task").count() == 4  # 2 created, 2 changed


def test_bad_tasks_are_refused_and_reps_cannot_give_tasks_away(users: Any, make_user: Any) -> None:
    rep = users["sales"]
    with pytest.raises(InvalidInput) as exc:
        T.task_create(actor=actor_for(rep), data={"title": "", "due_at": "soon", "kind": "dance",
                                                  "owner_id": make_user("sales").pk})  # fmt: skip
    assert set(exc.value.details) == {"title", "due_at", "kind", "owner_id"}


def test_my_day_highlights_overdue_and_the_api(client_for: Any, users: Any) -> None:
    rep = users["sales"]
    now = timezone.now()
    T.task_create(actor=actor_for(rep), data={"title": "Late one", "due_at": now - dt.timedelta(hours=3)})
    T.task_create(actor=actor_for(rep), data={"title": "Next week", "due_at": now + dt.timedelta(days=3)})
    client = client_for(rep)
    page = client.get("/sales/today/").content.decode()
    overdue = page.split('id="overdue"')[1].split("</section>")[0]
    assert "Late one" in overdue and "task-overdue" in overdue and "Next week" not in overdue
    meeting = {
        "title": "Họp",
        "kind": "meeting",
        "due_at": (now + dt.timedelta(hours=2)).isoformat(),
        "duration_minutes": 60,
    }
    made = client.post("/api/sales/tasks", meeting, content_type="application/json")
    assert made.status_code == 201, made.content
    listed = client.get("/api/sales/tasks").json()["items"]
    assert [(t["title"], t["overdue"]) for t in listed] == [("Late one", True), ("Họp", False), ("Next week", False)]
    done = client.patch(f"/api/sales/tasks/{listed[0]['id']}", {"done": True}, content_type="application/json")
    assert done.json()["done_at"] is not None
    assert client.post("/api/sales/tasks", {"title": "x"}, content_type="application/json").status_code == 422
    far = {"title": "x", "due_at": "9999-12-31T23:59:00+00:00"}  # the feed adds a duration: it must not overflow
    assert client.post("/api/sales/tasks", far, content_type="application/json").status_code == 422


def test_the_calendar_feed_is_secret_parsed_by_icalendar_and_reset(client: Any, client_for: Any, users: Any) -> None:
    rep = users["sales"]
    T.task_create(actor=actor_for(rep), data={"title": "Demo cho khách", "kind": "meeting", "due_at": NOW,
                                              "duration_minutes": 90})  # fmt: skip
    url = client_for(rep).post("/api/sales/calendar-feed").json()["url"]
    client.logout()  # calendar apps come without a session
    feed = client.get(url)
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    events = list(calendar.walk("VEVENT"))
    assert [str(e["SUMMARY"]) for e in events] == ["Demo cho khách"]
    assert events[0].decoded("DTSTART") == NOW
    assert events[0].decoded("DTEND") - events[0].decoded("DTSTART") == dt.timedelta(minutes=90)
    new_url = client_for(rep).post("/api/sales/calendar-feed").json()["url"]
    client.logout()
    assert client.get(url).status_code == 404 and client.get(new_url).status_code == 200
    assert client.get("/sales/calendar/guess.ics").status_code == 404


def test_a_client_walking_feed_tokens_is_slowed_down(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from danhba.core.ratelimit import TokenBuckets
    from danhba.sales import views

    monkeypatch.setattr(views.calendar_rate, "per_minute", 3)
    monkeypatch.setattr(views.calendar_rate, "buckets", TokenBuckets())
    answers = [client.get(f"/sales/calendar/guess{n}.ics").status_code for n in range(5)]
    assert answers == [404, 404, 404, 429, 429]
