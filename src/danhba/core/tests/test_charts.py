"""Server-side SVG column charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.template import Context, Template
from django.utils import translation

from danhba.core.charts import Bar, column_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    # Inline SVG in HTML needs no namespace; add it so the XML parser checks well-formedness.
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0.0, 1.0]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 25, 50, 75, 100]),
        (1234, [0, 500, 1000, 1500]),
        (0.3, [0, 0.1, 0.2, 0.3]),
    ],
)
def test_ticks_are_round_numbers_covering_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert nice_ticks(maximum) == ticks


def test_counts_get_whole_number_ticks() -> None:
    assert nice_ticks(2) == [0, 0.5, 1, 1.5, 2]
    assert nice_ticks(2, integer=True) == [0, 1, 2]
    assert nice_ticks(10, integer=True) == [0, 5, 10]
    assert nice_ticks(1, integer=True) == [0, 1]


def test_a_chart_is_accessible_svg_with_a_title_per_bar() -> None:
    svg = column_chart([("Mon", 3), ("Tue", 0), ("Wed", 12)], title="Events per day")
    root = parse(svg)
    assert root.get("role") == "img" and root.get("viewBox") == "0 0 720 220"
    assert root.find(f"{SVG}title").text == "Events per day"
    assert root.get("aria-labelledby") == root.find(f"{SVG}title").get("id")
    bars = root.findall(f"{SVG}g")
    assert [b.find(f"{SVG}title").text for b in bars] == ["Mon: 3", "Tue: 0", "Wed: 12"]
    heights = [float(b.findall(f"{SVG}rect")[1].get("height")) for b in bars]
    assert heights[1] == 0 and heights[2] > heights[0] > 0
    # Colours come from the stylesheet by class; no style attribute, which the CSP would block.
    assert "style=" not in svg
    assert {b.findall(f"{SVG}rect")[1].get("class") for b in bars} == {"chart-bar"}


def test_labels_and_titles_are_escaped_and_links_wrap_bars() -> None:
    svg = column_chart([Bar("<b>", 1, title='"><script>alert(1)</script>', href="/events/?a=1&b=2")], title="<x>")
    assert "<script>" not in svg and "<b>" not in svg and "<x>" not in svg
    root = parse(svg)
    link = root.find(f"{SVG}a")
    assert link is not None and link.get("href") == "/events/?a=1&b=2"


def test_many_bars_print_only_some_axis_labels() -> None:
    svg = column_chart([(f"{h:02d}:00", h) for h in range(48)], title="t", max_labels=12)
    labels = [t.text for t in parse(svg).findall(f"{SVG}text") if t.text and ":" in t.text]
    assert labels[:3] == ["00:00", "04:00", "08:00"] and len(labels) == 12


def test_an_empty_chart_still_renders() -> None:
    root = parse(column_chart([], title="Nothing"))
    assert root.findall(f"{SVG}g") == []


def test_numbers_follow_the_language() -> None:
    with translation.override("vi"):
        svg = column_chart([("a", 12000), ("b", 0.5)], title="t")
    assert "a: 12.000" in svg and "b: 0,5" in svg


def test_the_template_tag() -> None:
    html = Template("{% load charts %}{% column_chart bars title=t height=180 integer=1 %}").render(
        Context({"bars": [("x", 1)], "t": "Chart"})
    )
    assert 'viewBox="0 0 720 180"' in html and re.search(r"<title[^>]*>Chart</title>", html)
