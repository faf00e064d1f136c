"""``{% load charts %}{% column_chart bars title="Events per day" integer=1 %}``: the SVG charts
of ``core.charts`` in templates (options: width, height, max_labels, integer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.safestring import SafeString

from danhba.core.charts import Bar
from danhba.core.charts import column_chart as _column_chart

register = template.Library()


@register.simple_tag(name="column_chart")
def column_chart_tag(bars: Sequence[Bar | tuple[str, float]], title: str = "", **options: Any) -> SafeString:
    size = {k: int(options[k]) for k in ("width", "height", "max_labels") if k in options}
    return _column_chart(
        bars, title=str(title), width=size.get("width", 720), height=size.get("height", 220),
        max_labels=size.get("max_labels", 12), integer=bool(options.get("integer")),
    )  # fmt: skip
