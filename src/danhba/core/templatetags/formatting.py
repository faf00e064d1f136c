"""``{% load formatting %}``: numbers, money and relative times as ``core.formatting`` writes
them in the active language. Dates need no filter of their own: ``{{ value|date }}`` and
``|date:"SHORT_DATETIME_FORMAT"`` follow ``danhba/formats/``.

- ``{{ count|num }}`` → 3.005 / 3,005
- ``{{ rate|pct }}`` → 12,5% / 12.5%
- ``{{ order.total|money:order.currency }}`` → 45.000 ₫ / 45,000 ₫ (the shop's currency by default)
- ``{{ contact.last_activity_at|ago }}`` → 10 phút trước / 10 minutes ago
- ``{{ stay.seconds|duration }}`` → 3 ngày / 3 days (a timedelta or seconds)
- ``{{ refund.at|moment }}``, ``{{ value|day }}``: like ``|date``, also for dates kept as ISO text
  in JSON
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from danhba.core import formatting

register = template.Library()


@register.filter
def num(value: Any, decimals: Any = None) -> str:
    return formatting.number(value, None if decimals in (None, "") else int(decimals))


@register.filter
def pct(value: Any) -> str:
    """A ratio as a percentage: ``{{ 0.125|pct }}`` → 12,5% / 12.5%."""
    return formatting.percent(value)


@register.filter
def money(value: Any, currency: str | None = None) -> str:
    return formatting.money(value, currency or None)


@register.filter
def day(value: Any) -> str:
    return formatting.day(formatting.parse_moment(value))


@register.filter
def moment(value: Any) -> str:
    when = formatting.parse_moment(value)
    return formatting.moment(when) if isinstance(when, dt.datetime) else formatting.day(when)


@register.filter
def ago(value: dt.datetime | dt.date | None) -> str:
    return formatting.relative_time(value)


@register.filter
def duration(value: dt.timedelta | float | None) -> str:
    return formatting.duration(value)
