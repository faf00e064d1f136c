"""Reads of web forms: the questions a visitor gets (progressive profiling), the figures of the
forms list, the submissions a user may see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.capture.forms import fields as ff
from danhba.capture.models import FormDay, FormSubmission, WebForm
from danhba.contacts.models import Contact
from danhba.tracking.models import AnonymousIdentity


def known_contact(*, visitor_contact_id: int | None, anonymous_id: str) -> Contact | None:
    """The contact a browser is known as: its signed visitor token, else its tracking device id."""
    if visitor_contact_id:
        contact = Contact.objects.filter(pk=visitor_contact_id).first()
        if contact is not None:
            return contact
    if anonymous_id:
        link = AnonymousIdentity.objects.filter(anonymous_id=anonymous_id[:200]).values_list("contact_id", flat=True)
        contact_id = link.first()
        if contact_id:
            return Contact.objects.filter(pk=contact_id).first()
    return None


def _filled(contact: Contact, target: str) -> bool:
    if target == "message":
        return False
    if target == "company":
        return contact.company_links.exists()
    if target.startswith(ff.CUSTOM_PREFIX):
        return (contact.custom or {}).get(target[len(ff.CUSTOM_PREFIX) :]) not in (None, "", [])
    return bool(getattr(contact, target, None))


def questions_for(form: WebForm, contact: Contact | None) -> list[dict[str, Any]]:
    """The form's questions; for a known contact, each one they already answered (email
    excepted: it says who is writing) gives its place to the next queued question they have
    not answered — kept when the queue is empty."""
    if contact is None:
        return list(form.fields)
    queue = [q for q in form.queue if not _filled(contact, q["target"])]
    out = []
    for question in form.fields:
        if question["target"] == "email" or not _filled(contact, question["target"]) or not queue:
            out.append(question)
        else:
            out.append(queue.pop(0))
    return out


def form_figures(forms: list[WebForm], days: int = 30) -> dict[int, dict[str, int | float]]:
    """Per form: views, submissions, conversion (%), blocked spam; all time."""
    sums = (
        FormDay.objects.filter(form__in=forms)
        .values("form_id")
        .annotate(
            views=Sum("views"),
            submissions=Sum("submissions"),
            honeypot=Sum("blocked_honeypot"),
            fast=Sum("blocked_too_fast"),
            rate=Sum("blocked_rate"),
        )
    )
    failed = dict(
        FormSubmission.objects.filter(form__in=forms, status=FormSubmission.Status.FAILED)
        .values("form_id")
        .annotate(n=Count("id"))
        .values_list("form_id", "n")
    )
    out: dict[int, dict[str, int | float]] = {}
    for row in sums:
        views, subs = row["views"] or 0, row["submissions"] or 0
        out[row["form_id"]] = {
            "views": views, "submissions": subs, "conversion": (subs / views) if views else 0.0,
            "blocked": (row["honeypot"] or 0) + (row["fast"] or 0) + (row["rate"] or 0),
            "blocked_honeypot": row["honeypot"] or 0, "blocked_too_fast": row["fast"] or 0,
            "blocked_rate": row["rate"] or 0,
        }  # fmt: skip
    empty = {"views": 0, "submissions": 0, "conversion": 0.0, "blocked": 0, "blocked_honeypot": 0,
             "blocked_too_fast": 0, "blocked_rate": 0}  # fmt: skip
    for form in forms:
        out.setdefault(form.pk, dict(empty))
        out[form.pk]["failed"] = failed.get(form.pk, 0)
    return out


def submissions_by_day(forms: QuerySet[WebForm] | list[WebForm], days: int = 30) -> list[tuple[dt.date, int]]:
    today = timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    counts = dict(
        FormDay.objects.filter(form__in=forms, day__gte=start)
        .values("day")
        .annotate(n=Sum("submissions"))
        .values_list("day", "n")
    )
    return [(start + dt.timedelta(days=i), counts.get(start + dt.timedelta(days=i), 0) or 0) for i in range(days)]


def submissions_visible(user: User) -> QuerySet[FormSubmission]:
    """Submissions a user may read: all for a role that sees all records; otherwise those whose
    contact is in the user's records (a submission without a contact yet: only the former)."""
    qs = FormSubmission.objects.select_related("form", "contact")
    if not user.can("submission", perms.VIEW):
        return qs.none()
    if user.role.record_scope == perms.SCOPE_ALL:
        return qs
    return qs.filter(Q(contact__in=Contact.objects.visible_to(user)))


def web_form_choices() -> list[tuple[Any, Any]]:
    """The web forms a workflow's "form submitted" trigger picks from (``automation.kinds.CHOICES``)."""
    return list(WebForm.objects.order_by("name").values_list("pk", "name")[:1000])
