"""The segment language's meaning in plain Python, over an in-memory world: what
``compiler.matching`` must return. ``test_property.py`` holds the two together on random worlds
and trees; the compiler's tests read better against this than against SQL.

The semantics (see the docstrings of ``conditions.py`` and ``compiler.py``):

- Every condition is two-valued: a contact matches it or not. Negative operators (``ne``,
  ``not_contains``, ``not_in``, ``empty``) and ``none`` groups are exactly the contacts the
  positive form does not match, contacts with an empty or missing value included.
- Text: ``eq``/``in`` compare exactly; ``contains``/``starts_with`` ignore case; the full name is
  compared folded (lower case, no diacritics). Empty means "" or NULL.
- Dates are days in the site's time zone. A datetime column's ``before D`` is before the start of
  D, ``after D`` from the start of the day after; ``within_last``/``within_next``/``over_days_ago``
  on datetimes count from the instant ``now``, on dates from today.
- Custom fields read the JSON value of their key: text from strings and numbers, numbers from
  JSON numbers and strings that are plain decimals (``-?[0-9]+(.[0-9]+)?``), yes/no only from JSON
  booleans, dates from strings that start with ``YYYY-MM-DD``. Any other type matches no
  comparison (but is "not empty").
- Company fields match when any of the contact's companies matches.
- Events, purchases and purchases over a period: see each function below.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from danhba.core.normalize import fold
from danhba.segments import conditions as C

NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MISSING = object()
COUNTED = ("completed", "partially_refunded")


@dataclass
class WContact:
    id: int
    # Standard fields by condition key (``full_name``, ``province``, ``lifecycle_stage`` (key),
    # ``owner`` (user id), ``owner_team`` (team id), ``birthday`` (date), ``created_at``…).
    fields: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    # Each company as {"name", "industry", "size", "domain", "province"}.
    companies: list[dict[str, Any]] = field(default_factory=list)
    consent: dict[str, str] = field(default_factory=dict)  # purpose key → granted / withdrawn


@dataclass
class WEvent:
    contact_id: int | None
    name: str
    timestamp: dt.datetime
    type: str = "track"
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class WLine:
    product: str | None = None
    category: str = ""


@dataclass
class WOrder:
    contact_id: int | None
    placed_at: dt.datetime
    total: Decimal
    refunded_amount: Decimal = Decimal(0)
    status: str = "completed"
    currency: str = "VND"
    lines: list[WLine] = field(default_factory=list)


@dataclass
class WStats:
    first_order_at: dt.datetime | None = None
    last_order_at: dt.datetime | None = None
    order_count: int = 0
    total_spent: Decimal = Decimal(0)
    average_order_value: Decimal = Decimal(0)


@dataclass
class WSegment:
    id: int
    static: bool = False
    members: set[int] = field(default_factory=set)
    conditions: dict[str, Any] = field(default_factory=lambda: {"op": "all", "conditions": []})


@dataclass
class World:
    contacts: list[WContact]
    events: list[WEvent] = field(default_factory=list)
    orders: list[WOrder] = field(default_factory=list)
    # Lifetime purchase metrics by contact id (a contact without a row has 0 of everything).
    stats: dict[int, WStats] = field(default_factory=dict)
    segments: dict[int, WSegment] = field(default_factory=dict)
    # Custom field key → condition type (conditions.TEXT, NUMBER…).
    custom_types: dict[str, str] = field(default_factory=dict)
    shop_currency: str = "VND"


def stats_from_orders(orders: list[WOrder], shop_currency: str = "VND") -> dict[int, WStats]:
    """The lifetime metrics ``tracking.orders`` keeps: counted orders only; money and the average
    order value from the orders in the shop currency."""
    stats: dict[int, WStats] = {}
    money_orders: dict[int, int] = defaultdict(int)
    for o in orders:
        if o.contact_id is None or o.status not in COUNTED:
            continue
        s = stats.setdefault(o.contact_id, WStats())
        s.order_count += 1
        s.first_order_at = o.placed_at if s.first_order_at is None else min(s.first_order_at, o.placed_at)
        s.last_order_at = o.placed_at if s.last_order_at is None else max(s.last_order_at, o.placed_at)
        if o.currency == shop_currency:
            s.total_spent += o.total - o.refunded_amount
            money_orders[o.contact_id] += 1
    for cid, s in stats.items():
        if money_orders[cid]:
            s.average_order_value = (s.total_spent / money_orders[cid]).quantize(Decimal("0.01"))
    return stats


# --- time ----------------------------------------------------------------------------------


class Time:
    def __init__(self, now: dt.datetime) -> None:
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.now = now
        self.today = now.astimezone(self.tz).date()

    def day_start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    def period(self, period: dict[str, Any] | None) -> tuple[dt.datetime | None, dt.datetime | None]:
        if not period:
            return None, None
        if period.get("last_days"):
            return self.now - dt.timedelta(days=period["last_days"]), None
        start = dt.date.fromisoformat(period["from"])
        end = dt.date.fromisoformat(period["to"]) + dt.timedelta(days=1)
        return self.day_start(start), self.day_start(end)

    @staticmethod
    def within(moment: dt.datetime, start: dt.datetime | None, end: dt.datetime | None) -> bool:
        return (start is None or moment >= start) and (end is None or moment < end)


def _anniversary(day: dt.date, today: dt.date, days: int) -> bool:
    """The month-day of ``day`` falls within today … today + days (Feb 29 sits between Feb 28
    and Mar 1)."""
    if days >= 365:
        return True
    md = (day.month, day.day)
    end = today + dt.timedelta(days=days)
    a, b = (today.month, today.day), (end.month, end.day)
    if end.year == today.year:
        return a <= md <= b
    return md >= a or md <= b


def date_op(day: dt.date | None, op: str, node: dict[str, Any], t: Time) -> bool:
    """A date operator on a day (a date column, a custom date)."""
    if day is None:
        return False
    value, days = node.get("value"), node.get("days")
    if op == "eq":
        return day == dt.date.fromisoformat(value)
    if op == "before":
        return day < dt.date.fromisoformat(value)
    if op == "after":
        return day > dt.date.fromisoformat(value)
    if op == "between":
        return dt.date.fromisoformat(value[0]) <= day <= dt.date.fromisoformat(value[1])
    if op == "within_last":
        return t.today - dt.timedelta(days=days) <= day <= t.today
    if op == "within_next":
        return t.today <= day <= t.today + dt.timedelta(days=days)
    if op == "over_days_ago":
        return day < t.today - dt.timedelta(days=days)
    if op == "anniversary_within":
        return _anniversary(day, t.today, days)
    raise ValueError(op)


def datetime_op(moment: dt.datetime | None, op: str, node: dict[str, Any], t: Time) -> bool:
    """A date operator on an instant: days are local days; ``within…``/``over…`` count from now."""
    if moment is None:
        return False
    value, days = node.get("value"), node.get("days")
    if op == "before":
        return moment < t.day_start(dt.date.fromisoformat(value))
    if op == "after":
        return moment >= t.day_start(dt.date.fromisoformat(value) + dt.timedelta(days=1))
    if op == "between":
        low, high = (dt.date.fromisoformat(v) for v in value)
        return t.day_start(low) <= moment < t.day_start(high + dt.timedelta(days=1))
    if op == "within_last":
        return t.now - dt.timedelta(days=days) <= moment <= t.now
    if op == "within_next":
        return t.now <= moment <= t.now + dt.timedelta(days=days)
    if op == "over_days_ago":
        return moment < t.now - dt.timedelta(days=days)
    raise ValueError(op)


# --- JSON values -------------------------------------------------------------------------------


def json_filled(raw: Any) -> bool:
    return raw is not MISSING and raw is not None and raw != "" and raw != []


def json_text(raw: Any) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int):
        return str(raw)
    # Floats read as text differ between the databases (1.0 vs 1): worlds keep them out of text.
    return None


def json_number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str) and NUMBER.fullmatch(raw):
        return float(raw)
    return None


def json_day_text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and ISO_DAY.match(raw) else None


def _compare(x: Any, op: str, value: Any, convert: Any = float) -> bool:
    if x is None:
        return False
    if op == "between":
        return convert(value[0]) <= x <= convert(value[1])
    if op == "in":
        return any(x == convert(v) for v in value)
    v = convert(value)
    return {"eq": x == v, "gt": x > v, "gte": x >= v, "lt": x < v, "lte": x <= v}[op]


def _text_op(text: str | None, op: str, value: Any) -> bool:
    if text is None:
        return False
    if op == "eq":
        return text == value
    if op == "in":
        return text in value
    if op == "contains":
        return value.lower() in text.lower()
    if op == "starts_with":
        return text.lower().startswith(value.lower())
    raise ValueError(op)


# --- the evaluator -------------------------------------------------------------------------

NEGATIVE = {"ne": "eq", "not_contains": "contains", "not_in": "in", "empty": "not_empty"}


class Evaluator:
    def __init__(self, world: World, now: dt.datetime) -> None:
        self.world = world
        self.t = Time(now)
        self.all = {c.id for c in world.contacts}
        self.fields = {f.key: f for f in C.standard_fields()}

    def group(self, tree: dict[str, Any]) -> set[int]:
        parts = [self.group(c) if "op" in c else self.leaf(c) for c in tree.get("conditions", [])]
        if tree["op"] == "all":
            out = set(self.all)
            for p in parts:
                out &= p
            return out
        found: set[int] = set().union(*parts) if parts else set()
        return self.all - found if tree["op"] == "none" else found

    def leaf(self, node: dict[str, Any]) -> set[int]:
        kind = node["kind"]
        if kind == "field":
            return {c.id for c in self.world.contacts if self.field(c, node)}
        if kind == "tag":
            keys = {fold(t) for t in node["tags"]}

            def has(c: WContact) -> bool:
                mine = {fold(t) for t in c.tags}
                return {"any": bool(mine & keys), "all": keys <= mine, "none": not mine & keys}[node["operator"]]

            return {c.id for c in self.world.contacts if has(c)}
        if kind == "consent":
            purpose, status = node["purpose"], node["status"]
            if status == "unknown":
                return {c.id for c in self.world.contacts if purpose not in c.consent}
            return {c.id for c in self.world.contacts if c.consent.get(purpose) == status}
        return getattr(self, kind)(node)  # type: ignore[no-any-return]

    # -- fields -------------------------------------------------------------------------------
    def field(self, c: WContact, node: dict[str, Any]) -> bool:
        key, op = node["field"], node["operator"]
        if op in NEGATIVE:
            return not self.field(c, {**node, "operator": NEGATIVE[op]})
        if key.startswith("custom."):
            return self.custom(c.custom.get(key.split(".", 1)[1], MISSING), key, op, node)
        f = self.fields[key]
        if f.is_company:
            name = key.split(".", 1)[1]
            return any(self.standard(f, company.get(name, ""), op, node) for company in c.companies)
        return self.standard(f, c.fields.get(key), op, node)

    def standard(self, f: C.Field, stored: Any, op: str, node: dict[str, Any]) -> bool:
        value = node.get("value")
        if op == "not_empty":
            return stored is not None and stored != ""
        if f.type == C.DATE:
            return date_op(stored, op, node, self.t)
        if f.type == C.DATETIME:
            return datetime_op(stored, op, node, self.t)
        if f.key in ("owner", "owner_team"):
            return _compare(stored, op, value, int)
        if f.folded:
            text = fold(stored or "")
            v = [fold(x) for x in value] if op == "in" else fold(value)
            return _text_op(text, op, v)
        return _text_op(stored if stored is not None else None, op, value)

    def custom(self, raw: Any, key: str, op: str, node: dict[str, Any]) -> bool:
        type_ = self.world.custom_types[key]
        value = node.get("value")
        if op == "not_empty":
            return json_filled(raw)
        if type_ == C.BOOLEAN:
            return isinstance(raw, bool) and raw is (op == "is_true")
        if type_ == C.MULTI:
            return isinstance(raw, list) and any(isinstance(x, str) and x == value for x in raw)
        if type_ == C.NUMBER:
            return _compare(json_number(raw), op, value)
        if type_ == C.DATE:
            text = json_day_text(raw)
            return date_op(dt.date.fromisoformat(text[:10]) if text else None, op, node, self.t)
        if type_ == C.DATETIME:
            text = json_day_text(raw)
            return datetime_op(dt.datetime.fromisoformat(text) if text else None, op, node, self.t)
        return _text_op(json_text(raw), op, value)

    # -- behaviour ----------------------------------------------------------------------------
    def _property(self, event: WEvent, prop: dict[str, Any]) -> bool:
        raw = event.properties.get(prop["property"], MISSING)
        op, value = prop["operator"], prop.get("value")
        if op == "exists":
            return json_filled(raw)
        if op == "not_exists":
            return not json_filled(raw)
        if op == "ne":
            return json_text(raw) != value
        if op in ("eq", "contains"):
            return _text_op(json_text(raw), op, value)
        return _compare(json_number(raw), op, value)

    def event(self, node: dict[str, Any]) -> set[int]:
        start, end = self.t.period(node.get("period"))
        counts: dict[int, int] = defaultdict(int)
        for e in self.world.events:
            if e.contact_id is None or e.name != node["name"]:
                continue
            if node.get("event_type") and e.type != node["event_type"]:
                continue
            if not Time.within(e.timestamp, start, end):
                continue
            if all(self._property(e, p) for p in node.get("where") or []):
                counts[e.contact_id] += 1
        op, n = node["count"]["operator"], node["count"]["value"]
        return {cid for cid in self.all if _compare(counts[cid], {"gte": "gte", "lte": "lte", "eq": "eq"}[op], n, int)}

    def event_time(self, node: dict[str, Any]) -> set[int]:
        times: dict[int, list[dt.datetime]] = defaultdict(list)
        for e in self.world.events:
            if e.contact_id is not None and e.name == node["name"]:
                times[e.contact_id].append(e.timestamp)
        pick = min if node["which"] == "first" else max
        return {
            cid
            for cid, ts in times.items()
            if cid in self.all and datetime_op(pick(ts), node["operator"], node, self.t)
        }

    def purchase(self, node: dict[str, Any]) -> set[int]:
        metric, op = node["metric"], node["operator"]
        if C.PURCHASE_METRICS[metric][0] == C.DATETIME:

            def moment(cid: int) -> dt.datetime | None:
                s = self.world.stats.get(cid)
                return getattr(s, metric) if s else None

            if op in ("empty", "not_empty"):
                return {cid for cid in self.all if (moment(cid) is None) == (op == "empty")}
            return {cid for cid in self.all if datetime_op(moment(cid), op, node, self.t)}
        if node.get("period"):
            start, end = self.t.period(node["period"])
            values: dict[int, Decimal] = defaultdict(Decimal)
            for o in self.world.orders:
                if o.contact_id is None or o.status not in COUNTED or not Time.within(o.placed_at, start, end):
                    continue
                if metric == "order_count":
                    values[o.contact_id] += 1
                elif o.currency == self.world.shop_currency:
                    values[o.contact_id] += o.total - o.refunded_amount
        else:
            values = defaultdict(Decimal)
            for cid, s in self.world.stats.items():
                values[cid] = Decimal(getattr(s, metric))
        if op == "ne":
            return {cid for cid in self.all if not _compare(values[cid], "eq", node["value"], _dec)}
        return {cid for cid in self.all if _compare(values[cid], op, node["value"], _dec)}

    def bought(self, node: dict[str, Any]) -> set[int]:
        start, end = self.t.period(node.get("period"))
        found = set()
        for o in self.world.orders:
            if o.contact_id is None or o.status not in COUNTED or not Time.within(o.placed_at, start, end):
                continue
            for line in o.lines:
                if node.get("product") and line.product != node["product"]:
                    continue
                if node.get("category") and line.category != node["category"]:
                    continue
                found.add(o.contact_id)
        found &= self.all
        return self.all - found if node.get("negate") else found

    def segment(self, node: dict[str, Any]) -> set[int]:
        seg = self.world.segments[node["segment"]]
        inside = seg.members & self.all if seg.static else self.group(seg.conditions)
        return self.all - inside if node["operator"] == "not_in" else inside


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def evaluate(tree: dict[str, Any], world: World, now: dt.datetime) -> set[int]:
    """The ids of the contacts of ``world`` that the (cleaned) ``tree`` matches at ``now``."""
    return Evaluator(world, now).group(tree)
