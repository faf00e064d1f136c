"""A campaign's report: sent over real SMTP (aiosmtpd), then what came back — opens by people
and by machines, clicks per link, an unsubscribe through the email's own link, a hard bounce
and a complaint through the ESP webhook's service — counted with their rates, over time, in the
page (Vietnamese numbers) and in the API; a role without email access gets 403."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from anymail.signals import AnymailTrackingEvent, EventType
from django.test import Client
from django.utils import timezone

from danhba.accounts.models import Role
from danhba.conftest import actor_for
from danhba.messaging.links import Recipient, make_token
from danhba.messaging.models import CampaignLink, Click, EmailTemplate, Open, Send
from danhba.messaging.reports import activity
from danhba.messaging.services import campaigns, sending
from danhba.messaging.services.esp import esp_event_apply
from danhba.messaging.tests.conftest import Mailbox
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(smtp: Mailbox, admin: Any, make_contact: Any) -> dict[str, Any]:
    actor = actor_for(admin)
    people = [make_contact(full_name=f"Khách {i}", emails=[f"k{i}@example.vn"]) for i in range(5)]
    for person in people:
        consent_record(actor=actor, contact=person, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Khách", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[p.pk for p in people])
    template = EmailTemplate.objects.create(
        name="t", subject="Ưu đãi", body='<p><a href="https://shop.example.vn/a">A</a> <a href="https://shop.example.vn/b">B</a></p>'
    )  # fmt: skip
    campaign = campaigns.campaign_create(
        actor=actor, data={"name": "KM", "template_id": template.pk, "segment_ids": [audience.pk]}
    )
    campaigns.campaign_schedule(actor=actor, campaign=campaign)
    sending.campaign_run(campaign_id=campaign.pk)
    assert len(smtp.received) == 5
    sends = list(Send.objects.filter(campaign=campaign).order_by("pk"))
    link_a = CampaignLink.objects.get_or_create(
        campaign=campaign, position=1, defaults={"url": "https://shop.example.vn/a"}
    )[0]
    link_b = CampaignLink.objects.get_or_create(
        campaign=campaign, position=2, defaults={"url": "https://shop.example.vn/b"}
    )[0]

    def activity_of(model: Any, send: Send, **extra: Any) -> None:
        model.objects.create(send=send, campaign=campaign, contact_id=send.contact_id, **extra)

    # Two people open (one of them twice), Apple's proxy opens a third; a person clicks A twice
    # and B once, a scanner clicks everything in the fourth.
    activity_of(Open, sends[0])
    activity_of(Open, sends[0])
    activity_of(Open, sends[1])
    activity_of(Open, sends[2], machine=True, machine_reason="apple_privacy")
    activity_of(Click, sends[0], link=link_a)
    activity_of(Click, sends[0], link=link_a)
    activity_of(Click, sends[1], link=link_b)
    activity_of(Click, sends[3], link=link_a, machine=True, machine_reason="scanner")
    # The fourth unsubscribes from the email's link; the fifth bounces hard, the second complains.
    Client().post(
        f"/email/unsubscribe/{make_token(Recipient(sends[3].contact_id, campaign.pk))}/",
        {"List-Unsubscribe": "One-Click"},
    )
    for send, kind in (
        (sends[4], EventType.BOUNCED),
        (sends[1], EventType.COMPLAINED),
        (sends[0], EventType.DELIVERED),
    ):
        esp_event_apply(
            event=AnymailTrackingEvent(event_type=kind, message_id=send.message_id, recipient=send.email),
            esp_name="Mailgun",
        )
    return {"campaign": campaign, "sends": sends}


def test_the_report_in_the_api(sent: dict[str, Any], client_for: Any, users: Any, make_user: Any) -> None:
    campaign = sent["campaign"]
    answer = client_for(users["analyst"]).get(f"/api/email/campaigns/{campaign.pk}/report")
    assert answer.status_code == 200
    report = answer.json()
    assert report["counts"] == {
        "sent": 5, "delivered": 1, "opened": 2, "opened_machine": 1, "clicked": 2, "clicked_machine": 1,
        "unsubscribed": 1, "bounced": 1, "bounced_hard": 1, "bounced_soft": 0, "complained": 1, "failed": 0,
    }  # fmt: skip
    assert report["rates"]["open_rate"] == 0.4 and report["rates"]["click_to_open_rate"] == 1.0
    assert report["rates"]["unsubscribe_rate"] == 0.2 and report["rates"]["complaint_rate"] == 0.2
    assert report["links"] == [
        {"url": "https://shop.example.vn/a", "clicks": 2, "messages": 1},
        {"url": "https://shop.example.vn/b", "clicks": 1, "messages": 1},
    ]
    assert report["bucket"] == "hour" and sum(p["sent"] for p in report["series"]) == 5
    assert sum(p["opened"] for p in report["series"]) == 3 and report["variants"] == []
    Role.objects.create(key="nothing", name="Nothing", permissions={}, record_scope="own")
    outsider = make_user("nothing")
    assert client_for(outsider).get(f"/api/email/campaigns/{campaign.pk}/report").status_code == 403
    assert client_for(users["analyst"]).get("/api/email/campaigns/999999/report").status_code == 404


def test_the_report_on_the_page_in_vietnamese(sent: dict[str, Any], client_for: Any, make_user: Any) -> None:
    viewer = make_user("analyst", language="vi")
    page = client_for(viewer).get(f"/email/campaigns/{sent['campaign'].pk}/").content.decode()
    assert 'data-testid="report-opened">2<' in page and "40,0%" in page  # 2 of 5, Vietnamese decimals
    assert "<svg" in page and "https://shop.example.vn/a" in page


def test_activity_is_daily_after_three_days(sent: dict[str, Any]) -> None:
    campaign = sent["campaign"]
    start = timezone.now() - dt.timedelta(days=5)
    Send.objects.filter(campaign=campaign).update(sent_at=start + dt.timedelta(hours=1))
    bucket, series = activity([campaign.pk], start)
    assert bucket == "day" and len(series) in (5, 6) and sum(p["sent"] for p in series) == 5
