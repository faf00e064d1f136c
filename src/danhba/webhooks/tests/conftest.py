"""A real HTTP receiver on loopback (a ``ThreadingHTTPServer`` in a thread) that records every
request and answers as a test tells it; endpoints subscribed to it; an API client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.core.actor import Actor
from danhba.webhooks import services
from danhba.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TOPIC_HEADER


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def signature(self) -> str:
        return self.headers[SIGNATURE_HEADER]

    @property
    def event_id(self) -> str:
        return self.headers[EVENT_ID_HEADER]

    @property
    def topic(self) -> str:
        return self.headers[TOPIC_HEADER]


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # What to answer: (status, body, delay seconds, extra headers); the last one repeats.
    answers: list[tuple[int, str, float, dict[str, str]]] = field(default_factory=lambda: [(200, "ok", 0.0, {})])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int, body: str = "", delay: float = 0.0, headers: dict[str, str] | None = None) -> None:
        self.answers = [(status, body, delay, headers or {})]

    def then(self, *statuses: int) -> None:
        self.answers = [(s, "", 0.0, {}) for s in statuses]

    def next_answer(self) -> tuple[int, str, float, dict[str, str]]:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, text, delay, headers = state.next_answer()
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"


@pytest.fixture(autouse=True)
def _webhook_settings(settings: Any) -> Iterator[None]:
    """Loopback receivers allowed (the default refuses them), and no topic cached from another
    test."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOKS_TIMEOUT = 3
    settings.WEBHOOKS_TEST_TIMEOUT = 3
    services._topics = None
    yield
    services._topics = None


@pytest.fixture
def make_endpoint(admin: Any) -> Callable[..., Any]:
    def make(url: str, topics: list[str] | None = None, **extra: Any) -> Any:
        return services.endpoint_create(
            actor=actor_for(admin), url=url, topics=topics or ["contact.created", "contact.updated"], **extra
        )

    return make


def system() -> Actor:
    return Actor.system("cli")


class Api:
    """JSON with one user's API key."""

    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api{path}", params, headers=self.headers)

    def post(self, path: str, data: Any = None, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(f"/api{path}", body, content_type="application/json", headers=self.headers)

    def patch(self, path: str, data: Any) -> Any:
        return self.client.patch(f"/api{path}", json.dumps(data), content_type="application/json", headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api{path}", headers=self.headers)


@pytest.fixture
def api_for(client: Any) -> Callable[[Any], Api]:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make
