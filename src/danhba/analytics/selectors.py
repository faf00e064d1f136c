"""Reads of the home page: the numbers of the last days that matter to a person today, limited to
what their role may see (permissions, and record visibility: a sales rep counts the contacts they
own, see :func:`mine`), recent activity, and shortcuts to the common jobs.

Every number reads a time range through an index and is bounded at any size:

- the rows of the range are read up to :data:`ROWS`; within that the counts are exact and broken
  down (per day, per source, per event name, per segment, per purpose);
- beyond it each day is counted on its own, up to :data:`DAY_CAP` ("100,000+"), and the breakdown
  is left out (the list pages have it).

The indexes: contacts by (created_at, id) and (owner, created_at, id); events by (name,
timestamp, contact), the names found by a skip scan of that index; segment changes by (segment,
at, id); the consent ledger by (recorded_at, id). Imports are one row per file.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.audit.selectors import AuditFilters, AuditRow, audit_page, audit_rows
from danhba.contacts.models import Contact, Source, TimelineEntry
from danhba.contacts.selectors import hidden_fields, visibility_branches
from danhba.ingest.models import Import
from danhba.ingest.services import visible_imports
from danhba.privacy.models import ConsentPurpose, ConsentRecord
from danhba.segments.models import Segment, SegmentChange
from danhba.segments.selectors import visible_segments
from danhba.tracking.models import Event
from danhba.tracking.selectors import known_event_names, visible_events

DAYS = 7
ROWS = 20_000  # rows of a range read to count and break down exactly
DAY_CAP = 100_000  # a day is counted up to this beyond ROWS
EVENT_NAMES = 1000  # event names counted (found by a skip scan, one seek each)
MAX_SEGMENTS = 500  # segments whose changes are counted
RECENT = 10  # recent activity rows


@dataclass(frozen=True)
class Window:
    """The last ``len(days)`` days in the viewer's time zone, today included, up to now."""

    start: dt.datetime
    end: dt.datetime
    tz: dt.tzinfo
    days: tuple[dt.date, ...]

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    def day_end(self, day: dt.date) -> dt.datetime:
        return min(self.day_start(day + dt.timedelta(days=1)), self.end)

    def day_of(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()


def window(tz: dt.tzinfo, now: dt.datetime | None = None, days: int = DAYS) -> Window:
    now = now or timezone.now()
    first = now.astimezone(tz).date() - dt.timedelta(days=days - 1)
    return Window(
        dt.datetime.combine(first, dt.time.min, tzinfo=tz), now, tz,
        tuple(first + dt.timedelta(days=i) for i in range(days)),
    )  # fmt: skip


def mine(user: User) -> QuerySet[Contact]:
    """The contacts whose numbers a viewer's home page counts: all those the role may see when it
    sees every record; otherwise only the contacts the viewer (or their team) owns. The unassigned
    contacts such a role may also open are everyone's pool: counting what they did would read a
    range of the whole database for each viewer, where owned contacts are a range of an index."""
    contacts = Contact.objects.visible_to(user)
    scope = user.role.record_scope
    if scope == perms.SCOPE_ALL:
        return contacts
    if scope == perms.SCOPE_TEAM and user.team_id:
        return contacts.filter(owner__team_id=user.team_id)
    return contacts.filter(owner_id=user.pk)


def _of_mine(qs: QuerySet[Any], user: User) -> QuerySet[Any]:
    """``qs`` (rows with a contact) limited to the viewer's contacts (see :func:`mine`)."""
    if user.role.record_scope == perms.SCOPE_ALL and user.can("contact", perms.VIEW):
        return qs
    return qs.filter(contact_id__in=mine(user).values("pk"))


@dataclass
class DayCount:
    day: dt.date
    count: int
    capped: bool = False


@dataclass
class Tally:
    """How many rows a range holds: in all, per day, and (when few enough to read) per key."""

    total: int
    capped: bool  # some day has more than DAY_CAP: the total is a lower bound
    by_day: list[DayCount]
    by_key: list[tuple[Any, int]] | None  # most first; None: too many rows to break down


def tally(qs: QuerySet[Any], time_field: str, keys: Sequence[str], w: Window) -> Tally:
    """Count ``qs`` (already limited to the window) per day and per ``keys``, in SQL: a range of
    up to ``ROWS`` rows is grouped by day (in the viewer's time zone) and by key; a larger one is
    counted day by day, each day up to ``DAY_CAP`` (a bounded count, never the whole range)."""
    qs = qs.order_by()
    if qs.values(time_field)[: ROWS + 1].count() <= ROWS:
        per_day = qs.annotate(_day=TruncDate(time_field, tzinfo=w.tz)).values_list("_day").annotate(n=Count("*"))
        days: dict[dt.date, int] = {day: n for day, n in per_day}
        grouped = qs.values_list(*keys).annotate(n=Count("*"))
        by_key: Counter[Hashable] = Counter(
            {(row[0] if len(keys) == 1 else tuple(row[:-1])): row[-1] for row in grouped}
        )
        counts = [DayCount(d, days.get(d, 0)) for d in w.days]
        return Tally(sum(c.count for c in counts), False, counts, by_key.most_common())
    by_day = []
    for day in w.days:
        in_day = qs.filter(**{f"{time_field}__gte": w.day_start(day), f"{time_field}__lt": w.day_end(day)})
        n = in_day.values(time_field)[: DAY_CAP + 1].count()
        by_day.append(DayCount(day, min(n, DAY_CAP), n > DAY_CAP))
    return Tally(sum(d.count for d in by_day), any(d.capped for d in by_day), by_day, None)


# --- the numbers --------------------------------------------------------------------------------


@dataclass
class Labelled:
    key: str
    label: str
    count: int


@dataclass
class ContactNumbers:
    tally: Tally
    by_source: list[Labelled] | None


def new_contacts(user: User, w: Window) -> ContactNumbers | None:
    """Contacts created in the window that the user may see, by source."""
    if not user.can("contact", perms.VIEW):
        return None
    qs = mine(user).filter(created_at__gte=w.start, created_at__lt=w.end)
    t = tally(qs, "created_at", ["source"], w)
    labels = dict(Source.choices)
    by_source = None
    if t.by_key is not None:
        by_source = [Labelled(key, str(labels.get(key, key)), n) for key, n in t.by_key]
    return ContactNumbers(t, by_source)


@dataclass
class EventNumbers:
    tally: Tally
    by_name: list[Labelled] | None


def events_received(user: User, w: Window) -> EventNumbers | None:
    """Events that happened in the window, of the contacts the user may see (every event,
    anonymous visitors' too, for a role that sees all contacts), by name."""
    if not user.can("event", perms.VIEW):
        return None
    # The names lead the (name, timestamp, contact) index: one range per name, read from it alone.
    names = [*known_event_names(EVENT_NAMES), ""]
    events = visible_events(user) if user.role.record_scope == perms.SCOPE_ALL else _of_mine(Event.objects.all(), user)
    qs = events.filter(name__in=names, timestamp__gte=w.start, timestamp__lt=w.end)
    t = tally(qs, "timestamp", ["name"], w)
    by_name = None
    if t.by_key is not None:
        by_name = [Labelled(name, name or _("(identify and other unnamed calls)"), n) for name, n in t.by_key]
    return EventNumbers(t, by_name)


@dataclass
class SegmentCount:
    segment: Segment
    entered: int
    left: int


@dataclass
class SegmentNumbers:
    tally: Tally
    entered: int | None
    left: int | None
    segments: list[SegmentCount] | None


def segment_changes(user: User, w: Window) -> SegmentNumbers | None:
    """Contacts the user may see who entered or left a segment the user may see."""
    if not user.can("segment", perms.VIEW):
        return None
    segments = {s.pk: s for s in visible_segments(list(Segment.objects.order_by("name")[:MAX_SEGMENTS]), user)}
    qs = _of_mine(SegmentChange.objects.filter(segment_id__in=list(segments), at__gte=w.start, at__lt=w.end), user)
    t = tally(qs, "at", ["segment_id", "entered"], w)
    if t.by_key is None:
        return SegmentNumbers(t, None, None, None)
    per: dict[int, SegmentCount] = {}
    for (segment_id, entered), n in t.by_key:
        row = per.setdefault(segment_id, SegmentCount(segments[segment_id], 0, 0))
        if entered:
            row.entered += n
        else:
            row.left += n
    rows = sorted(per.values(), key=lambda r: (-(r.entered + r.left), r.segment.name))
    return SegmentNumbers(t, sum(r.entered for r in rows), sum(r.left for r in rows), rows)


@dataclass
class PurposeCount:
    purpose: ConsentPurpose
    granted: int
    withdrawn: int


@dataclass
class ConsentNumbers:
    tally: Tally
    granted: int | None
    withdrawn: int | None
    purposes: list[PurposeCount] | None


def consent_changes(user: User, w: Window) -> ConsentNumbers | None:
    """Statements of the consent ledger recorded in the window, of contacts the user may see."""
    if not (user.can("consent", perms.VIEW) and user.can("contact", perms.VIEW)):
        return None
    qs = _of_mine(ConsentRecord.objects.filter(recorded_at__gte=w.start, recorded_at__lt=w.end), user)
    t = tally(qs, "recorded_at", ["purpose_id", "status"], w)
    if t.by_key is None:
        return ConsentNumbers(t, None, None, None)
    purposes = {p.pk: p for p in ConsentPurpose.objects.all()}
    per: dict[int, PurposeCount] = {}
    for (purpose_id, status), n in t.by_key:
        row = per.setdefault(purpose_id, PurposeCount(purposes[purpose_id], 0, 0))
        if status == "granted":
            row.granted += n
        elif status == "withdrawn":
            row.withdrawn += n
    rows = sorted(per.values(), key=lambda r: r.purpose.position)
    return ConsentNumbers(t, sum(r.granted for r in rows), sum(r.withdrawn for r in rows), rows)


@dataclass
class ImportNumbers:
    running: list[Import]
    finished: list[Import]
    finished_count: int
    created: int
    updated: int
    rejected: int


def imports_now(user: User, w: Window, limit: int = 5) -> ImportNumbers | None:
    """Imports under way, and those that ended in the window (with what they did), that the
    user may see."""
    if not user.can("import", perms.VIEW):
        return None
    qs = visible_imports(user)
    running = list(qs.filter(status__in=Import.ACTIVE)[:limit])
    # An import ends within hours of its creation: the created_at index bounds the read.
    ended = qs.filter(created_at__gte=w.start - dt.timedelta(days=DAYS), finished_at__gte=w.start).exclude(
        status__in=(*Import.ACTIVE, Import.Status.DRAFT)
    )
    totals = ended.filter(dry_run=False).aggregate(n=Count("id"), c=Sum("created"), u=Sum("updated"), r=Sum("rejected"))
    return ImportNumbers(
        running=running,
        finished=list(ended.order_by("-finished_at")[:limit]),
        finished_count=ended.count(),
        created=totals["c"] or 0,
        updated=totals["u"] or 0,
        rejected=totals["r"] or 0,
    )


# --- recent activity and shortcuts ------------------------------------------------------------------


def recent_activity(user: User, limit: int = RECENT) -> list[TimelineEntry]:
    """The latest timeline entries of the contacts the user may see that were active last
    (their last-activity index, walked per owner for a sales rep), private notes as the
    contact page shows them."""
    if not (user.can("contact", perms.VIEW) and user.can("timeline", perms.VIEW)):
        return []
    qs = TimelineEntry.objects.filter(contact_id__in=_recently_active(user, limit * 2))
    qs = qs.select_related("contact", "author")
    if not user.sees_field("private_notes"):
        qs = qs.filter(Q(is_private=False) | Q(author_id=user.pk))
    return list(qs.order_by("-occurred_at", "-id")[:limit])


def _recently_active(user: User, n: int) -> list[int]:
    """The ``n`` contacts the user may see that were active last: a walk down the last-activity
    index, per owner for a role that sees its own or its team's records (an OR of owners would
    make the database sort them all)."""
    branches = visibility_branches(user) or [Q()]
    rows: list[tuple[Any, int]] = []
    for branch in branches:
        visible = Contact.objects.visible_to(user).filter(branch).exclude(last_activity_at__isnull=True)
        rows += visible.order_by("-last_activity_at", "-id").values_list("last_activity_at", "id")[:n]
    return [pk for _at, pk in sorted(rows, reverse=True)[:n]]


def recent_changes(user: User, limit: int = 8) -> list[AuditRow] | None:
    """The latest rows of the audit log, as the audit page shows them to this user."""
    if not user.can("audit", perms.VIEW):
        return None
    page = audit_page(AuditFilters(), limit=limit, user=user)
    return audit_rows(page.items, hidden_fields(user))


@dataclass(frozen=True)
class Shortcut:
    key: str
    label: str
    url: str


def shortcuts(user: User) -> list[Shortcut]:
    """The common jobs the user's role allows, most common first."""
    jobs: list[tuple[str, str, str, tuple[str, str]]] = [
        ("new_contact", _("New contact"), reverse("contacts:create"), ("contact", perms.CREATE)),
        ("import", _("Import contacts"), reverse("ingest:new"), ("import", perms.CREATE)),
        ("new_segment", _("New segment"), reverse("segments:create"), ("segment", perms.CREATE)),
        ("new_list", _("New list"), reverse("segments:create") + "?kind=static", ("segment", perms.CREATE)),
        ("new_company", _("New company"), reverse("contacts:company_create"), ("company", perms.CREATE)),
        ("events", _("Explore events"), reverse("events:explorer"), ("event", perms.VIEW)),
        ("orders", _("Orders"), reverse("orders:list"), ("order", perms.VIEW)),
        ("exports", _("My exports"), reverse("contacts:export_list"), ("contact", perms.EXPORT)),
        ("audit", _("Audit log"), reverse("audit:log"), ("audit", perms.VIEW)),
        ("new_user", _("New user"), reverse("accounts:user_create"), ("user", perms.CREATE)),
        ("sources", _("Event sources"), reverse("tracking:source_list"), ("source", perms.VIEW)),
    ]
    return [Shortcut(key, label, url) for key, label, url, (obj, action) in jobs if user.can(obj, action)]


# --- the page -------------------------------------------------------------------------------------


@dataclass
class Home:
    window: Window
    contacts: ContactNumbers | None
    events: EventNumbers | None
    imports: ImportNumbers | None
    segments: SegmentNumbers | None
    consent: ConsentNumbers | None
    activity: list[TimelineEntry] = field(default_factory=list)
    changes: list[AuditRow] | None = None
    shortcuts: list[Shortcut] = field(default_factory=list)


def home(user: User, tz: dt.tzinfo, now: dt.datetime | None = None) -> Home:
    """Everything the home page (and ``GET /api/home``) shows to ``user``."""
    w = window(tz, now)
    return Home(
        window=w,
        contacts=new_contacts(user, w),
        events=events_received(user, w),
        imports=imports_now(user, w),
        segments=segment_changes(user, w),
        consent=consent_changes(user, w),
        activity=recent_activity(user),
        changes=recent_changes(user),
        shortcuts=shortcuts(user),
    )
