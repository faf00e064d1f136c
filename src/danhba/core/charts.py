"""Server-side SVG charts: no JavaScript, no library, nothing to build.

A chart is inline SVG, so it takes its colours from the page's CSS variables (``--brand``,
``--line``, ``--muted`` in app.css), scales with its container through its viewBox, prints, and
is read by screen readers through a ``<title>`` per chart and per bar. Templates use the
``{% column_chart %}`` tag of ``core/templatetags/charts.py``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from danhba.core.formatting import number

# Layout of the viewBox, in SVG units; the chart is stretched to its container's width.
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 8, 10, 30
_LABEL_CHARS = 14


@dataclass(frozen=True)
class Bar:
    """One column: the short axis label, its value, the full text read out or shown on hover
    (``label: value`` when empty), and an optional link (drill-down)."""

    label: str
    value: float
    title: str = ""
    href: str = ""


def format_number(value: float) -> str:
    """A value as the active language writes it: 12,345 in English, 12.345 in Vietnamese."""
    return number(value)


def nice_ticks(maximum: float, count: int = 4, *, integer: bool = False) -> list[float]:
    """Round axis ticks from 0 to at least ``maximum``: 0, 5, 10, 15, 20 rather than 0, 4.6, …
    Step sizes are 1, 2, 2.5 or 5 times a power of ten; whole numbers only for ``integer``
    (counts: no tick at 1.5 events)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [m * magnitude for m in (1, 2, 2.5, 5, 10)]
    if integer:
        steps = [s for s in steps if s >= 1 and float(s).is_integer()] or [1.0]
    step = next((s for s in steps if s >= raw), steps[-1])
    top = step * math.ceil(maximum / step - 1e-9)
    n = round(top / step)
    return [round(i * step, 10) for i in range(n + 1)]


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def column_chart(
    bars: Sequence[Bar | tuple[str, float]],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
    max_labels: int = 12,
    integer: bool = False,
    fmt: Callable[[float], str] = format_number,
) -> SafeString:
    """An SVG column chart of ``bars`` (``Bar`` or ``(label, value)``), values ≥ 0.

    Every bar carries a ``<title>`` ("label: value") that browsers show on hover and screen
    readers read; bars with a link are wrapped in ``<a>``. At most ``max_labels`` axis labels
    are printed (every n-th bar), so hourly charts stay readable. ``integer``: whole-number
    ticks, for counts.
    """
    items = [b if isinstance(b, Bar) else Bar(str(b[0]), float(b[1])) for b in bars]
    chart_id = "chart-" + uuid.uuid4().hex[:8]
    plot_w = width - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM
    ticks = nice_ticks(max((max(0.0, b.value) for b in items), default=0.0), integer=integer)
    top = ticks[-1]
    parts: list[str] = [
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="{}-title"'
            ' preserveAspectRatio="xMidYMid meet">',
            width,
            height,
            chart_id,
        ),
        format_html('<title id="{}-title">{}</title>', chart_id, title),
    ]
    # Grid lines and value ticks.
    for tick in ticks:
        y = _TOP + plot_h - (tick / top) * plot_h
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-grid" stroke="#e5e7eb" stroke-width="1"/>'
                '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle"'
                ' class="chart-label" fill="#6b7280" aria-hidden="true">{}</text>',
                _LEFT,
                width - _RIGHT,
                f"{y:.1f}",
                f"{y:.1f}",
                _LEFT - 6,
                f"{y:.1f}",
                fmt(tick),
            )
        )
    if items:
        slot = plot_w / len(items)
        bar_w = max(1.0, slot * 0.8)
        every = max(1, math.ceil(len(items) / max(1, max_labels)))
        for i, bar in enumerate(items):
            x = _LEFT + i * slot
            value = max(0.0, bar.value)
            h = (value / top) * plot_h
            text = bar.title or f"{bar.label}: {fmt(bar.value)}"
            group = format_html(
                '<g class="bar"><title>{}</title>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="transparent"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" rx="1.5" class="chart-bar" fill="#0f766e"/></g>',
                text,
                f"{x:.2f}",
                _TOP,
                f"{slot:.2f}",
                plot_h,
                f"{x + (slot - bar_w) / 2:.2f}",
                f"{_TOP + plot_h - h:.2f}",
                f"{bar_w:.2f}",
                f"{h:.2f}",
            )
            if bar.href:
                group = format_html('<a href="{}">{}</a>', bar.href, group)
            parts.append(group)
            if i % every == 0:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" class="chart-label" fill="#6b7280"'
                        ' aria-hidden="true">{}</text>',
                        f"{x + slot / 2:.2f}",
                        height - _BOTTOM + 16,
                        _short(bar.label),
                    )
                )
    parts.append(
        format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-axis" stroke="#6b7280" stroke-width="1"/>',
            _LEFT,
            width - _RIGHT,
            _TOP + plot_h,
            _TOP + plot_h,
        )
    )
    parts.append("</svg>")
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every piece went through format_html


__all__ = ["Bar", "column_chart", "format_number", "nice_ticks"]
