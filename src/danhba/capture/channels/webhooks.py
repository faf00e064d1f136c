"""The public webhook endpoints of the channels (no login: each request proves itself by its
signature). A request with a good signature is stored as it came and answered 200 at once
(Facebook and Zalo retry anything slower or other); its processing is the worker's. A bad or
missing signature, or an unknown connection, is a bare 403 that tells nothing."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from danhba.capture.channels import services, signatures
from danhba.capture.models import ChannelConnection, ChannelKind
from danhba.core.ratelimit import PublicLimit

log = logging.getLogger(__name__)

# Per client network and connection: Facebook and Zalo send from a few networks, in bursts.
LIMIT = PublicLimit("capture-channels", per_minute=600)


def _plain(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _refused(request: HttpRequest, why: str) -> HttpResponse:
    log.info("channel webhook refused: %s %s (%s)", request.method, request.path, why)
    return _plain("Forbidden", 403)


def _limited(request: HttpRequest, key: str) -> HttpResponse | None:
    wait = LIMIT.wait(request, key)
    if not wait:
        return None
    response = _plain("Too many requests", 429)
    response["Retry-After"] = str(wait)
    return response


def _connection(kind: str, key: str) -> ChannelConnection | None:
    return ChannelConnection.objects.filter(kind=kind, key=key[:40], is_active=True).first()


def _body(request: HttpRequest) -> bytes | None:
    body = request.body
    return None if len(body) > services.MAX_BODY else body


def _facebook_event(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
        fields = {c.get("field") for e in data.get("entry") or [] for c in e.get("changes") or []}
    except (ValueError, AttributeError, TypeError):
        return ""
    return ",".join(sorted(str(f) for f in fields if f))


def _zalo_event(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
        return str(data.get("event_name") or "")
    except (ValueError, AttributeError):
        return ""


@csrf_exempt
@require_http_methods(["GET", "POST"])
def facebook(request: HttpRequest, key: str) -> HttpResponse:
    if limited := _limited(request, key):
        return limited
    connection = _connection(ChannelKind.FACEBOOK, key)
    if request.method == "GET":
        # The subscription handshake: echo hub.challenge when hub.verify_token is ours.
        token = request.GET.get("hub.verify_token", "")
        good = connection is not None and request.GET.get("hub.mode") == "subscribe" and bool(token)
        if not good or not hmac.compare_digest(token.encode(), connection.verify_token.encode()):  # type: ignore[union-attr]
            return _refused(request, "handshake")
        return _plain(request.GET.get("hub.challenge", "")[:200])
    body = _body(request)
    if body is None:
        return _plain("Payload too large", 413)
    header = request.headers.get("X-Hub-Signature-256")
    if connection is None or not signatures.facebook_signature_ok(body, header, connection.secret):
        return _refused(request, "signature")
    services.payload_receive(
        connection=connection, body=body, headers=services.kept_headers(request.headers), event=_facebook_event(body)
    )
    return _plain("ok")


@csrf_exempt
@require_http_methods(["POST"])
def zalo(request: HttpRequest, key: str) -> HttpResponse:
    if limited := _limited(request, key):
        return limited
    connection = _connection(ChannelKind.ZALO, key)
    body = _body(request)
    if body is None:
        return _plain("Payload too large", 413)
    header = request.headers.get("X-ZEvent-Signature")
    if connection is None or not signatures.zalo_signature_ok(body, header, connection.app_id, connection.secret):
        return _refused(request, "signature")
    services.payload_receive(
        connection=connection, body=body, headers=services.kept_headers(request.headers), event=_zalo_event(body)
    )
    return _plain("ok")
