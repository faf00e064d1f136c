"""What browsers and mail clients load from danhba: the website tracking script
(``GET /v1/danhba.js``) and the tracking pixel (``GET /v1/pixel.gif``) for places that cannot
run scripts (emails, AMP pages).

Both are public: a website's write key is in every visitor's page, so it can only send events.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from danhba.core.longurl import long_urls_answered_by_view
from danhba.core.ratelimit import PublicLimit, source_limit
from danhba.tracking.inbox import events_accept
from danhba.tracking.models import Event, Source
from danhba.tracking.services.messages import MAX_EVENT_BYTES, Rejected, parse_message, storable
from danhba.tracking.views.events import parse_constant, parse_float

logger = logging.getLogger(__name__)

SCRIPT = Path(__file__).parent.parent / "static" / "tracking" / "danhba.js"
# A 1×1 transparent GIF (GIF89a, one transparent colour): the smallest image every client shows.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# Pixel loads per client address, key and minute that are stored; past it, still a GIF, no
# event. Generous: mail providers' image proxies (Gmail's) fetch for many readers from few addresses.
PIXEL_RATE_PER_MINUTE = 600


@cache
def _script() -> bytes:
    return SCRIPT.read_bytes()


@require_safe
def script(request: HttpRequest) -> HttpResponse:
    """The tracking script: cacheable for an hour everywhere, loadable from any site."""
    response = HttpResponse(_script(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Loads per client network and write key: past it the GIF still answers, nothing is stored.
pixel_rate = PublicLimit("pixel", PIXEL_RATE_PER_MINUTE)


def gif_response() -> HttpResponse:
    """The 1×1 GIF that no cache may keep (the event pixel here, the email open pixel)."""
    response = HttpResponse(PIXEL, content_type="image/gif")
    # Every open or view must reach the server: no browser, proxy or mail-image cache may reuse it.
    response["Cache-Control"] = "no-cache, no-store, must-revalidate, private, max-age=0"
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _pixel_message(params: Any) -> dict[str, Any]:
    """The Segment message a pixel URL describes. Raises ValueError on anything unusable."""
    kind = params.get("type") or ("track" if params.get("event") else "page")
    if kind not in (Event.Type.TRACK, Event.Type.PAGE):
        raise ValueError(kind)
    message: dict[str, Any] = {"type": kind}
    for param, key in (
        ("userId", "userId"),
        ("anonymousId", "anonymousId"),
        ("messageId", "messageId"),
        ("event", "event"),
        ("name", "name"),
        ("timestamp", "timestamp"),
    ):
        value = params.get(param)
        if value:
            if "\x00" in value:  # PostgreSQL refuses NUL in text
                raise ValueError(param)
            message[key] = value
    raw_properties = params.get("properties")
    if raw_properties:
        properties = json.loads(raw_properties, parse_constant=parse_constant, parse_float=parse_float)
        if not isinstance(properties, dict):
            raise ValueError("properties")
        message["properties"] = storable(raw_properties.encode(), properties)
    return message


@long_urls_answered_by_view
@csrf_exempt
@require_safe
def pixel(request: HttpRequest) -> HttpResponse:
    """``GET /v1/pixel.gif?writeKey=…&event=…&userId=…|anonymousId=…&properties=<json>``.

    Records a track event (or a page view without ``event``) and always answers the same GIF,
    whatever the key or the parameters: a pixel must never break an email, nor tell a stranger
    whether a key is valid. ``messageId`` makes repeated loads of one pixel count once."""
    params = request.GET
    key = params.get("writeKey", "")
    if request.method != "GET" or not key or len(request.get_full_path()) > MAX_EVENT_BYTES:
        return gif_response()
    if pixel_rate.wait(request, key[:16]):
        return gif_response()
    source = Source.lookup(key)
    if source is None or source_limit(source.pk, 1):
        return gif_response()
    received_at = timezone.now()
    try:
        raw = _pixel_message(params)
        raw.setdefault("context", {})
        context = raw["context"]
        context["library"] = {"name": "danhba-pixel", "version": "1"}
        if agent := request.META.get("HTTP_USER_AGENT", "")[:500]:
            context["userAgent"] = agent
        if referer := request.META.get("HTTP_REFERER", "")[:2000]:
            context["page"] = {"referrer": referer}
        message = parse_message(raw, index=0, received_at=received_at)
    except (ValueError, RecursionError, Rejected):
        return gif_response()
    try:
        events_accept(source=source, messages=[message], received_at=received_at)
    except Exception:
        # An error page would be a broken image in someone's email, and would tell a prober the
        # key is valid: log it for us, answer the same GIF.
        logger.exception("pixel event from source %s not stored", source.pk)
    return gif_response()


KEY_PLACEHOLDER = "YOUR_WRITE_KEY"


def website_snippet(script_url: str, write_key: str = KEY_PLACEHOLDER) -> str:
    """The HTML a site owner pastes into every page (before ``</head>``): a stub that queues
    calls made before the script arrives, the first page view, and the script itself."""
    return (
        "<script>\n"
        "  window.danhba = window.danhba || [];\n"
        '  ["page", "track", "identify"].forEach(function (m) {\n'
        "    danhba[m] = danhba[m] || function () { danhba.push([m].concat([].slice.call(arguments))); };\n"
        "  });\n"
        "  danhba.page();\n"
        "</script>\n"
        f'<script async src="{script_url}" data-write-key="{write_key}"></script>'
    )
