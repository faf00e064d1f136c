"""Reads of the quality app that pages, the API and other apps' hooks share: where a merged-away
contact went, the contact list's ``quality`` and ``missing`` filters (the links behind every
number of the dashboard), a contact's freshness for its panel and the API, cleaning runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.accounts.models import User
from danhba.contacts.models import Contact, ContactCompany
from danhba.contacts.selectors import hidden_fields, member_q
from danhba.core.normalize import clean_text
from danhba.quality import decay
from danhba.quality.conditions import SIGNALS, rows_for
from danhba.quality.models import (
    CleaningChange,
    CleaningJob,
    CleaningRun,
    ContactArchive,
    DecaySignal,
    Freshness,
    MergedContact,
)


def merge_survivor_of(contact_id: int) -> int | None:
    """Where a merged-away contact went (its tombstone's survivor), or None."""
    found = MergedContact.objects.filter(contact_id=contact_id).values_list("survivor_id", flat=True).first()
    return int(found) if found is not None else None


# The fields whose completeness the dashboard measures, and the list filter ``missing=`` names.
# (label, condition "is empty" on Contact under a prefix)
COMPLETENESS: dict[str, Any] = {
    "full_name": gettext_lazy("Name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "province": gettext_lazy("Province / city"),
    "street": gettext_lazy("Street address"),
    "birthday": gettext_lazy("Birthday"),
    "gender": gettext_lazy("Gender"),
    "job_title": gettext_lazy("Job title"),
    "occupation": gettext_lazy("Occupation"),
    "company": gettext_lazy("Company"),
}
QUALITY_VALUES = ("needs_verification", "archived", "not_computed", *decay.BUCKET_KEYS, *SIGNALS)


def missing_q(field: str, prefix: str = "") -> Q:
    """Contacts whose ``field`` is empty."""
    if field == "company":
        return ~Q(Exists(ContactCompany.objects.filter(contact_id=OuterRef(f"{prefix}pk"))))
    if field == "birthday":
        return Q(**{f"{prefix}birthday__isnull": True})
    return Q(**{f"{prefix}{field}": ""})


def completeness_fields(user: User | None) -> list[str]:
    """The fields this reader may count (sensitive ones they may not see are left out)."""
    hidden = hidden_fields(user) if user is not None else set()
    return [f for f in COMPLETENESS if f not in hidden]


def filter_parse(params: Mapping[str, Any], errors: dict[str, list[str]]) -> dict[str, str] | None:
    """``quality`` (needs_verification, archived, not_computed, a freshness bucket or a signal)
    and ``missing`` (a field of :data:`COMPLETENESS`)."""
    out = {}
    quality = clean_text(params.get("quality"))
    if quality:
        if quality in QUALITY_VALUES:
            out["quality"] = quality
        else:
            errors["quality"] = [_("must be one of: %s") % ", ".join(QUALITY_VALUES)]
    missing = clean_text(params.get("missing"))
    if missing:
        if missing in COMPLETENESS:
            out["missing"] = missing
        else:
            errors["missing"] = [_("must be one of: %s") % ", ".join(COMPLETENESS)]
    return out or None


def filter_q(value: dict[str, str], user: User, prefix: str) -> Q:
    q = Q()
    missing = value.get("missing")
    if missing:
        if missing not in completeness_fields(user):
            from danhba.core.errors import InvalidInput

            raise InvalidInput({"missing": [_("your role may not see this field")]}, _("Some filters are not valid."))
        q &= missing_q(missing, prefix)
    quality = value.get("quality")
    if quality == "archived":
        q &= member_q(ContactArchive.objects.all(), prefix)
    elif quality == "not_computed":
        q &= ~Q(Exists(Freshness.objects.filter(contact_id=OuterRef(f"{prefix}pk"))))
    elif quality in decay.BUCKET_KEYS:
        q &= member_q(rows_for({"is": "freshness", "bucket": quality}), prefix)
    elif quality in SIGNALS:
        q &= member_q(rows_for({"is": "signal", "signal": quality}), prefix)
    elif quality:
        q &= member_q(rows_for({"is": "needs_verification"}), prefix)
    return q


def filter_fields(user: User | None) -> dict[str, forms.Field]:
    if user is None or not user.can("contact", "view"):
        return {}
    quality = forms.ChoiceField(label=gettext_lazy("Data quality"), required=False)
    quality.choices = [
        ("", "—"),
        ("needs_verification", _("Needs verification")),
        *((b.key, str(b.label)) for b in decay.BUCKETS),
        *((k, str(v)) for k, v in SIGNALS.items()),
        ("archived", _("Archived")),
    ]
    missing = forms.ChoiceField(label=gettext_lazy("Missing field"), required=False)
    missing.choices = [("", "—"), *((f, str(COMPLETENESS[f])) for f in completeness_fields(user))]
    return {"quality": quality, "missing": missing}


def contact_quality(contact: Contact) -> dict[str, Any]:
    """A contact's freshness, signals and archive state (panel and API)."""
    row = Freshness.objects.filter(contact_id=contact.pk).first()
    signals = list(DecaySignal.objects.filter(contact_id=contact.pk).order_by("kind"))
    archive = ContactArchive.objects.filter(contact_id=contact.pk).first()
    now = timezone.now()
    bucket = decay.bucket_of(row.seen_at, now) if row else ""
    return {
        "computed": row is not None,
        "needs_verification": bool(row and row.needs_verification),
        "verified_at": row.verified_at if row else None,
        "verified_by": row.verified_by if row else "",
        "last_activity_at": row.last_activity_at if row else None,
        "seen_at": row.seen_at if row else None,
        "bucket": bucket,
        "bucket_label": str(decay.bucket(bucket).label) if bucket else "",
        "signals": [
            {"kind": s.kind, "label": str(SIGNALS.get(s.kind, s.kind)), "detail": s.detail, "seen_at": s.seen_at}
            for s in signals
        ],
        "archived_at": archive.archived_at if archive else None,
    }


# --- cleaning ---------------------------------------------------------------------------------

REPORT_PAGE = 100


def cleaning_jobs() -> list[dict[str, Any]]:
    """Every cleaning job with its latest run."""
    from danhba.quality.models import CleaningJob

    jobs = list(CleaningJob.objects.all())
    latest: dict[int, Any] = {}
    for run in CleaningRun.objects.filter(job__in=jobs).order_by("job_id", "-created_at", "-pk"):
        latest.setdefault(run.job_id, run)
    return [{"job": j, "run": latest.get(j.pk)} for j in jobs]


def run_report(run: CleaningRun, *, action: str = "", after: str = "") -> dict[str, Any]:
    """A page of the changes a run made (optionally of one action), in id order from ``after``."""
    rows = CleaningChange.objects.filter(run=run)
    if action:
        rows = rows.filter(action=action)
    if after.isdigit():
        rows = rows.filter(pk__gt=int(after))
    items = list(rows.order_by("pk")[: REPORT_PAGE + 1])
    more = len(items) > REPORT_PAGE
    items = items[:REPORT_PAGE]
    return {
        "items": items,
        "next": str(items[-1].pk) if more else "",
        "actions": dict(CleaningJob.Action.choices),
    }


def run_out(run: CleaningRun) -> dict[str, Any]:
    """A run as the API shows it."""
    labels = dict(CleaningJob.Action.choices)
    return {
        "id": run.pk, "job_id": run.job_id, "status": run.status, "status_label": str(run.get_status_display()),
        "actions": run.actions, "scheduled": run.scheduled, "done": run.done, "total": run.total,
        "percent": run.percent, "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at, "error": run.error,
        "preview": [
            {"action": a, "label": str(labels.get(a, a)), "contacts": n, "sample": run.preview_sample.get(a, [])}
            for a, n in run.preview_counts.items()
        ],
        "counts": run.counts,
        "changed": [
            {"action": a, "label": str(labels[a]), "changed": run.counts.get(a, 0),
             "refused": run.counts.get(f"{a}:refused", 0)}
            for a in labels if a in run.counts or f"{a}:refused" in run.counts
        ],
    }  # fmt: skip


def job_out(job: Any) -> dict[str, Any]:
    return {
        "id": job.pk, "name": job.name, "actions": job.actions, "frequency": job.frequency,
        "archive_after_months": job.archive_after_months, "auto_apply": job.auto_apply, "is_active": job.is_active,
        "next_run_at": job.next_run_at, "created_at": job.created_at,
    }  # fmt: skip
