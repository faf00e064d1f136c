"""Scheduled cleaning: jobs, their preview and their runs (``models/cleaning.py``).

A run walks every contact in id order, 500 at a time, and asks each action what it would change
in the batch (``_plan``): re-normalised names, emails and phones (``core.normalize``, the rules
every entry point uses), known email domain typos (``normalize.suggest_email_domain``), the
"needs verification" tag following the decay flag, and long-dead contacts to archive. A
preview stores the counts and sample rows; the run applies the same plans through the contacts
services (``contact_update``, ``contacts_bulk_update``: audited, search keys and segments kept
current) and records each change in ``CleaningChange``. Progress (cursor, done, total) is saved
after every batch, so a run survives a restart: the job takes it over from its cursor.
Archiving is reversible (:func:`contact_restore`) and deletes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, ContactTag
from danhba.contacts.services.contacts import contact_update, contacts_bulk_update
from danhba.core import jobs, normalize
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ServiceError
from danhba.quality import decay
from danhba.quality.models import CleaningChange, CleaningJob, CleaningRun, ContactArchive, Freshness

A = CleaningJob.Action
S = CleaningRun.Status
BATCH = 500
SAMPLE = 10
RUN_SECONDS = 50  # a job runs this long, then queues itself again (core.jobs' long-job rule)
STALE = dt.timedelta(minutes=5)
# Tags the actions write. Tags are data, named in the site's language (Vietnamese by default).
FLAG_TAG = "Cần xác minh"
ARCHIVE_TAG = "Đã lưu trữ"
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


# --- jobs -------------------------------------------------------------------------------------


def _require(actor: Actor, action: str) -> None:
    perms.require(actor, "quality", action)
    user = actor.user
    if user is not None and (not user.can("contact", perms.EDIT) or perms.record_scope_q(user) is not None):
        raise PermissionDenied(_("Cleaning changes every contact: it needs a role that edits all records."))


def next_run(frequency: str, after: dt.datetime) -> dt.datetime | None:
    months = FREQUENCY_MONTHS.get(frequency)
    if months is None:
        return None
    month = after.month - 1 + months
    return after.replace(year=after.year + month // 12, month=month % 12 + 1, day=1, hour=2, minute=0, second=0)


def _clean_job(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = normalize.clean_text(data.get("name"))[:120]
    if not name:
        errors["name"] = [_("a name is needed")]
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions or any(a not in A.values for a in actions):
        errors["actions"] = [_("one or more of: %s") % ", ".join(A.values)]
        actions = []
    frequency = data.get("frequency") or CleaningJob.Frequency.MONTHLY
    if frequency not in CleaningJob.Frequency.values:
        errors["frequency"] = [_("one of: %s") % ", ".join(CleaningJob.Frequency.values)]
    months = data.get("archive_after_months", 24)
    if not isinstance(months, int) or isinstance(months, bool) or not 6 <= months <= 240:
        errors["archive_after_months"] = [_("a whole number of months from 6 to 240")]
    if errors:
        raise InvalidInput(errors)
    return {
        "name": name,
        "actions": [a for a in A.values if a in actions],
        "frequency": frequency,
        "archive_after_months": months,
        "auto_apply": bool(data.get("auto_apply")),
        "is_active": bool(data.get("is_active", True)),
    }


def cleaning_job_create(*, actor: Actor, data: dict[str, Any]) -> CleaningJob:
    _require(actor, perms.CREATE)
    values = _clean_job(data)
    with transaction.atomic():
        job = CleaningJob.objects.create(
            **values, created_by=actor.user, next_run_at=next_run(values["frequency"], timezone.now())
        )
        audit_event(actor=actor, action="create", object_type="cleaning_job", object_id=job.pk, object_label=job.name,
                    changes={k: [None, v] for k, v in values.items()})  # fmt: skip
    return job


def cleaning_job_update(*, actor: Actor, job: CleaningJob, data: dict[str, Any]) -> CleaningJob:
    _require(actor, perms.EDIT)
    values = _clean_job({**_job_values(job), **data})
    before = _job_values(job)
    with transaction.atomic():
        for key, value in values.items():
            setattr(job, key, value)
        if before["frequency"] != values["frequency"]:
            job.next_run_at = next_run(values["frequency"], timezone.now())
        job.save()
        changes = {k: [before[k], v] for k, v in values.items() if before[k] != v}
        audit_event(actor=actor, action="update", object_type="cleaning_job", object_id=job.pk, object_label=job.name,
                    changes=changes)  # fmt: skip
    return job


def cleaning_job_delete(*, actor: Actor, job: CleaningJob) -> None:
    _require(actor, perms.DELETE)
    with transaction.atomic():
        audit_event(actor=actor, action="delete", object_type="cleaning_job", object_id=job.pk, object_label=job.name)
        job.delete()


def _job_values(job: CleaningJob) -> dict[str, Any]:
    return {
        "name": job.name, "actions": list(job.actions), "frequency": job.frequency,
        "archive_after_months": job.archive_after_months, "auto_apply": job.auto_apply, "is_active": job.is_active,
    }  # fmt: skip


# --- runs -------------------------------------------------------------------------------------


def _queue(run_id: int) -> None:
    from danhba.quality.tasks import cleaning_run_job

    transaction.on_commit(lambda: cleaning_run_job(run_id))


def cleaning_run_start(*, actor: Actor, job: CleaningJob, scheduled: bool = False) -> CleaningRun:
    """Start a run of the job with its preview (409 while another run of it is under way)."""
    if not scheduled:
        _require(actor, perms.EDIT)
    with transaction.atomic():
        CleaningJob.objects.select_for_update().filter(pk=job.pk).first()
        if job.runs.filter(status__in=[*CleaningRun.ACTIVE, S.PREVIEW]).exists():
            raise Conflict(_("This job already has a run under way or waiting for review."))
        run = CleaningRun.objects.create(
            job=job, actions=list(job.actions), archive_after_months=job.archive_after_months,
            total=Contact.objects.count(), scheduled=scheduled, requested_by=actor.user,
        )  # fmt: skip
        _queue(run.pk)
    return run


def cleaning_run_apply(*, actor: Actor, run: CleaningRun) -> CleaningRun:
    """Apply what a run previewed (the changes are planned again as each batch is applied)."""
    _require(actor, perms.EDIT)
    with transaction.atomic():
        n = CleaningRun.objects.filter(pk=run.pk, status=S.PREVIEW).update(
            status=S.RUNNING, cursor=0, done=0, total=Contact.objects.count(), requested_by=actor.user,
            started_at=timezone.now(), run_token="",
        )  # fmt: skip
        if not n:
            raise Conflict(_("Only a run whose preview is ready can be applied."))
        audit_event(actor=actor, action="update", object_type="cleaning_run", object_id=run.pk,
                    object_label=run.job.name, changes={"status": [S.PREVIEW, S.RUNNING]})  # fmt: skip
        _queue(run.pk)
    run.refresh_from_db()
    return run


def cleaning_run_cancel(*, actor: Actor, run: CleaningRun) -> CleaningRun:
    _require(actor, perms.EDIT)
    n = CleaningRun.objects.filter(pk=run.pk, status__in=[*CleaningRun.ACTIVE, S.PREVIEW]).update(
        status=S.CANCELLED, finished_at=timezone.now()
    )
    if not n:
        raise Conflict(_("This run has already ended."))
    run.refresh_from_db()
    return run


# --- planning a batch -------------------------------------------------------------------------


@dataclass
class Plan:
    """What the actions would do to one batch: per action, (contact id, label, before, after)."""

    rows: dict[str, list[tuple[int, str, dict[str, Any], dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, action: str, cid: int, label: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.rows[action].append((cid, label, before, after))


def _renormalised_email(email: str) -> str | None:
    try:
        value = normalize.normalize_email(email)
    except normalize.NormalizationError:
        return None
    return value if value != email else None


def _renormalised_phone(e164: str) -> str | None:
    try:
        value = normalize.normalize_phone(e164).e164
    except normalize.NormalizationError:
        return None
    return value if value != e164 else None


def _plan_normalise(plan: Plan, contacts: dict[int, dict[str, Any]], emails: Any, phones: Any) -> None:
    for cid, c in contacts.items():
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        name = normalize.name_case(c["full_name"])
        if name and name != c["full_name"]:
            before["full_name"], after["full_name"] = c["full_name"], name
        for old in emails.get(cid, ()):
            if (new := _renormalised_email(old["email"])) is not None:
                before.setdefault("emails", []).append(old["email"])
                after.setdefault("emails", []).append(new)
        for old in phones.get(cid, ()):
            if (new := _renormalised_phone(old["e164"])) is not None:
                before.setdefault("phones", []).append(old["e164"])
                after.setdefault("phones", []).append(new)
        if after:
            plan.add(A.NORMALISE, cid, c["label"], before, after)


def _plan_typos(plan: Plan, contacts: dict[int, dict[str, Any]], emails: Any) -> None:
    for cid, c in contacts.items():
        for old in emails.get(cid, ()):
            suggestion = normalize.suggest_email_domain(old["email"])
            if suggestion:
                fixed = old["email"].rsplit("@", 1)[0] + "@" + suggestion
                plan.add(A.EMAIL_TYPOS, cid, c["label"], {"emails": [old["email"]]}, {"emails": [fixed]})


def _plan_flag(plan: Plan, contacts: dict[int, dict[str, Any]], fresh: dict[int, Freshness], tagged: set[int]) -> None:
    for cid, c in contacts.items():
        row = fresh.get(cid)
        needs = bool(row and row.needs_verification)
        if needs and cid not in tagged:
            plan.add(A.FLAG, cid, c["label"], {"tag": None}, {"tag": FLAG_TAG, "reasons": row.reasons if row else []})
        elif not needs and cid in tagged:
            plan.add(A.FLAG, cid, c["label"], {"tag": FLAG_TAG}, {"tag": None})


def _plan_archive(plan: Plan, contacts: dict[int, dict[str, Any]], fresh: dict[int, Freshness], edge: dt.datetime,
                  archived: set[int]) -> None:  # fmt: skip
    for cid, c in contacts.items():
        row = fresh.get(cid)
        if row is not None and row.seen_at < edge and cid not in archived:
            plan.add(A.ARCHIVE, cid, c["label"], {"archived": False}, {"archived": True, "seen_at": row.seen_at})


def _grouped(rows: Iterable[Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["contact_id"]].append(r)
    return out


def _plan(run: CleaningRun, ids: list[int], now: dt.datetime) -> Plan:
    plan = Plan()
    contacts = {
        c["id"]: {**c, "label": Contact(full_name=c["full_name"], pk=c["id"]).display_name}
        for c in Contact.objects.filter(pk__in=ids).values("id", "full_name")
    }
    actions = set(run.actions)
    emails = _grouped(
        ContactEmail.objects.filter(contact_id__in=ids).values("contact_id", "email", "label", "is_primary")
    )
    if A.NORMALISE in actions:
        phones = _grouped(ContactPhone.objects.filter(contact_id__in=ids).values("contact_id", "e164"))
        _plan_normalise(plan, contacts, emails, phones)
    if A.EMAIL_TYPOS in actions:
        _plan_typos(plan, contacts, emails)
    if actions & {A.FLAG, A.ARCHIVE}:
        fresh = {f.contact_id: f for f in Freshness.objects.filter(contact_id__in=ids)}
        if A.FLAG in actions:
            tagged = set(
                ContactTag.objects.filter(contact_id__in=ids, tag__name_key=_tag_key(FLAG_TAG)).values_list(
                    "contact_id", flat=True
                )
            )
            _plan_flag(plan, contacts, fresh, tagged)
        if A.ARCHIVE in actions:
            archived = set(ContactArchive.objects.filter(contact_id__in=ids).values_list("contact_id", flat=True))
            _plan_archive(plan, contacts, fresh, decay.months_ago(now, run.archive_after_months), archived)
    return plan


def _tag_key(name: str) -> str:
    from danhba.contacts.keys import tag_key

    return tag_key(name)


# --- applying a batch -------------------------------------------------------------------------


def _emails_after(contact: Contact, swaps: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"email": swaps.get(e.email, e.email), "label": e.label, "is_primary": e.is_primary}
        for e in contact.emails.all()
    ]


def _phones_after(contact: Contact, swaps: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"phone": swaps.get(p.e164, p.e164), "label": p.label, "is_primary": p.is_primary} for p in contact.phones.all()
    ]


def _apply_contact(actor: Actor, cid: int, before: dict[str, Any], after: dict[str, Any]) -> None:
    contact = Contact.objects.filter(pk=cid).first()
    if contact is None:
        raise NotFound(_("No such contact."))
    data: dict[str, Any] = {}
    if "full_name" in after:
        data["full_name"] = after["full_name"]
    if "emails" in after:
        data["emails"] = _emails_after(contact, dict(zip(before["emails"], after["emails"], strict=True)))
    if "phones" in after:
        data["phones"] = _phones_after(contact, dict(zip(before["phones"], after["phones"], strict=True)))
    with transaction.atomic():
        contact_update(actor=actor, contact=contact, data=data)


def _apply(run: CleaningRun, actor: Actor, plan: Plan, now: dt.datetime) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    changes: list[CleaningChange] = []
    for action in (A.NORMALISE, A.EMAIL_TYPOS):
        for cid, label, before, after in plan.rows.get(action, []):
            try:
                _apply_contact(actor, cid, before, after)
            except ServiceError:
                counts[f"{action}:refused"] += 1
                continue
            counts[action] += 1
            changes.append(CleaningChange(run=run, contact_id=cid, label=label[:200], action=action, before=before,
                                          after=after, at=now))  # fmt: skip
    flag = plan.rows.get(A.FLAG, [])
    add = [cid for cid, _l, _b, after in flag if after["tag"]]
    remove = [cid for cid, _l, _b, after in flag if not after["tag"]]
    if add:
        contacts_bulk_update(actor=actor, contact_ids=add, add_tags=[FLAG_TAG])
    if remove:
        contacts_bulk_update(actor=actor, contact_ids=remove, remove_tags=[FLAG_TAG])
    dead = plan.rows.get(A.ARCHIVE, [])
    if dead:
        ids = [cid for cid, *_rest in dead]
        contacts_bulk_update(actor=actor, contact_ids=ids, add_tags=[ARCHIVE_TAG])
        ContactArchive.objects.bulk_create(
            [ContactArchive(contact_id=cid, run=run, archived_at=now, seen_at=after.get("seen_at"))
             for cid, _l, _b, after in dead],
            ignore_conflicts=True,
        )  # fmt: skip
    for action, rows in ((A.FLAG, flag), (A.ARCHIVE, dead)):
        counts[action] += len(rows)
        changes += [CleaningChange(run=run, contact_id=cid, label=label[:200], action=action,
                                   before=before, after=_jsonable(after), at=now)
                    for cid, label, before, after in rows]  # fmt: skip
    CleaningChange.objects.bulk_create(changes, batch_size=1000)
    return counts


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in values.items()}


def _preview(run: CleaningRun, plan: Plan) -> None:
    for action, rows in plan.rows.items():
        run.preview_counts[action] = run.preview_counts.get(action, 0) + len(rows)
        sample = run.preview_sample.setdefault(action, [])
        for cid, label, before, after in rows[: max(0, SAMPLE - len(sample))]:
            sample.append({"contact_id": cid, "label": label, "before": before, "after": _jsonable(after)})


# --- the job ----------------------------------------------------------------------------------


def _claim(run_id: int, now: dt.datetime) -> tuple[CleaningRun | None, str]:
    """Take the run (a fresh one, or one whose worker stopped beating)."""
    token = uuid.uuid4().hex
    free = CleaningRun.objects.filter(pk=run_id, status__in=CleaningRun.ACTIVE).exclude(
        heartbeat_at__gt=now - STALE, run_token__gt=""
    )
    if not free.update(run_token=token, heartbeat_at=now):
        return None, token
    return CleaningRun.objects.select_related("job", "requested_by").get(pk=run_id), token


def _run_actor(run: CleaningRun) -> Actor:
    return Actor.system(via="job", user=run.requested_by if not run.scheduled else None)


def _finish(run: CleaningRun, now: dt.datetime) -> None:
    if run.status == S.PREVIEWING:
        if run.scheduled and run.job.auto_apply:
            run.status, run.cursor, run.done, run.started_at = S.RUNNING, 0, 0, now
            return
        run.status = S.PREVIEW
    else:
        run.status = S.DONE
    run.finished_at = now


def _step(run: CleaningRun, token: str, actor: Actor) -> bool:
    """One batch of a run (or its end when no contact is left); False when the run was
    cancelled or taken over meanwhile."""
    ids = list(Contact.objects.filter(pk__gt=run.cursor).order_by("pk").values_list("pk", flat=True)[:BATCH])
    now = timezone.now()
    with transaction.atomic():
        mine = CleaningRun.objects.select_for_update().filter(pk=run.pk, run_token=token)
        if mine.values_list("status", flat=True).first() != run.status:
            return False
        if not ids:
            _finish(run, now)
        else:
            plan = _plan(run, ids, now)
            if run.status == S.PREVIEWING:
                _preview(run, plan)
            else:
                for key, n in _apply(run, actor, plan, now).items():
                    run.counts[key] = run.counts.get(key, 0) + n
            run.cursor, run.done = ids[-1], run.done + len(ids)
        run.heartbeat_at = now
        run.save()
    return True


def cleaning_run_execute(*, run_id: int, seconds: float = RUN_SECONDS) -> str:
    """Work on a run for up to ``seconds``; returns its status (still active: queue it again)."""
    run, token = _claim(run_id, timezone.now())
    if run is None:
        return "taken"
    started = time.monotonic()
    actor = _run_actor(run)
    try:
        # At least one batch per call, however short the time: a run always moves on.
        while run.status in CleaningRun.ACTIVE:
            if not _step(run, token, actor):
                return "cancelled"
            if time.monotonic() - started >= seconds:
                break
            jobs.yield_to_writers()
    except Exception as exc:  # a run that fails says why and stops; nothing half-written stays
        CleaningRun.objects.filter(pk=run.pk).update(
            status=S.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
        )
        raise
    if run.status in CleaningRun.ACTIVE:  # let go: the next job (or another worker) carries on
        CleaningRun.objects.filter(pk=run.pk, run_token=token).update(run_token="")
    return run.status


def cleaning_due(*, now: dt.datetime | None = None) -> list[int]:
    """Start the scheduled runs that are due (their preview; with ``auto_apply`` the changes
    follow), and move each job's next run on; re-queue runs whose worker stopped."""
    now = now or timezone.now()
    started = []
    for job in CleaningJob.objects.filter(is_active=True, next_run_at__lte=now):
        CleaningJob.objects.filter(pk=job.pk).update(next_run_at=next_run(job.frequency, now))
        try:
            started.append(cleaning_run_start(actor=Actor.system(via="job"), job=job, scheduled=True).pk)
        except Conflict:
            continue
    for run_id in CleaningRun.objects.filter(status__in=CleaningRun.ACTIVE, heartbeat_at__lt=now - STALE).values_list(
        "pk", flat=True
    ):
        _queue(run_id)
    return started


# --- archive ----------------------------------------------------------------------------------


def contact_restore(*, actor: Actor, contact: Contact) -> None:
    """Take a contact out of the archive: its row and the archive tag go; nothing else changed."""
    perms.require(actor, "contact", perms.EDIT)
    with transaction.atomic():
        if not ContactArchive.objects.filter(contact_id=contact.pk).delete()[0]:
            raise Conflict(_("This contact is not archived."))
        contacts_bulk_update(actor=actor, contact_ids=[contact.pk], remove_tags=[ARCHIVE_TAG])


def run_changes_summary(run: CleaningRun) -> dict[str, Any]:
    """What a run changed, per action (the report's header)."""
    last = CleaningChange.objects.filter(run=run).aggregate(at=Max("at"))["at"]
    return {"counts": dict(run.counts), "last_change_at": last}
