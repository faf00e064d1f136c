"""What enrols contacts: the trigger kinds (``kinds.TRIGGER_KINDS``) and the listeners that
apply them, called by the hooks of the apps below (connected in ``apps.py``) inside the writing
transaction — never a scan of a whole table on a timer.

- ``segment_entered`` / ``segment_left``: segments' membership writes (``SEGMENT_CHANGED``);
- ``event``: events stored (``tracking.events_stored``), with property conditions;
- ``field_changed`` (optionally from a value, to a value), ``lifecycle_reached``,
  ``buyer_role_assigned``: contact writes (``contacts.changed``; the value now is compared, and
  the value before is read from the write's own audit row, the one record of "from what to what");
- ``deal_won`` / ``deal_lost`` (optionally for some lost reasons), ``form_submitted`` (optionally
  one form): the events sales and capture store in their internal sources ("Deal Won", "Deal
  Lost", "Form Submitted"), so automation never imports them; events of these names sent by a
  website or an API key do not count;
- ``subscribed``: a consent purpose (marketing email by default) granted after it was not;
- ``score_reached``: a grade of a score model reached, rising (``scoring.score_reached``);
- ``inactive`` (no activity for N days) and ``date`` (N days after a date — creation, a custom
  date field —, once or every year; a birthday): a daily query per workflow
  (:func:`daily_enrol`), once per local day;
- ``manual``: only by hand, in bulk or through the API.

Which workflows can start from a hook is one indexed query on (trigger_kind, trigger_key),
remembered per process for a few seconds (a workflow saved in this process clears it)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, ConfigDict, Field

from danhba.automation.kinds import TRIGGER_KINDS, FieldHint, TriggerKind
from danhba.automation.models import Workflow
from danhba.core.deferred import writes_at_end

CACHE_SECONDS = 5.0
_cache: dict[str, Any] = {"at": 0.0, "kinds": {}}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str


class ManualParams(_Params):
    pass


class SegmentParams(_Params):
    segment: int = Field(ge=1)


class PropertyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    property: str = Field(min_length=1, max_length=200)
    operator: Literal["eq", "ne", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists"] = "eq"
    value: Any = None


class EventParams(_Params):
    event: str = Field(min_length=1, max_length=200)
    where: list[PropertyIn] = Field(default_factory=list, max_length=20)


class FieldParams(_Params):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    field: str = Field(min_length=1, max_length=80)
    # The value the field had before the change (None: any value).
    from_: Any = Field(default=None, alias="from")
    # The value the field must have now (None: any change).
    to: Any = None


# Event names the apps above store in their internal sources (``tracking.services.server``):
# a trigger on them reads only those sources, never a website's event of the same name.
DEAL_WON, DEAL_LOST, FORM_SUBMITTED = "Deal Won", "Deal Lost", "Form Submitted"
INTERNAL = "internal:"


class DealWonParams(_Params):
    pass


class DealLostParams(_Params):
    # Keys of lost reasons (sales' list: budget, competitor, missing-feature…); empty: any.
    reasons: list[str] = Field(default_factory=list, max_length=20)


class FormParams(_Params):
    # A form's id (capture); None: any form.
    form: int | None = Field(default=None, ge=1)


class SubscribedParams(_Params):
    purpose: str = Field(default="email_marketing", min_length=1, max_length=64)


def _purpose_check(params: SubscribedParams) -> list[str]:
    from danhba.privacy.models import ConsentPurpose

    if ConsentPurpose.objects.filter(key=params.purpose).exists():
        return []
    return [_("No such consent purpose: %s") % params.purpose]


class ScoreParams(_Params):
    model: int = Field(ge=1)
    # The grade reached (a key of the model's grades); "" for any higher grade.
    grade: str = Field(default="", max_length=40)


def _score_check(params: ScoreParams) -> list[str]:
    from danhba.scoring.models import ScoreModel

    model = ScoreModel.objects.filter(pk=params.model).first()
    if model is None:
        return [_("No such score model: %s") % params.model]
    if params.grade and params.grade not in {g.get("key") for g in model.grades or []}:
        return [_("The score model has no grade %s.") % params.grade]
    return []


def _model_key(params: Any) -> str:
    return str(params.model)


class InactiveParams(_Params):
    days: int = Field(ge=1, le=3650)


class DateParams(_Params):
    # created_at (indexed), birthday (always its anniversary) or a custom date field
    # ("custom.<key>"); N days after (before when days < 0), once or every year.
    field: str = Field(pattern=r"^(created_at|birthday|custom\.[a-z0-9_-]{1,60})$")
    days: int = Field(default=0, ge=-366, le=3650)
    yearly: bool = False


def _date_check(params: DateParams) -> list[str]:
    if not params.field.startswith("custom."):
        return []
    from danhba.contacts.models import CustomField

    key = params.field.removeprefix("custom.")
    if CustomField.objects.filter(entity="contact", key=key, type=CustomField.Type.DATE).exists():
        return []
    return [_("No custom date field called %s.") % key]


def _daily_key(params: Any) -> str:
    return ""


class ChoiceParams(_Params):
    # A lifecycle stage or buyer role key ("" for a buyer role: any role).
    value: str = Field(default="", max_length=64)


def _event_check(params: EventParams) -> list[str]:
    """The property conditions in the segment language's own terms (``segments.conditions``:
    operators, numbers for gt/gte/lt/lte), so that what a trigger accepts its evaluation can run."""
    from danhba.segments.conditions import Checker

    checker = Checker()
    checker.properties([p.model_dump() for p in params.where], "trigger")
    return [f"{path}: {message}" for path, messages in checker.errors.items.items() for message in messages]


def _segment_check(params: SegmentParams) -> list[str]:
    from danhba.segments.models import Segment

    return [] if Segment.objects.filter(pk=params.segment).exists() else [_("No such segment: %s") % params.segment]


def _stage_key(params: Any) -> str:
    return "lifecycle_stage"


def _seg_key(params: Any) -> str:
    return str(params.segment)


# How the editor asks for some settings (``params_forms``; the rest follows the models).
_SEGMENT_FORM = {"segment": FieldHint(choices="segments")}
_EVENT_FORM = {
    "where.value": FieldHint(help=gettext_lazy("Text as written; a number for greater / less than.")),
}
_STAGE_FORM = {"value": FieldHint(label=gettext_lazy("Stage"), choices="lifecycle_stages")}
_ROLE_FORM = {"value": FieldHint(label=gettext_lazy("Buyer role (empty: any)"), choices="buyer_roles")}


BUILTIN: list[TriggerKind] = [
    TriggerKind("manual", gettext_lazy("Manual, bulk or API enrolment"), ManualParams),
    TriggerKind("segment_entered", gettext_lazy("Entered a segment"), SegmentParams, _seg_key, _segment_check,
                example={"segment": 12}, form=_SEGMENT_FORM),
    TriggerKind("segment_left", gettext_lazy("Left a segment"), SegmentParams, _seg_key, _segment_check,
                example={"segment": 12}, form=_SEGMENT_FORM),
    TriggerKind("event", gettext_lazy("Performed an event"), EventParams, lambda p: p.event, _event_check,
                example={"event": "Demo Requested", "where": [{"property": "plan", "operator": "eq", "value": "pro"}]},
                form=_EVENT_FORM),
    TriggerKind("field_changed", gettext_lazy("A field changed (from a value, to a value)"), FieldParams,
                lambda p: p.field, example={"field": "province", "from": "ha-noi", "to": "ho-chi-minh"},
                form={"field": FieldHint(choices="contact_fields")}),
    TriggerKind("lifecycle_reached", gettext_lazy("Lifecycle stage reached"), ChoiceParams, _stage_key,
                example={"value": "customer"}, form=_STAGE_FORM),
    TriggerKind("score_reached", gettext_lazy("Score grade reached"), ScoreParams, _model_key, _score_check,
                example={"model": 1, "grade": "hot"}, form={"model": FieldHint(choices="score_models")}),
    TriggerKind("inactive", gettext_lazy("No activity for N days"), InactiveParams, _daily_key, example={"days": 30}),
    TriggerKind("date", gettext_lazy("A date: N days after a date field, an anniversary, a birthday"), DateParams,
                _daily_key, _date_check, example={"field": "created_at", "days": 0, "yearly": True},
                form={"field": FieldHint(choices="date_fields")}),
    TriggerKind("buyer_role_assigned", gettext_lazy("Buyer role assigned"), ChoiceParams, lambda p: "buyer_role",
                example={"value": "decision_maker"}, form=_ROLE_FORM),
    TriggerKind("deal_won", gettext_lazy("A deal was won"), DealWonParams, lambda p: DEAL_WON),
    TriggerKind("deal_lost", gettext_lazy("A deal was lost (for some reasons)"), DealLostParams, lambda p: DEAL_LOST,
                example={"reasons": ["budget", "competitor"]}, form={"reasons": FieldHint(choices="lost_reasons")}),
    TriggerKind("form_submitted", gettext_lazy("A form was submitted"), FormParams, lambda p: FORM_SUBMITTED,
                example={"form": 3}, form={"form": FieldHint(choices="web_forms")}),
    TriggerKind("subscribed", gettext_lazy("Subscribed (consent granted)"), SubscribedParams, lambda p: p.purpose,
                _purpose_check, example={"purpose": "email_marketing"},
                form={"purpose": FieldHint(choices="consent_purposes")}),
]  # fmt: skip


def cache_clear() -> None:
    _cache["at"] = 0.0
    _cache["goals_at"] = 0.0
    _cache["events_at"] = 0.0


def _active(kinds: Iterable[str]) -> list[Workflow]:
    """Active workflows started by these trigger kinds (one cached query for all kinds)."""
    now = time.monotonic()
    if now - _cache["at"] > CACHE_SECONDS:
        by_kind: dict[str, list[Workflow]] = defaultdict(list)
        for wf in Workflow.objects.filter(status=Workflow.Status.ACTIVE, current_version__isnull=False).exclude(
            trigger_kind="manual"
        ):
            by_kind[wf.trigger_kind].append(wf)
        _cache.update(at=now, kinds=dict(by_kind))
    return [wf for kind in kinds for wf in _cache["kinds"].get(kind, [])]


def _enrol(workflow: Workflow, contact_ids: Iterable[int], via: str) -> int:
    from danhba.automation.services.enrolments import enrol_many

    ids = sorted(set(contact_ids))
    if not ids:
        return 0
    # The cached row may be stale: paused, deleted or given a new version by another process
    # since the cache was filled. Enrol into what the database says now, or not at all.
    fresh = (
        Workflow.objects.select_related("current_version")
        .filter(pk=workflow.pk, status=Workflow.Status.ACTIVE, trigger_kind=workflow.trigger_kind)
        .first()
    )
    if fresh is None or fresh.current_version is None:
        cache_clear()
        return 0
    return enrol_many(workflow=fresh, contact_ids=ids, via=via)


# --- segments ---------------------------------------------------------------------------------


@writes_at_end()
def on_segment_changed(change: Any) -> None:
    """segments.changed: ``change.segment_id``, ``change.entered``, ``change.left``."""
    for wf in _active(["segment_entered", "segment_left"]):
        if wf.trigger_key != str(change.segment_id):
            continue
        ids = change.entered if wf.trigger_kind == "segment_entered" else change.left
        _enrol(wf, ids, "segment")


# --- scores -----------------------------------------------------------------------------------


@writes_at_end()
def on_score_reached(changes: list[Any]) -> None:
    """scoring.score_reached: a contact's grade rose to the one a workflow waits for."""
    if not changes:
        return
    for wf in _active(["score_reached"]):
        grade = wf.trigger.get("grade") or ""
        ids = [
            c.contact_id
            for c in changes
            if str(c.model_id) == wf.trigger_key and c.rising and (not grade or c.new_grade == grade)
        ]
        _enrol(wf, ids, "score")


# --- events -----------------------------------------------------------------------------------


# Trigger kinds started by stored events, and the source their events must come from ("":
# any source; ending in ":" a prefix).
_EVENT_KINDS = {"event": "", "deal_won": "internal:sales", "deal_lost": "internal:sales", "form_submitted": INTERNAL}


def _where(workflow: Workflow) -> Any:
    """The trigger's property conditions as one Q of the segment language (None: none)."""
    from django.db.models import Q

    from danhba.segments.compiler import property_q

    trigger = workflow.trigger
    if workflow.trigger_kind == "deal_lost" and trigger.get("reasons"):
        either = Q()
        for reason in trigger["reasons"]:
            either |= property_q({"property": "lost_reason", "operator": "eq", "value": reason})
        return either
    if workflow.trigger_kind == "form_submitted" and trigger.get("form"):
        return property_q({"property": "form_id", "operator": "eq", "value": trigger["form"]})
    where = trigger.get("where") or [] if workflow.trigger_kind == "event" else []
    if not where:
        return None
    meets = Q()
    for condition in where:
        meets &= property_q(condition)
    return meets


def _from_source(kind: str, source: Any) -> bool:
    wanted = _EVENT_KINDS.get(kind, "")
    key = str(getattr(source, "key_hash", "") or "")
    return not wanted or (key.startswith(wanted) if wanted.endswith(":") else key == wanted)


def _matching(workflow: Workflow, messages: list[Any]) -> list[int]:
    """The contacts of ``messages`` (one request's stored events of the trigger's name) whose
    event meets the trigger's property conditions, evaluated by the segment language on the
    stored rows (``segments.compiler.property_q``, the one owner of what the operators mean)."""
    meets = _where(workflow)
    if meets is None:
        return [m.contact_id for m in messages]
    from danhba.tracking.models import Event

    stamps = [m.timestamp for m in messages]
    return list(
        Event.objects.filter(
            meets,
            name=workflow.trigger_key,
            contact_id__in={m.contact_id for m in messages},
            timestamp__range=(min(stamps), max(stamps)),
            message_id__in={m.message_id for m in messages},
        ).values_list("contact_id", flat=True)
    )


@writes_at_end()
def on_events_stored(stored: Any) -> list[Any]:
    """tracking.events_stored: enrol on matching events, and wake enrolments waiting for them."""
    by_name: dict[str, list[Any]] = defaultdict(list)
    for message in stored.messages:
        if message.contact_id and message.name:
            by_name[message.name].append(message)
    if not by_name:
        return []
    for wf in _active(_EVENT_KINDS):
        messages = by_name.get(wf.trigger_key, [])
        if messages and _from_source(wf.trigger_kind, stored.source):
            _enrol(wf, _matching(wf, messages), "event")
    _events_seen(by_name)
    return []


def _waited_events() -> set[str]:
    """The events a wait step of some workflow's version waits for (cached like _active)."""
    now = time.monotonic()
    if now - _cache.get("events_at", 0.0) > CACHE_SECONDS:
        from danhba.automation.models import WorkflowVersion

        live = (Workflow.Status.ACTIVE, Workflow.Status.PAUSED)  # a paused one's waits still see events
        rows = WorkflowVersion.objects.filter(workflow__status__in=live).values_list("graph", flat=True)
        names = {
            str(step.get("params", {}).get("event", ""))
            for graph in rows
            for step in (graph.get("steps") or {}).values()
            if step.get("kind") == "wait_event"
        }
        _cache.update(events_at=now, events=names - {""})
    return set(_cache.get("events", set()))


def _events_seen(by_name: dict[str, list[Any]]) -> None:
    """Enrolments waiting for one of these events go on now (the wait_event step): one query for
    all of them, none when no active workflow waits for any."""
    names = sorted(_waited_events() & set(by_name))
    if not names:
        return
    from django.utils import timezone

    from danhba.automation.models import Enrolment
    from danhba.automation.services.enrolments import wake_soon

    # One query for every name of the request (the event worker stores a request's events of a
    # dozen names: a query per name cost a fifth of its CPU), then only the pairs that happened.
    contacts = sorted({m.contact_id for name in names for m in by_name[name]})
    by_contact = {(m.contact_id, name) for name in names for m in by_name[name]}
    rows = Enrolment.objects.filter(
        contact_id__in=contacts, waiting_for__in=names, status=Enrolment.Status.ACTIVE
    ).values_list("pk", "contact_id", "waiting_for", "state")
    woken = 0
    for pk, contact_id, name, state in rows:
        if (contact_id, name) in by_contact:
            woken += Enrolment.objects.filter(pk=pk, waiting_for=name).update(
                state={**(state or {}), "seen": True}, due_at=timezone.now(), waiting_for=""
            )
    if woken:
        wake_soon()


# --- contact writes ---------------------------------------------------------------------------


_CHANGE_KINDS = ("field_changed", "lifecycle_reached", "buyer_role_assigned")


def _goal_versions() -> list[int]:
    """Versions of active workflows that have a goal or an exit condition (cached like _active)."""
    now = time.monotonic()
    if now - _cache.get("goals_at", 0.0) > CACHE_SECONDS:
        from danhba.automation.models import WorkflowVersion

        rows = WorkflowVersion.objects.filter(workflow__status=Workflow.Status.ACTIVE).values_list("pk", "graph")
        _cache.update(goals_at=now, goals=[pk for pk, graph in rows if graph.get("goal") or graph.get("exit")])
    return list(_cache.get("goals", []))


def wake_for_goals(contact_ids: Iterable[int]) -> int:
    """A contact changed: its enrolments in versions with a goal or an exit condition become due
    now, so the engine checks them at once instead of when their wait ends (the steps they wait
    in keep waiting if neither holds). A step deferred to a sending window is only deferred
    again (the engine checks the window first)."""
    versions = _goal_versions()
    ids = sorted(set(contact_ids))
    if not versions or not ids:
        return 0
    from django.utils import timezone

    from danhba.automation.models import Enrolment
    from danhba.automation.services.enrolments import wake_soon

    now = timezone.now()
    # Not those in a retry back-off (attempt > 0: waking them would spend their attempts) nor
    # those of a workflow paused since the cache was filled.
    woken = Enrolment.objects.filter(
        contact_id__in=ids, version_id__in=versions, status=Enrolment.Status.ACTIVE, due_at__gt=now, attempt=0,
        workflow__status=Workflow.Status.ACTIVE,
    ).update(due_at=now)  # fmt: skip
    if woken:
        wake_soon()
    return woken


@writes_at_end()
def on_contacts_changed(change: Any) -> None:
    """contacts.changed: field changed (to a value), lifecycle stage reached, buyer role
    assigned. New contacts count as a change of every field they were created with. Any
    change also wakes the contact's enrolments that have a goal or exit to check."""
    wake_for_goals({*change.updated, *change.reasons} - set(change.deleted))
    workflows = _active(_CHANGE_KINDS) if change.updated or change.created else []
    for wf in workflows:
        field = wf.trigger_key
        ids = [cid for cid, fields in change.updated.items() if field in fields]
        # A new contact changed every field it has, from nothing: not "from" a value.
        if wf.trigger.get("from") is None:
            ids += list(change.created)
        if ids:
            _enrol(wf, _had(wf, field, _having(wf, field, ids)), "change")
    consented = [cid for cid, why in change.reasons.items() if "consent" in why]
    if consented:
        for wf in _active(["subscribed"]):
            _enrol(wf, _subscribed(wf.trigger_key, consented), "consent")


def _had(wf: Workflow, field: str, ids: list[int]) -> list[int]:
    """Of these contacts, those whose field had the trigger's "from" value before this write:
    the old value in the write's own audit row (written in this transaction, just before)."""
    want = wf.trigger.get("from") if wf.trigger_kind == "field_changed" else None
    if want is None or not ids:
        return ids
    import datetime as dt

    from django.utils import timezone

    from danhba.audit.models import AuditEvent

    rows = (
        AuditEvent.objects.filter(
            contact_id__in=ids, object_type="contact", at__gte=timezone.now() - dt.timedelta(minutes=10)
        )
        .order_by("-at", "-id")
        .values_list("contact_id", "changes")
    )
    before: dict[int, Any] = {}
    for contact_id, changes in rows:
        if contact_id not in before and isinstance(changes, dict) and field in changes:
            pair = changes[field]
            before[contact_id] = pair[0] if isinstance(pair, list) and pair else None
    return [cid for cid in ids if cid in before and _same(before[cid], want)]


def _same(value: Any, want: Any) -> bool:
    if value is None:
        return want in ("", None)
    return str(value) == str(want)


def _subscribed(purpose: str, ids: list[int]) -> list[int]:
    """Contacts whose consent for ``purpose`` was just granted after it was not (withdrawn or
    never given): the statement that moved their state is the newest, and the one before it
    in time is not a grant. A repeated "granted" is not a new subscription."""
    from danhba.privacy.models import ConsentRecord, ConsentState

    out = []
    states = ConsentState.objects.filter(contact_id__in=ids, purpose__key=purpose, status="granted").values_list(
        "contact_id", "record_id", "since"
    )
    for contact_id, record_id, since in states:
        records = ConsentRecord.objects.filter(contact_id=contact_id, purpose__key=purpose)
        if records.order_by("-id").values_list("pk", flat=True).first() != record_id:
            continue  # a back-dated statement did not move the state
        earlier = (
            records.filter(recorded_at__lte=since)
            .exclude(pk=record_id)
            .order_by("-recorded_at", "-id")
            .values_list("status", flat=True)
            .first()
        )
        if earlier != "granted":
            out.append(contact_id)
    return out


def _having(wf: Workflow, field: str, ids: list[int]) -> list[int]:
    """Of these contacts, those whose field now has the value the trigger asks for."""
    from danhba.contacts.models import Contact

    want: Any = wf.trigger.get("to") if wf.trigger_kind == "field_changed" else (wf.trigger.get("value") or None)
    qs = Contact.objects.filter(pk__in=ids)
    column = {"lifecycle_stage": "lifecycle_stage__key", "buyer_role": "buyer_role__key", "owner": "owner_id"}.get(
        field, field
    )
    if field.startswith("custom."):
        rows = qs.values_list("pk", "custom")
        return [pk for pk, custom in rows if want is None or (custom or {}).get(field[7:]) == want]
    try:
        values = dict(qs.values_list("pk", column))
    except Exception:  # a field that is not a column: nothing to compare
        return []
    if want is None:
        # Any change; for a buyer role "assigned" means it has one now.
        return [pk for pk, v in values.items() if wf.trigger_kind != "buyer_role_assigned" or v]
    return [pk for pk, v in values.items() if v is not None and str(v) == str(want)]


def trigger_clean(raw: Any) -> tuple[dict[str, Any], str, str, list[str]]:
    """The checked trigger, its kind and key, and the problems found."""
    if not isinstance(raw, dict) or not raw.get("kind"):
        return {}, "", "", [_("A trigger needs a kind.")]
    kind = TRIGGER_KINDS.get(str(raw["kind"]))
    if kind is None:
        return {}, "", "", [_("Unknown kind of trigger: %s") % str(raw["kind"])[:40]]
    from pydantic import ValidationError

    try:
        params = kind.params.model_validate(raw)
    except ValidationError as exc:
        return {}, "", "", [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    problems = kind.check(params)
    return params.model_dump(mode="json", by_alias=True), kind.key, kind.key_of(params)[:200], problems


# --- daily triggers ---------------------------------------------------------------------------


def _day_bounds(day: Any) -> tuple[Any, Any]:
    import datetime as dt
    import zoneinfo

    from django.conf import settings

    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _daily_ids(wf: Workflow, today: Any) -> Any:
    """The contacts a daily trigger picks today: a range of the (last_activity_at, id) or
    (created_at, id) index, or birthdays on today's month and day."""
    import datetime as dt

    from danhba.contacts.models import Contact

    if wf.trigger_kind == "inactive":
        start, end = _day_bounds(today - dt.timedelta(days=int(wf.trigger["days"])))
        return Contact.objects.filter(last_activity_at__gte=start, last_activity_at__lt=end)
    day = today - dt.timedelta(days=int(wf.trigger.get("days", 0)))
    field = str(wf.trigger["field"])
    if field == "birthday":
        # A birthday has no index: the anniversaries of this day in every year since 1900.
        return Contact.objects.filter(birthday__in=_anniversaries(day, 1900, today.year))
    # An anniversary is a year or more after the date itself.
    dates = _anniversaries(day, 1900, day.year - 1) if wf.trigger.get("yearly") else [day]
    if field == "created_at":
        # Ranges of the created_at index: one day, or the same day of each earlier year.
        from django.db.models import Q

        first = Contact.objects.order_by("created_at").values_list("created_at", flat=True).first()
        days = [d for d in dates if first is not None and d.year >= first.year]
        either = Q(pk__in=[])
        for one in days:
            start, end = _day_bounds(one)
            either |= Q(created_at__gte=start, created_at__lt=end)
        return Contact.objects.filter(either)
    # A custom date field: the ISO dates it holds (contacts' JSON, no index).
    return Contact.objects.filter(**{f"custom__{field.removeprefix('custom.')}__in": [d.isoformat() for d in dates]})


def _anniversaries(day: Any, first_year: int, last_year: int) -> list[Any]:
    dates = []
    for year in range(first_year, last_year + 1):
        try:
            dates.append(day.replace(year=year))
        except ValueError:  # 29 February in a common year
            continue
    return dates


def daily_enrol(*, today: Any = None) -> int:
    """Once per local day per workflow: enrol the contacts its daily trigger picks (no activity
    for N days, N days after a date, a birthday). Marked done in the same transaction, so a
    job run twice in a day enrols nobody twice."""
    from django.db import transaction
    from django.utils import timezone

    today = today or timezone.localdate()
    enrolled = 0
    for pk in Workflow.objects.filter(
        status=Workflow.Status.ACTIVE, trigger_kind__in=("inactive", "date"), current_version__isnull=False
    ).values_list("pk", flat=True):
        with transaction.atomic():
            wf = Workflow.objects.select_for_update().filter(pk=pk).first()
            if wf is None or wf.daily_done_on == today:
                continue
            ids = list(_daily_ids(wf, today).values_list("pk", flat=True))
            enrolled += _enrol(wf, ids, "daily")
            Workflow.objects.filter(pk=pk).update(daily_done_on=today)
    return enrolled
