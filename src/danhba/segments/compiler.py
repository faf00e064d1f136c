"""Condition trees → one Django ``Q`` on Contact. Nothing is loaded into Python: behaviour,
purchases, tags and company fields become ``id IN (subquery)`` over their indexed tables
(events by (name, timestamp), tags by (tag, contact)…), which both SQLite and PostgreSQL run
once per query rather than once per contact.

Every condition compiles to a two-valued SQL condition (never NULL), so NOT — of a ``none``
group or of a negative operator — means exactly "the contacts the condition does not match",
contacts with an empty value included. ``tests/reference.py`` states the same semantics in
plain Python, and a property test holds the two together.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.expressions import Func
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

from danhba.contacts.models import Contact, ContactCompany, ContactTag
from danhba.core.normalize import fold
from danhba.segments import conditions as C
from danhba.segments.extensions import CONDITION_KINDS
from danhba.tracking.spec import EMAIL_ACTIONS, EMAIL_SOURCE_KEY, HUMAN_ONLY

# --- JSON values, read the same way on SQLite and PostgreSQL ---------------------------------


# A JSON string counts as a number when it is a plain decimal (no exponent, no "5." or ".5"):
# the PostgreSQL pattern, and the same for Python's re (``\Z``: ``$`` would also match before a
# final newline).
NUMBER_RE = r"^-?[0-9]+(\.[0-9]+)?$"
NUMBER_RE_PY = r"^-?[0-9]+(\.[0-9]+)?\Z"


def _sqlite_path(key: str) -> str:
    return f'$."{key}"'


class JsonValue(Func):
    """One key of a JSON object column, typed: ``text`` (strings and numbers, as text),
    ``number`` (numbers, and strings that are plain decimals: ``NUMBER_RE``), ``bool`` (1/0),
    ``date`` (strings that start with an ISO date). NULL when the key is missing or holds another
    type, so a comparison on it is simply false."""

    def __init__(self, column: str, key: str, kind: str) -> None:
        output: models.Field[Any, Any] = {
            "text": models.TextField(),
            "date": models.TextField(),
            "number": models.FloatField(),
            "bool": models.IntegerField(),
        }[kind]
        super().__init__(F(column), output_field=output)
        self.key, self.kind = key, kind

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        path = _sqlite_path(self.key)
        t = f"json_type({col}, %s)"
        v = f"json_extract({col}, %s)"
        if self.kind == "text":
            sql = f"CASE WHEN {t} IN ('text', 'integer', 'real') THEN CAST({v} AS TEXT) END"
            return sql, [*params, path, *params, path]
        if self.kind == "number":
            # REGEXP is Django's Python function on SQLite: the same test as PostgreSQL's ``~``.
            sql = (
                f"CASE WHEN {t} IN ('integer', 'real') THEN {v} "
                f"WHEN {t} = 'text' AND {v} REGEXP %s THEN CAST({v} AS REAL) END"
            )
            return sql, [*params, path, *params, path, *params, path, *params, path, NUMBER_RE_PY, *params, path]
        if self.kind == "date":
            sql = f"CASE WHEN {t} = 'text' AND {v} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' THEN {v} END"
            return sql, [*params, path, *params, path, *params, path]
        sql = f"CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
        return sql, [*params, path]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        t = f"jsonb_typeof({col} -> %s)"
        v = f"({col} ->> %s)"
        k = self.key
        if self.kind == "text":
            sql = f"CASE WHEN {t} IN ('string', 'number') THEN {v} END"
            return sql, [*params, k, *params, k]
        if self.kind == "number":
            sql = (
                f"CASE WHEN {t} = 'number' THEN {v}::double precision "
                f"WHEN {t} = 'string' AND {v} ~ %s THEN {v}::double precision END"
            )
            return sql, [*params, k, *params, k, *params, k, *params, k, NUMBER_RE, *params, k]
        if self.kind == "date":
            sql = f"CASE WHEN {t} = 'string' AND {v} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' THEN {v} END"
            return sql, [*params, k, *params, k, *params, k]
        sql = f"CASE WHEN {t} = 'boolean' THEN CASE WHEN {v} = 'true' THEN 1 ELSE 0 END END"
        return sql, [*params, k, *params, k]


class JsonFilled(Func):
    """1 when a JSON key holds something (not missing, null, "" or []), else 0."""

    output_field = models.IntegerField()

    def __init__(self, column: str, key: str) -> None:
        super().__init__(F(column))
        self.key = key

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        path = _sqlite_path(self.key)
        sql = (
            f"CASE WHEN COALESCE(json_type({col}, %s), 'null') = 'null' THEN 0 "
            f"WHEN json_type({col}, %s) = 'text' AND json_extract({col}, %s) = '' THEN 0 "
            f"WHEN json_type({col}, %s) = 'array' AND json_array_length({col}, %s) = 0 THEN 0 ELSE 1 END"
        )
        return sql, [*params, path, *params, path, *params, path, *params, path, *params, path]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        k = self.key
        sql = (
            f"CASE WHEN COALESCE(jsonb_typeof({col} -> %s), 'null') = 'null' THEN 0 "
            f"WHEN ({col} -> %s) IN ('\"\"'::jsonb, '[]'::jsonb) THEN 0 ELSE 1 END"
        )
        return sql, [*params, k, *params, k]


class JsonHasElement(Func):
    """1 when a JSON key holds an array containing the string ``value``, else 0."""

    output_field = models.IntegerField()

    def __init__(self, column: str, key: str, value: str) -> None:
        super().__init__(F(column))
        self.key, self.value = key, value

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        path = _sqlite_path(self.key)
        sql = (
            f"CASE WHEN json_type({col}, %s) = 'array' AND EXISTS "  # noqa: S608 - col is a compiled column; values are parameters
            f"(SELECT 1 FROM json_each({col}, %s) WHERE value = %s) THEN 1 ELSE 0 END"
        )
        return sql, [*params, path, *params, path, self.value]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        col, params = compiler.compile(self.source_expressions[0])
        sql = f"CASE WHEN jsonb_typeof({col} -> %s) = 'array' AND ({col} -> %s) ? %s THEN 1 ELSE 0 END"
        return sql, [*params, self.key, *params, self.key, self.value]


class MonthDay(Func):
    """'MM-DD' of an ISO date (a date column or ISO text)."""

    template = "substr(CAST(%(expressions)s AS TEXT), 6, 5)"
    output_field = models.TextField()


# --- time ------------------------------------------------------------------------------------


class Clock:
    """ "Now" and day boundaries in the site's time zone, fixed for one evaluation."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)

    def day_start(self, day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    def days_ago(self, days: int) -> dt.datetime:
        return self.now - dt.timedelta(days=days)

    def period(self, period: dict[str, Any] | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start, end) of a period; (None, None) for "ever"."""
        if not period:
            return None, None
        if period.get("last_days"):
            return self.days_ago(int(period["last_days"])), None
        start = dt.date.fromisoformat(period["from"])
        end = dt.date.fromisoformat(period["to"]) + dt.timedelta(days=1)
        return self.day_start(start), self.day_start(end)


def _between(lookup_path: str, start: Any, end: Any) -> Q:
    q = Q()
    if start is not None:
        q &= Q(**{f"{lookup_path}__gte": start})
    if end is not None:
        q &= Q(**{f"{lookup_path}__lt": end})
    return q


def _month_days(today: dt.date, days: int) -> list[tuple[str, str]]:
    """'MM-DD' ranges (inclusive) covering today and the next ``days`` days."""
    if days >= 365:
        return [("01-01", "12-31")]
    end = today + dt.timedelta(days=days)
    a, b = today.strftime("%m-%d"), end.strftime("%m-%d")
    return [(a, b)] if end.year == today.year else [(a, "12-31"), ("01-01", b)]


# --- the compiler ----------------------------------------------------------------------------


def _everyone() -> Q:
    return ~Q(pk__in=[])


NEGATIVE = {"ne": "eq", "not_contains": "contains", "not_in": "in", "empty": "not_empty"}


class Compiler:
    """``among``: only these contact ids are asked about (live re-evaluation). The limit goes into
    every subquery, so re-evaluating a few contacts reads a few rows, not a whole segment's."""

    def __init__(self, *, now: dt.datetime | None = None, among: Sequence[int] | None = None) -> None:
        self.clock = Clock(now)
        self.fields = C.fields()
        self._stack: list[int] = []
        self.among = sorted(set(among)) if among is not None else None

    def _only(self, qs: Any, column: str = "contact_id") -> Any:
        return qs if self.among is None else qs.filter(**{f"{column}__in": self.among})

    def compile(self, tree: dict[str, Any]) -> Q:
        op = tree.get("op")
        children = tree.get("conditions", [])
        parts = [self.compile(c) if "op" in c else self.leaf(c) for c in children]
        if op == "all" and any(self._drives(c) for c in children):
            parts = [_filter_only(p) if c.get("op") == "any" else p for c, p in zip(children, parts, strict=True)]
        if op == "all":
            # Not Q(): Django drops an empty Q from an OR and cannot negate it, so an empty
            # ``all`` inside ``any``/``none`` would match nobody/everybody.
            q = _everyone()
            for part in parts:
                q &= part
            return q
        anyq = Q(pk__in=[])
        for part in parts:
            anyq |= part
        return ~anyq if op == "none" else anyq

    def _drives(self, node: dict[str, Any]) -> bool:
        """Whether SQLite can start from this condition: a comparison of a contact column that
        leads one of the contact's indexes (province, stage's id, owner, dates, purchase
        metrics). Its ``any`` siblings are then only checked (``_filter_only``)."""
        kind, op = node.get("kind"), node.get("operator")
        if kind == "purchase" and not node.get("period"):
            column = node["metric"]
        elif kind == "field" and node.get("field") in self.fields:
            f = self.fields[node["field"]]
            column = "" if f.is_custom or f.is_company or f.folded else f.path.removesuffix("_id")
        else:
            return False
        return op in RANGE_OPERATORS and column in _index_leads()

    def leaf(self, node: dict[str, Any]) -> Q:
        kind = node["kind"]
        extra = CONDITION_KINDS.get(kind) if kind not in C.KINDS else None
        if extra is not None:
            return extra.compile(node, self.among)
        q: Q = getattr(self, f"_{kind}")(node)
        return q

    # -- fields -----------------------------------------------------------------------------
    def _field(self, node: dict[str, Any]) -> Q:
        f = self.fields[node["field"]]
        op = node["operator"]
        if op in NEGATIVE:
            positive = self._field({**node, "operator": NEGATIVE[op]})
            if "__" in f.path and not f.is_company and not f.is_custom:
                # A value read through a nullable relation (stage, buyer role, owner's team) is
                # NULL for a contact without one, and Django drops its IS NULL guard when the NOT
                # sits inside an OR: NOT over a subquery keeps the condition two-valued.
                return ~Q(pk__in=self._only(Contact.objects.filter(positive), "pk").values("pk"))
            return ~positive
        if op == "changed":
            return self._changed(f, int(node["days"]))
        if f.is_company:
            inner = self._column(f, f.path, op, node)
            links = self._only(ContactCompany.objects.filter(_prefixed(inner, "company__")))
            return Q(pk__in=links.values("contact_id"))
        if f.is_custom:
            return self._custom(f, op, node)
        return self._column(f, f.path, op, node)

    def _value(self, f: C.Field, value: Any) -> Any:
        if f.folded and isinstance(value, str):
            return fold(value)
        if f.key in ("owner", "owner_team") and value is not None:
            return int(value)
        if f.type == C.NUMBER:
            return float(value)
        return value

    def _column(self, f: C.Field, path: str, op: str, node: dict[str, Any]) -> Q:
        value: Any = node.get("value")
        if op == "not_empty":
            q = Q(**{f"{path}__isnull": False})
            return q if f.type not in (C.TEXT, C.CHOICE) or f.key in ("owner", "owner_team") else q & ~Q(**{path: ""})
        if op in ("eq", "contains", "starts_with", "in", "gt", "gte", "lt", "lte") and f.type not in (
            C.DATE,
            C.DATETIME,
        ):
            lookup = {
                "eq": "exact",
                "contains": "icontains",
                "starts_with": "istartswith",
                "in": "in",
                "gt": "gt",
                "gte": "gte",
                "lt": "lt",
                "lte": "lte",
            }[op]
            if f.folded:
                lookup = {"icontains": "contains", "istartswith": "startswith"}.get(lookup, lookup)
            v = [self._value(f, x) for x in value] if op == "in" else self._value(f, value)
            return Q(**{f"{path}__{lookup}": v})
        if op == "between" and f.type == C.NUMBER:
            return Q(**{f"{path}__gte": float(value[0]), f"{path}__lte": float(value[1])})
        if f.type in (C.DATE, C.DATETIME):
            return self._dated(path, f.type, op, node)
        raise ValueError(f"operator {op} on {f.key}")

    def _dated(self, path: str, type_: str, op: str, node: dict[str, Any]) -> Q:
        """Date operators on a date column (days) or a datetime column (local-day boundaries)."""
        value: Any = node.get("value")
        days: Any = node.get("days")
        clock = self.clock
        if type_ == C.DATE:

            def start(day: dt.date) -> Any:
                return day

            now = clock.today
        else:
            start, now = clock.day_start, clock.now
        if op == "eq":
            day = dt.date.fromisoformat(value)
            return _between(path, start(day), start(day + dt.timedelta(days=1)))
        if op == "before":
            return Q(**{f"{path}__lt": start(dt.date.fromisoformat(value))})
        if op == "after":
            return Q(**{f"{path}__gte": start(dt.date.fromisoformat(value) + dt.timedelta(days=1))})
        if op == "between":
            low, high = (dt.date.fromisoformat(v) for v in value)
            return _between(path, start(low), start(high + dt.timedelta(days=1)))
        if op == "within_last":
            if type_ == C.DATE:
                return Q(**{f"{path}__gte": clock.today - dt.timedelta(days=days), f"{path}__lte": clock.today})
            return Q(**{f"{path}__gte": clock.days_ago(days), f"{path}__lte": now})
        if op == "within_next":
            if type_ == C.DATE:
                return Q(**{f"{path}__gte": clock.today, f"{path}__lte": clock.today + dt.timedelta(days=days)})
            return Q(**{f"{path}__gte": now, f"{path}__lte": clock.now + dt.timedelta(days=days)})
        if op == "over_days_ago":
            if type_ == C.DATE:
                return Q(**{f"{path}__lt": clock.today - dt.timedelta(days=days)})
            return Q(**{f"{path}__lt": clock.days_ago(days)})
        if op == "anniversary_within":
            q = Q(pk__in=[])
            for first, last in _month_days(clock.today, days):
                md = MonthDay(F(path))
                q |= Q(GreaterThanOrEqual(md, first)) & Q(LessThanOrEqual(md, last))
            return q & Q(**{f"{path}__isnull": False})
        raise ValueError(f"operator {op}")

    def _custom(self, f: C.Field, op: str, node: dict[str, Any]) -> Q:
        key = f.key.split(".", 1)[1]
        value: Any = node.get("value")
        if op == "not_empty":
            return Q(Exact(JsonFilled("custom", key), 1))
        if f.type == C.BOOLEAN:
            flag = JsonValue("custom", key, "bool")
            return Q(Exact(flag, 1 if op == "is_true" else 0)) & Q(IsNull(flag, False))
        if f.type == C.MULTI:
            return Q(Exact(JsonHasElement("custom", key, str(value)), 1))
        if f.type == C.NUMBER:
            expr: Any = JsonValue("custom", key, "number")
            if op == "in":
                q = Q(pk__in=[])
                for v in value:
                    q |= Q(Exact(expr, float(v)))
                return q & Q(IsNull(expr, False))
            if op == "between":
                cond = Q(GreaterThanOrEqual(expr, float(value[0]))) & Q(LessThanOrEqual(expr, float(value[1])))
            else:
                lookup = {
                    "eq": Exact,
                    "gt": GreaterThan,
                    "gte": GreaterThanOrEqual,
                    "lt": LessThan,
                    "lte": LessThanOrEqual,
                }
                cond = Q(lookup[op](expr, float(value)))
            return cond & Q(IsNull(expr, False))
        if f.type in (C.DATE, C.DATETIME):
            return self._custom_dated(JsonValue("custom", key, "date"), f.type, op, node)
        text = JsonValue("custom", key, "text")
        if op == "eq":
            cond = Q(Exact(text, value))
        elif op == "in":
            cond = Q(pk__in=[])
            for v in value:
                cond |= Q(Exact(text, v))
        else:
            # Case-insensitive LIKE on both databases: the contains/starts-with of text fields.
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{pattern}%" if op == "contains" else f"{pattern}%"
            cond = Q(ILike(text, pattern))
        return cond & Q(IsNull(text, False))

    def _custom_dated(self, text: Any, type_: str, op: str, node: dict[str, Any]) -> Q:
        """Custom dates are ISO text ('YYYY-MM-DD', datetimes in UTC 'YYYY-MM-DDTHH:MM:SS+00:00'),
        which sort as the values they hold."""
        value: Any = node.get("value")
        days: Any = node.get("days")
        clock = self.clock

        def bound(day: dt.date) -> str:
            if type_ == C.DATE:
                return day.isoformat()
            return clock.day_start(day).astimezone(dt.UTC).isoformat()

        def instant(moment: dt.datetime) -> str:
            return (
                moment.astimezone(dt.UTC).isoformat() if type_ == C.DATETIME else timezone.localdate(moment).isoformat()
            )

        def rng(low: str | None, high: str | None, inclusive_high: bool = False) -> Q:
            q = Q(IsNull(text, False))
            if low is not None:
                q &= Q(GreaterThanOrEqual(text, low))
            if high is not None:
                q &= Q(LessThanOrEqual(text, high)) if inclusive_high else Q(LessThan(text, high))
            return q

        one = dt.timedelta(days=1)
        if op == "eq":
            day = dt.date.fromisoformat(value)
            return rng(bound(day), bound(day + one))
        if op == "before":
            return rng(None, bound(dt.date.fromisoformat(value)))
        if op == "after":
            return rng(bound(dt.date.fromisoformat(value) + one), None)
        if op == "between":
            low, high = (dt.date.fromisoformat(v) for v in value)
            return rng(bound(low), bound(high + one))
        if op == "within_last":
            return rng(instant(clock.days_ago(days)), instant(clock.now), inclusive_high=True)
        if op == "within_next":
            return rng(instant(clock.now), instant(clock.now + dt.timedelta(days=days)), inclusive_high=True)
        if op == "over_days_ago":
            return rng(None, instant(clock.days_ago(days)))
        if op == "anniversary_within":
            q = Q(pk__in=[])
            md = MonthDay(text)
            for first, last in _month_days(clock.today, days):
                q |= Q(GreaterThanOrEqual(md, first)) & Q(LessThanOrEqual(md, last))
            return q & Q(IsNull(text, False))
        raise ValueError(f"operator {op}")

    def _changed(self, f: C.Field, days: int) -> Q:
        from danhba.audit.models import AuditEvent

        # The keys of the audit log's snapshot (contacts.services.contact_snapshot).
        key = {"owner_team": "owner", "email": "emails", "phone": "phones"}.get(f.key, f.key)
        if f.is_company:
            key = "companies"
        audits = AuditEvent.objects.filter(
            object_type="contact",
            action__in=[AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE],
            contact_id__isnull=False,
            at__gte=self.clock.days_ago(days),
            changes__has_key=key,
        )
        return Q(pk__in=self._only(audits).values("contact_id"))

    # -- tags, consent ------------------------------------------------------------------------
    def _tag(self, node: dict[str, Any]) -> Q:
        keys = sorted({fold(t) for t in node["tags"]})
        links = self._only(ContactTag.objects.filter(tag__name_key__in=keys))
        op = node["operator"]
        if op == "any":
            return Q(pk__in=links.values("contact_id"))
        if op == "none":
            return ~Q(pk__in=links.values("contact_id"))
        having = links.values("contact_id").annotate(n=Count("tag_id", distinct=True)).filter(n=len(keys))
        return Q(pk__in=having.values("contact_id"))

    def _consent(self, node: dict[str, Any]) -> Q:
        from danhba.privacy.models import ConsentState

        states = self._only(ConsentState.objects.filter(purpose__key=node["purpose"]))
        if node["status"] == "unknown":
            return ~Q(pk__in=states.values("contact_id"))
        return Q(pk__in=states.filter(status=node["status"]).values("contact_id"))

    # -- behaviour ----------------------------------------------------------------------------
    def _events(self, node: dict[str, Any]) -> Any:
        from danhba.tracking.models import Event

        events = self._only(Event.objects.filter(name=node["name"], contact_id__isnull=False))
        if node.get("event_type"):
            events = events.filter(type=node["event_type"])
        start, end = self.clock.period(node.get("period"))
        if start is not None:
            events = events.filter(timestamp__gte=start)
        if end is not None:
            events = events.filter(timestamp__lt=end)
        for prop in node.get("where") or []:
            events = events.filter(property_q(prop))
        return events

    def _event(self, node: dict[str, Any]) -> Q:
        events = self._events(node)
        op, n = node["count"]["operator"], node["count"]["value"]
        if op == "gte" and n == 0:
            return _everyone()
        if (op == "eq" and n == 0) or (op == "lte" and n == 0):
            return ~Q(pk__in=events.values("contact_id"))
        if op == "gte" and n <= 1:
            return Q(pk__in=events.values("contact_id"))
        # COUNT(*): an index on (name, timestamp, contact) answers it without reading the rows.
        grouped = events.values("contact_id").annotate(n=Count("*"))
        if op == "gte":
            return Q(pk__in=grouped.filter(n__gte=n).values("contact_id"))
        if op == "eq":
            return Q(pk__in=grouped.filter(n=n).values("contact_id"))
        # At most n times (n ≥ 1): not more than n, contacts who never did it included.
        return ~Q(pk__in=grouped.filter(n__gt=n).values("contact_id"))

    def _email(self, node: dict[str, Any]) -> Q:
        """The email events of the action (``tracking.spec``), of one campaign or any; machines'
        opens and clicks left out (``"machine": true``; events without the key count). Only the
        events of the internal email source: a public write key can send the same names."""
        where = (
            [{"property": "campaign_id", "operator": "eq", "value": str(node["campaign"])}] if node["campaign"] else []
        )
        q = Q(pk__in=[])
        for name in EMAIL_ACTIONS[node["action"]]:
            events = self._events({"name": name, "where": where, "period": node.get("period")})
            q |= Q(pk__in=events.filter(_email_only(node["action"])).values("contact_id"))
        return ~q if node.get("negate") else q

    def _event_time(self, node: dict[str, Any]) -> Q:
        from danhba.tracking.models import Event

        events = self._only(Event.objects.filter(name=node["name"], contact_id__isnull=False)).values("contact_id")
        agg = Min("timestamp") if node["which"] == "first" else Max("timestamp")
        grouped = events.annotate(t=agg)
        return Q(pk__in=grouped.filter(self._dated("t", C.DATETIME, node["operator"], node)).values("contact_id"))

    def _purchase(self, node: dict[str, Any]) -> Q:
        """Lifetime metrics are columns of the contact itself (``Contact.PURCHASE_COLUMNS``, kept
        by the orders writer; decision 0025), so "province = X and spent > N" is one index
        range; a metric over a period is computed from the orders."""
        metric, op = node["metric"], node["operator"]
        if C.PURCHASE_METRICS[metric][0] == C.DATETIME:
            has = Q(**{f"{metric}__isnull": False})
            if op in ("empty", "not_empty"):
                return has if op == "not_empty" else ~has
            return has & self._dated(metric, C.DATETIME, op, node)
        if op == "ne":
            return ~self._purchase({**node, "operator": "eq"})
        value = node["value"]
        integer = metric == "order_count"
        if not node.get("period"):
            # Never NULL: a contact without orders has 0 of everything.
            return _number_q(metric, op, value, integer=integer)
        # Over a period: computed from the orders that count as purchases, in the shop currency.
        from django.conf import settings

        from danhba.orders.models import Order

        start, end = self.clock.period(node["period"])
        orders = self._only(Order.objects.filter(contact_id__isnull=False, status__in=Order.COUNTED))
        orders = orders.filter(_between("placed_at", start, end))
        rows: Any
        if metric == "total_spent":
            orders = orders.filter(currency=settings.SHOP_CURRENCY)
            rows = orders.values("contact_id").annotate(m=Sum(F("total") - F("refunded_amount")))
        else:
            rows = orders.values("contact_id").annotate(m=Count("*"))
        cond = _number_q("m", op, value, integer=integer)
        # A contact without orders in the period has 0: it matches when 0 does.
        if _number_holds(0.0, op, value):
            return ~Q(pk__in=rows.exclude(cond).values("contact_id"))
        return Q(pk__in=rows.filter(cond).values("contact_id"))

    def _bought(self, node: dict[str, Any]) -> Q:
        from danhba.orders.models import Order, OrderLine

        lines = self._only(
            OrderLine.objects.filter(order__contact_id__isnull=False, order__status__in=Order.COUNTED),
            "order__contact_id",
        )
        if node.get("product"):
            lines = lines.filter(product__product_id=node["product"])
        if node.get("category"):
            lines = lines.filter(category=node["category"])
        start, end = self.clock.period(node.get("period"))
        lines = lines.filter(_between("order__placed_at", start, end))
        q = Q(pk__in=lines.values("order__contact_id"))
        return ~q if node.get("negate") else q

    def _segment(self, node: dict[str, Any]) -> Q:
        from danhba.segments.models import Segment, SegmentMember

        segment = Segment.objects.get(pk=node["segment"])
        if segment.is_static:
            q = Q(pk__in=self._only(SegmentMember.objects.filter(segment_id=segment.pk)).values("contact_id"))
        else:
            if segment.pk in self._stack:
                raise ValueError("segment cycle")
            self._stack.append(segment.pk)
            try:
                inner = self._only(Contact.objects.filter(self.compile(segment.conditions)), "pk")
                q = Q(pk__in=inner.values("pk"))
            finally:
                self._stack.pop()
        return ~q if node["operator"] == "not_in" else q


class ILike(Func):
    """Case-insensitive LIKE with backslash escapes (LIKE is case-insensitive for ASCII on SQLite)."""

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, expression: Any, pattern: str) -> None:
        super().__init__(expression, models.Value(pattern))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        op = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        return f"({lhs} {op} {rhs} ESCAPE '\\')", [*lhs_params, *rhs_params]


def property_q(prop: dict[str, Any]) -> Q:
    """One condition on an event's properties (inside the event subquery; scoring's engagement
    rules filter events with it too)."""
    key, op = prop["property"], prop["operator"]
    value: Any = prop.get("value")
    text = JsonValue("properties", key, "text")
    if op == "exists":
        return Q(Exact(JsonFilled("properties", key), 1))
    if op == "not_exists":
        return Q(Exact(JsonFilled("properties", key), 0))
    if op == "eq":
        return Q(Exact(text, str(value)))
    if op == "ne":
        return ~(Q(Exact(text, str(value))) & Q(IsNull(text, False)))
    if op == "contains":
        pattern = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Q(ILike(text, f"%{pattern}%"))
    number = JsonValue("properties", key, "number")
    lookup = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}[op]
    return Q(lookup(number, float(value)))


def _email_only(action: str) -> Q:
    """The events of danhba's own email source, without machines' opens and clicks for the
    actions a machine can fake (``"machine": true``; events without the key count)."""
    q = Q(source__key_hash=EMAIL_SOURCE_KEY)
    if action in HUMAN_ONLY:
        machine = JsonValue("properties", "machine", "bool")
        q &= Q(IsNull(machine, True)) | Q(Exact(machine, 0))
    return q


def email_events_q(action: str, campaign: int | None = None) -> Q:
    """The events (a condition on Event) that count as ``action`` on an email of one campaign or
    any: what the ``email`` condition counts, for the apps that count them one by one (scoring)."""
    q = Q(name__in=EMAIL_ACTIONS[action]) & _email_only(action)
    if campaign:
        q &= property_q({"property": "campaign_id", "operator": "eq", "value": str(campaign)})
    return q


def _number_q(column: str, op: str, value: Any, *, integer: bool = False) -> Q:
    if op == "between":
        return _number_q(column, "gte", value[0], integer=integer) & _number_q(column, "lte", value[1], integer=integer)
    number = Decimal(str(value))
    if integer and number != number.to_integral_value():
        # A count compared with 1.5: the whole numbers on the same side ("≥ 1.5" is "≥ 2"), which
        # an integer column can take as its parameter.
        if op == "eq":
            return Q(**{f"{column}__in": []})
        rounded = math.ceil(number) if op in ("gte", "lt") else math.floor(number)
        return Q(**{f"{column}__{op}": rounded})
    lookup = {"eq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}[op]
    return Q(**{f"{column}__{lookup}": int(number) if integer else number})


def _number_holds(x: float, op: str, value: Any) -> bool:
    if op == "between":
        return float(value[0]) <= x <= float(value[1])
    v = float(value)
    return {"eq": x == v, "gt": x > v, "gte": x >= v, "lt": x < v, "lte": x <= v}[op]


# Operators that compare a column with a value or a range: an index can answer them.
RANGE_OPERATORS = frozenset(
    ("eq", "in", "gt", "gte", "lt", "lte", "between", "before", "after", "within_last", "within_next", "over_days_ago")
)


def _index_leads() -> set[str]:
    """The contact columns (field names) that lead one of its indexes."""
    return {index.fields[0] for index in Contact._meta.indexes}


class NotIndexed(Func):
    """A column that SQLite must not look up by index (a unary plus): only a filter."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = self.as_sql(compiler, connection, template="+%(expressions)s", **extra)
        return sql, list(params)


def _filter_only(q: Q) -> Q:
    """``q`` with its ``id IN (subquery)`` terms kept from driving SQLite's plan (decision 0025).

    SQLite costs ``id IN (SELECT …)`` at 25 rows whatever the subquery returns, so an OR of
    such terms (tag VIP or "Order Completed" ≥ 3 times: 45,000 contacts) is read first, by
    looking up every listed contact's row, even beside an index range that is smaller (province
    and spent: 28,700 index entries, no row read). Rendered as ``+id IN (…)`` the list is built
    once all the same and probed per candidate. PostgreSQL gets the plain column."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            out.children.append(_filter_only(child))
        elif isinstance(child, tuple) and child[0] == "pk__in" and isinstance(child[1], models.QuerySet):
            lookup: Any = In(NotIndexed(F("pk")), child[1])  # a condition, as Q's children take them
            out.children.append(lookup)
        else:
            out.children.append(child)
    return out


def _prefixed(q: Q, prefix: str) -> Q:
    """``q`` with every field path under ``prefix`` (company conditions applied from the link table)."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    for child in q.children:
        if isinstance(child, Q):
            out.children.append(_prefixed(child, prefix))
        elif isinstance(child, tuple):
            out.children.append((prefix + child[0], child[1]))
        else:
            out.children.append(child)
    return out


# --- entry points ----------------------------------------------------------------------------


def tree_q(tree: dict[str, Any], *, now: dt.datetime | None = None) -> Q:
    """The condition of a checked tree (``conditions.clean``) on Contact."""
    return Compiler(now=now).compile(tree)


def matching(tree: dict[str, Any], *, now: dt.datetime | None = None, among: Sequence[int] | None = None) -> Any:
    """Contacts a tree matches (a queryset), optionally only among some contact ids."""
    qs = Contact.objects.filter(Compiler(now=now, among=among).compile(tree))
    if among is not None:
        qs = qs.filter(pk__in=list(among))
    return qs
