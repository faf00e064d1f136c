"""Campaigns through the API and the pages: create, schedule, the counts and the excluded list
by reason, pause/resume/cancel; bad input is a 4xx with JSON; read-only roles only look; the
one-click unsubscribe: POST without cookies answers 200 and writes the consent ledger and the
suppression list, GET changes nothing, a forged token is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from danhba.conftest import actor_for
from danhba.messaging.links import Recipient, make_token
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.privacy.models import ConsentRecord, ConsentState
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create

pytestmark = pytest.mark.django_db


def post(client: Any, path: str, data: Any = None) -> Any:
    return client.post(f"/api{path}", json.dumps(data or {}), content_type="application/json")


@pytest.fixture
def world(admin: Any, make_contact: Any) -> dict[str, Any]:
    actor = actor_for(admin)
    yes = make_contact(full_name="Ngô Thị Có", gender="female", emails=["co@example.vn"])
    no = make_contact(full_name="Ngô Văn Không", emails=["khong@example.vn"])
    consent_record(actor=actor, contact=yes, purpose="email_marketing", status="granted", source="ui")
    audience = segment_create(actor=actor, name="Tất cả", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[yes.pk, no.pk])
    template = EmailTemplate.objects.create(name="t", subject="Chào {{ contact.given_name }}", body="<p>x</p>")
    return {"yes": yes, "no": no, "audience": audience, "template": template}


def test_api_campaign_flow(client_for: Any, users: Any, world: dict[str, Any], smtp: Any) -> None:
    client = client_for(users["marketing"])
    created = post(
        client,
        "/email/campaigns",
        {"name": "Tin", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk]},
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["segment_ids"] == [world["audience"].pk]
    renamed = client.patch(
        f"/api/email/campaigns/{campaign_id}", json.dumps({"name": "Tin mới"}), content_type="application/json"
    )
    assert renamed.json()["name"] == "Tin mới"
    scheduled = post(client, f"/email/campaigns/{campaign_id}/schedule").json()
    assert scheduled["status"] == "sending" and scheduled["counts"]["queued"] == 1
    assert scheduled["counts"]["reason:no_consent"] == 1
    excluded = client.get(f"/api/email/campaigns/{campaign_id}/recipients", {"state": "excluded"}).json()["items"]
    assert [(r["email"], r["reason"]) for r in excluded] == [("khong@example.vn", "no_consent")]
    assert post(client, f"/email/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    assert post(client, f"/email/campaigns/{campaign_id}/resume").json()["status"] == "sending"
    assert post(client, f"/email/campaigns/{campaign_id}/cancel").json()["status"] == "cancelled"
    again = post(client, f"/email/campaigns/{campaign_id}/resume")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert client.delete(f"/api/email/campaigns/{campaign_id}").status_code == 204


def test_api_bad_input(client_for: Any, users: Any, world: dict[str, Any]) -> None:
    client = client_for(users["marketing"])
    for body in (
        {"name": "x", "template_id": 999999, "segment_ids": [world["audience"].pk]},
        {"name": "x", "template_id": world["template"].pk, "segment_ids": []},
        {"name": "x", "template_id": world["template"].pk, "segment_ids": [999999]},
        {"name": "", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk]},
        {"name": "x", "template_id": world["template"].pk, "segment_ids": [world["audience"].pk], "per_hour": -1},
    ):
        response = post(client, "/email/campaigns", body)
        assert response.status_code == 422, (body, response.content)
        assert set(response.json()) == {"code", "message", "details"}
    campaign = Campaign.objects.create(name="c", template=world["template"])
    bad_at = post(client, f"/email/campaigns/{campaign.pk}/schedule", {"at": "not a time"})
    assert bad_at.status_code == 422
    bad_state = client.get(f"/api/email/campaigns/{campaign.pk}/recipients", {"state": "nope"})
    assert bad_state.status_code == 422
    # A template used by a campaign cannot be deleted.
    assert client.delete(f"/api/email/templates/{world['template'].pk}").status_code == 409
    for role in ("sales", "support", "analyst"):
        other = client_for(users[role])
        assert other.get(f"/api/email/campaigns/{campaign.pk}").status_code == 200
        assert post(other, f"/email/campaigns/{campaign.pk}/schedule").status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_pages(client_for: Any, users: Any, world: dict[str, Any], smtp: Any) -> None:
    client = client_for(users["marketing"])
    form = {
        "name": "Khuyến mãi", "template": world["template"].pk, "segments": [world["audience"].pk],
        "exclude_segments": [], "per_hour": 0,
    }  # fmt: skip
    response = client.post("/email/campaigns/new/", form)
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/email/campaigns/{campaign.pk}/"
    assert client.post(f"/email/campaigns/{campaign.pk}/schedule/", {"at": ""}).status_code == 302
    page = client.get(f"/email/campaigns/{campaign.pk}/").content.decode()
    assert "no email-marketing consent" in page and 'data-testid="reason-no_consent">1<' in page
    excluded = client.get(f"/email/campaigns/{campaign.pk}/", {"state": "excluded", "reason": "no_consent"})
    assert "khong@example.vn" in excluded.content.decode() and "co@example.vn" not in excluded.content.decode()
    assert client.post(f"/email/campaigns/{campaign.pk}/pause/").status_code == 302
    assert Campaign.objects.get().status == "paused"
    assert "Khuyến mãi" in client.get("/email/campaigns/").content.decode()
    assert client.post(f"/email/campaigns/{campaign.pk}/explode/").status_code == 404
    analyst = client_for(users["analyst"])
    assert analyst.get(f"/email/campaigns/{campaign.pk}/").status_code == 200
    assert analyst.post(f"/email/campaigns/{campaign.pk}/cancel/").status_code == 403


def test_one_click_unsubscribe(world: dict[str, Any]) -> None:
    contact = world["yes"]
    token = make_token(Recipient(contact.pk, 7))
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(f"/email/unsubscribe/{token}/")
    assert page.status_code == 200 and "Unsubscribe from marketing email?" in page.content.decode()
    assert not Suppression.objects.exists()
    assert ConsentState.objects.get(contact=contact).status == "granted"  # a GET changes nothing
    forged = browser.post(f"/email/unsubscribe/{token[:-3]}abc/", {"List-Unsubscribe": "One-Click"})
    assert forged.status_code == 400 and not Suppression.objects.exists()
    done = browser.post(f"/email/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and not done.cookies.get("sessionid")
    assert ConsentState.objects.get(contact=contact).status == "withdrawn"
    record = ConsentRecord.objects.filter(contact=contact).order_by("-id").first()
    assert record is not None and record.source == "email" and "one-click" in record.proof
    assert Suppression.objects.get().email == "co@example.vn"
    assert Send.objects.count() == 0
