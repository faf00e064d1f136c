"""The Segment-compatible HTTP event API: ``POST /v1/identify|track|page|screen|group|alias|batch``.

Plain Django views rather than django-ninja: the Segment wire format (Basic auth with the write
key, gzip bodies, partial success in a batch, ``{"code","message"}`` errors) is fixed by the SDKs,
not described by our schemas, and every request is on the hot path.

Browsers post here too (the tracking script, ``browser.py``): the body is read as JSON
whatever its Content-Type, so ``text/plain`` posts and ``navigator.sendBeacon`` need no CORS
preflight, and every answer carries ``Access-Control-Allow-Origin: *``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from json.scanner import make_scanner
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from danhba.core.ratelimit import source_limit
from danhba.tracking.inbox import events_accept
from danhba.tracking.models import Source
from danhba.tracking.services.messages import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Rejected,
    message_time,
    parse_message,
    storable,
)


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def error(status: int, code: str, message: str, details: Any = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "details": details or {}}, status=status)


def _rate_limit(source: Source, cost: int) -> None:
    """Refuse the whole request (nothing of it is stored) when the source is over its limit."""
    wait = source_limit(source.pk, cost)
    if wait:
        raise HttpError(
            429,
            "too_many_requests",
            _("This source sends more than %(rate)s events per second. Retry after %(seconds)s s.")
            % {"rate": settings.EVENTS_RATE_LIMIT_PER_SECOND, "seconds": wait},
            {"retry_after": wait},
        )


def _basic_write_key(request: HttpRequest) -> str | None:
    """The write key from ``Authorization: Basic base64(writeKey:)``, or None without the header."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise HttpError(401, "unauthorized", _("Use HTTP Basic authentication with the write key as user name."))
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise HttpError(401, "unauthorized", _("The Authorization header is not valid Basic credentials.")) from None
    return decoded.partition(":")[0]


def _authenticate(raw_key: Any) -> Source:
    if not isinstance(raw_key, str) or not raw_key:
        raise HttpError(401, "unauthorized", _("A write key is required (HTTP Basic user name, or writeKey)."))
    source = Source.lookup(raw_key)
    if source is None:
        raise HttpError(401, "unauthorized", _("The write key is not valid or its source is disabled."))
    return source


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The request body, decompressed, at most ``limit`` bytes either way (a gzip bomb is cut off
    after ``limit`` decompressed bytes, never inflated in full)."""
    too_large = HttpError(
        413, "payload_too_large", _("The request is larger than %(n)s KB.") % {"n": limit // 1024}, {"limit": limit}
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise HttpError(415, "unsupported_encoding", _("Content-Encoding must be gzip or none."))
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise HttpError(400, "invalid_gzip", _("The body is not valid gzip.")) from None
    if len(data) > limit:
        raise too_large
    if not inflater.eof:
        raise HttpError(400, "invalid_gzip", _("The gzip body is truncated."))
    return data


def parse_constant(value: str) -> Any:
    """Refuse NaN and Infinity, which JSON columns cannot store (also used by the pixel)."""
    raise ValueError(value)


def parse_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(text)  # JSON columns cannot store infinities
    return number


# The C scanner json.loads uses, with the same hooks (typeshed types its argument wrongly).
_SCAN = make_scanner(cast(Any, json.JSONDecoder(parse_constant=parse_constant, parse_float=parse_float)))
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The index of the first non-blank character at or after ``i``."""
    match = _WHITESPACE.match(text, i)
    return match.end() if match else i


# Re-encoding JSON compactly never lengthens a string, a key or an integer; only a float can grow,
# at most 4.5 times ("1e15" → "1000000000000000.0"). So an event that takes at most this many
# bytes in the body cannot be over MAX_EVENT_BYTES once re-encoded, and needs no measuring.
_SURELY_SMALL = MAX_EVENT_BYTES * 2 // 9


def _event_sizes(body: bytes) -> list[int] | None:
    """The bytes (UTF-8) each element of the body's top-level ``batch`` array takes as sent, in
    order, from a second pass of the C scanner over a body ``json.loads`` already accepted; None
    if anything is unexpected (then every event is measured by re-encoding it)."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        ascii_only = text.isascii()
        scan = _SCAN
        sizes: list[int] | None = None
        i = _skip(text, 0)
        if text[i] != "{":
            return None
        i = _skip(text, i + 1)
        while text[i] != "}":
            key, i = scan(text, i)
            i = _skip(text, i)
            if text[i] != ":":
                return None
            i = _skip(text, i + 1)
            if key == "batch" and text[i] == "[":
                sizes = []  # a repeated key: the last one wins, as in json.loads
                i = _skip(text, i + 1)
                while text[i] != "]":
                    start = i
                    _value, i = scan(text, i)
                    chunk = text[start:i]
                    sizes.append(len(chunk) if ascii_only else len(chunk.encode("utf-8", "surrogatepass")))
                    i = _skip(text, i)
                    if text[i] == ",":
                        i = _skip(text, i + 1)
                i += 1
            else:
                _value, i = scan(text, i)
            i = _skip(text, i)
            if text[i] == ",":
                i = _skip(text, i + 1)
        return sizes
    except (StopIteration, IndexError, ValueError, RecursionError):
        return None


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_constant=parse_constant, parse_float=parse_float)
    except (ValueError, RecursionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, json.JSONDecodeError) else ""
        raise HttpError(400, "invalid_json", _("The body is not valid JSON."), {"error": detail}) from None
    if not isinstance(data, dict):
        raise HttpError(400, "invalid_json", _("The body must be a JSON object."))
    return storable(body, data)


def _handle(request: HttpRequest, kind: str | None) -> JsonResponse:
    if request.method != "POST":
        return error(405, "method_not_allowed", _("Use POST."))
    received_at = timezone.now()
    try:
        header_key = _basic_write_key(request)
        source = _authenticate(header_key) if header_key is not None else None
        limit = MAX_BATCH_BYTES if kind is None else MAX_EVENT_BYTES
        body = _read_body(request, limit)
        data = _parse_json(body)
        key_in_body = data.pop("writeKey", None)
        if source is None:
            source = _authenticate(key_in_body)
        if kind is not None:
            _rate_limit(source, 1)
            try:
                message = parse_message(data, index=0, received_at=received_at, forced_type=kind)
            except Rejected as exc:
                raise HttpError(400, exc.code, exc.message) from None
            result = events_accept(source=source, messages=[message], received_at=received_at)
            return JsonResponse(result.as_json())
        try:
            sent_at = message_time(data, "sentAt")
        except Rejected as exc:
            raise HttpError(400, exc.code, exc.message) from None
        return _batch(data, source, body, received_at, sent_at)
    except HttpError as exc:
        response = error(exc.status, exc.code, exc.message, exc.details)
        if exc.status == 429:
            response["Retry-After"] = str(exc.details["retry_after"])
        return response
    except RecursionError:
        return error(400, "invalid_json", _("The body is nested too deeply."))


def _batch(
    data: dict[str, Any], source: Source, body: bytes, received_at: datetime, sent_at: datetime | None
) -> JsonResponse:
    batch = data.get("batch")
    if not isinstance(batch, list):
        raise HttpError(400, "invalid_payload", _("batch must be a list of events."))
    context = data.get("context")
    if context is not None and not isinstance(context, dict):
        raise HttpError(400, "invalid_payload", _("context must be an object."))
    _rate_limit(source, len(batch))
    messages, rejected = [], []
    # No event can be over the per-event limit if the whole body is not; else only the events
    # that take enough room in the body are re-encoded and measured.
    sizes = _event_sizes(body) if len(body) > MAX_EVENT_BYTES else [0] * len(batch)
    if sizes is None or len(sizes) != len(batch):
        sizes = [MAX_EVENT_BYTES] * len(batch)
    for index, raw in enumerate(batch):
        check_size = sizes[index] > _SURELY_SMALL
        try:
            messages.append(
                parse_message(
                    raw,
                    index=index,
                    received_at=received_at,
                    batch_sent_at=sent_at,
                    batch_context=context,
                    check_size=check_size,
                )
            )
        except Rejected as exc:
            message_id = raw.get("messageId") if isinstance(raw, dict) else None
            rejected.append(
                {
                    "index": index,
                    "messageId": message_id if isinstance(message_id, str) else None,
                    "code": exc.code,
                    "message": exc.message,
                }
            )
    # Exactly 200 even with rejects: RudderStack SDKs count anything else as a failed batch
    # and would resend the valid events too.
    result = events_accept(source=source, messages=messages, rejected=rejected, received_at=received_at)
    return JsonResponse(result.as_json())


def _preflight() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    # Listed by name: a "*" would not cover Authorization.
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Content-Encoding"
    response["Access-Control-Max-Age"] = "86400"
    return response


def endpoint(kind: str | None) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        # CORS for browsers on the customer's own site (the tracking script). Any origin may
        # post: the write key, not the origin, authenticates, and no cookie is ever read here,
        # so "*" (which browsers never combine with credentials) gives a page nothing more.
        if request.method == "OPTIONS":
            response = _preflight()
        else:
            response = _handle(request, kind)
            # Answers echo message ids and rejections of personal data: nobody keeps a copy.
            response["Cache-Control"] = "no-store"
        response["Access-Control-Allow-Origin"] = "*"
        return response

    view.__name__ = f"v1_{kind or 'batch'}"
    return view
