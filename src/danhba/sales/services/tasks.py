"""Tasks and appointments (about a contact or a deal): create, change, mark done (audited); the
reminders (an in-app notification and an email, once per task, at the chosen time before it is
due); and each user's secret calendar feed URL."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.formatting import moment
from danhba.core.normalize import SANE_YEARS, NormalizationError, parse_datetime, sane_moment
from danhba.messaging.transport import connection
from danhba.sales import checks as C
from danhba.sales.models import CalendarFeed, Deal, Notification, Task
from danhba.sales.services.common import audit, diff, snapshot

log = logging.getLogger(__name__)
TASK_FIELDS = ("title", "kind", "priority", "notes", "contact_id", "deal_id", "owner_id", "due_at",
               "duration_minutes", "remind_before_minutes", "done_at")  # fmt: skip
REMIND_BATCH = 200


def tasks_visible(user: User | None) -> QuerySet[Task]:
    """A user's own tasks, or every task for a role that sees all records."""
    qs = Task.objects.all()
    if user is None:
        return qs
    if not user.can("task", perms.VIEW):
        return qs.none()
    if user.role.record_scope == perms.SCOPE_ALL:
        return qs
    if user.role.record_scope == perms.SCOPE_TEAM and user.team_id:
        return qs.filter(owner__team_id=user.team_id)
    return qs.filter(owner=user)


def task_get(*, actor: Actor, pk: int) -> Task:
    task = tasks_visible(actor.user).select_related("contact", "deal", "owner").filter(pk=pk).first()
    if task is None:
        raise NotFound(_("No such task."))
    return task


def _when(data: dict[str, Any], key: str, errors: C.Errors) -> dt.datetime | None:
    raw = data.get(key)
    try:
        when = raw if isinstance(raw, dt.datetime) else parse_datetime(raw)
    except NormalizationError as exc:
        C.add(errors, key, str(exc))
        return None
    if not sane_moment(when):  # a datetime from the API skips parse_datetime's check
        C.add(
            errors,
            key,
            _("must be a date between %(low)s and %(high)s") % {"low": SANE_YEARS[0], "high": SANE_YEARS[1]},
        )
        return None
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def _links(actor: Actor, data: dict[str, Any], errors: C.Errors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "contact_id" in data:
        cid = C.one_id(data, "contact_id", errors)
        contacts = Contact.objects.all() if actor.user is None else Contact.objects.visible_to(actor.user)
        if cid is not None and not contacts.filter(pk=cid).exists():
            C.add(errors, "contact_id", _("No such contact."))
        out["contact_id"] = cid
    if "deal_id" in data:
        did = C.one_id(data, "deal_id", errors)
        deals = Deal.objects.all() if actor.user is None else Deal.objects.visible_to(actor.user)
        if did is not None and not deals.filter(pk=did).exists():
            C.add(errors, "deal_id", _("No such deal."))
        out["deal_id"] = did
    if "owner_id" in data:
        oid = C.one_id(data, "owner_id", errors)
        if (
            oid is None
            or (actor.user is not None and oid != actor.user.pk and actor.user.role.record_scope == perms.SCOPE_OWN)
            or not User.objects.filter(pk=oid, is_active=True).exists()
        ):
            C.add(errors, "owner_id", _("No such user, or not one you may give tasks to."))
        out["owner_id"] = oid
    return out


def _choice(data: dict[str, Any], key: str, choices: list[str], errors: C.Errors) -> str:
    value = data.get(key)
    if value not in choices:
        C.add(errors, key, _("must be one of: %s") % ", ".join(choices))
    return str(value)


def _task_values(actor: Actor, task: Task, data: dict[str, Any]) -> dict[str, Any]:
    errors: C.Errors = {}
    out: dict[str, Any] = {}
    if "title" in data or not task.pk:
        out["title"] = C.text(data, "title", errors, most=200)
    if "notes" in data:
        out["notes"] = C.long_text(data, "notes", errors)
    if "kind" in data:
        out["kind"] = _choice(data, "kind", Task.Kind.values, errors)
    if "priority" in data:
        out["priority"] = _choice(data, "priority", Task.Priority.values, errors)
    if "due_at" in data or not task.pk:
        out["due_at"] = _when(data, "due_at", errors)
    if "duration_minutes" in data:
        out["duration_minutes"] = C.whole(data, "duration_minutes", errors, low=0, high=7 * 24 * 60)
    if "remind_before_minutes" in data:
        before = data["remind_before_minutes"]
        out["remind_before_minutes"] = (
            None if before is None else C.whole(data, "remind_before_minutes", errors, low=0, high=30 * 24 * 60)
        )
    out.update(_links(actor, data, errors))
    if errors:
        raise InvalidInput(errors)
    return out


def _schedule(task: Task) -> None:
    """When the reminder is due; a change of time or of the reminder asks for it again."""
    before = task.remind_before_minutes
    remind_at = None if before is None or task.done_at else task.due_at - dt.timedelta(minutes=before)
    if remind_at != task.remind_at:
        task.remind_at, task.reminded_at = remind_at, None


def task_create(*, actor: Actor, data: dict[str, Any]) -> Task:
    perms.require(actor, "task", perms.CREATE)
    task = Task(owner=actor.user)
    for key, value in _task_values(actor, task, data).items():
        setattr(task, key, value)
    if not task.owner_id:
        raise InvalidInput({"owner_id": [_("This field is required.")]})
    _schedule(task)
    with transaction.atomic():
        task.save()
        audit(actor, AuditEvent.Action.CREATE, task, diff({}, snapshot(task, TASK_FIELDS)), contact_id=task.contact_id)
    return task


def task_update(*, actor: Actor, task: Task, data: dict[str, Any]) -> Task:
    perms.require(actor, "task", perms.EDIT)
    values = _task_values(actor, task, data)
    if "done" in data:
        values["done_at"] = (task.done_at or timezone.now()) if data["done"] is True else None
    before = snapshot(task, TASK_FIELDS)
    for key, value in values.items():
        setattr(task, key, value)
    _schedule(task)
    changes = diff(before, snapshot(task, TASK_FIELDS))
    if changes:
        task.updated_at = timezone.now()
        with transaction.atomic():
            task.save()
            audit(actor, AuditEvent.Action.UPDATE, task, changes, contact_id=task.contact_id)
    return task


def task_delete(*, actor: Actor, task: Task) -> None:
    perms.require(actor, "task", perms.DELETE)
    with transaction.atomic():
        audit(actor, AuditEvent.Action.DELETE, task, {"title": [task.title, None]}, contact_id=task.contact_id)
        task.delete()


# --- reminders ------------------------------------------------------------------------------


def tasks_remind(*, now: dt.datetime | None = None) -> int:
    """Remind the owners of tasks whose reminder time has come (and that are not done): one
    in-app notification and one email per task. A task is claimed by a conditional UPDATE, so
    two workers never remind it twice; the email goes after the commit."""
    now = now or timezone.now()
    due = list(
        Task.objects.filter(remind_at__lte=now, reminded_at__isnull=True, done_at__isnull=True, remind_at__isnull=False)
        .select_related("owner")
        .order_by("remind_at")[:REMIND_BATCH]
    )
    sent = 0
    for task in due:
        with transaction.atomic():
            if not Task.objects.filter(pk=task.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            text = _reminder_text(task)
            Notification.objects.create(user=task.owner, task=task, text=text[:300],
                                        url=reverse("sales:today"), created_at=now)  # fmt: skip
            transaction.on_commit(partial(_email, task, text))
        sent += 1
    return sent


def _reminder_text(task: Task) -> str:
    with translation.override(task.owner.language or settings.LANGUAGE_CODE):
        return _("Reminder: %(title)s at %(when)s") % {"title": task.title, "when": moment(task.due_at)}


def _email(task: Task, text: str) -> None:
    body = f"{text}\n\n{task.notes}\n\n{settings.SITE_URL}{reverse('sales:today')}".strip()
    try:
        EmailMessage(subject=text, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[task.owner.email],
                     connection=connection()).send()  # fmt: skip
    except Exception:  # the in-app notice stands; a mail server that is down is the log's business
        log.exception("task reminder email for task %s failed", task.pk)


def notifications_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


# --- the calendar feed ------------------------------------------------------------------------


def feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def calendar_feed_reset(*, actor: Actor, user: User) -> str:
    """A new secret token for the user's calendar feed (the old URL stops working); only its
    hash is kept, so the URL is shown once."""
    if actor.user is not None and actor.user.pk != user.pk:
        perms.require(actor, "user", perms.EDIT)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        CalendarFeed.objects.update_or_create(
            user=user, defaults={"token_hash": feed_hash(token), "created_at": timezone.now()}
        )
        audit_event(actor=actor, action=AuditEvent.Action.UPDATE, object_type="user", object_id=user.pk,
                    object_label=user.email, changes={"calendar_feed": [None, "reset"]})  # fmt: skip
    return token
