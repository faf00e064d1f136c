"""An ESP's webhook (Mailgun's JSON format, signed as Mailgun signs it) posted through the test
client to anymail's view: a campaign message sent over real SMTP (aiosmtpd) is found by its
Message-ID; delivered is recorded, a hard bounce suppresses at once, a temporary failure counts
as one soft bounce, a complaint suppresses and withdraws consent in the ledger. Forged
signatures, other ESPs' URLs, an unconfigured webhook and unreadable payloads change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client

from danhba.conftest import actor_for
from danhba.messaging.models import Campaign, EmailTemplate, Send, SoftBounce, Suppression
from danhba.messaging.services import campaigns, sending
from danhba.messaging.tests.conftest import Mailbox
from danhba.privacy.models import ConsentRecord, ConsentState
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create

pytestmark = pytest.mark.django_db
KEY = "mailgun-signing-key"
URL = "/email/esp/mailgun/tracking/"


@pytest.fixture
def sent(smtp: Mailbox, admin: Any, make_contact: Any, settings: Any) -> Send:
    actor = actor_for(admin)
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    consent_record(actor=actor, contact=lan, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Khách", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[lan.pk])
    template = EmailTemplate.objects.create(name="t", subject="Ưu đãi", body="<p>x</p>", sender_email="tin@anhduong.vn")
    campaign = campaigns.campaign_create(
        actor=actor, data={"name": "KM", "template_id": template.pk, "segment_ids": [audience.pk]}
    )
    campaigns.campaign_schedule(actor=actor, campaign=campaign)
    sending.campaign_run(campaign_id=campaign.pk)
    assert len(smtp.received) == 1
    # From now on the site sends through Mailgun and listens to its webhook.
    settings.EMAIL_URL = "anymail://mailgun"
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test", "MAILGUN_WEBHOOK_SIGNING_KEY": KEY}
    send = Send.objects.get(campaign=campaign)
    assert smtp.received[0].message["Message-ID"] == send.message_id
    return send


def mailgun(event: dict[str, Any], key: str = KEY) -> str:
    """A webhook body as Mailgun posts it: the event and its HMAC-SHA256 signature."""
    timestamp, token = str(int(time.time())), hashlib.sha256(json.dumps(event).encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event}
    )


def event(send: Send, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "timestamp": time.time(),
        "id": "Ase7i2zsRYeDXztHGENqRA",
        "recipient": send.email,
        # Mailgun reports the Message-ID without its angle brackets.
        "message": {"headers": {"message-id": send.message_id.strip("<>"), "to": send.email}},
        **extra,
    }


def post(body: str, url: str = URL) -> Any:
    return Client().post(url, body, content_type="application/json")


def test_delivered_then_a_hard_bounce(sent: Send) -> None:
    assert post(mailgun(event(sent, "delivered"))).status_code == 200
    sent.refresh_from_db()
    assert sent.delivered_at is not None
    failed = event(
        sent, "failed", severity="permanent", reason="bounce",
        **{"delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"}},
    )  # fmt: skip
    assert post(mailgun(failed)).status_code == 200
    entry = Suppression.objects.get(email="lan@example.vn")
    assert entry.reason == "hard_bounce" and "Mailgun" in entry.note and "5.1.1" in entry.note
    # The next campaign leaves the address out.
    again = campaigns.campaign_create(
        actor=actor_for(sent.campaign.created_by),
        data={"name": "Lần 2", "template_id": sent.campaign.template_id, "segment_ids": list(
            sent.campaign.segments.values_list("pk", flat=True))},
    )  # fmt: skip
    campaigns.campaign_schedule(actor=actor_for(sent.campaign.created_by), campaign=again)
    assert Send.objects.get(campaign=again).reason == "suppressed"


def test_a_delay_is_no_bounce(sent: Send) -> None:
    # Mailgun's "failed, temporary" is a delay it retries (most end delivered): not a soft bounce,
    # no step toward suppression, and the send is not shown as bounced.
    deferred = event(sent, "failed", severity="temporary", **{"delivery-status": {"message": "4.2.2 Mailbox full"}})
    for _ in range(2):
        assert post(mailgun(deferred)).status_code == 200
    assert not SoftBounce.objects.exists() and not Suppression.objects.exists()
    sent.refresh_from_db()
    assert sent.bounced_at is None


def test_a_complaint_suppresses_and_withdraws_consent(sent: Send) -> None:
    assert post(mailgun(event(sent, "complained"))).status_code == 200
    assert Suppression.objects.get().reason == "complaint"
    assert ConsentState.objects.get(contact_id=sent.contact_id).status == "withdrawn"
    record = ConsentRecord.objects.filter(contact_id=sent.contact_id).order_by("-id").first()
    assert record is not None and record.source == "email" and "spam complaint reported by Mailgun" in record.proof


def test_a_complaint_suppresses_the_address_the_message_went_to(sent: Send) -> None:
    # The contact changed address after the send: the complaint is about the old one.
    from danhba.contacts.models import Contact

    Contact.objects.filter(pk=sent.contact_id).update(email="lan.moi@example.vn")
    assert post(mailgun(event(sent, "complained"))).status_code == 200
    assert list(Suppression.objects.values_list("email", flat=True)) == ["lan@example.vn"]


def test_a_complaint_about_an_unreadable_address_still_withdraws_consent(sent: Send) -> None:
    Send.objects.filter(pk=sent.pk).update(email="lan@@example")
    assert post(mailgun(event(sent, "complained"))).status_code == 200
    assert ConsentState.objects.get(contact_id=sent.contact_id).status == "withdrawn"
    assert not Suppression.objects.exists()


def test_refused_and_unknown(sent: Send, settings: Any) -> None:
    # A forged signature, another ESP's URL: nothing changes.
    assert post(mailgun(event(sent, "complained"), key="guess")).status_code == 403
    assert post(mailgun(event(sent, "complained")), url="/email/esp/postmark/tracking/").status_code == 404
    # A signed payload that is not an event: 400, not 500.
    assert post(mailgun({"no": "event"})).status_code == 400
    # An event about a message danhba did not send: accepted, ignored.
    other = event(sent, "complained")
    other["message"]["headers"]["message-id"] = "someone-else@mailgun.example"
    assert post(mailgun(other)).status_code == 200
    assert not Suppression.objects.exists()
    assert ConsentState.objects.get(contact_id=sent.contact_id).status == "granted"
    # Postmark signs nothing: without ANYMAIL_WEBHOOK_SECRET its webhook is refused, with it the
    # basic auth is required.
    settings.EMAIL_URL = "anymail://postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x"}
    url = "/email/esp/postmark/tracking/"
    body = json.dumps({"RecordType": "SpamComplaint", "MessageID": sent.message_id, "Email": sent.email})
    assert post(body, url=url).status_code == 403
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x", "WEBHOOK_SECRET": "hook:s3cret"}
    assert post(body, url=url).status_code == 403
    # With SMTP configured there is no ESP webhook at all.
    settings.EMAIL_URL = "smtp://127.0.0.1:25"
    assert post(mailgun(event(sent, "complained"))).status_code == 404
    assert not Suppression.objects.exists() and Campaign.objects.count() == 1


def test_an_unreadable_timestamp_is_a_400_and_our_own_failure_a_500(sent: Send, monkeypatch: Any) -> None:
    # A signed event whose time no datetime can hold: the payload's fault, 400 (not resent).
    assert post(mailgun(event(sent, "complained", timestamp=1e20))).status_code == 400
    assert not Suppression.objects.exists()

    # A failure of danhba's own processing is no 400: a 5xx, so the ESP sends the event again.
    def broken(**kwargs: Any) -> bool:
        raise ValueError("our bug")

    monkeypatch.setattr("danhba.messaging.services.esp.unsubscribe", broken)
    answer = Client(raise_request_exception=False).post(URL, mailgun(event(sent, "complained")), "application/json")
    assert answer.status_code == 500


def test_postmark_with_basic_auth_finds_the_send_by_the_esps_own_id(sent: Send, settings: Any) -> None:
    """Postmark gives each message an id of its own (kept as ``esp_message_id`` when sent)."""
    Send.objects.filter(pk=sent.pk).update(esp_message_id="b7bc2f4a-e38e-4336-af7d-e6c392c2f817")
    settings.EMAIL_URL = "anymail://postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "x", "WEBHOOK_SECRET": "hook:s3cret"}
    body = json.dumps(
        {"RecordType": "SpamComplaint", "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817", "Email": sent.email,
         "BouncedAt": "2026-12-06T10:00:00Z", "Type": "SpamComplaint", "TypeCode": 512}
    )  # fmt: skip
    auth = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    answer = Client().post(
        "/email/esp/postmark/tracking/", body, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert answer.status_code == 200
    assert Suppression.objects.get(email="lan@example.vn").reason == "complaint"


def test_the_esps_own_id_is_kept_when_sent(admin: Any, make_contact: Any, settings: Any) -> None:
    """anymail's test backend numbers its messages 0, 1, 2 (0 reads as no id); the send job keeps
    the ESP's id on the Send row and a webhook event naming it finds the send."""
    from anymail.signals import AnymailTrackingEvent, EventType

    from danhba.messaging.services.esp import esp_event_apply

    settings.EMAIL_URL = "anymail://test"
    actor = actor_for(admin)
    people = [make_contact(full_name=f"Khách {i}", emails=[f"k{i}@example.vn"]) for i in range(3)]
    for person in people:
        consent_record(actor=actor, contact=person, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Khách", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[p.pk for p in people])
    template = EmailTemplate.objects.create(name="t", subject="Ưu đãi", body="<p>x</p>")
    campaign = campaigns.campaign_create(
        actor=actor, data={"name": "KM", "template_id": template.pk, "segment_ids": [audience.pk]}
    )
    campaigns.campaign_schedule(actor=actor, campaign=campaign)
    settings.MESSAGING_SEND_CONNECTIONS = 1
    sending.campaign_run(campaign_id=campaign.pk)
    ids = sorted(Send.objects.filter(campaign=campaign, state="sent").values_list("esp_message_id", flat=True))
    assert ids == ["", "1", "2"]
    delivered = AnymailTrackingEvent(event_type=EventType.DELIVERED, message_id="2")
    assert esp_event_apply(event=delivered, esp_name="test") == "delivered"
    assert Send.objects.get(esp_message_id="2").delivered_at is not None


def test_opens_and_clicks_from_the_esp_when_danhba_does_not_track(sent: Send, settings: Any) -> None:
    from danhba.messaging.models import Click, Open

    settings.MESSAGING_MACHINE_SECONDS = 0
    person = {"client-info": {"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"}}
    Campaign.objects.filter(pk=sent.campaign_id).update(tracking=False)
    assert post(mailgun(event(sent, "opened", **person))).status_code == 200
    assert post(mailgun(event(sent, "clicked", url="https://shop.example.vn/sale", **person))).status_code == 200
    assert (
        post(mailgun(event(sent, "opened", **{"client-info": {"user-agent": "Barracuda link scanner"}}))).status_code
        == 200
    )
    assert list(Open.objects.filter(send=sent).values_list("machine", flat=True).order_by("machine")) == [False, True]
    click = Click.objects.get(send=sent)
    assert not click.machine and click.link is not None and click.link.url == "https://shop.example.vn/sale"
    # With danhba's own pixel and redirects on, the ESP's reports would count twice: left out.
    Campaign.objects.filter(pk=sent.campaign_id).update(tracking=True)
    assert post(mailgun(event(sent, "opened", **person))).status_code == 200
    assert Open.objects.count() == 2


def test_two_webhooks_storing_the_same_new_link_at_once(sent: Send, settings: Any, monkeypatch: Any) -> None:
    """The second of two concurrent clicks on a new link reads the highest position before the
    first stores its row: its insert loses the race, and it takes the next position, no 500."""
    from django.db.models import QuerySet

    from danhba.messaging.models import CampaignLink, Click

    settings.MESSAGING_MACHINE_SECONDS = 0
    Campaign.objects.filter(pk=sent.campaign_id).update(tracking=False)
    CampaignLink.objects.create(campaign_id=sent.campaign_id, position=1, url="https://shop.example.vn/a")
    real, stale = QuerySet.aggregate, [{"top": 0}]
    monkeypatch.setattr(QuerySet, "aggregate", lambda qs, *a, **k: stale.pop() if stale else real(qs, *a, **k))
    person = {"client-info": {"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"}}
    answer = post(mailgun(event(sent, "clicked", url="https://shop.example.vn/b", **person)))
    assert answer.status_code == 200
    assert list(CampaignLink.objects.values_list("position", "url").order_by("position")) == [
        (1, "https://shop.example.vn/a"), (2, "https://shop.example.vn/b"),
    ]  # fmt: skip
    assert Click.objects.get(send=sent).link.url == "https://shop.example.vn/b"  # type: ignore[union-attr]
