"""A/B tests: variants of subject, sender and content; the test share split at random but the
same way every time; the variants over real SMTP (aiosmtpd), each recipient once; the winner by
click rate, by open rate (human opens only) or picked by hand, then sent to everyone else and
to nobody twice; the variants side by side on the page and in the API; roles and bad input."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.errors import InvalidInput
from danhba.messaging.models import Campaign, Click, EmailTemplate, Open, Send, Suppression
from danhba.messaging.services import abtests, campaigns, sending
from danhba.messaging.split import slot
from danhba.messaging.tests.conftest import Mailbox
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create

pytestmark = pytest.mark.django_db
N = 40


def test_the_split_is_random_but_reproducible() -> None:
    ids = range(1, 10_001)
    first = [slot("k1", cid, 10, 2) for cid in ids]
    assert first == [slot("k1", cid, 10, 2) for cid in ids]  # the same every time
    assert first != [slot("k2", cid, 10, 2) for cid in ids]  # another campaign, another split
    counts = Counter(first)
    assert 900 <= counts[0] + counts[1] <= 1100 and abs(counts[0] - counts[1]) < 150
    assert all(slot("k1", cid, 50, 3) in (None, 0, 1, 2) for cid in ids)


@pytest.fixture
def world(admin: Any, make_contact: Any) -> dict[str, Any]:
    actor = actor_for(admin)
    people = [make_contact(full_name=f"Khách {i}", emails=[f"khach{i}@example.vn"]) for i in range(N)]
    for person in people:
        consent_record(actor=actor, contact=person, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Khách", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[p.pk for p in people])
    template = EmailTemplate.objects.create(
        name="Gốc", subject="Ưu đãi tháng 12", body="<p>Nội dung gốc</p>", sender_email="tin@anhduong.vn",
        sender_name="Ánh Dương",
    )  # fmt: skip
    other = EmailTemplate.objects.create(name="Khác", subject="s", body="<p>Nội dung khác</p>")
    campaign = campaigns.campaign_create(
        actor=actor,
        data={"name": "KM", "template_id": template.pk, "segment_ids": [audience.pk], "ab_share": 50,
              "ab_metric": "manual", "ab_wait_hours": 2},
    )  # fmt: skip
    a = abtests.variant_create(actor=actor, campaign=campaign, data={"subject": "Giảm 20% cho bạn"})
    b = abtests.variant_create(
        actor=actor, campaign=campaign, data={"sender_name": "Lan ở Ánh Dương", "template_id": other.pk}
    )
    return {"actor": actor, "campaign": campaign, "a": a, "b": b}


def run(campaign: Campaign) -> None:
    sending.campaign_run(campaign_id=campaign.pk)


def test_variants_then_the_winner_by_hand(smtp: Mailbox, world: dict[str, Any], client_for: Any, users: Any) -> None:
    campaign, a, b = world["campaign"], world["a"], world["b"]
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "testing" and campaign.ab_decide_at is not None
    run(a)
    run(b)
    tested = {r.rcpt_to[0]: r for r in smtp.received}
    in_a = set(Send.objects.filter(campaign=a, state="sent").values_list("email", flat=True))
    in_b = set(Send.objects.filter(campaign=b, state="sent").values_list("email", flat=True))
    assert in_a and in_b and not in_a & in_b and set(tested) == in_a | in_b
    assert 8 <= len(tested) <= 32  # about half of 40
    for address in in_a:
        message = tested[address].message
        assert message["Subject"] == "[QC] Giảm 20% cho bạn" and "Nội dung gốc" in tested[address].part("text/html")
    for address in in_b:
        message = tested[address].message
        assert message["Subject"] == "[QC] s" and "Nội dung khác" in tested[address].part("text/html")
        assert message["From"].addresses[0].display_name == "Lan ở Ánh Dương"
    # The sweep leaves a test picked by hand alone.
    assert abtests.abtests_decide_due(now=campaign.ab_decide_at + dt.timedelta(hours=1)) == []
    page = client_for(users["marketing"]).get(f"/email/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="variant-A"' in page and 'data-testid="variant-B"' in page and "Pick as winner" in page

    analyst = client_for(users["analyst"])
    body = json.dumps({"variant_id": b.pk})
    assert (
        analyst.post(f"/api/email/campaigns/{campaign.pk}/winner", body, content_type="application/json").status_code
        == 403
    )
    marketing = client_for(users["marketing"])
    picked = marketing.post(f"/api/email/campaigns/{campaign.pk}/winner", body, content_type="application/json")
    assert picked.status_code == 200 and picked.json()["ab_winner_id"] == b.pk and picked.json()["status"] == "sending"
    run(campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    everyone = [r.rcpt_to[0] for r in smtp.received]
    assert len(everyone) == N and len(set(everyone)) == N  # everyone once
    rest = [r for r in smtp.received if r.rcpt_to[0] not in tested]
    assert rest and all(r.message["Subject"] == "[QC] s" for r in rest)
    again = marketing.post(f"/api/email/campaigns/{campaign.pk}/winner", body, content_type="application/json")
    assert again.status_code == 409


def test_the_winner_by_clicks_or_human_opens(smtp: Mailbox, world: dict[str, Any]) -> None:
    campaign, a, b = world["campaign"], world["a"], world["b"]
    Campaign.objects.filter(pk=campaign.pk).update(ab_metric="clicks")
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    run(a)
    run(b)
    sends_a = list(Send.objects.filter(campaign=a, state="sent"))
    sends_b = list(Send.objects.filter(campaign=b, state="sent"))
    # A: many machine opens and a scanner's clicks; B: one person clicked.
    for send in sends_a:
        Open.objects.create(
            send=send, campaign=a, contact_id=send.contact_id, machine=True, machine_reason="apple_privacy"
        )
        Click.objects.create(send=send, campaign=a, contact_id=send.contact_id, machine=True, machine_reason="scanner")
    Click.objects.create(send=sends_b[0], campaign=b, contact_id=sends_b[0].contact_id)
    campaign.refresh_from_db()
    assert abtests.abtests_decide_due(now=campaign.ab_decide_at - dt.timedelta(minutes=1)) == []
    assert abtests.abtests_decide_due(now=campaign.ab_decide_at) == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.ab_winner_id == b.pk and campaign.status == "sending"
    # By human opens, with none anywhere, the earlier label wins the tie.
    assert abtests.abtest_winner(Campaign(pk=campaign.pk, ab_metric="opens")) == a


def test_roles_and_bad_input(client_for: Any, users: Any, world: dict[str, Any]) -> None:
    campaign = world["campaign"]
    url = f"/api/email/campaigns/{campaign.pk}/variants"
    analyst = client_for(users["analyst"])
    assert analyst.get(url).status_code == 200
    assert analyst.post(url, {"subject": "x"}, content_type="application/json").status_code == 403
    marketing = client_for(users["marketing"])
    listed = marketing.get(url).json()["items"]
    assert [v["label"] for v in listed] == ["A", "B"] and listed[0]["subject"] == "Giảm 20% cho bạn"
    assert marketing.post(url, {"template_id": 999999}, content_type="application/json").status_code == 422
    assert marketing.post(url, {"sender_email": "not an address"}, content_type="application/json").status_code == 422
    for _ in range(3):
        assert marketing.post(url, {"subject": "thêm"}, content_type="application/json").status_code == 201
    assert marketing.post(url, {"subject": "thứ sáu"}, content_type="application/json").status_code == 409
    changed = marketing.patch(f"{url}/{world['a'].pk}", {"subject": "Mới"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["subject"] == "Mới"
    assert marketing.delete(f"{url}/{world['b'].pk}").status_code == 204
    bad = marketing.patch(f"/api/email/campaigns/{campaign.pk}", {"ab_share": 90}, content_type="application/json")
    assert bad.status_code == 422
    # Variants are not campaigns of the list.
    assert [c["id"] for c in marketing.get("/api/email/campaigns").json()["items"]] == [campaign.pk]


def test_one_variant_is_no_test(world: dict[str, Any]) -> None:
    abtests.variant_delete(actor=world["actor"], variant=world["b"])
    with pytest.raises(InvalidInput) as refused:
        campaigns.campaign_schedule(actor=world["actor"], campaign=world["campaign"])
    assert refused.value.details == {"variants": ["An A/B test needs at least two variants."]}


def test_variants_through_the_pages(client_for: Any, users: Any, world: dict[str, Any]) -> None:
    campaign = world["campaign"]
    marketing = client_for(users["marketing"])
    page = marketing.get(f"/email/campaigns/{campaign.pk}/").content.decode()
    assert "Add variant" in page and 'data-testid="variant-B"' in page
    added = marketing.post(f"/email/campaigns/{campaign.pk}/variants/", {"subject": "Chỉ hôm nay", "template": ""})
    assert added.status_code == 302
    labels = dict(campaign.variants.values_list("variant_label", "overrides"))
    assert labels["C"] == {"subject": "Chỉ hôm nay"} and len(labels) == 3
    removed = marketing.post(f"/email/campaigns/{campaign.pk}/variants/{world['a'].pk}/delete/")
    assert removed.status_code == 302 and campaign.variants.count() == 2
    analyst = client_for(users["analyst"])
    assert analyst.post(f"/email/campaigns/{campaign.pk}/variants/", {"subject": "x"}).status_code == 403
    assert analyst.post(f"/email/campaigns/{campaign.pk}/variants/{world['b'].pk}/pick/").status_code == 403


def test_the_variants_are_sent_as_the_parent_says(smtp: Mailbox, world: dict[str, Any]) -> None:
    campaign, a, b = world["campaign"], world["a"], world["b"]
    campaigns.campaign_update(actor=world["actor"], campaign=campaign, data={"tracking": False, "per_hour": 500})
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    run(a)
    run(b)
    assert smtp.received
    for received in smtp.received:  # no pixel, no tracked links when the parent tracks nothing
        assert "/email/o/" not in received.part("text/html") and "/email/c/" not in received.part("text/html")
    assert {(v.tracking, v.per_hour) for v in Campaign.objects.filter(parent=campaign)} == {(False, 500)}


def test_the_winner_picked_from_a_copy_read_before_the_start(smtp: Mailbox, world: dict[str, Any]) -> None:
    campaign, a, b = world["campaign"], world["a"], world["b"]  # read before the start: no content yet
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    run(a)
    run(b)
    abtests.abtest_pick(actor=world["actor"], campaign=campaign, variant=b)
    run(campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and len(smtp.received) == N
    tested = set(Send.objects.filter(campaign__parent=campaign).values_list("email", flat=True))
    rest = [r for r in smtp.received if r.rcpt_to[0] not in tested]
    assert rest and all(r.message["Subject"] == "[QC] s" for r in rest)


def test_no_variant_nor_winner_without_consent(smtp: Mailbox, world: dict[str, Any]) -> None:
    """Of 40 people, 10 withdrew consent, 10 are suppressed, 10 paused: only the other 10 get
    an email, a variant or the winner, once each."""
    actor, campaign = world["actor"], world["campaign"]
    until = timezone.now() + dt.timedelta(days=30)
    for i in range(N):
        person, email = Contact.objects.get(email=f"khach{i}@example.vn"), f"khach{i}@example.vn"
        if i % 4 == 1:
            consent_record(actor=actor, contact=person, purpose="email_marketing", status="withdrawn", source="ui")
        elif i % 4 == 2:
            Suppression.objects.create(email=email, reason=Suppression.Reason.UNSUBSCRIBED)
        elif i % 4 == 3:
            consent_record(
                actor=actor, contact=person, purpose="email_marketing", status="withdrawn", source="ui", until=until
            )
    campaigns.campaign_schedule(actor=actor, campaign=campaign)
    run(world["a"])
    run(world["b"])
    abtests.abtest_pick(actor=actor, campaign=campaign, variant=world["a"])
    run(campaign)
    got = [r.rcpt_to[0] for r in smtp.received]
    assert sorted(got) == sorted(f"khach{i}@example.vn" for i in range(N) if i % 4 == 0)
    in_variants = set(
        Send.objects.filter(campaign__parent=campaign).exclude(state="sent").values_list("reason", flat=True)
    )
    assert in_variants and in_variants <= {"no_consent", "suppressed", "paused"}


def test_a_variant_follows_the_parents_template_until_the_start(smtp: Mailbox, world: dict[str, Any]) -> None:
    campaign, a = world["campaign"], world["a"]  # A: the parent's template; B: its own ("Khác")
    later = EmailTemplate.objects.create(name="Mới", subject="x", body="<p>Nội dung mới</p>")
    campaigns.campaign_update(actor=world["actor"], campaign=campaign, data={"template_id": later.pk})
    campaigns.campaign_schedule(actor=world["actor"], campaign=campaign)
    run(a)
    run(world["b"])
    in_a = set(Send.objects.filter(campaign=a, state="sent").values_list("email", flat=True))
    html = {r.rcpt_to[0]: r.part("text/html") for r in smtp.received}
    assert in_a and all("Nội dung mới" in html[address] for address in in_a)
    assert all("Nội dung khác" in body for address, body in html.items() if address not in in_a)
    abtests.abtest_pick(actor=world["actor"], campaign=campaign, variant=a)
    run(campaign)
    rest = [r for r in smtp.received if r.rcpt_to[0] not in html]
    assert rest and all("Nội dung mới" in r.part("text/html") for r in rest)
