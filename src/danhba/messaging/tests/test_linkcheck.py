"""The default link checker against a real HTTP server on this machine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from danhba.messaging import linkcheck


class _Handler(BaseHTTPRequestHandler):
    asked: list[tuple[str, str]] = []

    def _answer(self) -> None:
        self.asked.append((self.command, self.path))
        if self.path == "/no-head" and self.command == "HEAD":
            self.send_response(405)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.example.vn/")
        elif self.path in ("/ok", "/no-head"):
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    _Handler.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_answers_are_read_as_a_marketer_expects(site: str, settings: Any) -> None:
    settings.MESSAGING_LINKS_ALLOW_PRIVATE = True
    ok, fallback, missing, moved = (
        linkcheck.http_check(f"{site}/ok"),
        linkcheck.http_check(f"{site}/no-head"),
        linkcheck.http_check(f"{site}/gone"),
        linkcheck.http_check(f"{site}/moved"),
    )
    assert (ok.ok, ok.status) == (True, 200)
    assert (fallback.ok, fallback.status) == (True, 200)
    assert ("HEAD", "/no-head") in _Handler.asked and ("GET", "/no-head") in _Handler.asked
    assert (missing.ok, missing.status) == (False, 404)
    assert moved.ok is True and "elsewhere.example.vn" in moved.note
    assert ("GET", "/moved") not in _Handler.asked  # a redirect is reported, not followed


def test_a_name_resolving_to_a_private_address_is_not_asked(site: str, settings: Any, monkeypatch: Any) -> None:
    settings.MESSAGING_LINKS_ALLOW_PRIVATE = False
    port = site.rsplit(":", 1)[1]
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "shop.example.vn" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = linkcheck.http_check(f"http://shop.example.vn:{port}/ok")
    assert result.ok is False and "127.0.0.1" in result.note
    assert _Handler.asked == []
