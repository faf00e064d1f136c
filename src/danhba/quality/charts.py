"""The waterfall of a pair's score: inline SVG (no script, no style attribute: the CSP allows
it), one bar per field from the running total before it to the one after, the prior first and
the total last. Colours come from quality.css classes."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from danhba.core.formatting import number

_W, _ROW, _LABEL = 560, 26, 150


def waterfall_svg(explanation: dict[str, Any]) -> SafeString:
    """Bars: prior, each field (green for, red against, grey nothing), the total."""
    rows: list[tuple[str, float, float, str]] = [
        (_("Prior (two random contacts)"), 0.0, explanation["prior_weight"], "wf-prior")
    ]
    for part in explanation["parts"]:
        kind = "wf-for" if part["weight"] > 0 else "wf-against" if part["weight"] < 0 else "wf-none"
        rows.append((f"{part['label']}: {part['level_label']}", part["start"], part["end"], kind))
    rows.append((_("Match weight"), 0.0, explanation["match_weight"], "wf-total"))
    values = [v for _label, a, b, _k in rows for v in (a, b)]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    width = _W - _LABEL - 60

    def x(value: float) -> float:
        return _LABEL + (value - low) / span * width

    height = _ROW * len(rows) + 10
    bars = format_html_join(
        "",
        '<g class="{}"><title>{}: {}</title><text x="4" y="{}" class="wf-label">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}"></rect><text x="{}" y="{}" class="wf-value">{}</text></g>',
        (
            (
                kind, label, number(round(b - a, 2)), i * _ROW + 18, label[:24],
                round(min(x(a), x(b)), 1), i * _ROW + 6, round(max(abs(x(b) - x(a)), 1.5), 1), _ROW - 10,
                round(max(x(a), x(b)) + 4, 1), i * _ROW + 18, f"{'+' if b - a > 0 else ''}{number(round(b - a, 1))}",
            )
            for i, (label, a, b, kind) in enumerate(rows)
        ),
    )  # fmt: skip
    zero = x(0.0)
    return format_html(
        '<svg class="waterfall" viewBox="0 0 {} {}" role="img" aria-labelledby="wf-title">'
        '<title id="wf-title">{}</title><line x1="{}" x2="{}" y1="0" y2="{}" class="wf-zero"></line>{}</svg>',
        _W, height, _("How each field moved the match weight"), round(zero, 1), round(zero, 1), height, bars,
    )  # fmt: skip
