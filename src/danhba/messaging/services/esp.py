"""What an email service provider tells danhba about its messages, through django-anymail's
normalised tracking events (its webhook views, ``views/esp.py``; the listener is connected in
``apps.py``: anymail delivers its events only as the ``anymail.signals.tracking`` signal).

The event names its message by Message-ID: danhba's own (every campaign message carries one, and
the ESPs that keep it report it) or the id the ESP gave the message when it took it
(``Send.esp_message_id``). An event about no send of ours changes nothing.

- delivered → ``Send.delivered_at`` (the first report);
- bounced, or rejected because the address bounced before → a hard bounce: the address is
  suppressed at once, through ``bounces.bounce_apply``, the bounce mailbox's own path;
- deferred (the ESP will try again) → nothing: most delays end delivered, so a delay is neither
  a soft bounce nor a step toward suppression (a delay that ends in failure is reported as
  bounced);
- complained → the address is suppressed (complaint) and the consent withdrawn in the ledger;
  unsubscribed (the ESP's own link) → the same as danhba's unsubscribe;
- opened, clicked → "Email Opened" / "Email Link Clicked" events through tracking's inbox, as
  danhba's own pixel and click redirect hand them over (``views/tracked.py``), so the worker
  writes the ``Open``/``Click`` rows, the timeline and segments see them, and machines are told
  apart the same way — only for a campaign whose own tracking is off: otherwise danhba's pixel
  and redirects count them already and the ESP's would count each twice.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db.models import Q
from django.utils import timezone

from danhba.messaging.bounces import HARD, Bounce, Failure
from danhba.messaging.links import Recipient
from danhba.messaging.machines import machine_reason
from danhba.messaging.models import Campaign, Send, Suppression
from danhba.messaging.services.activity import CLICKED, OPENED, SOURCE, campaign_link
from danhba.messaging.services.bounces import bounce_apply
from danhba.messaging.services.campaigns import unsubscribe
from danhba.tracking.services.server import ServerEvent, internal_source, server_events_accept

log = logging.getLogger(__name__)


def send_of(event: AnymailTrackingEvent) -> Send | None:
    """The send an event is about, by its Message-ID (with or without the angle brackets)."""
    mid = str(event.message_id or "").strip()
    if not mid:
        return None
    forms = {mid, mid.strip("<>"), f"<{mid.strip('<>')}>"}
    return Send.objects.filter(Q(message_id__in=forms) | Q(esp_message_id__in=forms)).order_by("pk").first()


def esp_event_apply(*, event: AnymailTrackingEvent, esp_name: str = "") -> str:
    """Apply one event; returns what it did (for the log and tests): delivered, hard_bounce,
    complaint, unsubscribed, opened, clicked, ignored (deferred among them) or unknown_send."""
    send = send_of(event)
    if send is None:
        log.info("%s event %s about no send of ours: %s", esp_name, event.event_type, event.message_id)
        return "unknown_send"
    kind = event.event_type
    if kind == EventType.DELIVERED:
        when = event.timestamp or timezone.now()
        Send.objects.filter(pk=send.pk, delivered_at__isnull=True).update(delivered_at=when)
        return "delivered"
    if kind == EventType.BOUNCED or _rejected_as_bounce(event):
        failure = Failure(
            address=str(event.recipient or send.email),
            kind=HARD,
            status=_status(event),
            diagnostic=f"{esp_name}: {event.mta_response or event.description or kind}"[:300],
        )
        bounce_apply(Bounce(send_id=send.pk, failures=(failure,)))
        return "hard_bounce"
    if kind in (EventType.OPENED, EventType.CLICKED):
        return _activity(send, event)
    if kind in (EventType.COMPLAINED, EventType.UNSUBSCRIBED):
        complaint = kind == EventType.COMPLAINED
        unsubscribe(
            recipient=Recipient(send.contact_id, send.campaign_id),
            proof=f"{'spam complaint' if complaint else 'unsubscribe'} reported by {esp_name}, "
            f"campaign {send.campaign_id}",
            reason=Suppression.Reason.COMPLAINT if complaint else Suppression.Reason.UNSUBSCRIBED,
        )
        return "complaint" if complaint else "unsubscribed"
    return "ignored"


def _activity(send: Send, event: AnymailTrackingEvent) -> str:
    campaign = Campaign.objects.filter(pk=send.campaign_id).only("pk", "name", "tracking").first()
    opened = event.event_type == EventType.OPENED
    url = str(event.click_url or "")
    if campaign is None or campaign.tracking or not (opened or url.startswith(("http://", "https://"))):
        return "ignored"
    agent = str(event.user_agent or "")[:300]
    when = event.timestamp or timezone.now()
    sent_at = int(send.sent_at.timestamp()) if send.sent_at else 0
    reason = machine_reason(ip=None, user_agent=agent, rendered_at=sent_at, now=when.timestamp())
    properties: dict[str, Any] = {
        "campaign_id": campaign.pk, "campaign": campaign.name, "send_id": send.pk, "machine": bool(reason),
        "machine_reason": reason,
    }  # fmt: skip
    if not opened:
        # A click with no link is the trap link's: the ESP's link is stored like danhba's own.
        properties.update(link_id=campaign_link(campaign, url), url=url)
    key = str(event.event_id or uuid.uuid4().hex)[:100]
    server_events_accept(
        source=internal_source(SOURCE),
        events=[
            ServerEvent(
                contact_id=send.contact_id,
                name=OPENED if opened else CLICKED,
                message_id=f"email-esp-{'open' if opened else 'click'}-{send.pk}-{key}",
                properties=properties,
                timestamp=when,
                context={"userAgent": agent},
            )
        ],
    )
    return "opened" if opened else "clicked"


def _rejected_as_bounce(event: AnymailTrackingEvent) -> bool:
    return bool(event.event_type == EventType.REJECTED and event.reject_reason == RejectReason.BOUNCED)


def _status(event: AnymailTrackingEvent) -> str:
    """An enhanced status code (5.1.1) when the MTA's answer has one."""
    words: list[Any] = str(event.mta_response or "").replace("(", " ").split()
    return next((w for w in words if w.count(".") == 2 and w.replace(".", "").isdigit()), "")[:12]


class EspEventFailed(Exception):
    """Applying a readable event failed in danhba's own code. Not a ``ValueError`` & co., which
    the webhook view answers as an unreadable payload (400, never resent): this one stays a 500."""


def esp_signal_received(sender: object, event: AnymailTrackingEvent, esp_name: str = "", **kwargs: object) -> None:
    """The ``anymail.signals.tracking`` receiver (connected in ``apps.py``)."""
    try:
        esp_event_apply(event=event, esp_name=esp_name)
    except Exception as exc:
        raise EspEventFailed(f"{esp_name} {event.event_type} event not applied") from exc
