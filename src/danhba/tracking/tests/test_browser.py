"""The website tracking script in a real browser, on a page served from another origin than
danhba (as a customer's shop would be): the page view arrives with its URL, title and UTM
campaign, the anonymous id lives in a first-party cookie, and after identify the visitor's
earlier anonymous page view belongs to the contact.

Drives the system Chromium through Playwright; the demo site is a tiny ``http.server`` on a
second loopback port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from danhba.contacts.models import ContactEmail
from danhba.core.tests.browser import chromium
from danhba.tracking.models import Event
from danhba.tracking.views.browser import website_snippet

DEMO_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Áo dài Tết – Cửa hàng Lan</title>
{snippet}
<script>danhba.track("Hero Seen", {{position: 1}});</script>
</head><body><h1>Áo dài Tết</h1></body></html>"""


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """This file's pages are Vietnamese (the browser asks for vi-VN)."""
    with chromium(monkeypatch, locale="vi-VN") as context:
        yield context.new_page()


@pytest.fixture
def demo_site() -> Iterator[Callable[[str], str]]:
    """``demo_site(html)`` serves ``html`` at every path of http://127.0.0.1:PORT and returns
    that origin: another host and port than the live server (http://localhost:PORT)."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get("html", b"")
            self.send_response(200 if not self.path.startswith("/favicon") else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(html: str) -> str:
        pages["html"] = html.encode()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll the database until ``check()`` is truthy: the browser sends in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_page_view_then_identify_joins_the_visitor_to_the_contact(
    live_server: Any, make_source: Any, page: Any, demo_site: Callable[[str], str]
) -> None:
    source, key = make_source("Cửa hàng Lan", "website")
    origin = demo_site(DEMO_PAGE.format(snippet=website_snippet(f"{live_server.url}/v1/danhba.js", key)))
    assert not live_server.url.startswith(origin)  # another origin: cross-site, as in real life

    page.goto(f"{origin}/ao-dai?utm_source=zalo&utm_medium=social&utm_campaign=tet-2027&color=do")
    page.wait_for_function("() => window.danhba && window.danhba.initialized === true")
    assert page.evaluate("danhba.flush().then(() => true)") is True

    # The page view (queued by the snippet before the script loaded) arrived, then the custom
    # event queued after it, in that order, both anonymous.
    events = wait_for(lambda: list(Event.objects.filter(source=source).order_by("id")), "the first events")
    assert [(e.type, e.name) for e in events] == [("page", ""), ("track", "Hero Seen")]
    page_view = events[0]
    url = f"{origin}/ao-dai?utm_source=zalo&utm_medium=social&utm_campaign=tet-2027&color=do"
    assert page_view.properties["url"] == url
    assert page_view.properties["title"] == "Áo dài Tết – Cửa hàng Lan"
    assert page_view.properties["path"] == "/ao-dai"
    assert page_view.properties["search"] == "?utm_source=zalo&utm_medium=social&utm_campaign=tet-2027&color=do"
    assert page_view.context["page"]["url"] == url
    assert page_view.context["campaign"] == {"source": "zalo", "medium": "social", "name": "tet-2027"}
    assert page_view.context["library"]["name"] == "danhba.js"
    assert events[1].properties == {"position": 1}
    assert page_view.contact_id is None and page_view.user_id == ""

    # The anonymous id is a first-party cookie of the shop's site, for a year, SameSite=Lax.
    cookie = next(c for c in page.context.cookies(origin) if c["name"] == "danhba_aid")
    assert cookie["value"] == page_view.anonymous_id == events[1].anonymous_id
    assert cookie["sameSite"] == "Lax" and cookie["expires"] > time.time() + 360 * 86400
    assert page.evaluate("localStorage.getItem('danhba_aid')") == cookie["value"]
    assert len({e.message_id for e in events}) == 2

    # The visitor signs up: identify, then a custom event.
    page.evaluate(
        "danhba.identify('u-1', {email: 'lan@example.vn', name: 'Trần Thị Lan'})"
        ".then(() => danhba.track('Signed Up', {plan: 'free'})).then(() => danhba.flush()).then(() => true)"
    )
    contact = wait_for(
        lambda: getattr(ContactEmail.objects.filter(email="lan@example.vn").first(), "contact", None), "the contact"
    )
    page_view.refresh_from_db()
    assert page_view.contact_id == contact.pk  # the earlier anonymous page view joined the contact
    signed_up = Event.objects.get(source=source, name="Signed Up")
    assert (signed_up.contact_id, signed_up.user_id, signed_up.anonymous_id) == (contact.pk, "u-1", cookie["value"])
    assert signed_up.properties == {"plan": "free"}
    assert set(Event.objects.filter(source=source).values_list("contact_id", flat=True)) == {contact.pk}

    # A later visit keeps the same anonymous id (cookie) and the user id (localStorage).
    page.goto(f"{origin}/gio-hang")
    page.wait_for_function("() => window.danhba && window.danhba.initialized === true")
    page.evaluate("danhba.flush().then(() => true)")
    second = wait_for(
        lambda: Event.objects.filter(source=source, type="page", properties__path="/gio-hang").first(),
        "the second page view",
    )
    assert (second.anonymous_id, second.user_id, second.contact_id) == (cookie["value"], "u-1", contact.pk)
    assert "campaign" not in second.context


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_call_retried_after_a_network_error_is_stored_once(
    live_server: Any, make_source: Any, page: Any, demo_site: Callable[[str], str]
) -> None:
    source, key = make_source("Cửa hàng Lan", "website")
    origin = demo_site(DEMO_PAGE.format(snippet=website_snippet(f"{live_server.url}/v1/danhba.js", key)))
    page.goto(f"{origin}/")
    page.wait_for_function("() => window.danhba && window.danhba.initialized === true")
    page.evaluate("danhba.flush().then(() => true)")
    wait_for(lambda: Event.objects.filter(source=source).count() == 2, "the first events")

    # The first attempt reaches the server but its answer is lost (as on a flaky mobile link);
    # the script sends the same message again, with the same messageId.
    attempts: list[str] = []

    def lose_first_answer(route: Any) -> None:
        attempts.append(route.request.post_data)
        response = route.fetch()
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/v1/batch", lose_first_answer)
    page.evaluate("danhba.track('Added To Cart', {sku: 'AO-DAI-01'}).then(() => danhba.flush()).then(() => true)")
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert Event.objects.filter(source=source, name="Added To Cart").count() == 1
