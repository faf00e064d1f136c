"""Event retention: the rules (Settings → Event retention), what they would delete, and the
nightly purge that applies them.

Each event falls under exactly one rule, the most specific that matches it: type and name,
then name, then type, then the default rule. The purge walks the (name, timestamp) index one
event name at a time (a skip scan: one index probe finds the next name), so every delete is an
index range; it deletes in batches of ``EVENT_PURGE_BATCH`` rows, one short transaction each.
On PostgreSQL, whole months older than the longest retention are dropped as partitions first.
Derived data (orders, purchase stats) lives in its own tables and is not touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.core import formatting
from danhba.core.actor import Actor
from danhba.core.errors import InvalidInput
from danhba.core.normalize import clean_text
from danhba.tracking import partitions
from danhba.tracking.models import Event, EventMessage, EventPurge, EventRetention

# A purge's audit label, stored in English (kept as written) and shown translated (event_audit_label).
PURGE_LABEL = gettext_noop("Retention purge: %(n)s events")

MAX_KEEP_MONTHS = 1200
TYPES = [t.value for t in Event.Type]


# --- rules ----------------------------------------------------------------------------------


def retention_rules() -> list[EventRetention]:
    """Every rule, the default one first, then by type and name."""
    return sorted(EventRetention.objects.all(), key=lambda r: (not r.is_default, r.event_type, r.name.lower()))


def rule_for(rules: list[EventRetention], event_type: str, name: str) -> EventRetention | None:
    """The rule an event of this type and name falls under (None: no rule, kept)."""
    matching = [r for r in rules if r.matches(event_type, name)]
    return max(matching, key=lambda r: r.specificity, default=None)


def cutoff_for(rule: EventRetention, now: datetime) -> datetime | None:
    """Events of the rule with a timestamp before this are deleted; None keeps them forever."""
    return None if rule.keep_months is None else partitions.add_months(now, -rule.keep_months)


def _validate(event_type: str, name: str, keep_months: int | None) -> tuple[str, str]:
    errors: dict[str, list[str]] = {}
    event_type = (event_type or "").strip()
    name = clean_text(name or "")
    if event_type and event_type not in TYPES:
        errors["event_type"] = [_("must be one of %(choices)s") % {"choices": ", ".join(TYPES)}]
    if len(name) > 200:
        errors["name"] = [_("at most 200 characters")]
    if keep_months is not None and not 1 <= keep_months <= MAX_KEEP_MONTHS:
        errors["keep_months"] = [_("between 1 and %(n)s months, or empty to keep forever") % {"n": MAX_KEEP_MONTHS}]
    if errors:
        raise InvalidInput(errors)
    return event_type, name


def retention_rule_create(*, actor: Actor, event_type: str, name: str, keep_months: int | None) -> EventRetention:
    perms.require(actor, "event", perms.EDIT)
    event_type, name = _validate(event_type, name, keep_months)
    if not event_type and not name:
        raise InvalidInput(
            {"event_type": [_("choose an event type or give an event name; the default rule already exists")]}
        )
    try:
        with transaction.atomic():
            rule = EventRetention.objects.create(event_type=event_type, name=name, keep_months=keep_months)
            audit_event(
                actor=actor,
                action=AuditEvent.Action.CREATE,
                object_type="event_retention",
                object_id=rule.pk,
                object_label=rule.label,
                changes={"keep_months": [None, keep_months]},
            )
    except IntegrityError:
        raise InvalidInput({"name": [_("a rule for this event type and name already exists")]}) from None
    return rule


def retention_rule_update(*, actor: Actor, rule: EventRetention, keep_months: int | None) -> EventRetention:
    perms.require(actor, "event", perms.EDIT)
    _validate(rule.event_type, rule.name, keep_months)
    before = rule.keep_months
    if before == keep_months:
        return rule
    with transaction.atomic():
        rule.keep_months = keep_months
        rule.updated_at = timezone.now()
        rule.save(update_fields=["keep_months", "updated_at"])
        audit_event(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            object_type="event_retention",
            object_id=rule.pk,
            object_label=rule.label,
            changes={"keep_months": [before, keep_months]},
        )
    return rule


def retention_rule_delete(*, actor: Actor, rule: EventRetention) -> None:
    perms.require(actor, "event", perms.EDIT)
    if rule.is_default:
        raise InvalidInput({}, _("The default rule cannot be deleted; set it to keep events forever instead."))
    with transaction.atomic():
        audit_event(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            object_type="event_retention",
            object_id=rule.pk,
            object_label=rule.label,
            changes={"keep_months": [rule.keep_months, None]},
        )
        rule.delete()


# --- what the rules select -------------------------------------------------------------------


def _match_q(rule: EventRetention) -> Q:
    q = Q()
    if rule.event_type:
        q &= Q(type=rule.event_type)
    if rule.name:
        q &= Q(name=rule.name)
    return q


def rule_queryset(rule: EventRetention, rules: list[EventRetention], now: datetime) -> QuerySet[Event] | None:
    """The events ``rule`` deletes now: those it matches, older than its cutoff, and not taken by
    a more specific rule. None when the rule keeps events forever."""
    cutoff = cutoff_for(rule, now)
    if cutoff is None:
        return None
    qs = Event.objects.filter(_match_q(rule), timestamp__lt=cutoff)
    for other in rules:
        if other.specificity > rule.specificity and _overlap(rule, other):
            qs = qs.exclude(_match_q(other))
    return qs


def _overlap(a: EventRetention, b: EventRetention) -> bool:
    return (not a.event_type or not b.event_type or a.event_type == b.event_type) and (
        not a.name or not b.name or a.name == b.name
    )


@dataclass
class RulePreview:
    rule: EventRetention
    cutoff: datetime | None
    count: int
    exact: bool


def retention_preview(*, now: datetime | None = None) -> list[RulePreview]:
    """Per rule, how many events the next purge deletes. A rule naming an event is counted
    exactly over the (name, timestamp) index. Other rules match by type, which no index serves:
    on PostgreSQL they are the planner's estimate (no scan), on SQLite an exact count."""
    now = now or timezone.now()
    rules = retention_rules()
    previews = []
    for rule in rules:
        qs = rule_queryset(rule, rules, now)
        if qs is None:
            previews.append(RulePreview(rule, None, 0, True))
        elif rule.name or connection.vendor != "postgresql":
            previews.append(RulePreview(rule, cutoff_for(rule, now), qs.count(), True))
        else:
            previews.append(RulePreview(rule, cutoff_for(rule, now), _estimate(qs), False))
    return previews


def _estimate(qs: QuerySet[Event]) -> int:
    plan = json.loads(qs.only("id").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def droppable_partitions(rules: list[EventRetention], now: datetime) -> list[partitions.Partition]:
    """Monthly partitions whose every event is past every rule's cutoff (none while any rule,
    the default included, keeps events forever)."""
    if not rules or not any(r.is_default for r in rules) or any(r.keep_months is None for r in rules):
        return []
    boundary = min(c for r in rules if (c := cutoff_for(r, now)) is not None)
    return [p for p in partitions.partitions_list() if p.end is not None and p.end <= boundary]


# --- the purge --------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    dry_run: bool
    rules: list[dict[str, Any]] = field(default_factory=list)
    partitions: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0
    run: EventPurge | None = None

    @property
    def deleted(self) -> int:
        return sum(r["deleted"] for r in self.rules) + sum(p["rows"] for p in self.partitions)


def _event_names() -> Iterator[str]:
    """Every distinct event name, in order, one index probe each."""
    last: str | None = None
    while True:
        qs = Event.objects.order_by("name").values_list("name", flat=True)
        if last is not None:
            qs = qs.filter(name__gt=last)
        name = qs.first()
        if name is None:
            return
        yield name
        last = name


class _Purge:
    """One purge run: its report, and the count of rows deleted (or counted) so far."""

    def __init__(self, *, dry_run: bool, now: datetime, progress: Callable[[int], None] | None) -> None:
        self.dry_run, self.now, self.progress = dry_run, now, progress
        self.report = PurgeReport(dry_run=dry_run)
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done)

    def partitions(self, rules: list[EventRetention]) -> Q:
        """Whole months past every rule (PostgreSQL); the condition that leaves them out of the
        row-by-row step (in a dry run they are still there and must not be counted twice)."""
        dropped = droppable_partitions(rules, self.now)
        in_dropped = Q()
        for part in dropped:
            rows = partitions.partition_rows(part)
            if not self.dry_run:
                partitions.partition_drop(part)
            self.report.partitions.append(
                {"name": part.name, "from": part.start.isoformat() if part.start else None, "rows": rows}
            )
            self.advance(rows)
            in_dropped |= Q(timestamp__gte=part.start, timestamp__lt=part.end)
        return in_dropped

    def rows(self, rules: list[EventRetention], in_dropped: Q) -> None:
        """Row by row, one event name at a time."""
        results: dict[int, dict[str, Any]] = {}
        for rule in rules:
            cutoff = cutoff_for(rule, self.now)
            results[rule.pk] = {
                "rule": rule.pk, "label": rule.label, "keep_months": rule.keep_months, "deleted": 0,
                "cutoff": cutoff.isoformat() if cutoff else None,
            }  # fmt: skip
        if any(r.keep_months is not None for r in rules):
            for name in _event_names():
                for rule, types in _plan_for_name(rules, name):
                    qs = Event.objects.filter(name=name, timestamp__lt=cutoff_for(rule, self.now))
                    if len(types) < len(TYPES):
                        qs = qs.filter(type__in=types)
                    results[rule.pk]["deleted"] += self._rule_rows(
                        qs.exclude(in_dropped) if in_dropped and self.dry_run else qs
                    )
        self.report.rules = list(results.values())

    def _rule_rows(self, qs: QuerySet[Event]) -> int:
        if self.dry_run:
            n = qs.count()
            self.advance(n)
            return n
        deleted = 0
        while n := _delete_batch(qs):
            deleted += n
            self.advance(n)
        return deleted

    def messages(self) -> None:
        """The messageIds past the dedupe window."""
        window = self.now - timedelta(days=settings.EVENT_DEDUPE_DAYS)
        old_messages = EventMessage.objects.filter(received_at__lt=window)
        if self.dry_run:
            self.report.messages = old_messages.count()
            return
        while batch := list(old_messages.order_by("received_at").values_list("id", flat=True)[: _batch_size()]):
            with transaction.atomic():
                self.report.messages += EventMessage.objects.filter(id__in=batch).delete()[0]

    def finish(self, actor: Actor) -> None:
        report, run = self.report, self.report.run
        if run is None:
            return
        run.finished_at = timezone.now()
        run.deleted = report.deleted
        run.messages_deleted = report.messages
        run.details = {"rules": report.rules, "partitions": report.partitions}
        with transaction.atomic():
            run.save(update_fields=["finished_at", "deleted", "messages_deleted", "details"])
            if report.deleted:
                audit_event(
                    actor=actor,
                    action=AuditEvent.Action.DELETE,
                    object_type="event",
                    object_id=run.pk,
                    object_label=PURGE_LABEL % {"n": report.deleted},  # shown by event_audit_label
                    changes={"deleted": report.deleted, "partitions": [p["name"] for p in report.partitions]},
                )


def events_purge(
    *,
    actor: Actor,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    """Delete what the retention rules say is past keeping, and messageIds past the dedupe
    window. ``dry_run`` counts exactly what a run would delete and changes nothing.
    ``progress`` is called with the number of rows deleted (or counted) so far."""
    perms.require(actor, "event", perms.DELETE)
    purge = _Purge(dry_run=dry_run, now=now or timezone.now(), progress=progress)
    rules = retention_rules()
    if not dry_run:
        purge.report.run = EventPurge.objects.create(started_at=purge.now, via=actor.via)
    purge.rows(rules, purge.partitions(rules))
    purge.messages()
    purge.finish(actor)
    return purge.report


def _plan_for_name(rules: list[EventRetention], name: str) -> list[tuple[EventRetention, list[str]]]:
    """For events called ``name``: each rule with a limit, and the types it decides for them."""
    by_rule: dict[int, tuple[EventRetention, list[str]]] = {}
    for event_type in TYPES:
        rule = rule_for(rules, event_type, name)
        if rule is not None and rule.keep_months is not None:
            by_rule.setdefault(rule.pk, (rule, []))[1].append(event_type)
    return list(by_rule.values())


def _batch_size() -> int:
    return max(1, settings.EVENT_PURGE_BATCH)


def _delete_batch(qs: QuerySet[Event]) -> int:
    """Delete the oldest batch of ``qs`` in one short transaction; 0 when nothing is left.
    The delete names the batch's time range too, so PostgreSQL touches only its partitions."""
    with transaction.atomic():
        batch = list(qs.order_by("timestamp").values_list("id", "timestamp")[: _batch_size()])
        if not batch:
            return 0
        ids = [pk for pk, _timestamp in batch]
        return Event.objects.filter(id__in=ids, timestamp__gte=batch[0][1], timestamp__lte=batch[-1][1]).delete()[0]


def event_audit_label(event: Any) -> str | None:
    """The label of an "event" audit row in the reader's language: a purge ("Retention purge:
    1.234 events") or an export of the explorer's people."""
    changes = event.changes or {}
    deleted = changes.get("deleted")
    if "partitions" in changes and isinstance(deleted, int):
        return gettext(PURGE_LABEL) % {"n": formatting.number(deleted)}
    if event.action == AuditEvent.Action.EXPORT:
        return gettext("Event explorer people: CSV export")
    return None
