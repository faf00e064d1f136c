"""Web forms in a real browser (system Chromium, Playwright): the script embed and the iframe on
a page served from another origin (a second loopback server, http://127.0.0.1:PORT, while
danhba is http://localhost:PORT), and the hosted page on a phone. Each submission becomes the
contact with its consent and the wording; a filled honeypot is blocked; the page raises no
console or Content-Security-Policy errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from danhba.capture.forms.services import webform_create
from danhba.capture.models import FormDay, FormSubmission
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.tests.browser import Problems
from danhba.privacy.models import ConsentRecord

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
WORDING = "Tôi đồng ý nhận email khuyến mãi."
HOST_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Cửa hàng Lan</title></head>
<body><h1>Cửa hàng Lan</h1>
<div id="by-script"><script src="{danhba}/f/embed.js" data-form="ban-tin" async></script></div>
<iframe id="by-frame" src="{danhba}/f/ban-tin?embed=1" title="Đăng ký" width="100%" height="700"></iframe>
</body></html>"""


@pytest.fixture
def host_site() -> Iterator[Callable[[str], str]]:
    """``host_site(html)`` serves ``html`` at http://127.0.0.1:PORT (another origin than danhba)."""
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get("html", b"") if not self.path.startswith("/favicon") else b""
            self.send_response(200 if body else 204)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"

    def serve(html: str) -> str:
        pages["html"] = html.encode()
        return origin

    yield serve
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _form(admin: Any, origins: list[str]) -> Any:
    return webform_create(
        actor=actor_for(admin),
        data={
            "name": "Đăng ký nhận bản tin", "slug": "ban-tin", "language": "vi",
            "fields": [{"target": "full_name", "label": "Họ và tên", "required": True},
                       {"target": "email", "label": "Email", "required": True},
                       {"target": "phone", "label": "Số điện thoại"}],
            "consents": [{"purpose": "email_marketing", "text": WORDING, "required": True}],
            "thanks_message": "Cảm ơn bạn đã đăng ký!", "allowed_origins": origins,
        },
    )  # fmt: skip


def _wait(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_script_embed_and_iframe_on_another_origin(live_server: Any, admin: Any, page: Any,
                                                   host_site: Callable[[str], str]) -> None:  # fmt: skip
    from playwright.sync_api import expect

    origin = host_site(HOST_PAGE.format(danhba=live_server.url))
    assert origin.split(":")[1] != live_server.url.split(":")[1] or origin != live_server.url
    _form(admin, [origin])
    problems = Problems(page)
    page.goto(f"{origin}/?utm_source=zalo&utm_campaign=tet")

    # The script embed: rendered into the host page, posted across origins (CORS, preflight).
    box = page.locator("#by-script .danhba-form")
    expect(box.locator("input[name=full_name]")).to_be_visible()
    assert not box.locator("input[name=consent]").is_checked()  # never pre-ticked
    box.locator("button[type=submit]").click()
    expect(box.locator(".danhba-alert")).to_contain_text("Vui lòng sửa")  # errors in the form's language
    problems.take()  # the browser logs the 422 it was answered
    box.locator("input[name=full_name]").fill("nguyễn thị lan")
    box.locator("input[name=email]").fill("Lan.Nguyen@Example.vn")
    box.locator("input[name=phone]").fill("0912 345 678")
    box.locator("input[name=consent]").check()
    box.locator("button[type=submit]").click()
    expect(box.locator(".danhba-thanks")).to_have_text("Cảm ơn bạn đã đăng ký!")
    lan = _wait(lambda: Contact.objects.filter(email="lan.nguyen@example.vn").first(), "the script's contact")
    assert lan.full_name == "Nguyễn Thị Lan" and lan.phone == "+84912345678" and lan.source == "form"
    assert WORDING in ConsentRecord.objects.get(contact=lan).proof
    submission = FormSubmission.objects.get(contact=lan)
    assert submission.utm == {"utm_source": "zalo", "utm_campaign": "tet"} and submission.page_url.startswith(origin)

    # The iframe: the hosted page framed by the listed site.
    frame = page.frame_locator("#by-frame")
    frame.locator("input[name=full_name]").fill("Trần Văn Minh")
    frame.locator("input[name=email]").fill("minh@example.vn")
    frame.locator("input[name=consent]").check()
    frame.locator("button[type=submit]").click()
    expect(frame.locator(".df-thanks")).to_contain_text("Cảm ơn bạn đã đăng ký!")
    minh = _wait(lambda: Contact.objects.filter(email="minh@example.vn").first(), "the iframe's contact")
    assert ConsentRecord.objects.get(contact=minh).purpose.key == "email_marketing"
    assert problems.take() == []


def test_spam_and_an_unlisted_site_get_nothing_in(live_server: Any, admin: Any, page: Any,
                                                  host_site: Callable[[str], str]) -> None:  # fmt: skip
    from playwright.sync_api import expect

    origin = host_site(HOST_PAGE.format(danhba=live_server.url))
    form = _form(admin, [origin])
    page.goto(origin)
    box = page.locator("#by-script .danhba-form")
    box.locator("input[name=full_name]").fill("Bot")
    box.locator("input[name=email]").fill("bot@example.vn")
    box.locator("input[name=consent]").check()
    box.locator("input[name=website]").evaluate("(el) => { el.value = 'http://spam.example'; }")
    box.locator("button[type=submit]").click()
    expect(box.locator(".danhba-thanks")).to_be_visible()  # the bot is told nothing
    assert not Contact.objects.exists()
    assert FormDay.objects.get(form=form).blocked_honeypot == 1
    # A site the form does not list: the script gets nothing, the iframe is refused by the browser.
    form.allowed_origins = ["https://shop.example.vn"]
    form.save()
    page.goto(origin)
    page.wait_for_timeout(1500)
    assert page.locator("#by-script input[name=full_name]").count() == 0
    assert page.frame_locator("#by-frame").locator("input[name=full_name]").count() == 0


def test_the_hosted_page_on_a_phone(live_server: Any, admin: Any, page: Any) -> None:
    from playwright.sync_api import expect

    _form(admin, [])
    page.set_viewport_size({"width": 390, "height": 844})
    problems = Problems(page)
    page.goto(f"{live_server.url}/f/ban-tin")
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    page.fill("input[name=full_name]", "Phạm Thu Hà")
    page.fill("input[name=email]", "ha@")
    page.click("button[type=submit]")
    expect(page.locator(".df-error").first).to_be_visible()
    problems.take()  # the browser logs the 422 it was answered
    page.fill("input[name=email]", "ha.pham@example.vn")
    page.check("input[name=consent]")
    page.click("button[type=submit]")
    expect(page.locator(".df-thanks")).to_contain_text("Cảm ơn bạn đã đăng ký!")
    assert Contact.objects.filter(email="ha.pham@example.vn").exists()
    assert problems.take() == []


def test_the_builder_preview_follows_unsaved_changes(live_server: Any, admin: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from danhba.core.tests.browser import log_in

    form = _form(admin, [])
    log_in(page, live_server.url, admin.email)
    problems = Problems(page)
    page.goto(f"{live_server.url}/forms/{form.pk}/")
    preview = page.locator("#fb-preview")
    expect(preview).to_contain_text("Họ và tên")
    page.fill("#q-0-label", "Tên của bạn")
    page.locator("#q-0-label").dispatch_event("change")
    expect(preview).to_contain_text("Tên của bạn")
    assert problems.take() == []
