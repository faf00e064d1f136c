"""Campaigns to a real SMTP server (aiosmtpd on loopback): who gets the email and who does not
(no consent, suppressed, capped, excluded segment, no or invalid address), counted by reason;
the parsed messages (personalisation, footer, List-Unsubscribe headers, Message-ID, [QC]);
transactional email skips the label, consent and cap; scheduling, throttle, pause, resume,
cancel; a run killed mid-batch is resumed and its in-flight messages resent with the same
Message-ID; the one-click unsubscribe."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.services import campaigns, sending
from danhba.messaging.tests.conftest import Mailbox, make_campaign
from danhba.privacy.services import consent_record
from danhba.segments.services import list_add

pytestmark = pytest.mark.django_db


def test_who_gets_it_and_the_messages(
    smtp: Mailbox, setup: dict[str, Any], huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(setup)
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert sorted(r.rcpt_to[0] for r in smtp.received) == ["lan@example.vn", "minh@example.vn"]
    counts = campaign.counts
    assert counts["sent"] == 2 and counts["excluded"] == 5
    assert {k: v for k, v in counts.items() if k.startswith("reason:")} == {
        "reason:no_consent": 1, "reason:suppressed": 1, "reason:capped": 1, "reason:no_address": 1,
        "reason:excluded_segment": 1,
    }  # fmt: skip
    lan = next(r for r in smtp.received if r.rcpt_to == ["lan@example.vn"])
    message = lan.message
    assert message["Subject"] == "[QC] Ưu đãi cho Lan"
    send = Send.objects.get(campaign=campaign, email="lan@example.vn")
    assert message["Message-ID"] == send.message_id and send.state == "sent" and send.sent_at
    assert message["From"].addresses[0].addr_spec == "news@anhduong.example.vn"
    unsubscribe = str(message["List-Unsubscribe"]).strip()
    assert (
        unsubscribe.startswith("<http://127.0.0.1:8000/email/unsubscribe/") and "<mailto:news@anhduong" in unsubscribe
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, text = lan.part("text/html"), lan.part("text/plain")
    assert "Chào chị Lan," in html and "Chào chị Lan," in text
    assert "12 Lê Lợi, Quận 1" in html and "Công ty TNHH Ánh Dương" in text and "Unsubscribe:" in text


def test_transactional_skips_label_consent_and_cap(
    smtp: Mailbox, setup: dict[str, Any], huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    template = setup["template"]
    template.kind = EmailTemplate.Kind.TRANSACTIONAL
    template.save()
    campaign = make_campaign(setup, exclude_segment_ids=[])
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    got = sorted(r.rcpt_to[0] for r in smtp.received)
    # A hard bounce still stops it; consent and the cap do not apply.
    assert got == ["khong@example.vn", "lan@example.vn", "minh@example.vn", "nhieu@example.vn", "vip@example.vn"]
    message = smtp.received[0].message
    assert not message["Subject"].startswith("[QC]") and message["List-Unsubscribe"] is None


def test_schedule_later_then_the_sweep_starts_it(
    smtp: Mailbox, setup: dict[str, Any], huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(setup)
    at = timezone.now() + dt.timedelta(hours=2)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign, at=at)
    campaign.refresh_from_db()
    assert campaign.status == "scheduled" and not smtp.received and not Send.objects.filter(campaign=campaign).exists()
    assert campaigns.campaigns_start_due() == []
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns.campaigns_start_due(now=at + dt.timedelta(seconds=1)) == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == "sent" and len(smtp.received) == 2


def test_throttle_pause_resume_cancel(smtp: Mailbox, setup: dict[str, Any], settings: Any) -> None:
    actor = setup["actor"]
    campaign = make_campaign(setup, per_hour=1)
    campaigns.campaign_schedule(actor=actor, campaign=campaign)  # no worker: nothing sent yet
    assert sending.campaign_run(campaign_id=campaign.pk).sent == 1
    throttled = sending.campaign_run(campaign_id=campaign.pk)
    assert throttled.sent == 0 and throttled.again_in == 3600 and len(smtp.received) == 1
    Campaign.objects.filter(pk=campaign.pk).update(per_hour=0)
    campaigns.campaign_pause(actor=actor, campaign=campaign)
    assert sending.campaign_run(campaign_id=campaign.pk).sent == 0 and len(smtp.received) == 1
    campaigns.campaign_resume(actor=actor, campaign=campaign)
    campaigns.campaign_cancel(actor=actor, campaign=campaign)
    assert sending.campaign_run(campaign_id=campaign.pk).sent == 0 and len(smtp.received) == 1
    campaign.refresh_from_db()
    assert campaign.status == "cancelled" and campaign.counts["queued"] == 1


def test_a_killed_run_is_resumed_with_the_same_message_id(smtp: Mailbox, setup: dict[str, Any]) -> None:
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    campaign.refresh_from_db()
    # A run held both recipients, put the first on its connection ("sending"), the message
    # left, and the worker was killed (kill -9) before the row said "sent".
    claimed = sending._claim(campaign, "deadrun", 10)
    assert [r.state for r in claimed] == ["queued", "queued"]
    assert all(r.message_id == sending.message_id(campaign, r.pk) for r in claimed)
    first = claimed[0]
    Send.objects.filter(pk=first.pk).update(state="sending")
    from danhba.messaging.services.sending import _compiled, _messages, campaign_mail

    mail = campaign_mail(campaign)
    [(_row, message)] = _messages(campaign, _compiled(campaign), mail, [first])
    assert not isinstance(message, str)
    sender = mail.sender()
    sender.open()
    sender.send(message)
    sender.close()
    stale = timezone.now() - dt.timedelta(minutes=5)
    Campaign.objects.filter(pk=campaign.pk).update(run_token="deadrun", heartbeat_at=stale)
    assert sending.campaigns_stalled() == [campaign.pk]
    result = sending.campaign_run(campaign_id=campaign.pk)
    assert result.resent == 1 and result.sent == 2
    by_rcpt: dict[str, list[str]] = {}
    for received in smtp.received:
        by_rcpt.setdefault(received.rcpt_to[0], []).append(received.message["Message-ID"])
    # Only the message in flight at the kill arrived twice, both times with its Message-ID.
    assert by_rcpt[first.email] == [first.message_id, first.message_id]
    assert len(by_rcpt) == 2 and all(len(ids) == 1 for rcpt, ids in by_rcpt.items() if rcpt != first.email)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.resent == 1
    assert set(Send.objects.filter(campaign=campaign).values_list("state", flat=True)) == {"sent", "excluded"}


def test_a_refused_recipient_fails_and_the_rest_go(smtp: Mailbox, setup: dict[str, Any]) -> None:
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    smtp.refuse = "550 5.1.1 No such user"
    result = sending.campaign_run(campaign_id=campaign.pk)
    assert result.failed == 2 and result.sent == 0
    rows = Send.objects.filter(campaign=campaign, state="failed")
    assert rows.count() == 2 and all("No such user" in r.error for r in rows)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.counts["failed"] == 2


def test_a_dead_server_leaves_the_rows_for_the_next_run(setup: dict[str, Any], settings: Any) -> None:
    settings.EMAIL_URL = "smtp://127.0.0.1:9"
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    result = sending.campaign_run(campaign_id=campaign.pk)
    assert result.sent == 0 and result.unsent == 2 and result.again_in == 30
    campaign.refresh_from_db()
    assert campaign.status == "sending"  # not finished: the rows wait in the queue for the next run
    assert Send.objects.filter(campaign=campaign, state="queued", claim_token="").count() == 2


def test_suppressed_after_queueing_is_not_sent(smtp: Mailbox, setup: dict[str, Any]) -> None:
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    campaigns.suppression_add(email="LAN@example.vn", reason=Suppression.Reason.COMPLAINT)
    sending.campaign_run(campaign_id=campaign.pk)
    assert [r.rcpt_to[0] for r in smtp.received] == ["minh@example.vn"]
    assert Send.objects.get(campaign=campaign, email="lan@example.vn").reason == "suppressed"


def test_started_campaigns_cannot_change(setup: dict[str, Any], smtp: Mailbox, huey_immediate: Any) -> None:
    from danhba.core.errors import Conflict

    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    with pytest.raises(Conflict):
        campaigns.campaign_update(actor=setup["actor"], campaign=campaign, data={"name": "x"})
    with pytest.raises(Conflict):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)


def test_return_path_names_the_send(smtp: Mailbox, setup: dict[str, Any], settings: Any) -> None:
    """With BOUNCE_ADDRESS set, each message leaves with its own signed return path (VERP): the
    bounce it may cause names its Send row."""
    from danhba.messaging.bounces import send_id_of

    settings.BOUNCE_ADDRESS = "bounces@anhduong.example.vn"
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    sending.campaign_run(campaign_id=campaign.pk)
    assert len(smtp.received) == 2
    for received in smtp.received:
        send = Send.objects.get(campaign=campaign, email=received.rcpt_to[0])
        assert received.mail_from.startswith("bounces+") and send_id_of(received.mail_from) == send.pk
        assert received.message["From"].addresses[0].addr_spec == "news@anhduong.example.vn"


def test_at_most_one_message_per_connection_leaves_unrecorded(
    smtp: Mailbox, setup: dict[str, Any], make_contact: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What bounds a kill -9's duplicates: whenever the run records, each connection has at most
    one message that left without its row saying "sent" (the lanes wait for the record)."""
    import threading

    from danhba.messaging import transport

    settings.MESSAGING_SEND_CONNECTIONS = 3
    actor = setup["actor"]
    more = [make_contact(full_name=f"Khách {i}", emails=[f"k{i}@example.vn"]) for i in range(24)]
    for contact in more:
        consent_record(actor=actor, contact=contact, purpose="email_marketing", status="granted", source="ui")
    list_add(actor=actor, segment=setup["audience"], contact_ids=[c.pk for c in more])
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=actor, campaign=campaign)
    email_of = dict(Send.objects.filter(campaign=campaign).values_list("pk", "email"))
    left: list[tuple[str, str]] = []  # (lane, address) of each message the server took
    recorded: set[str] = set()
    early: list[str] = []  # messages that left while their lane's previous one was unrecorded
    real_send, real_mark = transport.Sender.send, sending._mark

    def send(self: transport.Sender, item: transport.Outgoing) -> None:
        lane = threading.current_thread().name
        if any(address not in recorded for name, address in list(left) if name == lane):
            early.append(item.to)
        real_send(self, item)
        left.append((lane, item.to))

    def mark(sent: Any, starting: Any, now: Any) -> None:
        real_mark(sent, starting, now)
        recorded.update(email_of[pk] for pk in sent)

    monkeypatch.setattr(transport.Sender, "send", send)
    monkeypatch.setattr(sending, "_mark", mark)
    result = sending.campaign_run(campaign_id=campaign.pk)
    assert result.sent == 26 == len(smtp.received) == len(left) == len(recorded)
    assert len({lane for lane, _a in left}) == 3  # all three connections carried mail
    assert early == []


def test_queueing_again_writes_nothing_twice(setup: dict[str, Any]) -> None:
    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    rows = list(Send.objects.filter(campaign=campaign).values_list("contact_id", "state", "reason", "marketing"))
    assert len(rows) == 7 and sum(1 for r in rows if r[1] == "queued") == 2
    assert all(r[3] for r in rows) and Send.objects.filter(campaign=campaign, created_at__isnull=False).count() == 7
    assert campaigns.audience_queue(campaign) == 0
    assert sorted(
        Send.objects.filter(campaign=campaign).values_list("contact_id", "state", "reason", "marketing")
    ) == sorted(rows)


def test_two_campaigns_at_once_keep_to_the_cap(smtp: Mailbox, setup: dict[str, Any]) -> None:
    """Lan had two marketing emails today (the cap is three): of two campaigns sending at the same
    time only the first to hold her row sends her one; a campaign does not cap itself."""
    lan = setup["people"]["lan"]
    for n in range(2):
        earlier = Campaign.objects.create(name=f"today {n}", template=setup["template"], status=Campaign.Status.SENT)
        Send.objects.create(campaign=earlier, contact=lan, email="lan@example.vn", state="sent", sent_at=timezone.now())
    first, second = make_campaign(setup, name="Một"), make_campaign(setup, name="Hai")
    for campaign in (first, second):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    # Both queued her (two sent so far); the first run holds its rows, then the second checks.
    kept, _dropped = sending._recheck(first, sending._claim(first, "run-one", 100))
    assert lan.pk in {r.contact_id for r in kept} and len(kept) == 2  # lan and minh
    sending.campaign_run(campaign_id=second.pk)
    sending.campaign_run(campaign_id=first.pk)
    to_lan = [r for r in smtp.received if r.rcpt_to[0] == "lan@example.vn"]
    assert len(to_lan) == 1
    assert Send.objects.get(campaign=second, contact=lan).reason == "capped"
    assert [r.rcpt_to[0] for r in smtp.received].count("minh@example.vn") == 2
