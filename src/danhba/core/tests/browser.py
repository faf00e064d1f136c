"""Playwright helpers for the layout checks: a Chromium context at a given width, logging in,
and what a page does wrong that a person would see (content wider than the screen) or the
browser reports (console errors, Content-Security-Policy violations)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from danhba.conftest import PASSWORD, skip_or_fail

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}

# Every CSP violation is recorded in the page, whatever the console says about it.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile || ""}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${where})`);
});
"""

OVERFLOW_JS = (Path(__file__).parent / "overflow.js").read_text()


@contextmanager
def chromium(monkeypatch: pytest.MonkeyPatch, **context: Any) -> Iterator[Any]:
    """A browser context (viewport, locale …); skips (fails in CI) without Chromium."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"Chromium not installed at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it are
    # still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    context.setdefault("viewport", DESKTOP)
    context.setdefault("locale", "en-US")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(**context)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.add_init_script(WATCH_CSP)
        try:
            yield ctx
        finally:
            ctx.close()
            browser.close()


class Problems:
    """Console errors, uncaught exceptions and CSP violations of a page, since the last take()."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console: {message.text} {where}".strip())

    def take(self) -> list[str]:
        csp = self.page.evaluate("window.__csp || []")
        found, self.errors = [*self.errors, *(f"CSP: {v}" for v in csp)], []
        return found


def overflow(page: Any) -> list[str]:
    """What is wider than the screen on this page: [] when it all fits."""
    result = page.evaluate(OVERFLOW_JS)
    found = list(result["elements"][:8])
    if result["scrollWidth"] > result["innerWidth"]:
        found.insert(0, f"page is {result['scrollWidth']} px wide on a {result['innerWidth']} px screen")
    return found


def log_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_load_state()
    page.wait_for_function("() => !location.pathname.startsWith('/login/')")


def settle(page: Any) -> None:
    """Wait until the page has loaded and htmx has nothing in flight."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
