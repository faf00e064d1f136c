"""A/B tests of a campaign's subject, sender or content.

A variant is a campaign of its own under its parent (``Campaign.parent``, labelled A, B, …): its
template (the parent's as it is at the start, unless one was chosen: ``own_template``) with
``overrides`` (subject, sender name, sender address). The send job sends a variant like any
campaign. When the parent starts, the test share of its audience (``ab_share`` %, default 10) is
split among the variants at random but reproducibly (``split.slot``: a hash of the campaign's
key and the contact), each variant's recipients written with the parent's rules (consent,
suppression, topic, excluded segments), and the parent waits in "testing". After
``ab_wait_hours`` the minutely sweep picks the winner by ``ab_metric`` — the click rate or the
open rate (human opens) of each variant's sent messages, ties to the earlier label — unless it
is picked by hand; then the parent sends the winner's content to the rest of its audience
(everyone but the variants' recipients)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core.actor import Actor
from danhba.core.errors import Conflict, InvalidInput, NotFound
from danhba.core.normalize import NormalizationError, clean_text, normalize_email
from danhba.messaging.models import AbMetric, Campaign, EmailTemplate
from danhba.messaging.reports import variant_rates
from danhba.messaging.services.campaigns import (
    audience_batches,
    audience_queue,
    campaign_content,
    counts_refresh,
    sends_write,
    wake_send_job,
)
from danhba.messaging.split import LABELS, MAX_VARIANTS, slot

OVERRIDES = {"subject": 500, "sender_name": 120, "sender_email": 254}
# How the parent is sent, copied to every variant at start: the topic, the throttle, tracking.
SENDING_OPTIONS = ("topic", "per_hour", "tracking")


def _audit(actor: Actor, campaign: Campaign, action: str, changes: dict[str, Any]) -> None:
    audit_event(
        actor=actor, action=action, object_type="campaign", object_id=campaign.pk,
        object_label=campaign.name[:254], changes=changes,
    )  # fmt: skip


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """``data``: subject, sender_name, sender_email (empty: the template's), template_id (None:
    the parent's template)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, limit in OVERRIDES.items():
        if field in data:
            value = clean_text(data[field] or "")
            if len(value) > limit:
                errors[field] = [_("at most %(n)s characters") % {"n": limit}]
            cleaned[field] = value
    if cleaned.get("sender_email"):
        try:
            cleaned["sender_email"] = normalize_email(cleaned["sender_email"])
        except NormalizationError:
            errors["sender_email"] = [_("Enter a valid email address.")]
    if data.get("template_id") is not None:
        cleaned["template"] = EmailTemplate.objects.filter(pk=data["template_id"]).first()
        if cleaned["template"] is None:
            errors["template_id"] = [_("There is no such email template.")]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _locked_draft(campaign: Campaign) -> Campaign:
    parent = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if parent.is_variant:
        raise Conflict(_("A variant has no variants of its own."))
    if not parent.is_editable:
        raise Conflict(_("A campaign that has started cannot be changed."))
    return parent


def variant_create(*, actor: Actor, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Add the next variant (A, B, … up to E) to a campaign not started yet."""
    perms.require(actor, "email", perms.EDIT)
    cleaned = _clean(data)
    with transaction.atomic():
        parent = _locked_draft(campaign)
        used = set(parent.variants.values_list("variant_label", flat=True))
        free = [label for label in LABELS if label not in used]
        if not free:
            raise Conflict(_("At most %(n)s variants.") % {"n": MAX_VARIANTS})
        variant = Campaign.objects.create(
            parent=parent,
            variant_label=free[0],
            name=f"{parent.name} · {free[0]}"[:200],
            template=cleaned.get("template") or parent.template,
            own_template="template" in cleaned,
            overrides={k: cleaned[k] for k in OVERRIDES if cleaned.get(k)},
            created_by=actor.user,
        )
        _audit(actor, parent, AuditEvent.Action.UPDATE, {"variants": [None, _described(variant)]})
    return variant


def variant_update(*, actor: Actor, variant: Campaign, data: dict[str, Any]) -> Campaign:
    perms.require(actor, "email", perms.EDIT)
    cleaned = _clean(data)
    with transaction.atomic():
        _locked_draft(variant.parent or variant)
        variant = Campaign.objects.select_for_update().get(pk=variant.pk)
        before = _described(variant)
        if "template" in cleaned:
            variant.template, variant.own_template = cleaned["template"], True
        overrides = {**variant.overrides, **{k: cleaned[k] for k in OVERRIDES if k in cleaned}}
        variant.overrides = {k: v for k, v in overrides.items() if v}
        variant.save(update_fields=["template", "own_template", "overrides"])
        _audit(actor, variant, AuditEvent.Action.UPDATE, {"variant": [before, _described(variant)]})
    return variant


def variant_delete(*, actor: Actor, variant: Campaign) -> None:
    perms.require(actor, "email", perms.EDIT)
    with transaction.atomic():
        parent = _locked_draft(variant.parent or variant)
        _audit(actor, parent, AuditEvent.Action.UPDATE, {"variants": [_described(variant), None]})
        variant.delete()


def variant_get(campaign: Campaign, variant_id: int) -> Campaign:
    variant = Campaign.objects.filter(pk=variant_id, parent=campaign).select_related("template").first()
    if variant is None:
        raise NotFound(_("This campaign has no such variant."))
    return variant


def _described(variant: Campaign) -> dict[str, Any]:
    return {"label": variant.variant_label, "template": variant.template.name, **variant.overrides}


def abtest_start(parent: Campaign) -> None:
    """Inside ``campaign_schedule``'s transaction (the parent locked, its content copied): send
    each variant to its part of the test share; the parent waits for the winner."""
    now = timezone.now()
    variants = list(parent.variants.select_related("template").order_by("variant_label"))
    for variant in variants:
        if not variant.own_template:  # the parent's template as it is now, not at the variant's creation
            variant.template = parent.template
        variant.content = campaign_content(variant.template, variant.overrides)
        for field in SENDING_OPTIONS:  # sent as the parent says, whatever it said at creation
            setattr(variant, field, getattr(parent, field))
        variant.status, variant.scheduled_at, variant.started_at = Campaign.Status.SENDING, now, now
        variant.save(update_fields=["template", "content", *SENDING_OPTIONS, "status", "scheduled_at", "started_at"])
    key = str(parent.content["key"])
    for ids in audience_batches(parent):
        groups: dict[int, list[int]] = defaultdict(list)
        for cid in ids:
            index = slot(key, cid, parent.ab_share, len(variants))
            if index is not None:
                groups[index].append(cid)
        for index, contact_ids in groups.items():
            sends_write(variants[index], contact_ids, audience=parent)
    for variant in variants:
        counts_refresh(variant)
        wake_send_job(variant.pk)
    parent.status, parent.started_at = Campaign.Status.TESTING, now
    parent.ab_decide_at = now + dt.timedelta(hours=parent.ab_wait_hours)
    parent.save(update_fields=["status", "started_at", "ab_decide_at"])


def abtest_winner(parent: Campaign) -> Campaign | None:
    """The variant with the best rate by the parent's metric (ties: the earlier label); None
    when it is picked by hand."""
    if parent.ab_metric == AbMetric.MANUAL:
        return None
    variants = list(parent.variants.order_by("variant_label"))
    rates = variant_rates([v.pk for v in variants])
    measure = "click_rate" if parent.ab_metric == AbMetric.CLICKS else "open_rate"
    return max(variants, key=lambda v: (rates[v.pk][measure], -LABELS.index(v.variant_label)))


def abtest_pick(*, actor: Actor, campaign: Campaign, variant: Campaign) -> Campaign:
    """Pick the winner by hand (any metric), at once: it goes to the rest of the audience."""
    perms.require(actor, "email", perms.EDIT)
    with transaction.atomic():
        parent = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if parent.status != Campaign.Status.TESTING:
            raise Conflict(_("Only a campaign testing its variants can have its winner picked."))
        _send_rest(parent, variant)
        _audit(actor, parent, AuditEvent.Action.UPDATE, {"ab_winner": [None, variant.variant_label]})
    return parent


def abtests_decide_due(now: dt.datetime | None = None) -> list[int]:
    """The minutely sweep: tests whose wait is over get their winner (by click or open rate)."""
    now = now or timezone.now()
    due = Campaign.objects.filter(status=Campaign.Status.TESTING, ab_decide_at__lte=now).exclude(
        ab_metric=AbMetric.MANUAL
    )
    decided = []
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            parent = Campaign.objects.select_for_update().filter(pk=pk, status=Campaign.Status.TESTING).first()
            winner = abtest_winner(parent) if parent is not None else None
            if parent is not None and winner is not None:
                _send_rest(parent, winner)
                decided.append(pk)
    return decided


def _send_rest(parent: Campaign, winner: Campaign) -> None:
    """The winner's content goes to everyone in the audience who got no variant (the winner read
    again here, under the parent's lock: the caller's copy may be from before the start)."""
    winner = Campaign.objects.get(pk=winner.pk, parent=parent)
    key = parent.content.get("key")
    parent.content = {**winner.content, "key": key}
    parent.ab_winner = winner
    parent.status = Campaign.Status.SENDING
    parent.save(update_fields=["content", "ab_winner", "status"])
    audience_queue(parent)
    counts_refresh(parent)
    wake_send_job(parent.pk)
