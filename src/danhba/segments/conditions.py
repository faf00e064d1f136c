"""The segment condition language: what a condition tree looks like, how it is checked, and how
it reads to people. ``compiler.py`` turns a checked tree into SQL.

A tree is JSON. A **group** combines conditions::

    {"op": "all" | "any" | "none", "conditions": [node, ...]}

``all`` is AND, ``any`` is OR, ``none`` is NOT (a OR b OR …); groups nest to any depth (within
``MAX_DEPTH``). An empty ``all`` matches every contact, an empty ``any`` none.

A **condition** has a ``kind``:

- ``{"kind": "field", "field": F, "operator": OP, "value": V, "days": N}`` — a standard contact
  field (``province``, ``lifecycle_stage``, ``owner``, ``created_at``…), a company field of the
  contact's companies (``company.industry``) or a custom field (``custom.<key>``). The operators
  a field accepts depend on its type (``OPERATORS``); ``days`` is for the "N days" operators,
  ``value`` is a list for ``in``/``not_in`` and a pair for ``between``.
- ``{"kind": "tag", "operator": "any" | "all" | "none", "tags": [name, ...]}``.
- ``{"kind": "consent", "purpose": KEY, "status": "granted" | "withdrawn" | "unknown"}``.
- ``{"kind": "event", "name": NAME, "event_type": T?, "where": [PROP, ...],
  "count": {"operator": "gte" | "lte" | "eq", "value": N}, "period": PERIOD}`` — performed an
  event N times (``{"operator": "eq", "value": 0}`` is "did not perform"). ``PROP`` is
  ``{"property": P, "operator": OP, "value": V}`` on the event's properties.
- ``{"kind": "event_time", "name": NAME, "which": "first" | "last", "operator": OP, "value": V,
  "days": N}`` — when an event was first or last performed (date operators).
- ``{"kind": "purchase", "metric": M, "operator": OP, "value": V, "period": PERIOD}`` — the
  contact's total spent, order count or average order value (over a period when given, else
  lifetime), first/last order date (date operators).
- ``{"kind": "bought", "product": ID?, "category": NAME?, "period": PERIOD}`` — bought a product
  or a category (ever, or in a period). ``"negate": true`` means did not.
- ``{"kind": "email", "action": "received" | "opened" | "clicked" | "bounced" | "unsubscribed",
  "campaign": ID | null, "negate": false, "period": PERIOD}`` — did (or with ``negate`` did not)
  something with an email of one campaign or any: the email events of ``tracking/spec.py``
  ("opened" counts a click too; machine opens and clicks never count).
- ``{"kind": "segment", "segment": ID, "operator": "in" | "not_in"}`` — membership of another
  segment or a static list. A segment may not refer to itself through others.

``PERIOD`` is ``null`` (ever), ``{"last_days": N}`` or ``{"from": "YYYY-MM-DD", "to":
"YYYY-MM-DD"}`` (both days included). Dates are days in the site's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.contacts.models import CustomField, Gender, NameOrder, Source
from danhba.core import formatting
from danhba.core.errors import InvalidInput
from danhba.core.vn import PROVINCES
from danhba.segments.extensions import CONDITION_KINDS, campaign_name
from danhba.tracking.spec import EMAIL_ACTIONS

if TYPE_CHECKING:
    from danhba.accounts.models import User

MAX_DEPTH = 12
MAX_CONDITIONS = 200
MAX_LIST = 500
MAX_DAYS = 36600

GROUP_OPS = ("all", "any", "none")
# Fields the audit log does not record changes of: "changed within" cannot apply to them.
UNTRACKED = frozenset({"created_at", "updated_at", "last_activity_at"})
KINDS = ("field", "tag", "consent", "event", "event_time", "email", "purchase", "bought", "segment")

# Field types and the operators each accepts.
TEXT, CHOICE, NUMBER, DATE, DATETIME, BOOLEAN, MULTI = (
    "text",
    "choice",
    "number",
    "date",
    "datetime",
    "boolean",
    "multi",
)
_EMPTY = ["empty", "not_empty"]
_DAY_OPS = ["within_last", "within_next", "over_days_ago"]
OPERATORS: dict[str, list[str]] = {
    TEXT: ["eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", *_EMPTY, "changed"],
    CHOICE: ["eq", "ne", "in", "not_in", *_EMPTY, "changed"],
    NUMBER: ["eq", "ne", "gt", "gte", "lt", "lte", "between", *_EMPTY, "changed"],
    DATE: ["eq", "before", "after", "between", *_DAY_OPS, "anniversary_within", *_EMPTY, "changed"],
    DATETIME: ["before", "after", "between", *_DAY_OPS, *_EMPTY, "changed"],
    BOOLEAN: ["is_true", "is_false", *_EMPTY, "changed"],
    MULTI: ["contains", "not_contains", *_EMPTY, "changed"],
}
# Operators that take no value, a list, a pair, or a number of days.
NO_VALUE = {"empty", "not_empty", "is_true", "is_false"}
LIST_VALUE = {"in", "not_in"}
PAIR_VALUE = {"between"}
DAYS_VALUE = {"within_last", "within_next", "over_days_ago", "anniversary_within", "changed"}

OPERATOR_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "starts_with": gettext_lazy("starts with"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "empty": gettext_lazy("is empty"),
    "not_empty": gettext_lazy("is not empty"),
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": gettext_lazy("is between"),
    "before": gettext_lazy("is before"),
    "after": gettext_lazy("is after"),
    "within_last": gettext_lazy("is within the last"),
    "within_next": gettext_lazy("is within the next"),
    "over_days_ago": gettext_lazy("is more than … days ago"),
    "anniversary_within": gettext_lazy("has its anniversary within the next"),
    "is_true": gettext_lazy("is yes"),
    "is_false": gettext_lazy("is no"),
    "changed": gettext_lazy("changed within the last"),
    "exists": gettext_lazy("exists"),
    "not_exists": gettext_lazy("does not exist"),
}
# Operators on event properties (always compared as text, or as numbers for gt/gte/lt/lte).
PROPERTY_OPERATORS = ["eq", "ne", "contains", "gt", "gte", "lt", "lte", "exists", "not_exists"]
COUNT_OPERATORS = ["gte", "lte", "eq"]
# Operators of the conditions outside the field-type table.
EVENT_TIME_OPERATORS = ["before", "after", "between", "within_last", "over_days_ago"]
PURCHASE_NUMBER_OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "between"]
PURCHASE_DATE_OPERATORS = ["before", "after", "between", "within_last", "over_days_ago", "empty", "not_empty"]
PURCHASE_METRICS = {
    "total_spent": (NUMBER, gettext_lazy("total spent")),
    "order_count": (NUMBER, gettext_lazy("number of orders")),
    "average_order_value": (NUMBER, gettext_lazy("average order value")),
    "first_order_at": (DATETIME, gettext_lazy("first order")),
    "last_order_at": (DATETIME, gettext_lazy("last order")),
}
# Metrics that may be computed over a period from the orders themselves.
PERIOD_METRICS = {"total_spent", "order_count"}
CONSENT_STATUSES = ("granted", "withdrawn", "unknown")
# The email condition's actions as the builder offers them ("did" / "did not" before them).
EMAIL_ACTION_LABELS = {
    "received": gettext_lazy("receive"),
    "opened": gettext_lazy("open"),
    "clicked": gettext_lazy("click a link in"),
    "bounced": gettext_lazy("bounce"),
    "unsubscribed": gettext_lazy("unsubscribe from"),
}


@dataclass(frozen=True)
class Field:
    key: str
    label: Any  # str or a lazy translation
    type: str
    # The ORM path on Contact (or on Company for company fields); custom fields have none.
    path: str = ""
    nullable: bool = False
    # Name of the permission a user needs to see the field ("" for everyone).
    sensitive: str = ""
    # Allowed values of a choice field, as (value, label); None when any value goes.
    choices: Callable[[], list[tuple[str, str]]] | None = None
    custom: CustomField | None = None
    # Compared on the folded (lower-case, diacritic-free) name key.
    folded: bool = False

    @property
    def is_company(self) -> bool:
        return self.key.startswith("company.")

    @property
    def is_custom(self) -> bool:
        return self.custom is not None


def _stages() -> list[tuple[str, str]]:
    from danhba.contacts.models import LifecycleStage

    return [(s.key, s.label) for s in LifecycleStage.objects.all()]


def _buyer_roles() -> list[tuple[str, str]]:
    from danhba.contacts.models import BuyerRole

    return [(r.key, r.label) for r in BuyerRole.objects.all()]


def _users() -> list[tuple[str, str]]:
    from danhba.accounts.models import User

    return [(str(u.pk), u.full_name or u.email) for u in User.objects.order_by("email")]


def _teams() -> list[tuple[str, str]]:
    from danhba.accounts.models import Team

    return [(str(t.pk), t.name) for t in Team.objects.order_by("name")]


def _static(choices: Iterable[tuple[str, Any]]) -> Callable[[], list[tuple[str, str]]]:
    items = list(choices)
    return lambda: [(str(v), str(label)) for v, label in items]


def _text(key: str, label: Any, **kw: Any) -> Field:
    return Field(key, label, TEXT, path=key, **kw)


def standard_fields() -> list[Field]:
    """The contact and company fields a condition may use, in the order the builder lists them."""
    return [
        Field("full_name", gettext_lazy("full name"), TEXT, path="name_key", folded=True),
        _text("family_name", gettext_lazy("family name")),
        _text("given_name", gettext_lazy("given name")),
        _text("email", gettext_lazy("email")),
        _text("phone", gettext_lazy("phone")),
        Field("lifecycle_stage", gettext_lazy("lifecycle stage"), CHOICE, path="lifecycle_stage__key", choices=_stages),
        Field(
            "buyer_role",
            gettext_lazy("buyer role"),
            CHOICE,
            path="buyer_role__key",
            nullable=True,
            choices=_buyer_roles,
        ),
        Field("source", gettext_lazy("source"), CHOICE, path="source", choices=_static(Source.choices)),
        Field("owner", gettext_lazy("owner"), CHOICE, path="owner_id", nullable=True, choices=_users),
        Field("owner_team", gettext_lazy("owner's team"), CHOICE, path="owner__team_id", nullable=True, choices=_teams),
        Field("province", gettext_lazy("province / city"), CHOICE, path="province", choices=_static(PROVINCES)),
        _text("ward", gettext_lazy("ward / commune")),
        _text("street", gettext_lazy("street address")),
        _text("country", gettext_lazy("country")),
        Field("birthday", gettext_lazy("birthday"), DATE, path="birthday", nullable=True, sensitive="birthday"),
        Field(
            "gender", gettext_lazy("gender"), CHOICE, path="gender", sensitive="gender", choices=_static(Gender.choices)
        ),
        Field("name_order", gettext_lazy("name order"), CHOICE, path="name_order", choices=_static(NameOrder.choices)),
        _text("occupation", gettext_lazy("occupation")),
        _text("job_title", gettext_lazy("job title")),
        _text("education", gettext_lazy("education")),
        _text("income_band", gettext_lazy("income band"), sensitive="income_band"),
        _text("family", gettext_lazy("family"), sensitive="family"),
        _text("lifestyle", gettext_lazy("lifestyle")),
        _text("hobbies", gettext_lazy("hobbies")),
        _text("preferences", gettext_lazy("preferences")),
        _text("motivations", gettext_lazy("motivations")),
        _text("likes", gettext_lazy("likes")),
        _text("dislikes", gettext_lazy("dislikes")),
        Field("created_at", gettext_lazy("created"), DATETIME, path="created_at"),
        Field("updated_at", gettext_lazy("updated"), DATETIME, path="updated_at"),
        Field("last_activity_at", gettext_lazy("last activity"), DATETIME, path="last_activity_at"),
        Field("company.name", gettext_lazy("company name"), TEXT, path="name"),
        Field("company.industry", gettext_lazy("company industry"), TEXT, path="industry"),
        Field("company.size", gettext_lazy("company size"), TEXT, path="size"),
        Field("company.domain", gettext_lazy("company domain"), TEXT, path="domain"),
        Field(
            "company.province", gettext_lazy("company province"), CHOICE, path="province", choices=_static(PROVINCES)
        ),
    ]


_CUSTOM_TYPES: dict[str, str] = {
    CustomField.Type.TEXT: TEXT,
    CustomField.Type.LONG_TEXT: TEXT,
    CustomField.Type.URL: TEXT,
    CustomField.Type.EMAIL: TEXT,
    CustomField.Type.PHONE: TEXT,
    CustomField.Type.NUMBER: NUMBER,
    CustomField.Type.DECIMAL: NUMBER,
    CustomField.Type.DATE: DATE,
    CustomField.Type.DATETIME: DATETIME,
    CustomField.Type.BOOLEAN: BOOLEAN,
    CustomField.Type.CHOICE: CHOICE,
    CustomField.Type.MULTI_CHOICE: MULTI,
}


def custom_field(cf: CustomField) -> Field:
    choices = None
    if cf.type in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE):
        choices = _static((c, c) for c in cf.choices or [])
    return Field(
        f"custom.{cf.key}",
        cf.label,
        _CUSTOM_TYPES.get(cf.type, TEXT),
        nullable=True,
        sensitive=cf.permission_key if cf.is_sensitive else "",
        choices=choices,
        custom=cf,
    )


def field_operators(f: Field) -> list[str]:
    """The operators a field accepts: its type's, less "changed" where the audit log does not
    record changes."""
    ops = OPERATORS[f.type]
    return [op for op in ops if op != "changed"] if f.key in UNTRACKED else ops


def fields(user: User | None = None) -> dict[str, Field]:
    """Every field a condition may use (for ``user``: leaving out the sensitive ones they may not
    see), by key."""
    found = {f.key: f for f in standard_fields()}
    for cf in CustomField.objects.filter(entity=CustomField.Entity.CONTACT, is_active=True):
        f = custom_field(cf)
        found[f.key] = f
    if user is not None:
        found = {k: f for k, f in found.items() if not f.sensitive or user.sees_field(f.sensitive)}
    return found


# --- checking -------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.items.setdefault(path or "conditions", []).append(message)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> dt.date | None:
    """A day YYYY-MM-DD, within years 1000–9000: the compiler adds and subtracts days and
    time zones, which must not step outside what Python's dates hold."""
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        return day if 1000 <= day.year <= 9000 else None
    return None


def as_number(value: Any) -> Decimal | None:
    """A finite decimal under 10^15 (of a number or its text), or None: how a condition's
    numbers are read (scoring's ``score`` condition too)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < Decimal(10) ** 15 else None


def _days(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        days = int(value)
    except ValueError:
        return None
    return days if 0 <= days <= MAX_DAYS else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        n = int(value)
    except ValueError:
        return None
    return n if 0 <= n <= 10**9 else None


def _text_value(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:500] if text else None


class Checker:
    """Checks a tree and returns its clean form: values typed, unknown keys dropped. One instance
    per tree (it caches the field list and the segments looked up)."""

    def __init__(self, *, user: User | None = None, segment_id: int | None = None) -> None:
        self.user = user
        self.segment_id = segment_id
        self.fields = fields(user)
        self.errors = _Errors()
        self.count = 0

    def clean(self, tree: Any) -> dict[str, Any]:
        if not isinstance(tree, dict) or "op" not in tree:
            raise InvalidInput({"conditions": [_('must be a group: {"op": …, "conditions": […]}')]})
        cleaned = self._group(tree, "conditions", 1)
        if self.errors.items:
            raise InvalidInput(self.errors.items, _("Some conditions are not valid."))
        return cleaned

    def _group(self, node: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        op = node.get("op")
        if op not in GROUP_OPS:
            self.errors.add(f"{path}.op", _("must be one of: %s") % ", ".join(GROUP_OPS))
        if depth > MAX_DEPTH:
            self.errors.add(path, _("groups nest at most %(n)s deep") % {"n": MAX_DEPTH})
            return {"op": op, "conditions": []}
        children = node.get("conditions", [])
        if not isinstance(children, list):
            self.errors.add(f"{path}.conditions", _("must be a list"))
            children = []
        out = []
        for i, child in enumerate(children):
            child_path = f"{path}.{i}"
            if not isinstance(child, dict):
                self.errors.add(child_path, _("must be an object"))
                continue
            if "op" in child:
                out.append(self._group(child, child_path, depth + 1))
            else:
                self.count += 1
                if self.count == MAX_CONDITIONS + 1:
                    self.errors.add("conditions", _("at most %(n)s conditions") % {"n": MAX_CONDITIONS})
                out.append(self._leaf(child, child_path))
        return {"op": op, "conditions": out}

    def _leaf(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        kind = node.get("kind")
        extra = CONDITION_KINDS.get(kind) if isinstance(kind, str) and kind not in KINDS else None
        if extra is not None:
            self._needs(path, extra.permission)
            return {"kind": kind, **extra.check(node, path, self.errors.add)}
        check = getattr(self, f"_{kind}", None) if kind in KINDS else None
        if check is None:
            self.errors.add(f"{path}.kind", _("must be one of: %s") % ", ".join([*KINDS, *CONDITION_KINDS.keys()]))
            return dict(node)
        out: dict[str, Any] = check(node, path)
        return {"kind": kind, **out}

    # -- field --------------------------------------------------------------------------------
    def _field(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        key = node.get("field")
        f = self.fields.get(key) if isinstance(key, str) else None
        if f is None:
            self.errors.add(f"{path}.field", _("unknown field"))
            return {"field": key, "operator": node.get("operator")}
        return {"field": f.key, **self._operand(f.type, node, path, choices=f.choices, operators=field_operators(f))}

    def _operand(
        self,
        type_: str,
        node: dict[str, Any],
        path: str,
        *,
        choices: Callable[[], list[tuple[str, str]]] | None = None,
        operators: list[str] | None = None,
    ) -> dict[str, Any]:
        """The operator and value(s) of a typed comparison."""
        op = node.get("operator")
        allowed = operators or OPERATORS[type_]
        if op not in allowed:
            self.errors.add(f"{path}.operator", _("must be one of: %s") % ", ".join(allowed))
            return {"operator": op}
        out: dict[str, Any] = {"operator": op}
        if op in NO_VALUE:
            return out
        if op in DAYS_VALUE:
            days = _days(node.get("days"))
            if days is None:
                self.errors.add(f"{path}.days", _("must be a whole number of days from 0 to %s") % MAX_DAYS)
            out["days"] = days
            return out
        value = node.get("value")
        if op in LIST_VALUE:
            if not isinstance(value, list) or not value or len(value) > MAX_LIST:
                self.errors.add(f"{path}.value", _("must be a list of 1 to %s values") % MAX_LIST)
                return {**out, "value": []}
            out["value"] = [self._scalar(type_, v, f"{path}.value", choices) for v in value]
            return out
        if op in PAIR_VALUE:
            if not isinstance(value, list) or len(value) != 2:
                self.errors.add(f"{path}.value", _("must be a pair [from, to]"))
                return {**out, "value": [None, None]}
            low, high = (self._scalar(type_, v, f"{path}.value", choices) for v in value)
            if low is not None and high is not None and _sort_key(type_, low) > _sort_key(type_, high):
                self.errors.add(f"{path}.value", _("the first value must not be after the second"))
            out["value"] = [low, high]
            return out
        out["value"] = self._scalar(type_, value, f"{path}.value", choices if op in ("eq", "ne") else None)
        return out

    def _scalar(
        self, type_: str, value: Any, path: str, choices: Callable[[], list[tuple[str, str]]] | None = None
    ) -> Any:
        if type_ == NUMBER:
            number = as_number(value)
            if number is None:
                self.errors.add(path, _("must be a number"))
                return None
            return int(number) if number == number.to_integral_value() else str(number)
        if type_ in (DATE, DATETIME):
            day = _date(value)
            if day is None:
                self.errors.add(path, _("must be a date YYYY-MM-DD"))
                return None
            return day.isoformat()
        text = _text_value(value)
        if text is None:
            self.errors.add(path, _("must not be empty"))
            return None
        if choices is not None and type_ in (CHOICE, MULTI):
            known = {v for v, _label in choices()}
            if known and text not in known:
                self.errors.add(path, _("“%(value)s” is not one of the choices") % {"value": text})
        return text

    # -- tags, consent --------------------------------------------------------------------------
    def _tag(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        op = node.get("operator", "any")
        if op not in ("any", "all", "none"):
            self.errors.add(f"{path}.operator", _("must be one of: %s") % "any, all, none")
        tags = node.get("tags")
        if not isinstance(tags, list) or not tags or len(tags) > MAX_LIST:
            self.errors.add(f"{path}.tags", _("must be a list of 1 to %s tag names") % MAX_LIST)
            tags = []
        names = [t for t in (_text_value(t) for t in tags) if t]
        if len(names) != len(tags):
            self.errors.add(f"{path}.tags", _("tag names must be text"))
        return {"operator": op, "tags": names}

    def _consent(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        from danhba.privacy.models import ConsentPurpose

        purpose = node.get("purpose")
        if not isinstance(purpose, str) or not ConsentPurpose.objects.filter(key=purpose).exists():
            self.errors.add(f"{path}.purpose", _("unknown consent purpose"))
        status = node.get("status")
        if status not in CONSENT_STATUSES:
            self.errors.add(f"{path}.status", _("must be one of: %s") % ", ".join(CONSENT_STATUSES))
        self._needs(path, "consent")
        return {"purpose": purpose, "status": status}

    # -- behaviour ------------------------------------------------------------------------------
    def _event_name(self, node: dict[str, Any], path: str) -> str | None:
        name = _text_value(node.get("name"))
        if name is None:
            self.errors.add(f"{path}.name", _("must name an event"))
        self._needs(path, "event")
        return name

    def _period(self, node: dict[str, Any], path: str) -> dict[str, Any] | None:
        period = node.get("period")
        if period is None:
            return None
        if isinstance(period, dict) and "last_days" in period:
            days = _days(period.get("last_days"))
            if days is None or days == 0:
                self.errors.add(f"{path}.period.last_days", _("must be a whole number of days from 1 to %s") % MAX_DAYS)
            return {"last_days": days}
        if isinstance(period, dict) and ("from" in period or "to" in period):
            start, end = _date(period.get("from")), _date(period.get("to"))
            if start is None or end is None:
                self.errors.add(f"{path}.period", _("“from” and “to” must be dates YYYY-MM-DD"))
            elif start > end:
                self.errors.add(f"{path}.period", _("“from” must not be after “to”"))
            return {"from": period.get("from"), "to": period.get("to")}
        self.errors.add(f"{path}.period", _('must be null, {"last_days": N} or {"from": …, "to": …}'))
        return None

    def _event(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        from danhba.tracking.models import Event

        out: dict[str, Any] = {"name": self._event_name(node, path)}
        event_type = node.get("event_type")
        if event_type:
            if event_type not in Event.Type.values:
                self.errors.add(f"{path}.event_type", _("must be one of: %s") % ", ".join(Event.Type.values))
            out["event_type"] = event_type
        out["where"] = self.properties(node.get("where"), path)
        count = node.get("count") or {"operator": "gte", "value": 1}
        if not isinstance(count, dict) or count.get("operator") not in COUNT_OPERATORS:
            self.errors.add(f"{path}.count.operator", _("must be one of: %s") % ", ".join(COUNT_OPERATORS))
            count = {"operator": "gte", "value": 1}
        n = _count(count.get("value"))
        if n is None:
            self.errors.add(f"{path}.count.value", _("must be a whole number of times"))
        out["count"] = {"operator": count["operator"], "value": n}
        out["period"] = self._period(node, path)
        return out

    def properties(self, where: Any, path: str) -> list[dict[str, Any]]:
        """The checked property conditions of an event (``where``): also the language of scoring's
        engagement rules."""
        where = where or []
        if not isinstance(where, list) or len(where) > 20:
            self.errors.add(f"{path}.where", _("must be a list of at most 20 property conditions"))
            where = []
        return [self._property(p, f"{path}.where.{i}") for i, p in enumerate(where)]

    def _property(self, node: Any, path: str) -> dict[str, Any]:
        if not isinstance(node, dict):
            self.errors.add(path, _("must be an object"))
            return {}
        prop = _text_value(node.get("property"))
        if prop is None or len(prop) > 200:
            self.errors.add(f"{path}.property", _("must name a property"))
        op = node.get("operator")
        if op not in PROPERTY_OPERATORS:
            self.errors.add(f"{path}.operator", _("must be one of: %s") % ", ".join(PROPERTY_OPERATORS))
        out: dict[str, Any] = {"property": prop, "operator": op}
        if op in ("exists", "not_exists"):
            return out
        value = node.get("value")
        if op in ("gt", "gte", "lt", "lte"):
            number = as_number(value)
            if number is None:
                self.errors.add(f"{path}.value", _("must be a number"))
            out["value"] = (
                None if number is None else (int(number) if number == number.to_integral_value() else str(number))
            )
        else:
            text = _text_value(value)
            if text is None:
                self.errors.add(f"{path}.value", _("must not be empty"))
            out["value"] = text
        return out

    def _email(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        action = node.get("action")
        if action not in EMAIL_ACTIONS:
            self.errors.add(f"{path}.action", _("must be one of: %s") % ", ".join(EMAIL_ACTIONS))
        campaign = node.get("campaign")
        if campaign in (None, ""):
            campaign = None
        else:
            campaign = _count(campaign)
            if not campaign:
                self.errors.add(f"{path}.campaign", _("must be a campaign's id, or null for any campaign"))
        negate = node.get("negate", False)
        if not isinstance(negate, bool):
            self.errors.add(f"{path}.negate", _("must be true or false"))
        self._needs(path, "event")
        return {"action": action, "campaign": campaign, "negate": negate is True, "period": self._period(node, path)}

    def _event_time(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        which = node.get("which")
        if which not in ("first", "last"):
            self.errors.add(f"{path}.which", _("must be first or last"))
        operators = EVENT_TIME_OPERATORS
        return {
            "name": self._event_name(node, path),
            "which": which,
            **self._operand(DATETIME, node, path, operators=operators),
        }

    def _purchase(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        self._needs(path, "order")
        metric = node.get("metric")
        if metric not in PURCHASE_METRICS:
            self.errors.add(f"{path}.metric", _("must be one of: %s") % ", ".join(PURCHASE_METRICS))
            return {"metric": metric}
        type_ = PURCHASE_METRICS[metric][0]
        operators = PURCHASE_NUMBER_OPERATORS if type_ == NUMBER else None
        if type_ == DATETIME:
            operators = PURCHASE_DATE_OPERATORS
        out = {"metric": metric, **self._operand(type_, node, path, operators=operators)}
        period = self._period(node, path)
        if period is not None:
            if metric not in PERIOD_METRICS:
                self.errors.add(
                    f"{path}.period", _("only total spent and number of orders can be counted over a period")
                )
            out["period"] = period
        return out

    def _bought(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        self._needs(path, "order")
        product, category = _text_value(node.get("product")), _text_value(node.get("category"))
        if product is None and category is None:
            self.errors.add(path, _("name a product or a category"))
        return {
            "product": product,
            "category": category,
            "period": self._period(node, path),
            "negate": bool(node.get("negate")),
        }

    def _segment(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        from danhba.segments.models import Segment

        op = node.get("operator", "in")
        if op not in ("in", "not_in"):
            self.errors.add(f"{path}.operator", _("must be in or not_in"))
        ref = node.get("segment")
        segment_id = _count(ref)
        if segment_id is None or not Segment.objects.filter(pk=segment_id).exists():
            self.errors.add(f"{path}.segment", _("no such segment or list"))
            return {"segment": ref, "operator": op}
        if self.segment_id is not None and self.segment_id in referenced_segments(segment_id) | {segment_id}:
            self.errors.add(f"{path}.segment", _("a segment cannot depend on itself"))
        return {"segment": segment_id, "operator": op}

    def _needs(self, path: str, obj: str) -> None:
        from danhba.accounts import permissions as perms

        if self.user is not None and not self.user.can(obj, perms.VIEW):
            self.errors.add(path, _("your role may not see %(what)s") % {"what": perms.OBJECTS.get(obj, obj)})


def _sort_key(type_: str, value: Any) -> Any:
    return Decimal(str(value)) if type_ == NUMBER else str(value)


def clean(tree: Any, *, user: User | None = None, segment_id: int | None = None) -> dict[str, Any]:
    """The checked, normalised form of ``tree``; raises InvalidInput listing every problem by
    its path (``conditions.0.conditions.2.value``)."""
    return Checker(user=user, segment_id=segment_id).clean(tree)


# --- walking --------------------------------------------------------------------------------


def leaves(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node in tree.get("conditions", []):
        if "op" in node:
            yield from leaves(node)
        else:
            yield node


def referenced_segments(segment_id: int, _seen: set[int] | None = None) -> set[int]:
    """Every segment ``segment_id`` depends on, directly or through others."""
    from danhba.segments.models import Segment

    seen = _seen if _seen is not None else set()
    row = Segment.objects.filter(pk=segment_id).values_list("conditions", flat=True).first()
    for leaf in leaves(row or {}):
        ref = leaf.get("segment") if leaf.get("kind") == "segment" else None
        if isinstance(ref, int) and ref not in seen:
            seen.add(ref)
            referenced_segments(ref, seen)
    return seen


# What a role must be allowed to view to see a condition of each kind.
_KIND_OBJECTS = {
    "consent": "consent", "event": "event", "event_time": "event", "email": "event", "purchase": "order",
    "bought": "order",
}  # fmt: skip


def hidden_from(tree: dict[str, Any], user: User, visible: dict[str, Field] | None = None, depth: int = 0) -> bool:
    """Whether the tree uses anything ``user`` may not see (a sensitive field, events, orders,
    consent), directly or through a segment it refers to. Such a segment's conditions and its
    members would tell them what they may not see."""
    from danhba.segments.models import Segment

    visible = fields(user) if visible is None else visible
    for leaf in leaves(tree):
        kind = leaf.get("kind")
        if kind == "field" and leaf.get("field") not in visible:
            return True
        if kind in _KIND_OBJECTS and not user.can(_KIND_OBJECTS[str(kind)], "view"):
            return True
        extra = CONDITION_KINDS.get(str(kind)) if kind not in KINDS else None
        if extra is not None and not user.can(extra.permission, "view"):
            return True
        if kind == "segment" and depth < MAX_DEPTH:
            ref = Segment.objects.filter(pk=leaf["segment"], kind="dynamic").values_list("conditions", flat=True)
            inner = ref.first()
            if inner and hidden_from(inner, user, visible, depth + 1):
                return True
    return False


def _last_days(leaf: dict[str, Any]) -> bool:
    return bool((leaf.get("period") or {}).get("last_days"))


def _field_reasons(leaf: dict[str, Any]) -> tuple[set[str], bool]:
    key = str(leaf.get("field"))
    reasons = {"company" if key.startswith("company.") else f"field:{key}"}
    if key == "owner_team":
        reasons.add("field:owner")
    return reasons, leaf.get("operator") in DAYS_VALUE


def _event_reasons(leaf: dict[str, Any]) -> tuple[set[str], bool]:
    return {f"event:{leaf.get('name')}"}, leaf.get("operator") in DAYS_VALUE or _last_days(leaf)


def _email_reasons(leaf: dict[str, Any]) -> tuple[set[str], bool]:
    return {f"event:{name}" for name in EMAIL_ACTIONS.get(str(leaf.get("action")), ())}, _last_days(leaf)


def _order_reasons(leaf: dict[str, Any]) -> tuple[set[str], bool]:
    return {"orders"}, leaf.get("operator") in DAYS_VALUE or _last_days(leaf)


def _segment_reasons(leaf: dict[str, Any]) -> tuple[set[str], bool]:
    from danhba.segments.models import Segment

    ref_id: Any = leaf.get("segment")
    ref = Segment.objects.filter(pk=ref_id).first()
    if ref is None:
        return set(), False
    if ref.is_static:
        return {f"list:{ref.pk}"}, False
    sub, timed = dependencies(ref.conditions)
    return set(sub), timed


# What each kind of condition reads, as change reasons, and whether time alone changes it.
_DEPENDS: dict[str, Callable[[dict[str, Any]], tuple[set[str], bool]]] = {
    "field": _field_reasons,
    "tag": lambda leaf: ({"tags"}, False),
    "consent": lambda leaf: ({"consent"}, False),
    "event": _event_reasons,
    "event_time": _event_reasons,
    "email": _email_reasons,
    "purchase": _order_reasons,
    "bought": _order_reasons,
    "segment": _segment_reasons,
}


def dependencies(tree: dict[str, Any]) -> tuple[list[str], bool]:
    """What data a segment reads, as the change reasons that can alter it (``field:province``,
    ``tags``, ``consent``, ``event:<name>``, ``orders``, ``list:<id>``, ``company``), and whether the
    passing of time alone can change it. Referenced segments add theirs."""
    reasons: set[str] = set()
    timed = False
    for leaf in leaves(tree):
        kind = str(leaf.get("kind"))
        depends = _DEPENDS.get(kind)
        if depends is not None:
            more, more_timed = depends(leaf)
        elif kind not in KINDS and (extra := CONDITION_KINDS.get(kind)) is not None:
            more, more_timed = set(extra.reasons(leaf)), False
        else:
            continue
        reasons |= more
        timed |= more_timed
    return sorted(reasons), timed


# --- reading --------------------------------------------------------------------------------


def _as_date(value: Any) -> str:
    when = formatting.parse_moment(value)
    if isinstance(when, dt.datetime):
        return formatting.moment(when)
    return formatting.day(when) if when is not None else str(value)


# How the sentence writes a value of each type, in the reader's formats ("> 11.360.000 ₫").
SHOW: dict[str, Callable[[Any], str]] = {
    NUMBER: formatting.number,
    DATE: _as_date,
    DATETIME: _as_date,
    "money": formatting.money,
}
MONEY_METRICS = {"total_spent", "average_order_value"}


class Describer:
    """The tree as a sentence: ``Lifecycle stage is Lead AND (did “Order Completed” ≥ 3 times in
    the last 90 days OR tag is VIP)``."""

    def __init__(self) -> None:
        self.fields = {f.key: f for f in standard_fields()}
        for cf in CustomField.objects.filter(entity=CustomField.Entity.CONTACT):
            f = custom_field(cf)
            self.fields[f.key] = f
        self._choice_labels: dict[str, dict[str, str]] = {}

    def describe(self, tree: dict[str, Any], top: bool = True) -> str:
        parts = [self.describe(c, top=False) if "op" in c else self.leaf(c) for c in tree.get("conditions", [])]
        op = tree.get("op")
        if not parts:
            return _("every contact") if op != "any" else _("no contact")
        joiner = {"all": _(" AND "), "any": _(" OR "), "none": _(" OR ")}.get(str(op), " ? ")
        text = joiner.join(parts)
        if op == "none":
            return _("NOT (%s)") % text
        return text if top or len(parts) == 1 else f"({text})"

    def _choice(self, f: Field, value: Any) -> str:
        if f.choices is None:
            return f"“{value}”"
        if f.key not in self._choice_labels:
            self._choice_labels[f.key] = dict(f.choices())
        return self._choice_labels[f.key].get(str(value), f"“{value}”")

    def _operand(self, label: str, op: str, node: dict[str, Any], show: Callable[[Any], str]) -> str:
        op_label = str(OPERATOR_LABELS.get(op, op))
        if op in NO_VALUE:
            return f"{label} {op_label}"
        if op in DAYS_VALUE:
            days = formatting.number(node.get("days"))
            if op == "over_days_ago":
                return _("%(field)s is more than %(n)s days ago") % {"field": label, "n": days}
            return _("%(field)s %(op)s %(n)s days") % {"field": label, "op": op_label, "n": days}
        value = node.get("value")
        if op in LIST_VALUE:
            return f"{label} {op_label} " + ", ".join(show(v) for v in value or [])
        if op in PAIR_VALUE:
            low, high = value or (None, None)
            return _("%(field)s is between %(low)s and %(high)s") % {
                "field": label,
                "low": show(low),
                "high": show(high),
            }
        return f"{label} {op_label} {show(value)}"

    def _period(self, period: dict[str, Any] | None) -> str:
        if not period:
            return ""
        if period.get("last_days"):
            return _(" in the last %(n)s days") % {"n": formatting.number(period["last_days"])}
        return _(" between %(start)s and %(end)s") % {
            "start": _as_date(period.get("from")),
            "end": _as_date(period.get("to")),
        }

    def leaf(self, node: dict[str, Any]) -> str:
        kind = str(node.get("kind"))
        method = self._LEAVES.get(kind)
        if method is not None:
            return method(self, node)
        extra = CONDITION_KINDS.get(kind)
        return extra.describe(node) if extra is not None else kind

    def _field(self, node: dict[str, Any]) -> str:
        f = self.fields.get(str(node.get("field")))
        label = str(f.label) if f else str(node.get("field"))
        label = label[:1].upper() + label[1:]
        show: Callable[[Any], str] = (lambda v: self._choice(f, v)) if f else (lambda v: f"“{v}”")
        if f and f.type in SHOW:
            show = SHOW[f.type]
        return self._operand(label, str(node.get("operator")), node, show)

    def _tag(self, node: dict[str, Any]) -> str:
        names = node.get("tags", [])
        tags = ", ".join(f"“{t}”" for t in names)
        op = node.get("operator")
        if op == "any" and len(names) == 1:
            return _("tag is %(tags)s") % {"tags": tags}
        templates = {
            "any": _("has tag %(tags)s"),
            "all": _("has all tags %(tags)s"),
            "none": _("has none of the tags %(tags)s"),
        }
        return templates.get(str(op), "%(tags)s") % {"tags": tags}

    def _consent(self, node: dict[str, Any]) -> str:
        from danhba.privacy.models import ConsentPurpose

        purpose = ConsentPurpose.objects.filter(key=node.get("purpose")).first()
        name = purpose.label if purpose else str(node.get("purpose"))
        status = {"granted": _("granted"), "withdrawn": _("withdrawn"), "unknown": _("not asked")}
        return _("consent to %(purpose)s is %(status)s") % {
            "purpose": name,
            "status": status.get(str(node.get("status")), node.get("status")),
        }

    def _event_time(self, node: dict[str, Any]) -> str:
        which = _("first") if node.get("which") == "first" else _("last")
        label = _("%(which)s time “%(name)s”") % {"which": which, "name": node.get("name")}
        return self._operand(label, str(node.get("operator")), node, _as_date)

    def _purchase(self, node: dict[str, Any]) -> str:
        metric = PURCHASE_METRICS.get(str(node.get("metric")))
        label = str(metric[1]) if metric else str(node.get("metric"))
        label = label[:1].upper() + label[1:]
        kind = "money" if node.get("metric") in MONEY_METRICS else metric[0] if metric else ""
        show = SHOW.get(kind, str)
        return self._operand(label, str(node.get("operator")), node, show) + self._period(node.get("period"))

    def _bought(self, node: dict[str, Any]) -> str:
        what = _("product “%s”") % node["product"] if node.get("product") else _("category “%s”") % node.get("category")
        text = _("did not buy %s") if node.get("negate") else _("bought %s")
        return text % what + self._period(node.get("period"))

    def _segment(self, node: dict[str, Any]) -> str:
        from danhba.segments.models import Segment

        ref_id: Any = node.get("segment")
        ref = Segment.objects.filter(pk=ref_id).first()
        name = f"“{ref.name}”" if ref else "#{}".format(node.get("segment"))
        return (_("not in %s") if node.get("operator") == "not_in" else _("in %s")) % name

    def _email(self, node: dict[str, Any]) -> str:
        campaign = node.get("campaign")
        if campaign:
            name = campaign_name(int(campaign))
            what = _("campaign “%s”") % name if name is not None else _("campaign #%s") % campaign
        else:
            what = _("an email")
        texts = {
            "received": (_("received %(what)s"), _("did not receive %(what)s")),
            "opened": (_("opened %(what)s"), _("did not open %(what)s")),
            "clicked": (_("clicked a link in %(what)s"), _("did not click a link in %(what)s")),
            "bounced": (_("bounced on %(what)s"), _("did not bounce on %(what)s")),
            "unsubscribed": (_("unsubscribed from %(what)s"), _("did not unsubscribe from %(what)s")),
        }
        pair = texts.get(str(node.get("action")), ("%(what)s", "%(what)s"))
        return pair[1 if node.get("negate") else 0] % {"what": what} + self._period(node.get("period"))

    def _event(self, node: dict[str, Any]) -> str:
        count = node.get("count") or {}
        n, op = count.get("value"), count.get("operator")
        name = node.get("name")
        if op == "eq" and n == 0:
            text = _("did not do “%(name)s”") % {"name": name}
        elif op == "gte" and n == 1:
            text = _("did “%(name)s”") % {"name": name}
        else:
            sign = {"gte": "≥", "lte": "≤", "eq": "="}.get(str(op), "?")
            text = _("did “%(name)s” %(sign)s %(n)s times") % {"name": name, "sign": sign, "n": formatting.number(n)}
        where = [
            f"{p.get('property')} {OPERATOR_LABELS.get(str(p.get('operator')), p.get('operator'))}"
            + (f" “{p['value']}”" if "value" in p else "")
            for p in node.get("where") or []
        ]
        if where:
            text += _(" where %s") % _(" and ").join(where)
        return text + self._period(node.get("period"))

    # How each kind of condition reads; kinds added by other apps describe themselves
    # (``CONDITION_KINDS``).
    _LEAVES: ClassVar[dict[str, Callable[[Describer, dict[str, Any]], str]]] = {
        "field": _field,
        "tag": _tag,
        "consent": _consent,
        "event": _event,
        "email": _email,
        "event_time": _event_time,
        "purchase": _purchase,
        "bought": _bought,
        "segment": _segment,
    }


def describe(tree: dict[str, Any]) -> str:
    return Describer().describe(tree)
