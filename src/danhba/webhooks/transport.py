"""Sending one HTTP POST to a receiver, through ``core.outbound`` (which addresses may be called,
connections pinned to the checked address, redirects not followed, the body read back capped).
``WEBHOOKS_ALLOW_PRIVATE`` lets endpoints on loopback and private networks be called."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext_noop

from danhba.core import outbound
from danhba.core.outbound import UnsafeURL
from danhba.core.reasons import Reason, reason

STORED_RESPONSE_CHARS = 4000
USER_AGENT = "danhba-webhooks/1"

__all__ = ["Result", "UnsafeURL", "check_url", "post"]


@dataclass
class Result:
    ok: bool
    status_code: int | None = None
    error: Reason | None = None  # why it failed, shown in the reader's language
    response_body: str = ""
    duration_ms: int = 0
    request_headers: dict[str, str] = field(default_factory=dict)


def check_url(url: str, *, resolve: bool = False) -> tuple[str, int, list[str]]:
    """``core.outbound.check_url`` under the webhooks' setting."""
    return outbound.check_url(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE, resolve=resolve)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Result:
    """POST ``body`` to ``url``; success is a 2xx answer. Never raises for network trouble."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    started = time.monotonic()
    answer = outbound.request(
        "POST", url, body=body, headers=headers, timeout=timeout, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    result = Result(ok=False, status_code=answer.status, duration_ms=duration_ms, request_headers=headers)
    if answer.status is None:
        result.error = answer.error
        return result
    result.response_body = answer.body.decode("utf-8", "replace").replace("\x00", "")[:STORED_RESPONSE_CHARS]
    if 200 <= answer.status < 300:
        result.ok = True
    elif 300 <= answer.status < 400:
        result.error = reason(
            gettext_noop("The receiver answered with a redirect (to %(location)s); redirects are not followed."),
            location=(answer.location or "?")[:200],
        )
    else:
        result.error = reason(gettext_noop("The receiver answered HTTP %(status)s."), status=str(answer.status))
    return result
