"""Every page of the main menu on a phone, in English and in Vietnamese: nothing wider than the
screen, no console error, no Content-Security-Policy violation, no broken link.

The pages come from the sidebar itself (every link an admin sees there) and the pages those
link to below them (a contact's page, an import's page, a segment and its builder, a role's
form …), one of each kind, so a new menu entry or page is checked without touching this test.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from danhba.core.tests.browser import PHONE, Problems, chromium, log_in, overflow, settle
from danhba.core.tests.pages import load_demo

# Links that download a file rather than open a page.
DOWNLOAD = re.compile(r"\.(csv|xlsx|json|vcf|gif|js)$")
MAX_DEPTH = 2


def kind_of(path: str) -> str:
    """Pages of one kind differ only by the ids in their address."""
    return re.sub(r"\d+", "N", path)


def children(page: Any, parent: str) -> list[str]:
    """The pages below ``parent`` that its content links to (not the menu, not downloads)."""
    hrefs = page.eval_on_selector_all("main a[href]:not([download])", "els => els.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        path = urlsplit(href).path
        if href.startswith(("http:", "https:", "//", "mailto:", "tel:")) or DOWNLOAD.search(path):
            continue
        if path.startswith(parent) and path != parent:
            found.append(path)
    return found


def sweep(page: Any, base: str, extra: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Visit the menu's pages and their sub-pages; returns the pages seen and what was wrong."""
    problems = Problems(page)
    nav = page.eval_on_selector_all(".sidebar a[href]", "els => els.map(a => a.getAttribute('href'))")
    queue: list[tuple[str, int]] = [(urlsplit(h).path, 0) for h in dict.fromkeys(nav) if h.startswith("/")]
    kinds: set[str] = {kind_of(path) for path, _ in queue}
    queue += [(path, 1) for path in extra]
    seen: list[str] = []
    wrong: dict[str, list[str]] = {}
    while queue:
        path, depth = queue.pop(0)
        if path in seen:
            continue
        response = page.goto(base + path)
        settle(page)
        seen.append(path)
        found = [] if response and response.status == 200 else [f"answered {response and response.status}"]
        found += overflow(page) + problems.take()
        if found:
            wrong[path] = found
        if depth < MAX_DEPTH:
            for child in children(page, path):
                if kind_of(child) not in kinds:
                    kinds.add(kind_of(child))
                    queue.append((child, depth + 1))
    return seen, wrong


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_menu_page_fits_a_phone_in_english_and_vietnamese(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = load_demo(admin)
    base = live_server.url
    report: dict[str, dict[str, list[str]]] = {}
    for language in ("en", "vi"):
        admin.language = language
        admin.save(update_fields=["language"])
        with chromium(monkeypatch, viewport=PHONE, has_touch=True) as ctx:
            page = ctx.new_page()
            log_in(page, base, admin.email)
            seen, wrong = sweep(page, base, demo["extra_pages"])
        # The sweep reached the pages the issue names, through the menu and below it.
        kinds = {kind_of(path) for path in seen}
        for expected in demo["must_see"]:
            assert kind_of(expected) in kinds, (language, expected, sorted(kinds))
        if wrong:
            report[language] = wrong
    lines = [
        f"[{lang}] {path}: {item}" for lang, pages in report.items() for path, items in pages.items() for item in items
    ]
    assert not report, "\n".join(lines)
