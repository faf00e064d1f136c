"""The webhook step calls out through core.outbound with an idempotency key: a call repeated
after a crash between the call and the commit carries the same key, and the step is recorded
once."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from danhba.automation.models import StepRun
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.tests.conftest import T0
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    calls: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", calls
    finally:
        server.shutdown()


def test_a_repeated_call_carries_the_same_key(
    receiver: tuple[str, list[dict[str, str]]], admin: Any, make_workflow: Any, make_contact: Any, settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    url, calls = receiver
    graph = {"start": "call", "steps": {"call": {"kind": "webhook", "params": {"url": url, "data": {"a": 1}}}}}
    wf = make_workflow(graph=graph)
    contact = make_contact()
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=T0)
    real = engine._apply
    state = {"crash": True}

    def crash_once(*args: Any, **kwargs: Any) -> int:
        if state.pop("crash", False):
            raise SystemExit("worker killed after the call")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "_apply", crash_once)
    with pytest.raises(SystemExit):
        engine.run_due(now=T0)
    assert len(calls) == 1 and not StepRun.objects.exists()
    engine.run_due(now=T0 + engine.LEASE + dt.timedelta(seconds=1))
    enrolment = wf.enrolments.get()
    key = f"danhba-wf{wf.pk}-e{enrolment.pk}-s0"
    assert [c["Idempotency-Key"] for c in calls] == [key, key]
    assert list(StepRun.objects.values_list("step", "outcome")) == [("call", "done")]
    assert enrolment.status == "completed"
