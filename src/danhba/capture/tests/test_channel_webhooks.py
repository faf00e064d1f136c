"""The channel webhooks: signatures, the Facebook handshake, storing before processing,
processing through the Graph API (a fake client), idempotency, failures and retries, Zalo's
events on the timeline."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.capture.channels import services
from danhba.capture.channels.signatures import zalo_signature
from danhba.capture.models import ChannelLead, ChannelPayload
from danhba.capture.tests.channel_fixtures import (
    PAGE_ID,
    FakeGraph,
    facebook_connection,
    leadgen_body,
    post_facebook,
    post_zalo,
    zalo_body,
    zalo_connection,
)
from danhba.contacts.models import Contact, ExternalId
from danhba.privacy.models import ConsentPurpose, ConsentRecord
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db

LEAD = {"full_name": "nguyễn thị hoa", "email": "Hoa.Nguyen@Gmail.com", "phone_number": "+84912345678",
        "city": "TP HCM", "budget": "50 triệu"}  # fmt: skip


def _process(graph: Any = None) -> list[str]:
    ids = ChannelPayload.objects.filter(status="received").order_by("id").values_list("id", flat=True)
    return [services.payload_process(payload_id=pk, graph=graph) for pk in ids]


# --- Facebook -------------------------------------------------------------------------------


def test_the_handshake_echoes_the_challenge_only_for_our_verify_token(client: Any) -> None:
    connection = facebook_connection()
    url = f"/capture/hooks/facebook/{connection.key}/"
    good = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "vt-123", "hub.challenge": "1158201444"})
    assert good.status_code == 200 and good.content == b"1158201444"
    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403 and b"1" not in wrong.content
    assert client.get(url, {"hub.mode": "subscribe", "hub.challenge": "1"}).status_code == 403
    assert client.get("/capture/hooks/facebook/nope/", {"hub.mode": "subscribe", "hub.verify_token": "vt-123",
                                                        "hub.challenge": "1"}).status_code == 403  # fmt: skip


def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(client: Any) -> None:
    connection = facebook_connection()
    body = leadgen_body("900001")
    assert post_facebook(client, connection, body, signature=None).status_code == 403
    forged = post_facebook(client, connection, body, signature="sha256=" + "0" * 64)
    assert forged.status_code == 403 and forged.content == b"Forbidden"
    other = facebook_connection(account_id="999", name="other", secret="another-secret")
    assert post_facebook(client, other, body, signature=None).status_code == 403
    # Signed with another connection's secret: still refused, and the same answer.
    from danhba.capture.channels.signatures import facebook_signature

    crossed = post_facebook(client, connection, body, signature=facebook_signature(body, "another-secret"))
    assert crossed.status_code == 403 and crossed.content == forged.content
    assert ChannelPayload.objects.count() == 0


def test_a_lead_is_stored_then_fetched_mapped_and_lands_on_the_timeline(client: Any, admin: Any) -> None:
    connection = facebook_connection()
    response = post_facebook(client, connection, leadgen_body("900001"))
    assert response.status_code == 200
    payload = ChannelPayload.objects.get()
    assert payload.status == "received" and payload.event == "leadgen" and "900001" in payload.body
    assert payload.headers["X-Hub-Signature-256"].startswith("sha256=")
    graph = FakeGraph({"900001": LEAD})
    assert _process(graph) == ["processed"]
    assert "/v21.0/900001?" in graph.urls[0] and "access_token=EAAB-page-token" in graph.urls[0]
    assert "appsecret_proof=" in graph.urls[0]
    contact = Contact.objects.get()
    assert (contact.full_name, contact.email, contact.phone) == (
        "Nguyễn Thị Hoa",
        "hoa.nguyen@gmail.com",
        "+84912345678",
    )
    assert contact.source == "facebook" and contact.province
    payload.refresh_from_db()
    assert payload.contact_id == contact.pk and payload.attempts == 1
    event = Event.objects.get(contact=contact)
    assert event.name == "Form Submitted" and event.properties["lead_id"] == "900001"
    timeline = client.get  # the API's timeline is what every reader sees
    client.force_login(admin)
    rows = timeline(f"/api/contacts/{contact.pk}/timeline").json()
    assert any("Form Submitted" in str(row) for row in rows["items"])


def test_the_same_lead_twice_updates_the_contact_and_never_duplicates(client: Any) -> None:
    connection = facebook_connection()
    graph = FakeGraph({"900001": {"full_name": "Trần Văn Bình", "email": "binh@example.vn"}})
    post_facebook(client, connection, leadgen_body("900001"))
    _process(graph)
    graph.leads["900001"] = {"full_name": "Trần Văn Bình", "email": "binh@example.vn", "phone_number": "0987 654 321"}
    post_facebook(client, connection, leadgen_body("900001"))  # a replay, with the lead changed meanwhile
    assert _process(graph) == ["processed"]
    contact = Contact.objects.get()
    assert contact.phone == "+84987654321"
    assert ChannelLead.objects.get().contact_id == contact.pk
    assert Event.objects.filter(contact=contact, name="Form Submitted").count() == 1
    assert ChannelPayload.objects.filter(status="processed").count() == 2


def test_a_lead_matches_an_existing_contact_by_phone_in_another_format(client: Any, make_contact: Any) -> None:
    known = make_contact(full_name="Lê Minh", phones=[{"phone": "0912 345 678"}])
    post_facebook(client, facebook_connection(), leadgen_body("900002"))
    _process(FakeGraph({"900002": {"full_name": "Lê Minh", "phone_number": "84912345678", "email": "minh@ex.vn"}}))
    assert Contact.objects.count() == 1
    known.refresh_from_db()
    assert known.email == "minh@ex.vn" and known.source != "facebook"  # an existing contact keeps its source


def test_the_mapping_sends_fields_to_custom_fields_and_consent(client: Any, admin: Any) -> None:
    from danhba.contacts.models import CustomField

    CustomField.objects.create(key="budget", label="Budget", type="text", entity="contact")
    ConsentPurpose.objects.get_or_create(key="marketing_email", defaults={"name": "Marketing email"})
    mapping = {"full_name": "full_name", "email": "email", "budget": "custom:budget",
               "agree_newsletter": "consent:marketing_email", "note": "ignore"}  # fmt: skip
    post_facebook(client, facebook_connection(mapping=mapping), leadgen_body("900003"))
    fields = {"full_name": "Phạm Thu", "email": "thu@ex.vn", "budget": "50 triệu", "agree_newsletter": "Yes",
              "note": "gọi buổi sáng"}  # fmt: skip
    assert _process(FakeGraph({"900003": fields})) == ["processed"]
    contact = Contact.objects.get()
    assert contact.custom == {"budget": "50 triệu"}
    consent = ConsentRecord.objects.get(contact_id=contact.pk)
    assert consent.status == "granted" and consent.purpose.key == "marketing_email"
    assert consent.text_version == "agree_newsletter" and "900003" in consent.proof
    assert ChannelLead.objects.get().fields["note"] == "gọi buổi sáng"  # kept with the lead, not written


def test_a_graph_failure_keeps_the_payload_failed_then_a_retry_processes_it(client: Any, admin: Any) -> None:
    post_facebook(client, facebook_connection(), leadgen_body("900004"))
    assert _process(FakeGraph(status=500)) == ["failed"]
    payload = ChannelPayload.objects.get()
    assert payload.status == "failed" and "500" in payload.error and "temporarily unavailable" in payload.error
    assert Contact.objects.count() == 0
    from danhba.conftest import actor_for

    assert services.payloads_retry(actor=actor_for(admin), ids=[payload.pk]) == 1
    assert _process(FakeGraph({"900004": {"full_name": "Đỗ Hải", "email": "hai@ex.vn"}})) == ["processed"]
    payload.refresh_from_db()
    assert payload.status == "processed" and payload.error == "" and payload.attempts == 2
    assert Contact.objects.get().email == "hai@ex.vn"


def test_a_malformed_body_with_a_good_signature_is_kept_as_failed(client: Any) -> None:
    connection = facebook_connection()
    assert post_facebook(client, connection, b"{not json").status_code == 200
    assert _process(FakeGraph()) == ["failed"]
    payload = ChannelPayload.objects.get()
    assert payload.body == "{not json" and payload.error == "the body is not JSON"


def test_a_change_that_is_not_a_lead_is_ignored(client: Any) -> None:
    connection = facebook_connection()
    body = (
        b'{"object": "page", "entry": [{"id": "%s", "changes": [{"field": "feed", "value": {}}]}]}' % PAGE_ID.encode()
    )
    post_facebook(client, connection, body)
    assert _process(FakeGraph()) == ["ignored"]


def test_the_sweep_retries_a_failed_payload_a_few_times(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from django.utils import timezone

    from danhba.capture.channels import graph

    post_facebook(client, facebook_connection(), leadgen_body("900005"))
    monkeypatch.setattr(graph, "default_client", lambda: FakeGraph(status=503))
    assert services.payloads_sweep(timezone.now() + dt.timedelta(minutes=2)) == 1  # its wake-up was lost
    assert ChannelPayload.objects.get().status == "failed"
    assert services.payloads_sweep(timezone.now() + dt.timedelta(minutes=2)) == 0  # not yet
    monkeypatch.setattr(graph, "default_client", lambda: FakeGraph({"900005": {"email": "sweep@ex.vn"}}))
    assert services.payloads_sweep(timezone.now() + dt.timedelta(minutes=6)) == 1
    assert ChannelPayload.objects.get().status == "processed"


# --- Zalo -----------------------------------------------------------------------------------


def test_zalo_signature_good_bad_and_missing(client: Any) -> None:
    connection = zalo_connection()
    body = zalo_body("follow")
    assert post_zalo(client, connection, body, signature=None).status_code == 403
    assert post_zalo(client, connection, body, signature="mac=" + "f" * 64).status_code == 403
    # Signed over another timestamp than the body's: refused.
    wrong = zalo_signature(body, connection.app_id, "1765000000999", connection.secret)
    assert post_zalo(client, connection, body, signature=wrong).status_code == 403
    assert ChannelPayload.objects.count() == 0
    assert post_zalo(client, connection, body).status_code == 200
    assert ChannelPayload.objects.get().event == "follow"


@pytest.mark.parametrize("typed", ["84912345678", "0912 345 678"])
def test_zalo_submit_info_creates_a_lead_keyed_by_the_zalo_user(client: Any, typed: str) -> None:
    connection = zalo_connection()
    info = {"name": "Võ Thị Mai", "phone": typed, "address": "12 Lê Lợi", "city": "Đà Nẵng", "district": "Hải Châu"}
    post_zalo(client, connection, zalo_body("user_submit_info", info=info))
    assert _process() == ["processed"]
    contact = Contact.objects.get()
    assert (contact.full_name, contact.phone, contact.street) == ("Võ Thị Mai", "+84912345678", "12 Lê Lợi")
    assert contact.source == "zalo" and contact.province
    assert ExternalId.objects.get(contact=contact).value == "8449123123"
    assert Event.objects.get(contact=contact).name == "Form Submitted"


def test_zalo_follow_message_unfollow_land_on_one_contacts_timeline(client: Any) -> None:
    connection = zalo_connection()
    post_zalo(client, connection, zalo_body("follow"))
    post_zalo(client, connection, zalo_body("user_send_text", message={"text": "Cho em hỏi giá", "msg_id": "m1"}))
    post_zalo(client, connection, zalo_body("user_submit_info", info={"name": "Hồ Văn Nam", "phone": "0912345679"}))
    post_zalo(client, connection, zalo_body("unfollow", timestamp="1765000099000"))
    assert _process() == ["processed"] * 4
    contact = Contact.objects.get()
    names = list(Event.objects.filter(contact=contact).order_by("timestamp", "id").values_list("name", flat=True))
    assert names == ["Zalo Followed", "Zalo Message Received", "Form Submitted", "Zalo Unfollowed"]
    assert Event.objects.get(name="Zalo Message Received").properties["text"] == "Cho em hỏi giá"
    assert contact.full_name == "Hồ Văn Nam"


def test_zalo_unknown_events_are_stored_and_marked_ignored(client: Any) -> None:
    connection = zalo_connection()
    post_zalo(client, connection, zalo_body("oa_send_text"))
    assert _process() == ["ignored"]
    payload = ChannelPayload.objects.get()
    assert payload.status == "ignored" and "oa_send_text" in payload.error and Contact.objects.count() == 0


def test_a_zalo_replay_stores_one_event(client: Any) -> None:
    connection = zalo_connection()
    body = zalo_body("user_send_text", message={"text": "Alo", "msg_id": "m9"})
    post_zalo(client, connection, body)
    post_zalo(client, connection, body)
    assert _process() == ["processed", "processed"]
    assert Contact.objects.count() == 1 and Event.objects.filter(name="Zalo Message Received").count() == 1


def test_webhooks_are_rate_limited(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from danhba.capture.channels import webhooks
    from danhba.core.ratelimit import PublicLimit

    monkeypatch.setattr(webhooks, "LIMIT", PublicLimit("test-channels", per_minute=2))
    connection = zalo_connection()
    codes = [post_zalo(client, connection, zalo_body("follow")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_value_the_contact_refuses_is_left_out_and_noted_not_the_lead(client: Any) -> None:
    connection = zalo_connection()
    info = {"name": "Mai Anh", "phone": "0912345670", "city": "Atlantis"}
    post_zalo(client, connection, zalo_body("user_submit_info", info=info))
    assert _process() == ["processed"]
    contact = Contact.objects.get()
    assert contact.full_name == "Mai Anh" and contact.province == ""
    assert "province" in ChannelPayload.objects.get().error and "Atlantis" in ChannelPayload.objects.get().error


def test_a_lead_delivered_twice_makes_one_contact_and_one_consent(client: Any) -> None:
    """Facebook retries a delivery and the sweep processes a payload again: one contact, one
    consent record, one timeline event, whatever the order."""
    ConsentPurpose.objects.get_or_create(key="marketing_email", defaults={"name": "Marketing email"})
    mapping = {"full_name": "full_name", "email": "email", "phone_number": "phone",
               "agree_newsletter": "consent:marketing_email"}  # fmt: skip
    connection = facebook_connection(mapping=mapping)
    graph = FakeGraph({"900004": {"full_name": "Võ Lan", "email": "lan@ex.vn", "phone_number": "0903 111 222",
                                  "agree_newsletter": "Yes"}})  # fmt: skip
    post_facebook(client, connection, leadgen_body("900004"))
    post_facebook(client, connection, leadgen_body("900004"))
    first, second = ChannelPayload.objects.order_by("id").values_list("id", flat=True)
    assert services.payload_process(payload_id=first, graph=graph) == "processed"
    assert services.payload_process(payload_id=first, graph=graph) == "processed"  # the sweep, again
    assert services.payload_process(payload_id=second, graph=graph) == "processed"
    contact = Contact.objects.get()
    assert (contact.email, contact.phone) == ("lan@ex.vn", "+84903111222")
    assert ConsentRecord.objects.filter(contact_id=contact.pk).count() == 1
    assert Event.objects.filter(contact=contact, name="Form Submitted").count() == 1
    assert ChannelPayload.objects.get(pk=first).attempts == 1
