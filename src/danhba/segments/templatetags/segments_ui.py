"""``{% sparkline points %}``: a segment's size over time as a tiny inline SVG line for the list
page (the detail page uses the full column chart of ``core.charts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from danhba.core.charts import format_number

register = template.Library()


@register.simple_tag
def sparkline(points: Sequence[Any], title: str = "", width: int = 120, height: int = 28) -> SafeString | str:
    if not points:
        return ""
    values = [float(p.size) for p in points]
    top = max(values) or 1.0
    step = width / max(1, len(values) - 1)
    coords = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    label = f"{title}: {format_number(values[0])} → {format_number(values[-1])}"
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-label="{}">'
        '<title>{}</title><polyline points="{}" fill="none" stroke="#0f766e" stroke-width="1.5"/>'
        "</svg>",
        width, height, width, height, label, label, coords,
    )  # fmt: skip
