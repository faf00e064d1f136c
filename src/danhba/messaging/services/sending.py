"""The send job: a campaign's queued recipients over several connections at once.

Durability: every recipient has a ``Send`` row before its message leaves. Rows are claimed a
batch at a time (held by the run's token, still "queued", each given its Message-ID); a row
becomes "sending" in the same transaction that records its connection's previous message, just
before it goes on that connection, and "sent" or "failed" once the server answered — so at most
one message per connection has left without its row saying so. A worker killed mid-run leaves
only those in "sending": the next run (the job woken again, or the minutely sweep once the
heartbeat is older than ``MESSAGING_SEND_LEASE_SECONDS``) sends them again with the same
Message-ID — they may have left before the kill — and counts them in ``Campaign.resent``; the
rows it held go back to the queue. No other recipient can get the message twice: a row leaves
"queued" only through a lane.

The template is compiled once per run; each recipient gets its own tokens (their fields,
signed unsubscribe link) and, for marketing, the footer and the List-Unsubscribe headers.
Suppression, consent and the frequency cap are checked again as each batch is claimed."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import queue
import secrets
import smtplib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, transaction
from django.db.models import CharField, Exists, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from danhba.contacts.models import Contact
from danhba.core.db import background_checkpoints
from danhba.messaging import compose, tracked, transport
from danhba.messaging.bounces import return_path
from danhba.messaging.compose import Compiled, Footer, Parts
from danhba.messaging.links import Recipient, consent_links, make_token, site_url
from danhba.messaging.liquid import TemplateProblem
from danhba.messaging.models import Campaign, Send
from danhba.messaging.selectors import campaign_tokens
from danhba.messaging.services.activity import sends_recorded, tracked_links
from danhba.messaging.services.campaigns import counts_refresh, send_blockers
from danhba.messaging.tracked import Tracked

log = logging.getLogger(__name__)

MAX_RUN_SECONDS = 60
# Messages rendered between two looks at the lanes: few, so a lane that is done waits little.
BUILD_CHUNK = 8
# The run beats its heartbeat (and notices a pause) at least this often.
HEARTBEAT_SECONDS = 1.0
# While a run sends, the interpreter passes between threads this often (Python's default: 5 ms).
# A lane woken by its server's reply waits for the run's thread, which is rendering, to let go:
# four replies per message, up to 5 ms each, starved the lanes (docs/decisions/0008).
SWITCH_SECONDS = 0.0005
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
        if campaign is not None and _automated_reopened(campaign):
            campaign.status = Campaign.Status.SENDING
            campaign.save(update_fields=["status"])
        if campaign is None or campaign.status != Campaign.Status.SENDING:
            return None
        if campaign.run_token and campaign.heartbeat_at and now - campaign.heartbeat_at < lease():
            return None
        campaign.run_token = token
        campaign.heartbeat_at = now
        campaign.save(update_fields=["run_token", "heartbeat_at"])
    return campaign


def _automated_reopened(campaign: Campaign) -> bool:
    """An automated campaign marked sent while a workflow queued more for it: the send job's
    "nothing left" and a workflow's queueing (which does not lock the campaign row) can cross,
    and the rows queued in between would otherwise wait for ever in a sent campaign."""
    return (
        campaign.status == Campaign.Status.SENT
        and bool(campaign.content.get("automated"))
        and Send.objects.filter(campaign=campaign, state=Send.State.QUEUED).exists()
    )


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


def _headers(campaign: Campaign, token: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe (HTTPS URL, mailto) on marketing email."""
    mailto = settings.MESSAGING_UNSUBSCRIBE_MAILTO or campaign.content.get("sender_email", "")
    url = site_url(f"/email/unsubscribe/{token}/")
    return {
        "List-Unsubscribe": f"<{url}>, <mailto:{mailto}?subject=unsubscribe%20{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def campaign_mail(campaign: Campaign) -> transport.CampaignMail:
    """How this campaign's messages are built and sent (the headers every one of them has)."""
    content = campaign.content
    return transport.CampaignMail(
        from_address=content.get("sender_email") or settings.DEFAULT_FROM_EMAIL,
        from_name=content.get("sender_name", ""),
        reply_to=content.get("reply_to", ""),
        headers={"X-Danhba-Campaign": str(campaign.pk)},
    )


def _tokens(campaign: Campaign, rows: Sequence[Send]) -> dict[int, dict[str, Any]]:
    """The recipients' tokens, without links: :func:`_message` adds them with the token it
    also puts in the headers (one signature per recipient)."""
    contacts = Contact.objects.filter(pk__in=[r.contact_id for r in rows]).select_related("owner", "lifecycle_stage")
    return campaign_tokens(contacts, campaign_id=campaign.pk, links=False)


def _message(
    campaign: Campaign, compiled: Compiled, mail: transport.CampaignMail, row: Send, data: dict[str, Any] | None
) -> transport.Outgoing | str:
    """One recipient's message, or the reason it cannot be rendered."""
    if data is None:
        return "the contact was deleted"
    recipient = Recipient(row.contact_id, campaign.pk)
    token = make_token(recipient)
    data["links"] = consent_links(recipient, token=token)
    headers, footer = {}, None
    if compiled.marketing:
        headers = _headers(campaign, token)
        footer = Footer(
            identity=settings.MESSAGING_SENDER_IDENTITY or campaign.content.get("sender_name", ""),
            address=settings.MESSAGING_POSTAL_ADDRESS,
            unsubscribe=data["links"]["unsubscribe"],
            preferences=data["links"]["preferences"],
        )
    try:
        rendered = compose.render(compiled, data, ad_label=settings.MESSAGING_AD_LABEL, footer=footer)
    except TemplateProblem as exc:
        return str(exc)
    if campaign.tracking:  # the open pixel and click redirects (tracked.py)
        base = Tracked(row.pk, row.contact_id, campaign.pk, int(time.time()))
        rendered = dataclasses.replace(rendered, html=tracked.track(rendered.html, tracked_links(campaign), base))
    return mail.build(
        rendered,
        to=row.email,
        message_id=row.message_id or message_id(campaign, row.pk),
        headers=headers,
        envelope_sender=return_path(row.pk) if settings.BOUNCE_ADDRESS else "",
    )


def _messages(
    campaign: Campaign, compiled: Compiled, mail: transport.CampaignMail, rows: Sequence[Send]
) -> list[tuple[Send, transport.Outgoing | str]]:
    """Each row with its message, or with the reason it could not be rendered."""
    tokens = _tokens(campaign, rows)
    return [(row, _message(campaign, compiled, mail, row, tokens.get(row.contact_id))) for row in rows]


# What a lane reports for one message: sent, refused for good (failed), or unknown (the
# connection broke during the exchange: the row stays "sending" and the next run sends it again).
# NOT_SENT: no connection could be opened, so the message certainly did not leave: back to the queue.
SENT, REFUSED, UNKNOWN, NOT_SENT = "sent", "refused", "unknown", "not_sent"
Outcome = tuple[int, int, str, str]  # lane, Send id, outcome, error (sent: the ESP's message id)


class _Lane(threading.Thread):
    """One connection, open for the whole run. It sends one message at a time and waits for the
    run to record the outcome before it gets the next, so at most one message per connection
    has left without its row saying so: that bounds what a ``kill -9`` can duplicate. It never
    reads the database."""

    def __init__(self, index: int, sender: transport.Sender, outbox: queue.SimpleQueue[Outcome]) -> None:
        super().__init__(daemon=True, name=f"campaign-lane-{index}")
        self.index = index
        self.sender = sender
        self.inbox: queue.SimpleQueue[tuple[int, transport.Outgoing] | None] = queue.SimpleQueue()
        self.outbox = outbox

    def run(self) -> None:
        try:
            while (item := self.inbox.get()) is not None:
                pk, message = item
                outcome, error = self._send(message)
                self.outbox.put((self.index, pk, outcome, error))
        finally:
            self._close()

    def _send(self, message: transport.Outgoing) -> tuple[str, str]:
        if not self.sender.opened:
            try:
                self.sender.open()
            except Exception as exc:  # any transport: nothing left, the row goes back
                self._close()
                return NOT_SENT, str(exc)[:500]
        try:
            return SENT, self.sender.send(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            return REFUSED, str(exc)[:500]
        except Exception as exc:  # a broken connection or an ESP error: may have left
            log.warning("campaign send: connection failed: %s", exc)
            self._close()
            return UNKNOWN, str(exc)[:500]

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self.sender.close()
        self.sender.opened = False


def _mark(sent: Sequence[int], starting: Sequence[int], now: dt.datetime) -> None:
    """One statement: the rows that left are sent (with the time), the rows about to leave are
    "sending" (one more attempt)."""
    every = ", ".join(str(int(pk)) for pk in (*sent, *starting))
    going = ", ".join(str(int(pk)) for pk in starting) or "NULL"
    sql = (
        f"UPDATE {Send._meta.db_table} SET "  # noqa: S608 - integers and constants only
        f"state = CASE WHEN id IN ({going}) THEN %s ELSE %s END, "
        f"attempts = attempts + CASE WHEN id IN ({going}) THEN 1 ELSE 0 END, "
        f"sent_at = CASE WHEN id IN ({going}) THEN sent_at ELSE %s END, error = '' "
        f"WHERE id IN ({every})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Send.State.SENDING, Send.State.SENT, connection.ops.adapt_datetimefield_value(now)])


def _record(done: Sequence[Outcome], starting: Sequence[int], result: RunResult) -> None:
    """One transaction: the outcomes that came back, and the rows about to leave ("sending").
    Nothing else may go between this and the lanes getting their next messages."""
    sent = [pk for _lane, pk, outcome, _e in done if outcome == SENT]
    if len(sent) == len(done) and not any(error for *_rest, error in done):
        _mark(sent, starting, timezone.now())  # the usual round: one statement, its own transaction
    else:
        with transaction.atomic():
            _mark_all(done, sent, starting)
    result.sent += len(sent)
    result.failed += sum(1 for d in done if d[2] == REFUSED)
    result.unsent += sum(1 for d in done if d[2] == NOT_SENT)


def _mark_all(done: Sequence[Outcome], sent: Sequence[int], starting: Sequence[int]) -> None:
    """A round with refusals, broken connections or an ESP's message ids: those rows one by one."""
    if sent or starting:
        _mark(sent, starting, timezone.now())
    for _lane, pk, outcome, error in done:
        if outcome == SENT and error:  # an ESP's own id for the message: its webhooks use it
            Send.objects.filter(pk=pk).update(esp_message_id=error)
        elif outcome == REFUSED:
            Send.objects.filter(pk=pk).update(state=Send.State.FAILED, error=error)
        elif outcome == UNKNOWN:
            Send.objects.filter(pk=pk).update(error=error)
        elif outcome == NOT_SENT:
            Send.objects.filter(pk=pk).update(state=Send.State.QUEUED, claim_token="", error=error)


def _recheck(campaign: Campaign, rows: list[Send]) -> tuple[list[Send], list[Send]]:
    """Just before sending: drop addresses suppressed, contacts who withdrew, paused or opted out
    of the topic (the preference centre), and contacts capped since queueing."""
    blocked = send_blockers(
        [(r.contact_id, r.email) for r in rows],
        marketing=bool(campaign.content.get("marketing", True)),
        topic_id=campaign.topic_id,
        campaign_id=campaign.pk,
    )
    keep, drop = [], []
    for row in rows:
        if row.contact_id in blocked:
            row.state, row.reason = Send.State.EXCLUDED, blocked[row.contact_id]
            drop.append(row)
        else:
            keep.append(row)
    if drop:
        Send.objects.bulk_update(drop, ["state", "reason"])
    return keep, drop


class _Run:
    """One run's send loop, all in the run's thread except the lanes' sockets. Rows are claimed
    a batch at a time (checked again, their tokens read), rendered a few at a time between two
    looks at the lanes, and every round of outcomes is recorded in one transaction that also
    marks the rows the idle lanes get next: the lanes send while the next messages are built."""

    def __init__(self, campaign: Campaign, token: str, result: RunResult, max_seconds: float) -> None:
        self.campaign, self.token, self.result = campaign, token, result
        self.compiled = _compiled(campaign)
        self.mail = campaign_mail(campaign)
        self.outbox: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        count = max(1, settings.MESSAGING_SEND_CONNECTIONS)
        self.lanes = [_Lane(i, self.mail.sender(), self.outbox) for i in range(count)]
        self.idle = deque(self.lanes)
        self.held: deque[Send] = deque()  # claimed by this run, not rendered yet
        self.tokens: dict[int, dict[str, Any]] = {}
        self.ready: deque[tuple[int, transport.Outgoing]] = deque()  # rendered, waiting for a lane
        self.in_flight = 0  # messages on the lanes
        self.claiming = True  # False once nothing more is claimed in this run
        self.exhausted = False  # the queue is empty: the campaign may be finished
        self.deadline = time.monotonic() + max_seconds
        self.beat = time.monotonic()
        self.sent: list[int] = []  # sent since the last heartbeat: their "Email Sent" events are due
        # On SQLite, a round's commit does not copy the write-ahead log into the file: a thread
        # does, about once a second (core.db.background_checkpoints, decision 0007).
        self.checkpoint_soon: Callable[[], None] = lambda: None

    def hold(self, rows: list[Send]) -> None:
        keep, dropped = _recheck(self.campaign, rows)
        self.result.excluded += len(dropped)
        self.tokens.update(_tokens(self.campaign, keep))
        self.held.extend(keep)

    def loop(self) -> None:
        for lane in self.lanes:
            lane.start()
        try:
            while True:
                self._round(self._collect())
                if self._wants_build():
                    self._build()
                elif self.in_flight == 0 and not self.ready:
                    break
        finally:
            for lane in self.lanes:
                lane.inbox.put(None)
            for lane in self.lanes:
                lane.join()
        self._sent_events()
        if self.exhausted:
            _finish(self.campaign)

    def _wants_build(self) -> bool:
        """A few messages ready beyond what the lanes carry, so a lane coming back finds one."""
        return len(self.ready) < 2 * len(self.lanes) and bool(self.held or self.claiming)

    def _collect(self) -> list[Outcome]:
        """The outcomes back from the lanes: wait for one when there is nothing to render."""
        done: list[Outcome] = []
        if self.in_flight and not self._wants_build():
            with contextlib.suppress(queue.Empty):
                done.append(self.outbox.get(timeout=HEARTBEAT_SECONDS))
        while True:
            try:
                done.append(self.outbox.get_nowait())
            except queue.Empty:
                return done

    def _round(self, done: list[Outcome]) -> None:
        for lane_index, _pk, outcome, _error in done:
            self.in_flight -= 1
            if outcome == NOT_SENT:  # the server cannot be reached: send nothing more in this run
                self._stop(hand_out=False)
            else:
                self.idle.append(self.lanes[lane_index])
        if time.monotonic() - self.beat > HEARTBEAT_SECONDS:
            self._beat()
        hand = []
        while self.idle and self.ready:
            hand.append((self.idle.popleft(), self.ready.popleft()))
        if done or hand:
            _record(done, [pk for _lane, (pk, _m) in hand], self.result)
            for lane, item in hand:
                lane.inbox.put(item)
            self.in_flight += len(hand)
        self.sent.extend(pk for _lane, pk, outcome, _error in done if outcome == SENT)  # recorded above

    def _sent_events(self) -> None:
        """ "Email Sent" events of what was sent since the last heartbeat, in one call: before
        each heartbeat, so a run taking over from this one records those after it."""
        if self.sent:
            sends_recorded(campaign=self.campaign, send_ids=self.sent)
            self.sent = []

    def _beat(self) -> None:
        self._sent_events()
        self.beat = time.monotonic()
        self.checkpoint_soon()
        if not _still_mine(self.campaign, self.token):  # paused, cancelled or taken over
            self._stop(hand_out=False)

    def _stop(self, *, hand_out: bool) -> None:
        """Claim nothing more; with ``hand_out`` False, send nothing more either: what is held
        goes back to the queue at the end of the run."""
        self.claiming = False
        if not hand_out:
            self.held.clear()
            self.ready.clear()

    def _build(self) -> None:
        if not self.held:
            self._claim()
        for _ in range(min(BUILD_CHUNK, len(self.held))):
            row = self.held.popleft()
            built = _message(self.campaign, self.compiled, self.mail, row, self.tokens.pop(row.contact_id, None))
            if isinstance(built, str):
                Send.objects.filter(pk=row.pk).update(state=Send.State.FAILED, error=built[:500])
                self.result.failed += 1
            else:
                self.ready.append((row.pk, built))

    def _claim(self) -> None:
        self._beat()
        if not self.claiming:
            return
        if time.monotonic() > self.deadline:
            self.result.again_in = 0
            self._stop(hand_out=True)
            return
        # Messages built or on the lanes are not counted as sent yet, but they will be.
        allowed, wait = _allowance(self.campaign, timezone.now(), pending=len(self.ready) + self.in_flight)
        if not allowed:
            self.result.again_in = wait
            self._stop(hand_out=True)
            return
        rows = _claim(self.campaign, self.token, allowed)
        if not rows:
            self.claiming, self.exhausted = False, True
            return
        self.hold(rows)


def _allowance(campaign: Campaign, now: dt.datetime, pending: int = 0) -> tuple[int, float | None]:
    """How many may leave now under the throttle (``pending``: on their way already), and when to
    look again if none."""
    batch = settings.MESSAGING_SEND_BATCH
    if not campaign.per_hour:
        return batch, None
    hour_ago = now - dt.timedelta(hours=1)
    recent = Send.objects.filter(campaign=campaign, sent_at__gte=hour_ago).count()
    left = campaign.per_hour - recent - pending
    if left > 0:
        return min(batch, left), None
    return 0, max(5.0, 3600 / campaign.per_hour)


class _QuickSwitches:
    """While any run sends in this process, the interpreter switches threads every
    ``SWITCH_SECONDS`` (lanes woken by their server get the interpreter sooner); the interval
    in force before the first run comes back after the last. Counted, so two runs in two
    worker threads that overlap cannot leave the short interval behind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.before = 0.0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.running == 0:
                self.before = sys.getswitchinterval()
                sys.setswitchinterval(min(self.before, SWITCH_SECONDS))
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0:
                    sys.setswitchinterval(self.before)


_quick_switches = _QuickSwitches()


def campaign_run(*, campaign_id: int, max_seconds: float = MAX_RUN_SECONDS) -> RunResult:
    """Send what is due of one campaign for at most ``max_seconds``; ``again_in`` tells the job
    when to run again (more queued, the throttle's next slot, or the server was down)."""
    result = RunResult()
    token = secrets.token_hex(16)
    dead = Campaign.objects.filter(pk=campaign_id).exclude(run_token="").values_list("heartbeat_at", flat=True).first()
    campaign = _take(campaign_id, token, timezone.now())
    if campaign is None:
        return result
    if dead is not None:  # a run died: "Email Sent" of what it sent after its last heartbeat
        sends_recorded(campaign=campaign, since=dead)
    run: _Run | None = None
    try:
        run = _Run(campaign, token, result, max_seconds)
        stale = _in_flight(campaign, token)
        result.resent = len(stale)
        if stale:
            run.hold(stale)
        with _quick_switches(), background_checkpoints(DEFAULT_DB_ALIAS) as checkpoint_soon:
            run.checkpoint_soon = checkpoint_soon
            run.loop()
        if result.unsent:
            result.again_in = SERVER_DOWN_RETRY_SECONDS  # the server is down: try again later
    finally:
        if run is not None:
            _sent_events_at_stop(run)
        # Rows held but not started go back to the queue for whichever run comes next.
        Send.objects.filter(campaign=campaign, state=Send.State.QUEUED, claim_token=token).update(claim_token="")
        _release(campaign, token)
        counts_refresh(campaign)
    return result


def _sent_events_at_stop(run: _Run) -> None:
    """ "Email Sent" of what a run recorded as sent since its last heartbeat, also when it stops
    on an error (no run takes over from one that released its claim, so nobody else would)."""
    try:
        run._sent_events()
    except DatabaseError:
        log.exception("campaign %s: Email Sent events of the last second not stored", run.campaign.pk)


def _finish(campaign: Campaign) -> None:
    """Nothing left to claim: the campaign is sent once no row is queued or in flight."""
    left = Send.objects.filter(campaign=campaign, state__in=(Send.State.QUEUED, Send.State.SENDING))
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).exclude(Exists(left)).update(
        status=Campaign.Status.SENT, finished_at=timezone.now()
    )


def campaigns_stalled(now: dt.datetime | None = None) -> list[int]:
    """Campaigns being sent whose run died (heartbeat older than the lease) or that no run
    holds: the minutely sweep wakes their job."""
    now = now or timezone.now()
    rows = Campaign.objects.filter(status=Campaign.Status.SENDING)
    return [c.pk for c in rows if not c.run_token or not c.heartbeat_at or now - c.heartbeat_at >= lease()]
