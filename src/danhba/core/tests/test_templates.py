"""Template source mistakes a person would see on the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def test_no_template_comment_runs_over_several_lines() -> None:
    """``{# … #}`` is one line only: written over two, the segment builder showed the comment's
    text to every user. Longer comments use ``{% comment %}``."""
    found = []
    for path in sorted(Path(settings.PACKAGE_DIR).rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.count("{#") > line.count("#}"):
                found.append(f"{path.relative_to(settings.PACKAGE_DIR)}:{number}")
    assert found == []


def test_the_segment_builder_shows_no_template_source(client_for: Any, users: Any) -> None:
    html = client_for(users["marketing"]).get("/segments/new").content.decode()
    assert "{#" not in html and "#}" not in html and "{%" not in html
