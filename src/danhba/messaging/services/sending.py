"""The send job: a campaign's queued recipients, in keyset batches, over several SMTP
connections at once.

Durability: every recipient has a ``Send`` row before its message leaves. A batch is claimed
(queued → sending, with the job's token and the row's Message-ID) in one transaction, the
messages go out, and the outcome is written back (sent, or failed with the server's answer). A
worker killed mid-batch leaves its rows in "sending": the next run (the job woken again, or the
minutely sweep once the heartbeat is older than ``MESSAGING_SEND_LEASE_SECONDS``) sends them again with the same
Message-ID — they may have left before the kill — and counts them in ``Campaign.resent``. No
other recipient can get the message twice: a row leaves "queued" only by a claim.

The template is compiled once per run; each recipient gets its own tokens (their fields,
signed unsubscribe link) and, for marketing, the footer and the List-Unsubscribe headers.
Suppression and the frequency cap are checked again just before each batch leaves."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import secrets
import smtplib
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from danhba.contacts.models import Contact
from danhba.core import jobs
from danhba.messaging import compose, transport
from danhba.messaging.bounces import return_path
from danhba.messaging.compose import Compiled, Footer, Parts
from danhba.messaging.links import Recipient, make_token, site_url
from danhba.messaging.liquid import TemplateProblem
from danhba.messaging.models import Campaign, Send
from danhba.messaging.selectors import campaign_tokens
from danhba.messaging.services.campaigns import capped_contacts, consent_reasons, counts_refresh, suppressed_addresses

log = logging.getLogger(__name__)

MAX_RUN_SECONDS = 60
MAX_ATTEMPTS = 5
SERVER_DOWN_RETRY_SECONDS = 30.0


@dataclass
class RunResult:
    sent: int = 0
    failed: int = 0
    excluded: int = 0
    resent: int = 0
    unsent: int = 0  # back to the queue: the mail server could not be reached
    again_in: float | None = None  # seconds until the job should run again (throttle, more to do)


def lease() -> dt.timedelta:
    """A run that has not beaten its heartbeat for this long is presumed dead and taken over."""
    return dt.timedelta(seconds=settings.MESSAGING_SEND_LEASE_SECONDS)


def message_id(campaign: Campaign, send_id: int) -> str:
    """Fixed per recipient, so a message sent again after a crash has the same Message-ID."""
    domain = str(campaign.content.get("sender_email", "")).rpartition("@")[2] or "danhba.local"
    return f"<c{campaign.pk}.r{send_id}.{campaign.content.get('key', '')}@{domain}>"


def _take(campaign_id: int, token: str, now: dt.datetime) -> Campaign | None:
    """Hold the campaign for this run: only one run sends a campaign at a time."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != Campaign.Status.SENDING:
            return None
        if campaign.run_token and campaign.heartbeat_at and now - campaign.heartbeat_at < lease():
            return None
        campaign.run_token = token
        campaign.heartbeat_at = now
        campaign.save(update_fields=["run_token", "heartbeat_at"])
    return campaign


def _release(campaign: Campaign, token: str) -> None:
    Campaign.objects.filter(pk=campaign.pk, run_token=token).update(run_token="", heartbeat_at=None)


def _still_mine(campaign: Campaign, token: str) -> bool:
    """Beat the heartbeat; False when the campaign was paused or cancelled (or taken over)."""
    return bool(
        Campaign.objects.filter(pk=campaign.pk, run_token=token, status=Campaign.Status.SENDING).update(
            heartbeat_at=timezone.now()
        )
    )


def _claim(campaign: Campaign, token: str, limit: int) -> list[Send]:
    """The next queued rows in id order, held for this run (the token; they stay "queued"
    until each one is about to leave), each with its Message-ID, in one transaction."""
    with transaction.atomic():
        ids = list(
            Send.objects.filter(campaign=campaign, state=Send.State.QUEUED, claim_token="")
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        # The Message-ID of message_id(), written by the database in the same statement.
        prefix, _sep, suffix = message_id(campaign, 0).partition(".r0.")
        mid = Concat(Value(f"{prefix}.r"), Cast("id", CharField()), Value(f".{suffix}"), output_field=CharField())
        Send.objects.filter(pk__in=ids, state=Send.State.QUEUED, claim_token="").update(
            claim_token=token, message_id=mid
        )
        rows = list(Send.objects.filter(pk__in=ids, claim_token=token, state=Send.State.QUEUED).order_by("id"))
    return rows


def _in_flight(campaign: Campaign, token: str) -> list[Send]:
    """What a dead run left: rows it held but had not started go back to the queue; rows in
    "sending" were on a connection at the kill (at most one per connection) and may have left:
    they are ours, to send again with their Message-ID (after ``MAX_ATTEMPTS`` a row is failed)."""
    Send.objects.filter(campaign=campaign, state=Send.State.QUEUED).exclude(claim_token="").exclude(
        claim_token=token
    ).update(claim_token="")
    left = Send.objects.filter(campaign=campaign, state=Send.State.SENDING).exclude(claim_token=token)
    left.filter(attempts__gte=MAX_ATTEMPTS).update(state=Send.State.FAILED, error="gave up after repeated attempts")
    rows = list(left.filter(attempts__lt=MAX_ATTEMPTS))
    if rows:
        Send.objects.filter(pk__in=[r.pk for r in rows]).update(claim_token=token)
        Campaign.objects.filter(pk=campaign.pk).update(resent=F("resent") + len(rows))
    return rows


def _compiled(campaign: Campaign) -> Compiled:
    content = campaign.content
    parts = Parts(
        subject=content["subject"],
        preheader=content.get("preheader", ""),
        body=content.get("body", ""),
        text_body=content.get("text_body", ""),
        mjml=bool(content.get("mjml")),
        marketing=bool(content.get("marketing", True)),
    )
    return compose.compile_parts(parts)


def _headers(campaign: Campaign, recipient: Recipient) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe (HTTPS URL, mailto) on marketing email."""
    token = make_token(recipient)
    mailto = settings.MESSAGING_UNSUBSCRIBE_MAILTO or campaign.content.get("sender_email", "")
    url = site_url(f"/email/unsubscribe/{token}/")
    return {
        "List-Unsubscribe": f"<{url}>, <mailto:{mailto}?subject=unsubscribe%20{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _messages(
    campaign: Campaign, compiled: Compiled, rows: Sequence[Send]
) -> list[tuple[Send, EmailMultiAlternatives | str]]:
    """Each row with its message, or with the reason it could not be rendered."""
    contacts = Contact.objects.filter(pk__in=[r.contact_id for r in rows]).select_related("owner", "lifecycle_stage")
    tokens = campaign_tokens(contacts, campaign_id=campaign.pk)
    content = campaign.content
    out: list[tuple[Send, EmailMultiAlternatives | str]] = []
    for row in rows:
        data = tokens.get(row.contact_id)
        if data is None:
            out.append((row, "the contact was deleted"))
            continue
        headers = {"X-Danhba-Campaign": str(campaign.pk)}
        footer = None
        if compiled.marketing:
            headers.update(_headers(campaign, Recipient(row.contact_id, campaign.pk)))
            links = data["links"]
            footer = Footer(
                identity=settings.MESSAGING_SENDER_IDENTITY or content.get("sender_name", ""),
                address=settings.MESSAGING_POSTAL_ADDRESS,
                unsubscribe=links["unsubscribe"],
                preferences=links["preferences"],
            )
        try:
            rendered = compose.render(compiled, data, ad_label=settings.MESSAGING_AD_LABEL, footer=footer)
        except TemplateProblem as exc:
            out.append((row, str(exc)))
            continue
        message = transport.build_message(
            rendered,
            to=row.email,
            from_address=content.get("sender_email") or settings.DEFAULT_FROM_EMAIL,
            from_name=content.get("sender_name", ""),
            reply_to=content.get("reply_to", ""),
            message_id=row.message_id or message_id(campaign, row.pk),
            headers=headers,
            envelope_sender=return_path(row.pk) if settings.BOUNCE_ADDRESS else "",
        )
        out.append((row, message))
    return out


# What a lane reports for one message: sent, refused for good (failed), or unknown (the
# connection broke during the exchange: the row stays "sending" and the next run sends it again).
# NOT_SENT: no connection could be opened, so the message certainly did not leave: back to the queue.
SENT, REFUSED, UNKNOWN, NOT_SENT = "sent", "refused", "unknown", "not_sent"


class _Lane(threading.Thread):
    """One SMTP connection. It sends one message at a time and waits for the run to record the
    outcome before it gets the next, so at most one message per connection has left without
    its row saying so: that bounds what a ``kill -9`` can duplicate."""

    def __init__(self, index: int, outbox: queue.Queue[tuple[int, int, str, str]]) -> None:
        super().__init__(daemon=True, name=f"campaign-lane-{index}")
        self.index = index
        self.inbox: queue.Queue[tuple[Send, EmailMultiAlternatives] | None] = queue.Queue()
        self.outbox = outbox
        self.conn: Any = None

    def run(self) -> None:
        try:
            while (item := self.inbox.get()) is not None:
                row, message = item
                outcome, error = self._send(message)
                self.outbox.put((self.index, row.pk, outcome, error))
        finally:
            self._close()

    def _send(self, message: EmailMultiAlternatives) -> tuple[str, str]:
        if self.conn is None:
            try:
                self.conn = transport.connection()
                self.conn.open()
            except (smtplib.SMTPException, OSError) as exc:
                self.conn = None
                return NOT_SENT, str(exc)[:500]
        try:
            self.conn.send_messages([message])
            return SENT, ""
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            return REFUSED, str(exc)[:500]
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("campaign send: connection failed: %s", exc)
            self._close()
            return UNKNOWN, str(exc)[:500]

    def _close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.conn.close()
            self.conn = None


def _record(done: list[tuple[int, int, str, str]], starting: list[int], result: RunResult) -> None:
    """One transaction: the outcomes that came back, and the rows about to leave ("sending")."""
    now = timezone.now()
    with transaction.atomic():
        sent = [pk for _lane, pk, outcome, _e in done if outcome == SENT]
        if sent:
            Send.objects.filter(pk__in=sent).update(state=Send.State.SENT, sent_at=now, error="")
        for _lane, pk, outcome, error in done:
            if outcome == REFUSED:
                Send.objects.filter(pk=pk).update(state=Send.State.FAILED, error=error)
            elif outcome == UNKNOWN:
                Send.objects.filter(pk=pk).update(error=error)
            elif outcome == NOT_SENT:
                Send.objects.filter(pk=pk).update(state=Send.State.QUEUED, claim_token="", error=error)
        if starting:
            Send.objects.filter(pk__in=starting).update(state=Send.State.SENDING, attempts=F("attempts") + 1)
    result.sent += len(sent)
    result.failed += sum(1 for d in done if d[2] == REFUSED)
    result.unsent += sum(1 for d in done if d[2] == NOT_SENT)


def _send_over_lanes(ready: list[tuple[Send, EmailMultiAlternatives]], result: RunResult) -> None:
    count = max(1, min(settings.MESSAGING_SEND_CONNECTIONS, len(ready)))
    work = [deque(ready[i::count]) for i in range(count)]
    outbox: queue.Queue[tuple[int, int, str, str]] = queue.Queue()
    lanes = [_Lane(i, outbox) for i in range(count)]
    first = [(lane, work[lane.index].popleft()) for lane in lanes if work[lane.index]]
    _record([], [item[0].pk for _lane, item in first], result)
    for lane in lanes:
        lane.start()
    for lane, item in first:
        lane.inbox.put(item)
    busy = len(first)
    while busy:
        done = [outbox.get()]
        while not outbox.empty():
            done.append(outbox.get_nowait())
        nexts = [(lanes[d[0]], work[d[0]].popleft()) for d in done if work[d[0]]]
        _record(done, [item[0].pk for _lane, item in nexts], result)
        for lane, item in nexts:
            lane.inbox.put(item)
        busy -= len(done) - len(nexts)
    for lane in lanes:
        lane.inbox.put(None)
    for lane in lanes:
        lane.join()


def _recheck(campaign: Campaign, rows: list[Send]) -> tuple[list[Send], list[Send]]:
    """Just before sending: drop addresses suppressed, contacts who withdrew, paused or opted out
    of the topic (the preference centre), and contacts capped since queueing."""
    marketing = bool(campaign.content.get("marketing", True))
    suppressed = suppressed_addresses([r.email for r in rows], marketing=marketing)
    ids = [r.contact_id for r in rows]
    unwilling = consent_reasons(ids, topic_id=campaign.topic_id) if marketing else {}
    capped = capped_contacts(ids) if marketing else set()
    keep, drop = [], []
    for row in rows:
        if row.email in suppressed:
            row.reason = Send.Reason.SUPPRESSED
            drop.append(row)
        elif row.contact_id in unwilling:
            row.reason = unwilling[row.contact_id]
            drop.append(row)
        elif row.contact_id in capped:
            row.reason = Send.Reason.CAPPED
            drop.append(row)
        else:
            keep.append(row)
    if drop:
        for row in drop:
            row.state = Send.State.EXCLUDED
        Send.objects.bulk_update(drop, ["state", "reason"])
    return keep, drop


def _send_rows(campaign: Campaign, compiled: Compiled, rows: list[Send], result: RunResult) -> None:
    rows, dropped = _recheck(campaign, rows)
    result.excluded += len(dropped)
    built = _messages(campaign, compiled, rows)
    for row, problem in built:
        if isinstance(problem, str):
            Send.objects.filter(pk=row.pk).update(state=Send.State.FAILED, error=problem[:500])
            result.failed += 1
    ready = [(row, msg) for row, msg in built if not isinstance(msg, str)]
    if ready:
        _send_over_lanes(ready, result)


def _allowance(campaign: Campaign, now: dt.datetime) -> tuple[int, float | None]:
    """How many may leave now under the throttle, and when to look again if none."""
    batch = settings.MESSAGING_SEND_BATCH
    if not campaign.per_hour:
        return batch, None
    hour_ago = now - dt.timedelta(hours=1)
    recent = Send.objects.filter(campaign=campaign, sent_at__gte=hour_ago).count()
    left = campaign.per_hour - recent
    if left > 0:
        return min(batch, left), None
    return 0, max(5.0, 3600 / campaign.per_hour)


def campaign_run(*, campaign_id: int, max_seconds: float = MAX_RUN_SECONDS) -> RunResult:
    """Send what is due of one campaign for at most ``max_seconds``; ``again_in`` tells the job
    when to run again (more queued, or the throttle's next slot)."""
    result = RunResult()
    token = secrets.token_hex(16)
    campaign = _take(campaign_id, token, timezone.now())
    if campaign is None:
        return result
    started = timezone.now()
    try:
        compiled = _compiled(campaign)
        stale = _in_flight(campaign, token)
        result.resent = len(stale)
        if stale:
            _send_rows(campaign, compiled, stale, result)
        while _still_mine(campaign, token):
            allowed, wait = _allowance(campaign, timezone.now())
            if not allowed:
                result.again_in = wait
                break
            rows = _claim(campaign, token, allowed)
            if not rows:
                _finish(campaign)
                break
            before = (result.sent, result.failed)
            _send_rows(campaign, compiled, rows, result)
            if result.unsent and (result.sent, result.failed) == before:
                result.again_in = SERVER_DOWN_RETRY_SECONDS  # the server is down: try again later
                break
            if (timezone.now() - started).total_seconds() > max_seconds:
                result.again_in = 0
                break
            jobs.yield_to_writers()
    finally:
        # Rows held but not started go back to the queue for whichever run comes next.
        Send.objects.filter(campaign=campaign, state=Send.State.QUEUED, claim_token=token).update(claim_token="")
        _release(campaign, token)
        counts_refresh(campaign)
    return result


def _finish(campaign: Campaign) -> None:
    """Nothing left to claim: the campaign is sent once no row is queued or in flight."""
    if Send.objects.filter(campaign=campaign, state__in=(Send.State.QUEUED, Send.State.SENDING)).exists():
        return
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
        status=Campaign.Status.SENT, finished_at=timezone.now()
    )


def campaigns_stalled(now: dt.datetime | None = None) -> list[int]:
    """Campaigns being sent whose run died (heartbeat older than the lease) or that no run
    holds: the minutely sweep wakes their job."""
    now = now or timezone.now()
    rows = Campaign.objects.filter(status=Campaign.Status.SENDING)
    return [c.pk for c in rows if not c.run_token or not c.heartbeat_at or now - c.heartbeat_at >= lease()]
