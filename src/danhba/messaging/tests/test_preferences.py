"""The preference centre, opened from the link in a real email (aiosmtpd): no login, no cookie;
the address shown masked and nothing else about the contact; topics opted out of, a pause, the
end of a pause, unsubscribe from everything — each a statement in the consent ledger, and the
next campaign (or the next batch of one under way) honours it, counting the reason. Forged
links and forms without their signed token change nothing; English and Vietnamese."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.messaging.links import Recipient, make_token
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.preferences import masked_email, pause_end
from danhba.messaging.services import campaigns, sending
from danhba.messaging.tests.conftest import Mailbox
from danhba.privacy.models import ConsentPurpose, ConsentRecord, ConsentState
from danhba.privacy.services import consent_pauses_end, consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(admin: Any, make_contact: Any) -> dict[str, Any]:
    actor = actor_for(admin)
    promos = ConsentPurpose.objects.create(
        key="promotions", name="Promotions", name_vi="Khuyến mãi", email_topic=True, description="Sales, vouchers"
    )
    ConsentPurpose.objects.create(key="news", name="Newsletter", name_vi="Bản tin", email_topic=True)
    lan = make_contact(full_name="Nguyễn Thị Lan", gender="female", emails=["lan.nguyen@example.vn"])
    minh = make_contact(full_name="Trần Văn Minh", emails=["minh@example.vn"])
    for contact in (lan, minh):
        consent_record(actor=actor, contact=contact, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Khách", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[lan.pk, minh.pk])
    template = EmailTemplate.objects.create(
        name="t", subject="Ưu đãi", body="<p>Chào {{ contact.given_name }}</p>", sender_email="news@anhduong.vn"
    )
    return {"actor": actor, "lan": lan, "minh": minh, "audience": audience, "template": template, "promos": promos}


def send_campaign(world: dict[str, Any], topic: str | None = "promotions") -> Campaign:
    campaign = campaigns.campaign_create(
        actor=world["actor"],
        data={"name": "KM", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk], "topic": topic},
    )
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    sending.campaign_run(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def form_of(page: str) -> dict[str, str]:
    return {
        "form_token": re.search(r'name="form_token" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "lang": re.search(r'name="lang" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
    }


def test_from_the_email_to_the_next_campaign(smtp: Mailbox, world: dict[str, Any]) -> None:
    send_campaign(world)
    mail = next(r for r in smtp.received if r.rcpt_to == ["lan.nguyen@example.vn"])
    link = re.search(r'href="(http://127\.0\.0\.1:8000/email/preferences/[^"]+)"', mail.part("text/html"))
    assert link is not None
    path = link.group(1).removeprefix("http://127.0.0.1:8000")
    browser = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    page = browser.get(path)
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    # The address masked, nothing else about her.
    assert "l•••n@example.vn" in html and "lan.nguyen@example.vn" not in html and "Nguyễn" not in html
    assert "Promotions" in html and "Newsletter" in html and "You receive our marketing email." in html
    assert not page.cookies.get("sessionid")

    # Keep the newsletter, leave promotions: one ledger statement, source "email link".
    done = browser.post(path, {**form_of(html), "action": "save", "topic": ["news"]})
    assert done.status_code == 302
    assert "Your choices are saved." in browser.get(done["Location"]).content.decode()
    record = ConsentRecord.objects.filter(contact=world["lan"]).order_by("-id").first()
    assert record is not None and (record.purpose.key, record.status, record.source) == (
        "promotions",
        "withdrawn",
        "email",
    )
    assert ConsentState.objects.get(contact=world["lan"], purpose__key="promotions").status == "withdrawn"
    assert not ConsentState.objects.filter(contact=world["lan"], purpose__key="news").exists()  # unchanged

    # The next promotion skips her and says why; a campaign without a topic still reaches her.
    smtp.received.clear()
    promo = send_campaign(world)
    assert [r.rcpt_to for r in smtp.received] == [["minh@example.vn"]]
    assert promo.counts["reason:topic_opt_out"] == 1
    smtp.received.clear()
    send_campaign(world, topic=None)
    assert sorted(r.rcpt_to[0] for r in smtp.received) == ["lan.nguyen@example.vn", "minh@example.vn"]


def test_pause_for_three_months_then_it_ends(smtp: Mailbox, world: dict[str, Any]) -> None:
    lan = world["lan"]
    path = f"/email/preferences/{make_token(Recipient(lan.pk, 0))}/"
    browser = Client(HTTP_ACCEPT_LANGUAGE="vi")
    page = browser.get(path).content.decode()
    assert "Tạm dừng" in page  # Vietnamese from the browser's language
    before = timezone.now()
    answer = browser.post(path, {**form_of(page), "action": "save", "topic": ["promotions", "news"], "pause": "3"})
    assert answer.status_code == 302
    state = ConsentState.objects.get(contact=lan, purpose__key="email_marketing")
    assert state.status == "withdrawn" and state.until is not None
    assert pause_end(before, 3) <= state.until <= pause_end(timezone.now(), 3)
    shown = browser.get(answer["Location"]).content.decode()
    assert timezone.localtime(state.until).strftime("%d/%m/%Y") in shown  # dd/mm/yyyy

    campaign = send_campaign(world)
    assert [r.rcpt_to for r in smtp.received] == [["minh@example.vn"]] and campaign.counts["reason:paused"] == 1

    # When the pause is over the job grants the consent again, naming the pause's statement.
    assert consent_pauses_end(now=before) == 0
    pause = state.record_id
    assert consent_pauses_end(now=state.until + dt.timedelta(seconds=1)) == 1
    state.refresh_from_db()
    assert state.status == "granted" and state.until is None
    record = ConsentRecord.objects.filter(contact=lan).order_by("-id").first()
    assert record is not None and f"end of the pause asked for in statement {pause}" == record.proof
    assert record.source == "email" and record.status == "granted"
    assert consent_pauses_end(now=state.since + dt.timedelta(days=400)) == 0  # once only


def test_resume_early_and_unsubscribe_from_everything(world: dict[str, Any]) -> None:
    lan = world["lan"]
    path = f"/email/preferences/{make_token(Recipient(lan.pk, 3))}/?lang=en"
    browser = Client()
    form = form_of(browser.get(path).content.decode())
    browser.post(path, {**form, "action": "save", "pause": "1"})
    assert "paused until" in browser.get(path).content.decode()
    browser.post(path, {**form, "action": "resume"})
    assert ConsentState.objects.get(contact=lan, purpose__key="email_marketing").status == "granted"
    browser.post(path, {**form, "action": "unsubscribe"})
    assert ConsentState.objects.get(contact=lan, purpose__key="email_marketing").status == "withdrawn"
    assert Suppression.objects.get().email == "lan.nguyen@example.vn"
    assert "You receive no marketing email from us." in browser.get(path).content.decode()


def test_forged_links_and_forms_change_nothing(world: dict[str, Any]) -> None:
    lan, minh = world["lan"], world["minh"]
    token = make_token(Recipient(lan.pk, 0))
    browser = Client(enforce_csrf_checks=True)
    form = form_of(browser.get(f"/email/preferences/{token}/").content.decode())
    ledger = ConsentRecord.objects.count()
    bad = [
        browser.post(f"/email/preferences/{token[:-3]}abc/", {**form, "action": "unsubscribe"}),
        # No form token, or one made for another recipient: refused, the form is shown again.
        browser.post(f"/email/preferences/{token}/", {"action": "unsubscribe"}),
        browser.post(
            f"/email/preferences/{make_token(Recipient(minh.pk, 0))}/", {**form, "action": "save", "pause": "6"}
        ),
        browser.post(f"/email/preferences/{token}/", {**form, "action": "save", "pause": "2"}),  # not offered
        # Digits int() cannot read, or too many of them: the same form error, not a server error.
        browser.post(f"/email/preferences/{token}/", {**form, "action": "save", "pause": "\u00b2"}),
        browser.post(f"/email/preferences/{token}/", {**form, "action": "save", "pause": "9" * 5000}),
    ]
    assert [r.status_code for r in bad] == [400, 400, 400, 400, 400, 400]
    assert all("Choose 1, 3 or 6 months." in r.content.decode() for r in bad[3:])
    assert ConsentRecord.objects.count() == ledger and not Suppression.objects.exists()


def test_a_change_holds_from_the_next_batch_of_a_campaign_under_way(smtp: Mailbox, world: dict[str, Any]) -> None:
    campaign = campaigns.campaign_create(
        actor=world["actor"],
        data={"name": "KM", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk]},
    )
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)  # queued, not sent yet
    path = f"/email/preferences/{make_token(Recipient(world['lan'].pk, campaign.pk))}/"
    browser = Client()
    browser.post(path, {**form_of(browser.get(path).content.decode()), "action": "save", "pause": "1"})
    sending.campaign_run(campaign_id=campaign.pk)
    assert [r.rcpt_to for r in smtp.received] == [["minh@example.vn"]]
    assert Send.objects.get(campaign=campaign, contact=world["lan"]).reason == "paused"


def test_masked_email_and_pause_end() -> None:
    assert masked_email("lan.nguyen@example.vn") == "l•••n@example.vn"
    assert masked_email("an@example.vn") == "a•••@example.vn"
    start = dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC)
    assert pause_end(start, 1) == dt.datetime(2026, 2, 28, 9, tzinfo=dt.UTC)
    assert pause_end(start, 6) == dt.datetime(2026, 7, 31, 9, tzinfo=dt.UTC)
    assert pause_end(dt.datetime(2026, 11, 5, tzinfo=dt.UTC), 3) == dt.datetime(2027, 2, 5, tzinfo=dt.UTC)
    # 01:00 on 1 March in Hà Nội (28 February, 18:00 UTC): a month ends 01:00 on 1 April there.
    hanoi = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    assert pause_end(dt.datetime(2026, 2, 28, 18, tzinfo=dt.UTC), 1) == dt.datetime(2026, 4, 1, 1, tzinfo=hanoi)


def test_topics_are_managed_by_admins_over_the_api(client_for: Any, users: Any, world: dict[str, Any]) -> None:
    client = client_for(users["admin"])
    created = client.post(
        "/api/consent-purposes",
        {"name": "Events", "name_vi": "Sự kiện", "email_topic": True},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["key"] == "events" and created.json()["email_topic"]
    topics = client.get("/api/consent-purposes?email_topic=true").json()
    assert {t["key"] for t in topics} == {"promotions", "news", "events"}
    changed = client.patch("/api/consent-purposes/events", {"is_active": False}, content_type="application/json")
    assert changed.status_code == 200 and not changed.json()["is_active"]
    assert client.patch("/api/consent-purposes/nope", {}, content_type="application/json").status_code == 404
    bad = client.post("/api/consent-purposes", {"name": ""}, content_type="application/json")
    assert bad.status_code == 422
    marketing = client_for(users["marketing"])
    refused = marketing.post(
        "/api/consent-purposes", {"name": "X", "email_topic": True}, content_type="application/json"
    )
    assert refused.status_code == 403
    # A campaign names its topic by key; an unknown topic is a 422 saying so.
    data = {"name": "KM", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk]}
    made = marketing.post("/api/email/campaigns", {**data, "topic": "promotions"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["topic"] == "promotions"
    wrong = marketing.post("/api/email/campaigns", {**data, "topic": "nope"}, content_type="application/json")
    assert wrong.status_code == 422 and "topic" in wrong.content.decode()


def test_the_campaign_form_offers_the_topics(client_for: Any, users: Any, world: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    assert "Khuyến mãi" in client.get("/email/campaigns/new/").content.decode() or "Promotions" in (
        client.get("/email/campaigns/new/").content.decode()
    )
    answer = client.post(
        "/email/campaigns/new/",
        {"name": "KM", "template": world["template"].pk, "segments": [world["audience"].pk], "topic": "promotions",
         "per_hour": 0},
    )  # fmt: skip
    assert answer.status_code == 302
    assert Campaign.objects.get().topic == world["promos"]
