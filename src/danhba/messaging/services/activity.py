"""What happened to a campaign's messages, as the contact's events and as ``Open``/``Click`` rows.

Every send, open, click, bounce, complaint and unsubscribe is an event of the contact, written
by tracking's one storing path (``tracking.services.server``) from the internal source "email",
with the names of Segment's email spec:

- "Email Sent" (the mail server took the message; "Email Delivered" in Segment's spec is the
  receiving side's word, which only an ESP's webhook can give),
- "Email Opened", "Email Link Clicked", "Email Bounced", "Email Marked as Spam", "Unsubscribed",

with ``campaign_id``, ``campaign`` (its name), ``send_id`` and, for opens and clicks,
``machine``/``machine_reason`` and the link's ``url``. The messageId of a send, bounce,
complaint or unsubscribe is fixed by what it is about (kind + send), so a job that runs again
after a crash stores nothing twice.

Opens and clicks arrive through the inbox (``views/tracked.py``); when the worker stores them,
:func:`activity_from_events` (a ``tracking.events_stored`` listener) writes their ``Open`` and
``Click`` rows in the same transaction and applies the rules that need a send's other clicks:
the hidden trap link and every link of the email followed within one second make the send's
clicks of that moment a machine's; a person's click implies an open (an ``implied`` Open when
the send has no human open yet: images are often blocked).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max

from danhba.messaging import compose, tracked
from danhba.messaging.liquid import TemplateProblem
from danhba.messaging.models import Campaign, CampaignLink, Click, Machine, Open, Send
from danhba.tracking import spec
from danhba.tracking.hooks import StoredEvents, Warning
from danhba.tracking.models import Source
from danhba.tracking.services.messages import Message
from danhba.tracking.services.server import ServerEvent, server_events_store, server_events_update

SOURCE = spec.EMAIL_SOURCE  # the internal source of email activity (segments read it by its key)
SENT, OPENED, CLICKED = spec.EMAIL_SENT, spec.EMAIL_OPENED, spec.EMAIL_CLICKED
BOUNCED, COMPLAINED, UNSUBSCRIBED = spec.EMAIL_BOUNCED, spec.EMAIL_COMPLAINED, spec.UNSUBSCRIBED
# Clicks of one send this close to a trap click are the same scanner's.
TRAP_WINDOW = dt.timedelta(seconds=10)
SAME_SECOND = dt.timedelta(seconds=1)


# --- links --------------------------------------------------------------------------------------


def campaign_links(campaign: Campaign, html: str) -> dict[str, int]:
    """The campaign's tracked links (address → link id), stored on first use: the template's
    links are fixed once the campaign is scheduled, so every run finds the same ids."""
    urls = tracked.trackable(html)
    if urls:
        CampaignLink.objects.bulk_create(
            [CampaignLink(campaign=campaign, position=i, url=url) for i, url in enumerate(urls, start=1)],
            ignore_conflicts=True,
        )
    return dict(CampaignLink.objects.filter(campaign=campaign).values_list("url", "pk"))


def campaign_link(campaign: Campaign, url: str) -> int:
    """The id of the campaign's link to ``url``, stored after the others when it is new (a link an
    ESP reports that danhba did not track). Safe when two webhooks store the same new links at
    once: an insert that loses the race for a position changes nothing, and the next is tried."""
    for _attempt in range(20):
        found = CampaignLink.objects.filter(campaign=campaign, url=url).order_by("position").values_list("pk")
        if first := found.first():
            return int(first[0])
        top = CampaignLink.objects.filter(campaign=campaign).aggregate(top=Max("position"))["top"] or 0
        CampaignLink.objects.bulk_create(
            [CampaignLink(campaign=campaign, position=top + 1, url=url)], ignore_conflicts=True
        )
    raise RuntimeError(f"campaign {campaign.pk}: no position free for a new link")


# Per process: (campaign, content key) → its links; a campaign's content is fixed once scheduled.
_links: dict[tuple[int, str], dict[str, int]] = {}


def tracked_links(campaign: Campaign) -> dict[str, int]:
    """``campaign_links`` of the campaign's copied template (MJML compiled), once per process."""
    key = (campaign.pk, str(campaign.content.get("key", "")))
    found = _links.get(key)
    if found is None:
        body = str(campaign.content.get("body", ""))
        if campaign.content.get("mjml") and body.strip():
            try:
                body = compose.mjml_to_html(body)
            except TemplateProblem:
                body = ""  # the run fails these messages with the author's error
        found = campaign_links(campaign, body)
        if len(_links) > 100:
            _links.clear()
        _links[key] = found
    return found


# --- events of sends, bounces, complaints, unsubscribes --------------------------------------------


def _event(
    name: str, send: Send, campaign_name: str, at: dt.datetime | None, kind: str = "", **extra: Any
) -> ServerEvent:
    return ServerEvent(
        contact_id=send.contact_id,
        name=name,
        message_id=f"email-{kind or name.split()[-1].lower()}-{send.pk}",
        properties={"campaign_id": send.campaign_id, "campaign": campaign_name, "send_id": send.pk, **extra},
        timestamp=at,
    )


def sends_recorded(*, campaign: Campaign, send_ids: Iterable[int] = (), since: dt.datetime | None = None) -> int:
    """ "Email Sent" for the sent rows among ``send_ids`` (after a batch), or sent since ``since``
    (a run taking over from a dead one: what it sent after its last heartbeat). Returns how many
    events were new."""
    rows = Send.objects.filter(campaign=campaign, state=Send.State.SENT)
    rows = rows.filter(sent_at__gte=since) if since is not None else rows.filter(pk__in=list(send_ids))
    events = [
        _event(SENT, s, campaign.name, s.sent_at) for s in rows.only("pk", "contact_id", "campaign_id", "sent_at")
    ]
    if not events:
        return 0
    with transaction.atomic():
        return server_events_store(source=SOURCE, events=events).accepted


def bounce_recorded(*, send: Send, hard: bool, status: str = "") -> None:
    name = Campaign.objects.filter(pk=send.campaign_id).values_list("name", flat=True).first() or ""
    bounce_type = "hard" if hard else "soft"
    event = _event(BOUNCED, send, name, None, kind=f"bounced-{bounce_type}", bounce_type=bounce_type, status=status)
    server_events_store(source=SOURCE, events=[event])


def unsubscribe_recorded(*, contact_id: int, campaign_id: int, send_id: int | None, complaint: bool = False) -> None:
    """An unsubscribe from a campaign's email (its link, the preference centre, the ESP's link),
    or a spam complaint about it (an ESP's report): once per contact and campaign. ``send_id``:
    the message it answers (the campaign's last to the contact)."""
    name = Campaign.objects.filter(pk=campaign_id).values_list("name", flat=True).first() or ""
    kind = "complained" if complaint else "unsubscribed"
    event = ServerEvent(
        contact_id=contact_id,
        name=COMPLAINED if complaint else UNSUBSCRIBED,
        message_id=f"email-{kind}-{campaign_id}-{contact_id}",
        properties={"campaign_id": campaign_id or None, "campaign": name, "send_id": send_id},
    )
    server_events_store(source=SOURCE, events=[event])


# --- opens and clicks: the rows --------------------------------------------------------------------


def _is_ours(stored: StoredEvents) -> bool:
    return stored.source.kind == Source.Kind.INTERNAL and stored.source.key_hash == f"internal:{SOURCE}"


def _fields(m: Message) -> dict[str, Any]:
    p = m.properties
    return {
        "send_id": p.get("send_id"), "campaign_id": p.get("campaign_id"), "contact_id": m.contact_id, "at": m.timestamp,
        "ip_network": str(m.context.get("ip", ""))[:50], "user_agent": str(m.context.get("userAgent", ""))[:300],
        "machine": bool(p.get("machine")), "machine_reason": str(p.get("machine_reason") or ""),
    }  # fmt: skip


def activity_from_events(stored: StoredEvents) -> list[Warning]:
    """The ``tracking.events_stored`` listener: Open and Click rows for the email source's fresh
    "Email Opened" and "Email Link Clicked" events (a send deleted since is skipped)."""
    if not _is_ours(stored):
        return []
    wanted = [m for m in stored.messages if m.name in (OPENED, CLICKED) and m.contact_id is not None]
    if not wanted:
        return []
    sends = set(Send.objects.filter(pk__in={m.properties.get("send_id") for m in wanted}).values_list("pk", flat=True))
    links = set(
        CampaignLink.objects.filter(pk__in={m.properties.get("link_id") for m in wanted} - {None}).values_list(
            "pk", flat=True
        )
    )
    opens = [Open(**_fields(m)) for m in wanted if m.name == OPENED and m.properties.get("send_id") in sends]
    clicks = [
        Click(**_fields(m), link_id=m.properties.get("link_id"))
        for m in wanted
        if m.name == CLICKED and m.properties.get("send_id") in sends and m.properties.get("link_id") in links | {None}
    ]
    Open.objects.bulk_create(opens)
    Click.objects.bulk_create(clicks)
    if clicks:
        _machine_bursts(clicks)
        _implied_opens(clicks)
    return []


def _machine_bursts(clicks: list[Click]) -> None:
    """A send's clicks around a trap click, or covering every link within one second, are a
    scanner's: flagged machine (the new ones and those before them)."""
    link_counts: dict[int, int] = {}
    for send_id, new in _by_send(clicks).items():
        start, end = min(c.at for c in new) - TRAP_WINDOW, max(c.at for c in new) + TRAP_WINDOW
        around = list(Click.objects.filter(send_id=send_id, at__range=(start, end)).order_by("at"))
        campaign_id = new[0].campaign_id
        if campaign_id not in link_counts:
            link_counts[campaign_id] = CampaignLink.objects.filter(campaign_id=campaign_id).count()
        flag = _burst_flags(around, link_counts[campaign_id])
        for c in new:
            if c.pk in flag:
                c.machine = True
        changed = [c.pk for c in around if c.pk in flag and not c.machine_reason]
        _flag_machine(new[0].contact_id, around, {pk: flag[pk] for pk in changed})
        if changed and not Click.objects.filter(send_id=send_id, machine=False).exists():
            Open.objects.filter(send_id=send_id, implied=True).delete()  # implied by a click now a machine's


def _burst_flags(around: list[Click], links: int) -> dict[int, str]:
    """Why each click of ``around`` (one send's, in time order) is a machine's: near a trap
    click, or one of a burst that covers every tracked link (when there are two or more)."""
    flag: dict[int, str] = {}
    for trap in (c for c in around if c.link_id is None):
        flag.update({c.pk: Machine.TRAP for c in around if abs(c.at - trap.at) <= TRAP_WINDOW})
    if links < 2:
        return flag
    for c in around:
        together = [o for o in around if o.link_id is not None and abs(o.at - c.at) <= SAME_SECOND]
        if len({o.link_id for o in together}) >= links:
            flag.update({o.pk: flag.get(o.pk, Machine.ALL_LINKS) for o in together})
    return flag


def _flag_machine(contact_id: int, around: list[Click], reasons: dict[int, str]) -> None:
    """Mark the clicks (and their events: segments count people's clicks only) as a machine's."""
    for reason in set(reasons.values()):
        Click.objects.filter(pk__in=[pk for pk, why in reasons.items() if why == reason]).update(
            machine=True, machine_reason=reason
        )
        server_events_update(
            source=SOURCE, contact_id=contact_id, name=CLICKED,
            timestamps=[c.at for c in around if reasons.get(c.pk) == reason],
            properties={"machine": True, "machine_reason": reason},
        )  # fmt: skip


def _implied_opens(clicks: list[Click]) -> None:
    """A person's click is an open: one implied Open for a send that has no human open yet."""
    human = _by_send([c for c in clicks if not c.machine])
    if not human:
        return
    opened = set(Open.objects.filter(send_id__in=list(human), machine=False).values_list("send_id", flat=True))
    Open.objects.bulk_create(
        [
            Open(
                send_id=send_id,
                campaign_id=c[0].campaign_id,
                contact_id=c[0].contact_id,
                at=c[0].at,
                ip_network=c[0].ip_network,
                user_agent=c[0].user_agent,
                implied=True,
            )
            for send_id, c in human.items()
            if send_id not in opened
        ]
    )


def _by_send(clicks: list[Click]) -> dict[int, list[Click]]:
    out: dict[int, list[Click]] = defaultdict(list)
    for c in clicks:
        out[c.send_id].append(c)
    return out
