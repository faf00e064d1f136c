"""Campaigns: create and change a draft, start it now or at a time, pause, resume, cancel; the
audience with its exclusions; the suppression list and the one-click unsubscribe.

Starting a campaign copies the template's parts into it and writes one ``Send`` row per contact
of its segments and lists, in keyset batches of contact ids. A contact gets the email only if
none of these holds (the row keeps the first reason found, and the campaign counts them):

- in one of the excluded segments;
- no email address, or an invalid one;
- the address is on the suppression list (for transactional email only hard bounces and
  complaints count: an unsubscribe is from marketing);
- marketing email: no current consent for ``MESSAGING_CONSENT_PURPOSE`` in the ledger (or
  withdrawn for a while: a pause asked for in the preference centre), an opt-out of the
  campaign's topic (an email topic: a consent purpose the contact withdrew), or the contact
  already had ``MESSAGING_FREQUENCY_CAP`` marketing emails in the last
  ``MESSAGING_FREQUENCY_HOURS``.

The send job (``sending.py``) checks suppression, consent and the cap again just before each
batch, so a change in the preference centre holds from the next batch on."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.bulk import Table
from danhba.core.errors import Conflict, InvalidInput
from danhba.core.normalize import NormalizationError, clean_text, normalize_email
from danhba.messaging.links import Recipient
from danhba.messaging.models import AbMetric, Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.services.activity import unsubscribe_recorded
from danhba.messaging.services.templates import parts_of
from danhba.privacy.models import ConsentPurpose, ConsentState, ConsentStatus
from danhba.segments.models import Segment, SegmentMember

log = logging.getLogger(__name__)

AUDIENCE_BATCH = 2000
MAX_PER_HOUR = 1_000_000
Reason = Send.Reason
# Suppression reasons that stop transactional email too (an unsubscribe is from marketing).
UNDELIVERABLE = (Suppression.Reason.HARD_BOUNCE, Suppression.Reason.COMPLAINT)


def _audit(actor: Actor, action: str, campaign: Campaign, changes: dict[str, Any]) -> None:
    audit_event(
        actor=actor, action=action, object_type="campaign", object_id=campaign.pk,
        object_label=campaign.name[:254], changes=changes,
    )  # fmt: skip


def _segments(ids: Iterable[int], field: str, errors: dict[str, list[str]]) -> list[Segment]:
    wanted = sorted(set(ids))
    found = list(Segment.objects.filter(pk__in=wanted))
    if len(found) != len(wanted):
        errors[field] = [_("Unknown segment or list: %(ids)s") % {"ids": sorted(set(wanted) - {s.pk for s in found})}]
    return found


def _clean(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "name" in data:
        cleaned["name"] = clean_text(data["name"])[:200]
        if not cleaned["name"]:
            errors["name"] = [_("This field is required.")]
    if "template_id" in data:
        cleaned["template"] = EmailTemplate.objects.filter(pk=data["template_id"]).first()
        if cleaned["template"] is None:
            errors["template_id"] = [_("There is no such email template.")]
    if "segment_ids" in data:
        cleaned["segments"] = _segments(data["segment_ids"], "segment_ids", errors)
        if not data["segment_ids"]:
            errors["segment_ids"] = [_("Choose at least one segment or list.")]
    if "exclude_segment_ids" in data:
        cleaned["exclude_segments"] = _segments(data["exclude_segment_ids"], "exclude_segment_ids", errors)
    return cleaned | _clean_sending(data, errors)


def _clean_sending(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """How it is sent: the topic, the throttle, tracking."""
    cleaned: dict[str, Any] = {}
    if "topic" in data:
        cleaned["topic"] = _topic(data["topic"], errors)
    if "per_hour" in data:
        cleaned["per_hour"] = _per_hour(data["per_hour"], errors)
    if "tracking" in data:
        if not isinstance(data["tracking"], bool):
            errors["tracking"] = [_("Must be true or false.")]
        cleaned["tracking"] = data["tracking"]
    _clean_abtest(data, cleaned, errors)
    return cleaned


AB_LIMITS = {"ab_share": (1, 50), "ab_wait_hours": (1, 168)}


def _clean_abtest(data: dict[str, Any], cleaned: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """An A/B test's settings: the test share (1-50 %), the wait (1-168 hours), the metric."""
    for field, (low, high) in AB_LIMITS.items():
        if field in data:
            value = data[field]
            if not isinstance(value, int) or not low <= value <= high:
                errors[field] = [_("Between %(low)s and %(high)s.") % {"low": low, "high": high}]
            cleaned[field] = value
    if "ab_metric" in data:
        if data["ab_metric"] not in AbMetric.values:
            errors["ab_metric"] = [_("must be one of %(choices)s") % {"choices": ", ".join(AbMetric.values)}]
        cleaned["ab_metric"] = data["ab_metric"]


def _per_hour(per_hour: Any, errors: dict[str, list[str]]) -> Any:
    if not isinstance(per_hour, int) or not 0 <= per_hour <= MAX_PER_HOUR:
        errors["per_hour"] = [_("Between 0 (no limit) and %(n)s.") % {"n": MAX_PER_HOUR}]
    return per_hour


def _topic(key: str | None, errors: dict[str, list[str]]) -> ConsentPurpose | None:
    if not key:
        return None
    topic = ConsentPurpose.objects.filter(key=key, email_topic=True).first()
    if topic is None:
        errors["topic"] = [_("There is no such email topic.")]
    return topic


def _save(campaign: Campaign, cleaned: dict[str, Any]) -> None:
    fields = [k for k in cleaned if k not in ("segments", "exclude_segments")]
    for key in fields:
        setattr(campaign, key, cleaned[key])
    campaign.save()
    if "segments" in cleaned:
        campaign.segments.set(cleaned["segments"])
    if "exclude_segments" in cleaned:
        campaign.exclude_segments.set(cleaned["exclude_segments"])


def _described(cleaned: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in cleaned.items() if k in ("name", "per_hour", "tracking", *AB_LIMITS, "ab_metric")}
    if "template" in cleaned:
        out["template"] = cleaned["template"].name
    if "topic" in cleaned:
        out["topic"] = cleaned["topic"].key if cleaned["topic"] else None
    for key in ("segments", "exclude_segments"):
        if key in cleaned:
            out[key] = [s.name for s in cleaned[key]]
    return out


def campaign_create(*, actor: Actor, data: dict[str, Any]) -> Campaign:
    """``data``: name, template_id, segment_ids, exclude_segment_ids, per_hour, topic (a key),
    tracking (opens and clicks; ``MESSAGING_TRACKING`` when left out)."""
    perms.require(actor, "email", perms.CREATE)
    errors: dict[str, list[str]] = {}
    defaults = {"exclude_segment_ids": [], "per_hour": 0, "tracking": settings.MESSAGING_TRACKING}
    cleaned = _clean({**defaults, **data}, errors)
    for required in ("name", "template_id", "segment_ids"):
        if required not in data:
            errors.setdefault(required, [_("This field is required.")])
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        campaign = Campaign(created_by=actor.user)
        _save(campaign, cleaned)
        _audit(actor, AuditEvent.Action.CREATE, campaign, {k: [None, v] for k, v in _described(cleaned).items()})
    return campaign


def campaign_update(*, actor: Actor, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Change a draft (or a scheduled campaign not started yet): the keys given."""
    perms.require(actor, "email", perms.EDIT)
    errors: dict[str, list[str]] = {}
    cleaned = _clean(data, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.is_editable:
            raise Conflict(_("A campaign that has started cannot be changed."))
        _save(campaign, cleaned)
        _audit(actor, AuditEvent.Action.UPDATE, campaign, {k: [None, v] for k, v in _described(cleaned).items()})
    return campaign


def campaign_delete(*, actor: Actor, campaign: Campaign) -> None:
    perms.require(actor, "email", perms.DELETE)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.TESTING):
            raise Conflict(_("Cancel the campaign before deleting it."))
        _audit(actor, AuditEvent.Action.DELETE, campaign, {"name": [campaign.name, None]})
        campaign.delete()


def campaign_schedule(*, actor: Actor, campaign: Campaign, at: dt.datetime | None = None) -> Campaign:
    """Send now (``at`` empty or past) or at ``at`` (an aware datetime). The template is copied
    into the campaign now."""
    perms.require(actor, "email", perms.EDIT)
    now = timezone.now()
    if at is not None and timezone.is_naive(at):
        raise InvalidInput({"at": [_("Give the time with its time zone.")]})
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.is_editable:
            raise Conflict(_("This campaign has started already."))
        if not campaign.segments.exists():
            raise InvalidInput({"segment_ids": [_("Choose at least one segment or list.")]})
        if campaign.is_variant:
            raise Conflict(_("A variant is sent with its A/B test, not on its own."))
        if campaign.variants.count() == 1:
            raise InvalidInput({"variants": [_("An A/B test needs at least two variants.")]})
        campaign.content = campaign_content(campaign.template)
        campaign.scheduled_at = at if at is not None and at > now else now
        campaign.status = Campaign.Status.SCHEDULED
        campaign.save(update_fields=["content", "scheduled_at", "status"])
        _audit(actor, AuditEvent.Action.UPDATE, campaign, {"scheduled_at": [None, campaign.scheduled_at.isoformat()]})
        if campaign.scheduled_at <= now:
            _start(campaign)
    return campaign


def campaign_content(template: EmailTemplate, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """What a campaign sends, copied from its template when it is scheduled (later edits of the
    template change nothing), with a variant's ``overrides`` (subject, sender)."""
    content: dict[str, Any] = {
        **vars(parts_of(template)),
        "sender_name": template.sender_name,
        "sender_email": template.from_address,
        "reply_to": template.reply_to,
        "key": secrets.token_hex(6),
    }
    content.update({key: value for key, value in (overrides or {}).items() if value})
    return content


# --- automated email (a workflow's email step) --------------------------------------------------


def campaign_automated(*, template_id: int, name: str, topic: str | None = None) -> Campaign:
    """The campaign a workflow's email step sends through: no audience of its own, the
    template's parts copied now (later template edits change nothing, as at a start), sending
    from the first message on. Each run of the step queues its contacts with
    :func:`automated_queue`. Made when the workflow version is published."""
    errors: dict[str, list[str]] = {}
    template = EmailTemplate.objects.filter(pk=template_id).first()
    if template is None:
        errors["template"] = [_("No such template.")]
    purpose = _topic(topic, errors) if topic else None
    if errors or template is None:
        raise InvalidInput(errors)
    return Campaign.objects.create(
        name=clean_text(name)[:200], template=template, topic=purpose, status=Campaign.Status.SENDING,
        started_at=timezone.now(), content={**campaign_content(template), "automated": True},
        tracking=settings.MESSAGING_TRACKING,
    )  # fmt: skip


def automated_queue(
    *, campaign_id: int, contact_ids: Sequence[int], keys: dict[int, str] | None = None
) -> dict[int, tuple[str, str]]:
    """Queue an automated campaign's message for these contacts, inside the caller's transaction,
    by the rules of every campaign (``sends_write``: no or invalid address, suppression, consent,
    topic, frequency cap — checked again before sending). One message per contact and pass
    (``keys``: contact id → the workflow's "enrolment-seq"): a pass with a row already gets none
    and reads ``already_sent``. Returns contact id → (state, reason). The counts are the send
    job's (it refreshes them when it stops); the job is woken once after the commit."""
    keys = keys or {}
    campaign = Campaign.objects.get(pk=campaign_id)
    if not campaign.content.get("automated"):
        raise Conflict(_("Only an automated campaign sends a workflow's email."))
    if campaign.status == Campaign.Status.SENT:  # the job finished the last ones: sending again
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENT).update(status=Campaign.Status.SENDING)
    elif campaign.status != Campaign.Status.SENDING:
        raise Conflict(_("This campaign is %s.") % campaign.get_status_display())
    before = _passes(campaign, contact_ids, keys)
    sends_write(campaign, contact_ids, keys=keys)
    wake_send_job_soon(campaign.pk)
    states = {}
    for (cid, _key), (state, reason) in _passes(campaign, contact_ids, keys).items():
        states[cid] = ("already_sent", "") if (cid, _key) in before else (state, reason)
    return states


def _passes(
    campaign: Campaign, contact_ids: Sequence[int], keys: dict[int, str]
) -> dict[tuple[int, str], tuple[str, str]]:
    """(contact, key) → (state, reason) of these contacts' rows for their pass."""
    rows = Send.objects.filter(
        campaign=campaign, contact_id__in=list(contact_ids), key__in={keys.get(c, "") for c in contact_ids}
    )
    return {
        (cid, key): (state, reason)
        for cid, key, state, reason in rows.values_list("contact_id", "key", "state", "reason")
        if keys.get(cid, "") == key
    }


def wake_send_job_soon(campaign_id: int) -> None:
    """After the commit, the campaign's send job, once for a burst of writes (``core.jobs.wake_soon``)."""
    from danhba.core import jobs
    from danhba.messaging import tasks

    transaction.on_commit(
        lambda: jobs.wake_soon(f"campaign-send-{campaign_id}", lambda: tasks.campaign_send_job(campaign_id))
    )


def campaigns_start_due(now: dt.datetime | None = None) -> list[int]:
    """Start the scheduled campaigns whose time has come (the minutely job)."""
    now = now or timezone.now()
    started = []
    for pk in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().filter(pk=pk, status=Campaign.Status.SCHEDULED).first()
            if campaign is not None:
                _start(campaign)
                started.append(pk)
    return started


def _start(campaign: Campaign) -> None:
    """Inside the caller's transaction, the campaign row locked: write the audience, then wake
    the job after the commit. An A/B test sends its variants to the test share first."""
    if campaign.variants.exists():
        from danhba.messaging.services.abtests import abtest_start

        abtest_start(campaign)
        return
    audience_queue(campaign)
    campaign.status = Campaign.Status.SENDING
    campaign.started_at = timezone.now()
    campaign.save(update_fields=["status", "started_at"])
    counts_refresh(campaign)
    wake_send_job(campaign.pk)


def wake_send_job(campaign_id: int) -> None:
    from danhba.messaging import tasks

    transaction.on_commit(lambda: tasks.campaign_send_job(campaign_id))


def audience_batches(campaign: Campaign) -> Iterator[list[int]]:
    """The contact ids of the campaign's segments and lists, in keyset batches."""
    include = list(campaign.segments.values_list("pk", flat=True))
    last = 0
    while True:
        ids = list(
            SegmentMember.objects.filter(segment_id__in=include, contact_id__gt=last)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)
            .distinct()[:AUDIENCE_BATCH]
        )
        if not ids:
            return
        last = ids[-1]
        yield ids


def sends_write(
    campaign: Campaign,
    contact_ids: Sequence[int],
    *,
    audience: Campaign | None = None,
    keys: dict[int, str] | None = None,
) -> int:
    """A Send row of ``campaign`` per contact, queued or excluded with its reason; the audience's
    rules (excluded segments, topic) are ``audience``'s (an A/B test's variant: its parent)."""
    rules = audience or campaign
    marketing = bool(campaign.content.get("marketing", True))
    exclude = list(rules.exclude_segments.values_list("pk", flat=True))
    checked = recipients_check(
        contact_ids, marketing=marketing, exclude_segments=exclude, topic_id=rules.topic_id, campaign_id=campaign.pk
    )
    return _sends_insert(campaign, checked, marketing=marketing, keys=keys or {})


def _sends_insert(
    campaign: Campaign, checked: list[tuple[int, str, dict[str, str]]], *, marketing: bool, keys: dict[int, str]
) -> int:
    """One batch's Send rows in one raw insert (``core.bulk.Table``: the ORM's ``bulk_create``
    spent most of the queueing time preparing values); every column not given gets its model
    default. Contacts that have a row already are left out, so a second run writes nothing twice."""
    have = set(
        Send.objects.filter(campaign=campaign, contact_id__in=[cid for cid, _e, _s in checked]).values_list(
            "contact_id", "key"
        )
    )
    names = [f.attname for f in Send._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: f.get_default() for f in Send._meta.concrete_fields if not f.primary_key}
    rows = []
    for cid, email, state in checked:
        key = keys.get(cid, "")
        if (cid, key) not in have:
            values = {**defaults, "campaign_id": campaign.pk, "contact_id": cid, "email": email, "key": key, **state}
            values["marketing"] = marketing
            rows.append([values[name] for name in names])
    Table(Send, names).insert(rows)
    return len(rows)


def audience_queue(campaign: Campaign) -> int:
    """Write a Send row for every contact of the audience (queued or excluded with its reason);
    returns the number of rows written. Runs again harmlessly (unique per campaign and contact).
    The winner of an A/B test leaves out who got a variant already."""
    tested = campaign.variants.exists()
    written = 0
    for ids in audience_batches(campaign):
        if tested:
            got = set(
                Send.objects.filter(campaign__parent=campaign, contact_id__in=ids).values_list("contact_id", flat=True)
            )
            ids = [cid for cid in ids if cid not in got]
        written += sends_write(campaign, ids)
    return written


def recipients_check(
    contact_ids: Sequence[int],
    *,
    marketing: bool,
    exclude_segments: Sequence[int] = (),
    topic_id: int | None = None,
    campaign_id: int | None = None,
) -> list[tuple[int, str, dict[str, str]]]:
    """(contact id, address, {"state", "reason"}) for each contact: queued, or excluded with the
    first rule that stops it. A handful of IN queries per batch, none per contact."""
    excluded = set(
        SegmentMember.objects.filter(segment_id__in=exclude_segments, contact_id__in=contact_ids).values_list(
            "contact_id", flat=True
        )
    ) if exclude_segments else set()  # fmt: skip
    emails = dict(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "email"))
    blocked = send_blockers(
        [(cid, email) for cid, email in emails.items() if email],
        marketing=marketing,
        topic_id=topic_id,
        campaign_id=campaign_id,
    )
    out = []
    for cid in contact_ids:
        if cid not in emails:
            continue  # deleted meanwhile
        email = emails[cid]
        reason = _reason(cid, email, excluded) or blocked.get(cid, "")
        state = {"state": Send.State.EXCLUDED, "reason": reason} if reason else {"state": Send.State.QUEUED}
        out.append((cid, email, state))
    return out


def _reason(cid: int, email: str, excluded: set[int]) -> str:
    """What stops a contact whatever the moment: an excluding segment, no or an invalid address."""
    if cid in excluded:
        return Reason.EXCLUDED_SEGMENT
    if not email:
        return Reason.NO_ADDRESS
    try:
        normalize_email(email)
    except NormalizationError:
        return Reason.INVALID
    return ""


def send_blockers(
    recipients: Sequence[tuple[int, str]], *, marketing: bool, topic_id: int | None, campaign_id: int | None
) -> dict[int, str]:
    """Why each of these (contact id, address) may not get the message now, first rule first:
    the address is suppressed; consent withdrawn, paused or the topic left (marketing); the
    frequency cap reached (marketing). Absent: may be sent. Checked when a recipient is queued
    and again just before sending, by this one function."""
    ids = [cid for cid, _email in recipients]
    suppressed = suppressed_addresses([email for _cid, email in recipients], marketing=marketing)
    unwilling = consent_reasons(ids, topic_id=topic_id) if marketing else {}
    capped = capped_contacts(ids, campaign_id=campaign_id) if marketing else set()
    out: dict[int, str] = {}
    for cid, email in recipients:
        if email in suppressed:
            out[cid] = Reason.SUPPRESSED
        elif cid in unwilling:
            out[cid] = unwilling[cid]
        elif cid in capped:
            out[cid] = Reason.CAPPED
    return out


def consent_reasons(contact_ids: Sequence[int], *, topic_id: int | None = None) -> dict[int, str]:
    """The contacts marketing email may not reach by the consent ledger's current state, with
    the reason: no current email-marketing consent, a pause (withdrawn until a time still to
    come; one that is over counts as granted until the job records it), or an opt-out of the
    campaign's topic."""
    now = timezone.now()
    granted, paused = set(), set()
    states = ConsentState.objects.filter(
        contact_id__in=contact_ids, purpose__key=settings.MESSAGING_CONSENT_PURPOSE
    ).values_list("contact_id", "status", "until")
    for cid, status, until in states:
        if status == ConsentStatus.GRANTED or (until is not None and until <= now):
            granted.add(cid)
        elif until is not None:
            paused.add(cid)
    out: dict[int, str] = {
        cid: Reason.PAUSED if cid in paused else Reason.NO_CONSENT for cid in contact_ids if cid not in granted
    }
    if topic_id:
        opted_out = ConsentState.objects.filter(
            contact_id__in=contact_ids, purpose_id=topic_id, status=ConsentStatus.WITHDRAWN
        ).values_list("contact_id", flat=True)
        for cid in opted_out:
            out.setdefault(cid, Reason.TOPIC_OPT_OUT)
    return out


def suppressed_addresses(emails: Sequence[str], *, marketing: bool) -> set[str]:
    rows = Suppression.objects.filter(email__in=list(emails))
    if not marketing:
        rows = rows.filter(reason__in=UNDELIVERABLE)
    return set(rows.values_list("email", flat=True))


def capped_contacts(
    contact_ids: Sequence[int], now: dt.datetime | None = None, *, campaign_id: int | None = None
) -> set[int]:
    """Contacts that reached the frequency cap of marketing email: rows sent in the window, and
    rows another run holds (claimed or on a connection) — two campaigns sending at once see each
    other. The campaign being checked (``campaign_id``) is left out: it does not cap itself."""
    cap = settings.MESSAGING_FREQUENCY_CAP
    if cap <= 0:
        return set()
    since = (now or timezone.now()) - dt.timedelta(hours=settings.MESSAGING_FREQUENCY_HOURS)
    held = Q(state=Send.State.SENDING) | (Q(state=Send.State.QUEUED) & ~Q(claim_token=""))
    rows = Send.objects.filter(Q(sent_at__gte=since) | held, contact_id__in=contact_ids, marketing=True)
    if campaign_id is not None:
        rows = rows.exclude(campaign_id=campaign_id)
    capped = rows.values("contact_id").annotate(n=Count("id")).filter(n__gte=cap)
    return {row["contact_id"] for row in capped}


def counts_refresh(campaign: Campaign) -> dict[str, int]:
    """The campaign's counts by state and by exclusion reason (from its Send rows)."""
    counts: dict[str, int] = {}
    for row in Send.objects.filter(campaign=campaign).values("state", "reason").annotate(n=Count("id")):
        counts[row["state"]] = counts.get(row["state"], 0) + row["n"]
        if row["reason"]:
            counts[f"reason:{row['reason']}"] = row["n"]
    Campaign.objects.filter(pk=campaign.pk).update(counts=counts)
    campaign.counts = counts
    return counts


def _transition(actor: Actor, campaign: Campaign, allowed: Sequence[str], to: str, message: str) -> Campaign:
    perms.require(actor, "email", perms.EDIT)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in allowed:
            raise Conflict(message)
        before = campaign.status
        campaign.status = to
        fields = ["status"]
        if to == Campaign.Status.CANCELLED:
            campaign.finished_at = timezone.now()
            fields.append("finished_at")
            # An A/B test's variants still going stop too.
            Campaign.objects.filter(parent=campaign, status__in=allowed).update(
                status=to, finished_at=campaign.finished_at
            )
        campaign.save(update_fields=fields)
        _audit(actor, AuditEvent.Action.UPDATE, campaign, {"status": [before, to]})
        if to == Campaign.Status.SENDING:
            wake_send_job(campaign.pk)
    return campaign


def campaign_pause(*, actor: Actor, campaign: Campaign) -> Campaign:
    """The job stops after the batch it is sending; nothing queued leaves until resumed."""
    return _transition(
        actor, campaign, [Campaign.Status.SENDING], Campaign.Status.PAUSED, _("Only a campaign being sent can pause.")
    )


def campaign_resume(*, actor: Actor, campaign: Campaign) -> Campaign:
    return _transition(
        actor, campaign, [Campaign.Status.PAUSED], Campaign.Status.SENDING, _("Only a paused campaign can resume.")
    )


def campaign_cancel(*, actor: Actor, campaign: Campaign) -> Campaign:
    """Nothing more is sent; what left already stays sent."""
    allowed = [Campaign.Status.SCHEDULED, Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.TESTING]
    return _transition(
        actor, campaign, allowed, Campaign.Status.CANCELLED, _("This campaign can no longer be cancelled.")
    )


def suppression_add(*, email: str, reason: str, note: str = "") -> Suppression:
    """Put an address on the suppression list (or keep the entry it has: the first reason stays)."""
    address = normalize_email(email)
    entry, _created = Suppression.objects.get_or_create(email=address, defaults={"reason": reason, "note": note[:500]})
    return entry


def _last_send(recipient: Recipient) -> Send | None:
    """The campaign's last message to the contact: a workflow's campaign may have sent it
    several (one per enrolment), and the link answers for the latest."""
    if not recipient.campaign_id:
        return None
    return (
        Send.objects.filter(campaign_id=recipient.campaign_id, contact_id=recipient.contact_id)
        .only("pk", "email")
        .order_by("-pk")
        .first()
    )


def _suppress_sent_address(send: Send | None, contact: Contact, reason: str) -> None:
    """Suppress the address the campaign's message went to (the contact may have changed it
    since), else the contact's; an address that is no address is skipped with a log line."""
    address = (send.email if send else "") or contact.email
    if not address:
        return
    try:
        suppression_add(email=address, reason=reason, note=f"campaign {send.campaign_id}" if send else "")
    except NormalizationError:
        log.warning("contact %s: %r is no address to suppress (%s)", contact.pk, address, reason)


def unsubscribe(
    *,
    recipient: Recipient,
    ip_address: str | None = None,
    proof: str = "",
    reason: str = Suppression.Reason.UNSUBSCRIBED,
) -> bool:
    """The one-click unsubscribe (RFC 8058), the unsubscribe page, the preference centre, and an
    ESP's unsubscribe or spam complaint (``reason`` complaint): withdraw the contact's
    email-marketing consent in the ledger and suppress its address, at once. False when the
    contact no longer exists."""
    from danhba.privacy.services import consent_record

    contact = Contact.objects.filter(pk=recipient.contact_id).first()
    if contact is None:
        return False
    with transaction.atomic():
        consent_record(
            actor=Actor.system("job"),
            contact=contact,
            purpose=settings.MESSAGING_CONSENT_PURPOSE,
            status=ConsentStatus.WITHDRAWN,
            source="email",
            proof=proof or f"unsubscribe link, campaign {recipient.campaign_id}",
            ip_address=ip_address,
        )
        send = _last_send(recipient)
        _suppress_sent_address(send, contact, reason)
        unsubscribe_recorded(
            contact_id=contact.pk,
            campaign_id=recipient.campaign_id,
            send_id=send.pk if send else None,
            complaint=reason == Suppression.Reason.COMPLAINT,
        )
        if send is not None:  # the campaign's report counts it
            field = "complained_at" if reason == Suppression.Reason.COMPLAINT else "unsubscribed_at"
            Send.objects.filter(pk=send.pk, **{f"{field}__isnull": True}).update(**{field: timezone.now()})
    return True
