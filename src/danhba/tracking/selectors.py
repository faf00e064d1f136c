"""Reads of events: a contact's events on its timeline (merged there by ``contacts.selectors``),
and the event explorer (filters, counts over time, matching events, the people behind them).

Every query here is bounded: the timeline takes at most one page plus one row through the
(contact, time) index; the explorer's counts are one GROUP BY over the filtered range, its
lists are keyset pages.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db.models import Count, F, Max, Min, Q, QuerySet, Subquery, TextField
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, TruncDay, TruncHour, TruncWeek
from django.utils import dateformat, formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from danhba.accounts import permissions as perms
from danhba.contacts.extensions import TimelineRow
from danhba.contacts.models import Contact
from danhba.contacts.selectors import (
    hidden_fields,
    is_id,
)
from danhba.core import formatting
from danhba.core.charts import format_number
from danhba.core.errors import InvalidInput, NotFound
from danhba.core.keyset import BadCursor, Page, cursor_pk, decode_cursor, encode_cursor, paginate
from danhba.tracking.models import Event, Source
from danhba.tracking.spec import EMAIL_EVENT_LABELS

if TYPE_CHECKING:
    from danhba.accounts.models import User

# --- visibility -------------------------------------------------------------------------------


def visible_events(user: User) -> QuerySet[Event]:
    """The events a user may see: every event for a role that sees all contacts (anonymous
    visitors included); otherwise only the events of the contacts in the user's records."""
    if not user.can("event", perms.VIEW):
        return Event.objects.none()
    if user.can("contact", perms.VIEW) and user.role.record_scope == perms.SCOPE_ALL:
        return Event.objects.all()
    return Event.objects.filter(contact__in=Contact.objects.visible_to(user).values("pk"))


# --- one-line descriptions ----------------------------------------------------------------------

PAGE_TYPES = (Event.Type.PAGE, Event.Type.SCREEN)
_SHOWN_PROPERTIES = 3
_VALUE_CHARS = 60


@dataclass
class EventLine:
    """An event told in one line: what (title) and a few particulars (detail)."""

    title: str
    detail: str = ""


def _short(value: Any, limit: int = _VALUE_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_key(key: str, hidden: set[str] | frozenset[str]) -> bool:
    """Whether a property or trait is shown to a reader: not when it is named like a sensitive
    field the reader may not see (``birthday``, or a sensitive custom field's key)."""
    return key not in hidden and f"custom.{key}" not in hidden


def visible_values(values: Any, hidden: set[str] | frozenset[str]) -> dict[str, Any]:
    """An event's properties or traits as a reader may see them (:func:`shown_key`)."""
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if shown_key(k, hidden)}


def event_line(event: Event, hidden: set[str] | frozenset[str] = frozenset()) -> EventLine:
    """Page: its title and URL path; track: the event name and a few scalar properties;
    identify: which traits it set (names only: values may be sensitive). Keys named like a
    sensitive field the user may not see are left out."""
    props = event.properties if isinstance(event.properties, dict) else {}
    if event.type in PAGE_TYPES:
        return _page_line(event.name, props)
    if event.type == Event.Type.IDENTIFY:
        return _identify_line(event.traits, hidden)
    if event.type == Event.Type.GROUP:
        return EventLine(_("Joined group %(group)s") % {"group": event.name} if event.name else _("Joined a group"))
    if event.type == Event.Type.ALIAS:
        return EventLine(_("Linked another identity (alias)"))
    if event.name in EMAIL_EVENT_LABELS:
        return email_line(event.name, props)
    return EventLine(event.name or event.get_type_display(), _shown_properties(props, hidden))


def _page_line(name: str, props: dict[str, Any]) -> EventLine:
    url = str(props.get("url") or "")
    path = str(props.get("path") or "") or (urlsplit(url).path if url else "")
    title = str(props.get("title") or name or path or url or _("(untitled page)"))
    return EventLine(_short(title, 120), _short(path, 120) if path != title else "")


def _identify_line(traits: Any, hidden: set[str] | frozenset[str]) -> EventLine:
    keys = sorted(k for k in (traits if isinstance(traits, dict) else {}) if shown_key(k, hidden))
    if not keys:
        return EventLine(_("Identified"))
    detail = ", ".join(keys[:8]) + (" …" if len(keys) > 8 else "")
    return EventLine(_("Identified"), _("Traits: %(keys)s") % {"keys": detail})


def _shown_properties(props: dict[str, Any], hidden: set[str] | frozenset[str]) -> str:
    """The first few scalar properties a reader may see, as "key: value"."""
    shown = []
    for key, value in props.items():
        if not shown_key(key, hidden) or isinstance(value, (dict, list)) or value is None or value == "":
            continue
        shown.append(f"{key}: {_short(value)}")
        if len(shown) == _SHOWN_PROPERTIES:
            break
    return " · ".join(shown)


def email_line(name: str, props: dict[str, Any]) -> EventLine:
    """An email event (``spec.py``): what happened, to which campaign's email, and the link,
    the kind of bounce, or that a machine did it."""
    label = str(EMAIL_EVENT_LABELS[name])
    campaign = props.get("campaign")
    title = _("%(what)s: “%(campaign)s”") % {"what": label, "campaign": campaign} if campaign else label
    details = []
    if props.get("url"):
        details.append(_short(props["url"], 120))
    if props.get("bounce_type") in ("hard", "soft"):
        details.append(_("hard bounce") if props["bounce_type"] == "hard" else _("soft bounce"))
    if props.get("machine") is True:
        details.append(_("by a machine (mail privacy proxy or link scanner), not a reader"))
    return EventLine(_short(title, 120), " · ".join(details))


# --- events on the contact timeline (contacts.extensions.TIMELINE_SOURCES) ----------------------

KIND_PAGES, KIND_EVENTS = "pages", "events"
# Among timeline rows of the same instant, events come after the contact's own entries (rank 0)
# and before orders.
EVENT_RANK = 1


@dataclass
class EventItem:
    event: Event
    line: EventLine
    source: str = "event"
    template: str = "tracking/_timeline_event.html"

    @property
    def at(self) -> dt.datetime:
        return self.event.timestamp

    @property
    def is_page(self) -> bool:
        return self.event.type in PAGE_TYPES


def timeline_events(
    contact: Contact, user: User, kind: str, before: Callable[[str], Q], limit: int
) -> list[tuple[tuple[dt.datetime, int, int], EventItem]]:
    """The contact's events for its timeline, newest first: page views, other events or both."""
    events = Event.objects.filter(contact=contact).filter(before("timestamp"))
    if kind == KIND_PAGES:
        events = events.filter(type__in=PAGE_TYPES)
    elif kind == KIND_EVENTS:
        events = events.exclude(type__in=PAGE_TYPES)
    rows = list(events.defer("context").order_by("-timestamp", "-id")[:limit])
    hidden = hidden_fields(user) if rows else set()
    return [((e.timestamp, EVENT_RANK, e.pk), EventItem(e, event_line(e, hidden))) for e in rows]


def timeline_describe(items: list[EventItem], user: User) -> list[TimelineRow]:
    """Events on the timeline as the API gives them (``TimelineSource.describe``)."""
    hidden = hidden_fields(user) if items else set()
    return [
        TimelineRow(
            kind=KIND_PAGES if item.is_page else KIND_EVENTS,
            title=item.line.title,
            detail=item.line.detail,
            record=event_record(item.event, item.line, hidden),
        )
        for item in items
    ]


# --- events as the API gives them -------------------------------------------------------------


def event_record(event: Event, line: EventLine, hidden: set[str] | frozenset[str]) -> dict[str, Any]:
    """One event for the API (``/api/events``, a contact's events and timeline): what was sent,
    without the properties and traits named like a sensitive field the reader may not see, and
    its one-line description. The context (IP, user agent, library) is not read."""
    return {
        "id": event.pk,
        "message_id": event.message_id,
        "type": event.type,
        "name": event.name,
        "timestamp": event.timestamp,
        "received_at": event.received_at,
        "source_id": event.source_id,
        "contact_id": event.contact_id,
        "anonymous_id": event.anonymous_id,
        "user_id": event.user_id,
        "properties": visible_values(event.properties, hidden),
        "traits": visible_values(event.traits, hidden),
        "title": line.title,
        "detail": line.detail,
    }


def contact_event_page(
    contact: Contact,
    *,
    name: str = "",
    type: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Event]:
    """A contact's events, newest first, keyset-paginated on (timestamp, id) along the
    (contact, timestamp) index. The caller has checked the contact is in the reader's records."""
    qs = Event.objects.filter(contact=contact).defer("context")
    if start is not None:
        qs = qs.filter(timestamp__gte=start)
    if end is not None:
        qs = qs.filter(timestamp__lt=end)
    if name:
        qs = qs.filter(name=name)
    if type:
        qs = qs.filter(type=type)
    return paginate(qs, "timestamp", cursor, limit, descending=True)


# --- explorer filters -----------------------------------------------------------------------------

RANGES: dict[str, tuple[Any, dt.timedelta]] = {
    "24h": (gettext_lazy("Last 24 hours"), dt.timedelta(hours=24)),
    "7d": (gettext_lazy("Last 7 days"), dt.timedelta(days=7)),
    "30d": (gettext_lazy("Last 30 days"), dt.timedelta(days=30)),
    "90d": (gettext_lazy("Last 90 days"), dt.timedelta(days=90)),
}
CUSTOM = "custom"
DEFAULT_RANGE = "7d"
BUCKETS = {"hour": gettext_lazy("Hour"), "day": gettext_lazy("Day"), "week": gettext_lazy("Week")}
_TRUNC = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}
# A chart of more bars than this says nothing and costs a long GROUP BY.
MAX_BUCKETS = 800
PROPERTY_OPS = {
    "eq": gettext_lazy("equals"),
    "contains": gettext_lazy("contains"),
    "exists": gettext_lazy("is present"),
}
_KEY_RE = re.compile(r"^[^\x00-\x1f]{1,100}$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d{1,3})?$")
_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MOMENT_ERROR = gettext_lazy("Enter a date as YYYY-MM-DD or a date and time as YYYY-MM-DD HH:MM.")
TYPE_ERROR = gettext_lazy("Unknown event type.")
_LATEST_YEAR = 2200


_MOMENT_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


def _parse_when(text: str, tz: dt.tzinfo, *, end: bool) -> dt.datetime:
    """``YYYY-MM-DD`` (a whole day: an end date includes it) or ``YYYY-MM-DDTHH:MM[:SS]`` in
    ``tz``, or with its own offset (``…Z``, ``…+07:00``: what API clients send)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = dt.date.fromisoformat(text)
        if end:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    if not _MOMENT_RE.fullmatch(text):
        raise ValueError(text)
    when = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def parse_moment(text: str, tz: dt.tzinfo, *, end: bool) -> dt.datetime:
    """A moment as :func:`_parse_when` reads it, within the years events can have, or
    ValueError."""
    when = _parse_when(text, tz, end=end)
    if not _EARLIEST <= when <= dt.datetime(_LATEST_YEAR, 1, 1, tzinfo=dt.UTC):
        raise ValueError(text)
    return when


def local_input(when: dt.datetime, tz: dt.tzinfo) -> str:
    """A moment as a ``datetime-local`` input shows it."""
    return when.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def default_bucket(span: dt.timedelta) -> str:
    if span <= dt.timedelta(days=2):
        return "hour"
    if span <= dt.timedelta(days=92):
        return "day"
    return "week"


class _ParamReader:
    """A query-string value, stripped; "" when absent or not text."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = params

    def __call__(self, key: str) -> str:
        value = self.params.get(key, "")
        return value.strip() if isinstance(value, str) else ""


def _time_range(
    get: _ParamReader, tz: dt.tzinfo, now: dt.datetime, errors: dict[str, list[str]]
) -> tuple[str, dt.datetime, dt.datetime]:
    """The range's key, start and end: one of RANGES back from now, or a custom from/to."""
    range_key = get("range") or DEFAULT_RANGE
    if range_key in RANGES:
        return range_key, now - RANGES[range_key][1], now
    if range_key != CUSTOM:
        errors["range"] = [_("Choose one of the offered time ranges.")]
        return range_key, now, now
    start, end = now - RANGES[DEFAULT_RANGE][1], now
    if not get("from"):
        errors["from"] = [_("Enter the start of the range.")]
    for key, is_end in (("from", False), ("to", True)):
        if not (text := get(key)):
            continue
        try:
            when = parse_moment(text, tz, end=is_end)
        except ValueError:
            errors[key] = [str(MOMENT_ERROR)]
            continue
        start, end = (start, when) if is_end else (when, end)
    if "from" not in errors and "to" not in errors and start >= end:
        errors["to"] = [_("The end of the range must be after its start.")]
    return range_key, start, end


def _id_param(get: _ParamReader, key: str, errors: dict[str, list[str]]) -> int | None:
    text = get(key)
    if not text:
        return None
    if not is_id(text):
        errors[key] = [_("Not a valid choice.")]
        return None
    return int(text)


def _property_filter(get: _ParamReader, errors: dict[str, list[str]]) -> tuple[str, str, str]:
    """The property condition (key, operator, value); the value is "" unless it is compared."""
    prop_key, prop_op, prop_value = get("prop"), get("op") or "eq", get("value")
    if not prop_key:
        return "", prop_op, ""
    if not _KEY_RE.match(prop_key):
        errors["prop"] = [_("A property name has 1 to 100 characters.")]
    if prop_op not in PROPERTY_OPS:
        errors["op"] = [_("Choose equals, contains or is present.")]
    elif prop_op != "exists" and not prop_value:
        errors["value"] = [_("Enter the value to compare the property with.")]
    if len(prop_value) > 500:
        errors["value"] = [_("A value has at most 500 characters.")]
    return prop_key, prop_op, prop_value if prop_op != "exists" else ""


@dataclass
class EventFilters:
    """The explorer's query: which events, over which time range, counted per which bucket.
    Built by :meth:`from_params` from the page's query string (the same for the CSV export)."""

    start: dt.datetime
    end: dt.datetime
    tz: dt.tzinfo
    range: str = DEFAULT_RANGE
    bucket: str = "day"
    name: str = ""
    type: str = ""
    source: int | None = None
    contact: int | None = None
    prop_key: str = ""
    prop_op: str = "eq"
    prop_value: str = ""

    @classmethod
    def from_params(
        cls, params: Mapping[str, str], *, tz: dt.tzinfo, now: dt.datetime | None = None, counted: bool = True
    ) -> EventFilters:
        """Parse the query string; every mistake is reported at once as :class:`InvalidInput`
        with a message per field. Without ``counted`` (a list only) any range is accepted,
        however many bars it would make."""
        get = _ParamReader(params)
        errors: dict[str, list[str]] = {}
        range_key, start, end = _time_range(get, tz, now or timezone.now(), errors)
        bucket = get("bucket") or default_bucket(end - start)
        if bucket not in BUCKETS:
            errors["bucket"] = [_("Group by hour, day or week.")]
        elif counted and not errors and _bucket_count(start, end, bucket, tz) > MAX_BUCKETS:
            errors["bucket"] = [
                _("That makes more than %(n)d bars; group by a longer period or shorten the range.")
                % {"n": MAX_BUCKETS}
            ]
        event_type = get("type")
        if event_type and event_type not in Event.Type.values:
            errors["type"] = [str(TYPE_ERROR)]
        name = get("name")
        if len(name) > 200:
            errors["name"] = [_("An event name has at most 200 characters.")]
        source, contact = _id_param(get, "source", errors), _id_param(get, "contact", errors)
        prop_key, prop_op, prop_value = _property_filter(get, errors)
        if errors:
            raise InvalidInput(errors, _("Some filters are not valid."))
        return cls(
            start=start,
            end=end,
            tz=tz,
            range=range_key,
            bucket=bucket,
            name=name,
            type=event_type,
            source=source,
            contact=contact,
            prop_key=prop_key,
            prop_op=prop_op,
            prop_value=prop_value,
        )

    def params(self, **override: str) -> dict[str, str]:
        """The query string that gives these filters back (what links and exports carry)."""
        out = {
            "range": self.range,
            "name": self.name,
            "type": self.type,
            "source": str(self.source or ""),
            "contact": str(self.contact or ""),
            "prop": self.prop_key,
            "op": self.prop_op if self.prop_key else "",
            "value": self.prop_value,
            "bucket": self.bucket,
        }
        if self.range == CUSTOM:
            out["from"] = local_input(self.start, self.tz)
            out["to"] = local_input(self.end, self.tz)
        out.update(override)
        return {k: v for k, v in out.items() if v}


def _property_q(qs: QuerySet[Event], key: str, op: str, value: str) -> QuerySet[Event]:
    """A condition on one property (``a.b`` reaches into nested objects), written with JSON
    key transforms that SQLite and PostgreSQL both compile. "equals" compares as JSON, so
    ``42`` finds the number 42 and the text "42", ``true`` the boolean."""
    parts = key.split(".")
    node: Any = "properties"
    for part in parts[:-1]:
        node = KeyTransform(part, node)
    last = parts[-1]
    if op == "exists":
        if isinstance(node, str):
            return qs.filter(properties__has_key=last)
        return qs.alias(_p_parent=node).filter(_p_parent__has_key=last)
    if op == "contains":
        return qs.alias(_p_text=Cast(KeyTextTransform(last, node), TextField())).filter(_p_text__icontains=value)
    candidates: list[Any] = [value]
    # Only plain, finite numbers of at most 15 digits also match as numbers: "NaN" or a
    # 30-digit integer is not JSON every backend takes, so it is compared as text only.
    if _NUMBER_RE.match(value) and sum(c.isdigit() for c in value) <= 15:
        number = float(value)
        if math.isfinite(number):
            candidates.append(int(value) if re.fullmatch(r"-?\d+", value) else number)
    if value in ("true", "false"):
        candidates.append(value == "true")
    condition = Q()
    for candidate in candidates:
        condition |= Q(_p_value=candidate)
    return qs.alias(_p_value=KeyTransform(last, node)).filter(condition)


def filtered_events(user: User, filters: EventFilters) -> QuerySet[Event]:
    """The events of the filters the user may see. A contact outside the user's records is
    :class:`NotFound`, as everywhere."""
    qs = visible_events(user).filter(timestamp__gte=filters.start, timestamp__lt=filters.end)
    if filters.contact is not None:
        if not Contact.objects.visible_to(user).filter(pk=filters.contact).exists():
            raise NotFound(_("No such contact."))
        qs = qs.filter(contact_id=filters.contact)
    if filters.name:
        qs = qs.filter(name=filters.name)
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.source is not None:
        qs = qs.filter(source_id=filters.source)
    if filters.prop_key:
        qs = _property_q(qs, filters.prop_key, filters.prop_op, filters.prop_value)
    return qs


# --- counts over time -------------------------------------------------------------------------------


def _floor(when: dt.datetime, bucket: str, tz: dt.tzinfo) -> dt.datetime:
    local = when.astimezone(tz)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if bucket == "week":
        day -= dt.timedelta(days=day.weekday())  # weeks start on Monday, like TruncWeek
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def _next(start: dt.datetime, bucket: str, tz: dt.tzinfo) -> dt.datetime:
    if bucket == "hour":
        return (start.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(tz)
    days = 7 if bucket == "week" else 1
    return dt.datetime.combine(start.date() + dt.timedelta(days=days), dt.time.min, tzinfo=tz)


def bucket_starts(start: dt.datetime, end: dt.datetime, bucket: str, tz: dt.tzinfo) -> Iterator[dt.datetime]:
    """The start of every bucket overlapping [start, end), in ``tz``."""
    cur = _floor(start, bucket, tz)
    while cur < end:
        yield cur
        cur = _next(cur, bucket, tz)


def _bucket_count(start: dt.datetime, end: dt.datetime, bucket: str, tz: dt.tzinfo) -> int:
    span = end - start
    per = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}[bucket]
    return int(span / per) + 2


@dataclass
class Bucket:
    start: dt.datetime
    end: dt.datetime
    count: int


def event_counts(user: User, filters: EventFilters) -> list[Bucket]:
    """Matching events per bucket, empty buckets included. The database truncates the
    timestamps in the user's time zone (one GROUP BY); Python fills the gaps with zeros."""
    trunc = _TRUNC[filters.bucket]("timestamp", tzinfo=filters.tz)
    rows = (
        filtered_events(user, filters)
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by("bucket")
    )
    counts: dict[dt.datetime, int] = {}
    for row in rows:
        if row["bucket"] is not None:
            counts[row["bucket"]] = counts.get(row["bucket"], 0) + row["n"]
    starts = list(bucket_starts(filters.start, filters.end, filters.bucket, filters.tz))
    return [
        Bucket(start, starts[i + 1] if i + 1 < len(starts) else _next(start, filters.bucket, filters.tz),
               counts.get(start, 0))
        for i, start in enumerate(starts)
    ]  # fmt: skip


def bucket_label(start: dt.datetime, bucket: str, tz: dt.tzinfo) -> tuple[str, str]:
    """(short axis label, full label) of a bucket, in the active language."""
    local = start.astimezone(tz)
    if bucket == "hour":
        short = formats.time_format(local) if local.hour else formatting.day_month(local)
        return short, formats.date_format(local, "SHORT_DATETIME_FORMAT")
    day = formats.date_format(local, "SHORT_DATE_FORMAT")
    if bucket == "week":
        return formatting.day_month(local), _("Week of %(date)s") % {"date": day}
    return formatting.day_month(local), f"{dateformat.format(local, 'D')} {day}"


def events_label(n: int) -> str:
    return ngettext("%(n)s event", "%(n)s events", n) % {"n": format_number(n)}


# --- lists ---------------------------------------------------------------------------------------

EVENT_PAGE_SIZE = 50
PEOPLE_PAGE_SIZE = 50
NAME_SAMPLE = 20000


def event_page(user: User, filters: EventFilters, cursor: str | None = None, limit: int = EVENT_PAGE_SIZE) -> Page[Any]:
    """The newest matching events first, keyset-paginated on (timestamp, id); items are
    (event, line) pairs."""
    qs = filtered_events(user, filters).select_related("contact", "source").defer("context")
    page = paginate(qs, "timestamp", cursor, limit, descending=True)
    hidden = hidden_fields(user) if page.items else set()
    page.items = [(e, event_line(e, hidden)) for e in page.items]
    return page


@dataclass
class Person:
    contact: Contact
    events: int
    first_at: dt.datetime
    last_at: dt.datetime


def _people_rows(user: User, filters: EventFilters) -> QuerySet[Any]:
    return (
        filtered_events(user, filters)
        .filter(contact__isnull=False)
        .values("contact")
        .annotate(events=Count("id"), first_at=Min("timestamp"), last_at=Max("timestamp"))
    )


def people_page(
    user: User, filters: EventFilters, cursor: str | None = None, limit: int = PEOPLE_PAGE_SIZE
) -> Page[Person]:
    """The contacts behind the matching events, the most recently active first, with how many
    matching events each did: keyset-paginated on (last time, contact id)."""
    rows = _people_rows(user, filters)
    if cursor:
        last, pk = decode_cursor(cursor, 2)
        if not isinstance(last, dt.datetime):
            raise BadCursor(_("The cursor is not valid; start again from the first page."))
        rows = rows.filter(Q(last_at__lt=last) | Q(last_at=last, contact__lt=cursor_pk(pk)))
    found = list(rows.order_by("-last_at", "-contact")[: limit + 1])
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        next_cursor = encode_cursor([found[-1]["last_at"], found[-1]["contact"]])
    contacts = Contact.objects.in_bulk([r["contact"] for r in found])
    people = [
        Person(contacts[r["contact"]], r["events"], r["first_at"], r["last_at"])
        for r in found
        if r["contact"] in contacts
    ]
    return Page(people, next_cursor)


def people_count(user: User, filters: EventFilters) -> int:
    return filtered_events(user, filters).filter(contact__isnull=False).values("contact").distinct().count()


def people_export_rows(user: User, filters: EventFilters) -> Iterator[dict[str, Any]]:
    """Every contact behind the matching events, for the CSV export: streamed from one query,
    never held in memory."""
    rows = (
        _people_rows(user, filters)
        .annotate(full_name=F("contact__full_name"), email=F("contact__email"), phone=F("contact__phone"))
        .order_by("-last_at", "-contact")
    )
    for row in rows.iterator(chunk_size=2000):
        yield {
            "contact_id": row["contact"],
            "full_name": row["full_name"],
            "email": row["email"],
            "phone": row["phone"],
            "events": row["events"],
            "first_at": row["first_at"].astimezone(filters.tz),
            "last_at": row["last_at"].astimezone(filters.tz),
        }


PEOPLE_EXPORT_COLUMNS = ["contact_id", "full_name", "email", "phone", "events", "first_at", "last_at"]


@dataclass
class KnownName:
    name: str
    count: int


@dataclass
class Choices:
    names: list[KnownName] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)


def explorer_choices() -> Choices:
    """The event names seen among the latest events, most frequent first (a bounded sample:
    counting names over the whole table would read every row), and the sources."""
    recent = Event.objects.order_by("-id").values("id")[:NAME_SAMPLE]
    names = (
        Event.objects.filter(id__in=Subquery(recent))
        .exclude(name="")
        .values("name")
        .annotate(n=Count("id"))
        .order_by("-n", "name")[:200]
    )
    return Choices(
        names=[KnownName(r["name"], r["n"]) for r in names],
        sources=list(Source.objects.all()),
    )


# --- names seen, for suggestions (the segment builder) ----------------------------------------

# Distinct names by a skip scan of the (name, timestamp, contact) index: each step is one seek
# to the next name greater than the last, so the cost follows the number of names, not events.
_NAMES_SQL = """
WITH RECURSIVE names(name) AS (
    SELECT MIN(name) FROM {table} WHERE name > ''
    UNION ALL
    SELECT (SELECT MIN(e.name) FROM {table} e WHERE e.name > names.name)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL LIMIT %s
"""
PROPERTY_SAMPLE = 200  # latest events of a name whose property names are suggested


def known_event_names(limit: int = 500) -> list[str]:
    """Event names received so far (any type), in name order: ``limit`` index seeks at most,
    a few milliseconds, so not cached (a name is suggested as soon as its first event is in)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_NAMES_SQL.format(table=connection.ops.quote_name(Event._meta.db_table)), [limit])
        return [row[0] for row in cursor.fetchall()]


def event_name_seen(name: str) -> bool:
    """Whether any event of this name was received (one seek of the name index)."""
    return bool(name) and Event.objects.filter(name=name).exists()


def event_property_names(name: str, limit: int = 100) -> list[str]:
    """The property names of the latest events of ``name`` (read backwards along the name index),
    most used first."""
    if not name:
        return []
    counts: dict[str, int] = {}
    latest = Event.objects.filter(name=name).order_by("-timestamp").values_list("properties", flat=True)
    for properties in latest[:PROPERTY_SAMPLE]:
        for prop in properties if isinstance(properties, dict) else ():
            counts[prop] = counts.get(prop, 0) + 1
    return sorted(counts, key=lambda prop: (-counts[prop], prop))[:limit]
