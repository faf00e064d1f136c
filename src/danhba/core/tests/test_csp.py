"""The Content-Security-Policy: on every response, strict (no inline script, no eval), and the
pages carry nothing it would block — no inline <script> or <style>, no style or on* attributes.
Also the favicon, which every page asks for."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from danhba.core.tests.pages import load_demo

pytestmark = pytest.mark.django_db


def policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


class InlineCode(HTMLParser):
    """Collects what a strict CSP blocks in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.nav: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src") and names.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{name}= on <{tag}>" for name, _ in attrs if name == "style" or name.startswith("on")]
        if tag == "a" and names.get("href", "").startswith("/"):
            self.nav.append(str(names["href"]))


def test_every_response_has_a_strict_policy(client: Client, admin: Any) -> None:
    anonymous = client.get(reverse("accounts:login"))
    missing = client.get("/no-such-page/")
    client.force_login(admin)
    page = client.get(reverse("contacts:list"))
    api = client.get("/api/contacts")
    for response in (anonymous, missing, page, api):
        csp = policy(response)
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], response
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
        assert not any("unsafe" in source for sources in csp.values() for source in sources)


@pytest.mark.slow  # renders every page of the menu: 5-18 s
def test_no_page_carries_code_the_policy_blocks(client: Client, admin: Any) -> None:
    demo = load_demo(admin, contacts=20)
    login = InlineCode()
    login.feed(client.get(reverse("accounts:login")).content.decode())
    client.force_login(admin)
    first = InlineCode()
    first.feed(client.get(reverse("contacts:list")).content.decode())
    pages = {p for p in first.nav if not re.search(r"\.(csv|xlsx|json|vcf)", p)} | set(demo["must_see"])
    found = {"/login/": login.found} if login.found else {}
    for path in sorted(pages):
        response = client.get(path)
        assert response.status_code == 200, path
        parser = InlineCode()
        parser.feed(response.content.decode())
        if parser.found:
            found[path] = parser.found
    assert not found


def test_the_favicon_answers_and_every_page_links_it(client: Client, admin: Any) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content if icon.streaming else [icon.content]).startswith(b"\x00\x00\x01\x00")
    client.force_login(admin)
    html = client.get(reverse("contacts:list")).content.decode()
    links = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert "/favicon.ico" in links and len(links) == 2
    for href in links:
        assert client.get(href).status_code == 200, href
