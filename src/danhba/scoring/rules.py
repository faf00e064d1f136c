"""The rules of a score model, without writes: checking what an author gives (grades, decay,
a rule's condition or trigger), the grade of a total, how points fade, and the caps. Fit and
fast-track rules are written in the segment condition language (``segments/conditions.py``),
an engagement rule's event in its property-condition language: one language for both apps.

An engagement rule's ``trigger`` is ``{"on": ON, ...}``:

- ``{"on": "event", "name": NAME, "where": [PROP, ...]}`` — a track event of that name;
- ``{"on": "page", "url": GLOB, "where": [...]}`` — a page view whose ``url`` or ``path``
  property matches GLOB (``*`` any characters; empty: any page), e.g. ``*/pricing*``;
- ``{"on": "email_opened" | "email_clicked", "campaign": ID | null}`` — as the segments'
  ``email`` condition counts them (danhba's own email events, machines left out);
- ``{"on": "form", "where": [...]}`` — "Form Submitted"; ``{"on": "order", "where": [...]}`` —
  "Order Completed".
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from danhba.contacts.changes import ANY_EVENT
from danhba.core.normalize import clean_text
from danhba.segments import compiler
from danhba.segments import conditions as C
from danhba.tracking.spec import EMAIL_ACTIONS

if TYPE_CHECKING:
    from danhba.accounts.models import User
    from danhba.scoring.models import ScoreModel, ScoreRule

# A rule gives at most this many points per match (either sign): with two decimals, an item of
# at most 1,000 points is worth 0.00 after 18 half-lives, so older events need not be read.
MAX_POINTS = 1000
MAX_CAP = 10**6
MAX_GRADES = 10
# An adjustment (a workflow step, a user) counts for at most this many days when it expires.
MAX_ADJUSTMENT_DAYS = 3650
CENT = Decimal("0.01")
FORM_SUBMITTED = "Form Submitted"
ORDER_COMPLETED = "Order Completed"
TRIGGERS = {
    "event": gettext_lazy("Any event"),
    "page": gettext_lazy("Page viewed"),
    "email_opened": gettext_lazy("Email opened"),
    "email_clicked": gettext_lazy("Email link clicked"),
    "form": gettext_lazy("Form submitted"),
    "order": gettext_lazy("Order placed"),
}
# The grades a new model has, named in the reader's language while their labels stay the ones
# danhba gave them.
GRADE_LABELS = {"cold": gettext_lazy("Cold"), "warm": gettext_lazy("Warm"), "hot": gettext_lazy("Hot")}
_GRADE_KEY = re.compile(r"^[a-z0-9_-]{1,40}\Z")


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def whole(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


# --- grades ----------------------------------------------------------------------------------


def clean_grades(value: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Grades as ``[{"key", "label", "min"}]``, sorted by ``min``; keys and minimums unique."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_GRADES:
        _add(errors, "grades", _("must be a list of 1 to %s grades") % MAX_GRADES)
        return []
    out = []
    for i, grade in enumerate(value):
        key = grade.get("key") if isinstance(grade, dict) else None
        label = clean_text(grade.get("label")) if isinstance(grade, dict) else ""
        low = whole(grade.get("min"), -MAX_CAP, MAX_CAP) if isinstance(grade, dict) else None
        if not isinstance(key, str) or not _GRADE_KEY.match(key):
            _add(errors, f"grades.{i}.key", _("must be 1 to 40 lower-case letters, digits, - or _"))
        if not label or len(label) > 60:
            _add(errors, f"grades.{i}.label", _("must be 1 to 60 characters"))
        if low is None:
            _add(errors, f"grades.{i}.min", _("must be a whole number of points"))
        out.append({"key": key, "label": label, "min": low})
    if not errors:
        if len({g["key"] for g in out}) != len(out) or len({g["min"] for g in out}) != len(out):
            _add(errors, "grades", _("each grade needs its own key and its own minimum"))
        out.sort(key=lambda g: int(str(g["min"])))
    return out


def grade_for(grades: Sequence[dict[str, Any]], total: Decimal, fast_tracked: bool = False) -> str:
    """The key of the highest grade whose minimum the total reaches ("" below them all); the
    top grade when a fast-track rule matched."""
    if fast_tracked and grades:
        return str(grades[-1]["key"])
    found = ""
    for grade in grades:
        if total >= grade["min"]:
            found = str(grade["key"])
    return found


def grade_rank(grades: Sequence[dict[str, Any]], key: str) -> int:
    """-1 for no grade, else the grade's place from the lowest."""
    keys = [g["key"] for g in grades]
    return keys.index(key) if key in keys else -1


def grade_label(grades: Sequence[dict[str, Any]], key: str) -> str:
    for grade in grades:
        if grade["key"] == key:
            builtin = GRADE_LABELS.get(key)
            return str(builtin) if builtin is not None and grade["label"] == key.title() else str(grade["label"])
    return ""


# --- decay -----------------------------------------------------------------------------------


def decay_factor(model: ScoreModel, age: dt.timedelta) -> float:
    """What an engagement point is worth after ``age``."""
    days = max(age.total_seconds(), 0.0) / 86400
    if model.decay == "half_life":
        return float(0.5 ** (days / max(model.decay_days, 1)))
    if model.decay == "step":
        steps = math.floor(days / max(model.decay_days, 1))
        return float(max(0.0, 1 - model.decay_percent / 100) ** steps)
    return 1.0


def horizon(model: ScoreModel) -> dt.timedelta | None:
    """Events older than this are worth 0.00 whatever their rule gives (None: every event counts)."""
    if model.decay == "half_life":
        return dt.timedelta(days=18 * max(model.decay_days, 1))
    if model.decay == "step" and model.decay_percent > 0:
        keep = 1 - model.decay_percent / 100
        steps = 1 if keep <= 0 else math.ceil(math.log(0.004 / MAX_POINTS) / math.log(keep))
        return dt.timedelta(days=steps * max(model.decay_days, 1))
    return None


def cents(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# --- engagement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One part of a score, as ScoreItem stores it."""

    rule_id: int | None
    points: Decimal
    current: Decimal
    event_id: int | None = None
    event_name: str = ""
    event_at: dt.datetime | None = None
    adjustment_id: int | None = None


def adjustment_item(
    adjustment_id: int, points: Decimal, at: dt.datetime, decays: bool, model: ScoreModel, now: dt.datetime
) -> Item | None:
    """An adjustment's item at ``now``: its points, faded with the model's decay when it decays
    (as an engagement point given at ``at``); None when it is worth 0.00."""
    current = cents(float(points) * decay_factor(model, now - at)) if decays else cents(points)
    return Item(None, cents(points), current, adjustment_id=adjustment_id) if current else None


def engagement_items(
    rule: ScoreRule, model: ScoreModel, events: Iterable[tuple[int, str, dt.datetime]], now: dt.datetime
) -> list[Item]:
    """The items of one contact's events (id, name, time; newest first) under one rule: the newest
    count first, each up to what the caps leave (in all, and in its period of ``period_days``
    local days), then fade with their age. Items worth 0.00 are left out: the rest add up to
    the rule's part of the total."""
    left = rule.max_points if rule.max_points is not None else None
    per_period: dict[int, int] = {}
    items = []
    sign = 1 if rule.points >= 0 else -1
    for event_id, name, at in events:
        points = abs(rule.points)
        if left is not None:
            points = min(points, left)
        window = timezone.localdate(at).toordinal() // rule.period_days if rule.period_days else 0
        if rule.period_days and rule.period_max is not None:
            points = min(points, rule.period_max - per_period.get(window, 0))
        if points <= 0:
            continue
        if left is not None:
            left -= points
        per_period[window] = per_period.get(window, 0) + points
        current = cents(sign * points * decay_factor(model, now - at))
        if current:
            items.append(Item(rule.pk, Decimal(sign * points), current, event_id, name, at))
        if left == 0:
            break
    return items


# --- checking --------------------------------------------------------------------------------


def clean_trigger(value: Any, errors: dict[str, list[str]], user: User | None) -> dict[str, Any]:
    if not isinstance(value, dict) or value.get("on") not in TRIGGERS:
        _add(errors, "trigger.on", _("must be one of: %s") % ", ".join(TRIGGERS))
        return {}
    on = value["on"]
    checker = C.Checker(user=user)
    out: dict[str, Any] = {"on": on}
    if on == "event":
        name = clean_text(value.get("name"))
        if not name or len(name) > 200:
            _add(errors, "trigger.name", _("must name an event"))
        out["name"] = name
    if on == "page":
        url = clean_text(value.get("url"))
        if len(url) > 500:
            _add(errors, "trigger.url", _("At most 500 characters."))
        out["url"] = url
    if on in ("email_opened", "email_clicked"):
        campaign = value.get("campaign")
        out["campaign"] = None if campaign in (None, "") else whole(campaign, 1, 2**62)
        if campaign not in (None, "") and out["campaign"] is None:
            _add(errors, "trigger.campaign", _("must be a campaign's id, or null for any campaign"))
    else:
        out["where"] = checker.properties(value.get("where"), "trigger")
    checker._needs("trigger", "event")
    for path, messages in checker.errors.items.items():
        errors.setdefault(path, []).extend(messages)
    return out


def clean_condition(value: Any, errors: dict[str, list[str]], user: User | None) -> dict[str, Any]:
    try:
        return C.clean(value, user=user)
    except Exception as exc:  # InvalidInput: its problems are the rule's
        details = getattr(exc, "details", None)
        if not isinstance(details, dict):
            raise
        for path, messages in details.items():
            errors.setdefault(f"condition.{path}" if path != "conditions" else "condition", []).extend(messages)
        return {}


def clean_caps(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for key, low in (("max_points", 1), ("period_days", 1), ("period_max", 1)):
        raw = data.get(key)
        out[key] = None if raw in (None, "") else whole(raw, low, MAX_CAP)
        if raw not in (None, "") and out[key] is None:
            _add(errors, key, _("must be a whole number from %(low)s to %(high)s") % {"low": low, "high": MAX_CAP})
    if (out["period_days"] is None) != (out["period_max"] is None):
        _add(errors, "period_max", _("a period cap needs both the days and the points"))
    return out


# --- adjustments -----------------------------------------------------------------------------


def adjustment_problems(
    model: ScoreModel | None, *, points: Any, grade: str = "", decays: bool = False, expires_days: Any = None
) -> dict[str, list[str]]:
    """What is wrong with an adjustment (by field): points from -1000 to 1000 and not 0, or a
    grade of the model (the points that bring the total to its minimum, which do not decay)."""
    errors: dict[str, list[str]] = {}
    if model is None:
        errors["model"] = [_("No such score model.")]
    if grade:
        if model is not None and grade not in [g["key"] for g in model.grades]:
            errors["grade"] = [_("This model has no such grade.")]
        if points not in (None, ""):
            errors["points"] = [_("Give points or a grade, not both.")]
        if decays:
            errors["decays"] = [_("Setting a grade cannot fade.")]
    elif not whole(points, -MAX_POINTS, MAX_POINTS):
        errors["points"] = [
            _("must be a whole number from %(low)s to %(high)s, not 0") % {"low": -MAX_POINTS, "high": MAX_POINTS}
        ]
    if expires_days not in (None, "") and whole(expires_days, 1, MAX_ADJUSTMENT_DAYS) is None:
        bounds = {"low": 1, "high": MAX_ADJUSTMENT_DAYS}
        errors["expires_days"] = [_("must be a whole number from %(low)s to %(high)s") % bounds]
    return errors


# --- reading events --------------------------------------------------------------------------


def _glob_like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def trigger_q(trigger: dict[str, Any]) -> Q:
    """The events (a condition on Event) an engagement rule counts."""
    on = trigger.get("on")
    if on in ("email_opened", "email_clicked"):
        return compiler.email_events_q("opened" if on == "email_opened" else "clicked", trigger.get("campaign"))
    if on == "page":
        q = Q(type="page")
        if trigger.get("url"):
            like = _glob_like(trigger["url"])
            url = compiler.JsonValue("properties", "url", "text")
            path = compiler.JsonValue("properties", "path", "text")
            q &= Q(compiler.ILike(url, like)) | Q(compiler.ILike(path, like))
    else:
        q = Q(name={"event": trigger.get("name"), "form": FORM_SUBMITTED, "order": ORDER_COMPLETED}.get(str(on)))
    for prop in trigger.get("where") or []:
        q &= compiler.property_q(prop)
    return q


def trigger_reasons(trigger: dict[str, Any]) -> set[str]:
    on = trigger.get("on")
    if on == "event":
        return {f"event:{trigger.get('name')}"}
    if on in ("email_opened", "email_clicked"):
        return {f"event:{name}" for name in EMAIL_ACTIONS["opened" if on == "email_opened" else "clicked"]}
    if on == "form":
        return {f"event:{FORM_SUBMITTED}"}
    if on == "order":
        return {f"event:{ORDER_COMPLETED}"}
    return {ANY_EVENT}  # page views arrive under any page name


def dependencies(rules: Iterable[ScoreRule]) -> list[str]:
    """The contact change reasons that can move a score of these rules (``contacts/changes.py``)."""
    reasons: set[str] = set()
    for rule in rules:
        if rule.kind == "engagement":
            reasons |= trigger_reasons(rule.trigger)
        else:
            reasons |= set(C.dependencies(rule.condition)[0])
    return sorted(reasons)


def matters(why: Iterable[str], needs: set[str]) -> bool:
    """Whether a contact changed for ``why`` can change a score that depends on ``needs``."""
    why = set(why)
    if "*" in why or why & needs:
        return True
    if ANY_EVENT in needs and any(r.startswith("event:") for r in why):
        return True
    return ANY_EVENT in why and any(n.startswith("event:") for n in needs)
