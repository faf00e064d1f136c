"""Sending windows (pure): the hours and weekdays in which a workflow's action steps run, in a
time zone (Asia/Ho_Chi_Minh by default). A step due outside its window is moved to the start of
the next one."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from django.utils.translation import gettext as _

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _time(value: Any) -> dt.time | None:
    match = _HHMM.match(str(value or ""))
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def window_clean(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The checked window ({} is "any time") and the problems found."""
    if not raw:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [_("The sending window must be an object.")]
    problems = []
    days = raw.get("days", [0, 1, 2, 3, 4])
    if not isinstance(days, list) or not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        problems.append(_("Days are numbers from 0 (Monday) to 6 (Sunday)."))
        days = []
    start, end = _time(raw.get("start", "08:00")), _time(raw.get("end", "20:00"))
    if start is None or end is None:
        problems.append(_("Times are written HH:MM."))
    elif start >= end:
        problems.append(_("The window must end after it starts."))
    tz = str(raw.get("tz") or DEFAULT_TZ)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(_("Unknown time zone: %s") % tz[:60])
    if problems:
        return {}, problems
    return {"days": sorted(set(days)), "start": raw.get("start", "08:00"), "end": raw.get("end", "20:00"), "tz": tz}, []


def next_open(now: dt.datetime, window: dict[str, Any]) -> dt.datetime:
    """``now`` if the window is open then, else when it next opens (aware, UTC)."""
    if not window:
        return now
    tz = zoneinfo.ZoneInfo(window.get("tz") or DEFAULT_TZ)
    start, end = _time(window["start"]), _time(window["end"])
    assert start is not None and end is not None
    local = now.astimezone(tz)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in window["days"]:
            continue
        opens = dt.datetime.combine(day, start, tzinfo=tz)
        closes = dt.datetime.combine(day, end, tzinfo=tz)
        if local < opens:
            return opens.astimezone(dt.UTC)
        if local < closes:
            return now
    return now  # unreachable with at least one day


def next_time_of_day(now: dt.datetime, at: dt.time, tz_name: str) -> dt.datetime:
    """The next moment after ``now`` the clock in ``tz_name`` shows ``at``."""
    tz = zoneinfo.ZoneInfo(tz_name or DEFAULT_TZ)
    local = now.astimezone(tz)
    moment = dt.datetime.combine(local.date(), at, tzinfo=tz)
    if moment <= local:
        moment = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=tz)
    return moment.astimezone(dt.UTC)
