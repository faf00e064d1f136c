"""The open pixel and the click redirect of campaign messages (``tracked.py`` makes their
URLs). Public: the signed token is the only key, and a forged or altered one is a bare 404.

Both answer without waiting for the main database's write lock: the open or click becomes an
"Email Opened" / "Email Link Clicked" event handed to tracking's inbox (a file of its own on
SQLite), and the worker stores the event and, through ``services/activity.py``, the ``Open`` or
``Click`` row in one transaction. The redirect goes to the address stored for the link when the
campaign was sent, never to one from the request. Rate-limited per client network and send
(``core/ratelimit.PublicLimit``; the token's signature proves the send, and mail providers' image
proxies fetch for thousands of readers from a few addresses): past the limit the GIF or the
redirect still answers (a person behind a busy office network must still reach the page) and
nothing is recorded.
"""

from __future__ import annotations

import logging
import uuid
from time import time as clock

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from danhba.core.actor import client_ip
from danhba.core.ratelimit import PublicLimit
from danhba.messaging import tracked
from danhba.messaging.machines import machine_reason, network_of
from danhba.messaging.models import Campaign, CampaignLink, Machine
from danhba.messaging.services.activity import CLICKED, OPENED, SOURCE
from danhba.tracking.services.server import ServerEvent, internal_source, server_events_accept
from danhba.tracking.views.browser import gif_response

logger = logging.getLogger(__name__)

# Per network and send: one reader's opens, or a scanner's walk over one message.
open_rate = PublicLimit("email-open", 600)
click_rate = PublicLimit("email-click", 120)


def _not_found() -> HttpResponse:
    response = HttpResponse("Not found", status=404, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _record(request: HttpRequest, name: str, t: tracked.Tracked, campaign: str, url: str = "") -> None:
    ip, agent = client_ip(request), request.META.get("HTTP_USER_AGENT", "")[:300]
    reason = Machine.TRAP if name == CLICKED and t.link_id == tracked.TRAP else ""
    reason = reason or machine_reason(ip=ip, user_agent=agent, rendered_at=t.rendered_at, now=clock())
    properties: dict[str, object] = {
        "campaign_id": t.campaign_id, "campaign": campaign, "send_id": t.send_id, "machine": bool(reason),
        "machine_reason": reason,
    }  # fmt: skip
    if name == CLICKED:
        properties.update(link_id=t.link_id or None, url=url)
    event = ServerEvent(
        contact_id=t.contact_id,
        name=name,
        message_id=f"email-{'click' if name == CLICKED else 'open'}-{t.send_id}-{uuid.uuid4().hex}",
        properties=properties,
        context={"ip": network_of(ip), "userAgent": agent},
    )
    try:
        server_events_accept(source=internal_source(SOURCE), events=[event])
    except Exception:
        # The reader gets the page or the image all the same; the log tells us.
        logger.exception("email %s of send %s not recorded", name, t.send_id)


@require_safe
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    t = tracked.read_open(token)
    if t is None:
        return _not_found()
    if not open_rate.wait(request, extra=str(t.send_id)):
        campaign = Campaign.objects.filter(pk=t.campaign_id).values_list("name", flat=True).first()
        if campaign is not None:
            _record(request, OPENED, t, campaign)
    response = gif_response()
    response["X-Robots-Tag"] = "noindex"
    return response


@require_safe
def click(request: HttpRequest, token: str) -> HttpResponse:
    t = tracked.read_click(token)
    if t is None:
        return _not_found()
    if t.link_id == tracked.TRAP:
        found: tuple[str, str] | None = ("", "")
    else:
        found = (
            CampaignLink.objects.filter(pk=t.link_id, campaign_id=t.campaign_id)
            .values_list("url", "campaign__name")
            .first()
        )
    if found is None:
        return _not_found()
    url, campaign = found
    if not click_rate.wait(request, extra=str(t.send_id)):
        _record(request, CLICKED, t, campaign, url)
    # The trap link has nothing for a person to see.
    response = HttpResponseRedirect(url) if url else HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
