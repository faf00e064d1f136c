"""Where events come from: contact writes (service, API, bulk edit, import), the event API,
orders; and that emitting costs nothing when nobody subscribes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from danhba.conftest import actor_for
from danhba.contacts.models import CustomField
from danhba.contacts.services.contacts import contact_create, contact_update, contacts_bulk_update
from danhba.contacts.services.fields import customfield_save
from danhba.core.actor import Actor
from danhba.ingest import services as ingest
from danhba.tracking.services.sources import source_create
from danhba.webhooks import services, signing
from danhba.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def deliveries(topic: str | None = None) -> list[WebhookDelivery]:
    qs = WebhookDelivery.objects.order_by("id")
    return list(qs.filter(topic=topic) if topic else qs)


def test_creating_a_contact_reaches_the_receiver_after_the_commit(
    receiver: Any, make_endpoint: Any, admin: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(
            actor=actor_for(admin),
            data={"full_name": "Trần Thị Lan", "emails": [{"email": "lan@example.vn"}], "birthday": "1990-02-03",
                  "gender": "female", "job_title": "Kế toán", "tags": ["VIP"]},
        )  # fmt: skip
        assert receiver.requests == []  # nothing leaves before the commit
    [request] = receiver.requests
    signing.verify(request.body, request.signature, endpoint.secret)
    body = request.json
    assert body["topic"] == "contact.created"
    data = body["data"]
    assert data["id"] == contact.pk and data["full_name"] == "Trần Thị Lan"
    assert data["emails"] == [{"email": "lan@example.vn", "label": "personal", "is_primary": True}]
    assert data["tags"] == ["VIP"] and data["job_title"] == "Kế toán"
    # Sensitive fields never leave in a webhook, whoever made the change.
    assert "birthday" not in data and "gender" not in data and "family" not in data
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


def test_updates_name_the_changed_fields_and_sensitive_only_changes_are_not_sent(
    make_endpoint: Any, make_contact: Any, admin: Any
) -> None:
    contact = make_contact()
    make_endpoint("https://hooks.example.com/in")
    actor = actor_for(admin)
    contact_update(actor=actor, contact=contact, data={"job_title": "Giám đốc", "province": "Hà Nội"})
    [delivery] = deliveries("contact.updated")
    assert delivery.payload["data"]["job_title"] == "Giám đốc"
    assert delivery.payload["data"]["changed_fields"] == ["job_title", "province"]
    customfield_save(
        actor=actor, field=None,
        data={"label": "CCCD", "key": "cccd", "type": "text", "entity": "contact", "is_sensitive": True},
    )  # fmt: skip
    contact_update(actor=actor, contact=contact, data={"birthday": "1991-01-01", "custom": {"cccd": "0123"}})
    assert len(deliveries("contact.updated")) == 1  # nothing a receiver may see changed
    contact_update(actor=actor, contact=contact, data={"custom": {"cccd": "0456"}, "occupation": "Kỹ sư"})
    last = deliveries("contact.updated")[-1]
    assert last.payload["data"]["changed_fields"] == ["occupation"]
    assert "cccd" not in last.payload["data"]["custom"]
    assert CustomField.objects.filter(key="cccd").exists()
    # Saving without a change sends nothing.
    contact_update(actor=actor, contact=contact, data={"occupation": "Kỹ sư"})
    assert len(deliveries("contact.updated")) == 2


def test_bulk_edits_send_one_update_per_contact(make_endpoint: Any, make_contact: Any, admin: Any) -> None:
    first, second = make_contact(full_name="A Một"), make_contact(full_name="B Hai")
    make_endpoint("https://hooks.example.com/in", topics=["contact.updated"])
    contacts_bulk_update(actor=actor_for(admin), contact_ids=[first.pk, second.pk], add_tags=["Hội chợ"])
    sent = deliveries("contact.updated")
    assert sorted(d.payload["data"]["id"] for d in sent) == [first.pk, second.pk]
    assert {tuple(d.payload["data"]["changed_fields"]) for d in sent} == {("tags",)}
    assert all(d.payload["data"]["tags"] == ["Hội chợ"] for d in sent)
    assert deliveries("contact.created") == []  # not subscribed


def test_contacts_created_and_changed_through_the_api(api_for: Any, make_endpoint: Any, admin: Any) -> None:
    make_endpoint("https://hooks.example.com/in")
    api = api_for(admin)
    response = api.post("/contacts", {"full_name": "Lê Văn Hùng", "phones": [{"phone": "0912345678"}]})
    assert response.status_code == 201, response.content
    contact_id = response.json()["id"]
    assert api.patch(f"/contacts/{contact_id}", {"job_title": "Chủ tiệm"}).status_code == 200
    created, updated = deliveries()
    assert (created.topic, created.payload["data"]["phone"]) == ("contact.created", "+84912345678")
    assert (updated.topic, updated.payload["data"]["changed_fields"]) == ("contact.updated", ["job_title"])
    # A refused write sends nothing.
    assert api.post("/contacts", {"emails": [{"email": "not-an-email"}]}).status_code == 422
    assert len(deliveries()) == 2


def test_an_import_emits_in_bulk(make_endpoint: Any) -> None:
    make_endpoint("https://hooks.example.com/in")
    actor = Actor.system("cli")

    def run(data: bytes) -> Any:
        imported = ingest.import_create(actor=actor, file=data, file_name="contacts.csv")
        imported = ingest.import_configure(actor=actor, run=imported, source="import", consent_proof="forms")
        ingest.import_start(actor=actor, run=imported, enqueue=False)
        return ingest.import_execute(imported.pk, via="cli")

    csv = (
        "Họ tên,Email,Chức danh\nNguyễn An,an@example.vn,Kế toán\nTrần Bình,binh@example.vn,\nLê Chi,chi@example.vn,\n"
    )
    run(csv.encode())
    created = deliveries("contact.created")
    assert sorted(d.payload["data"]["email"] for d in created) == ["an@example.vn", "binh@example.vn", "chi@example.vn"]
    run("Họ tên,Email,Chức danh\nTrần Bình,binh@example.vn,Thủ kho\n".encode())
    [updated] = deliveries("contact.updated")
    assert updated.payload["data"]["email"] == "binh@example.vn"
    assert updated.payload["data"]["job_title"] == "Thủ kho"
    assert updated.payload["data"]["changed_fields"] == ["job_title"]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def post_events(settings: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """Events are stored by the time the request returns, whether the event API stores them in
    the request or hands them to a worker job after the commit."""
    settings.EVENTS_PROCESS_INLINE = True

    def post(client: Any, path: str, body: dict[str, Any], key: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            data = json.dumps(body)
            return client.post(path, data, content_type="application/json", HTTP_AUTHORIZATION=basic(key))

    return post


def test_the_event_api_emits_fresh_events_only(
    client: Any, make_endpoint: Any, receiver: Any, post_events: Any
) -> None:
    make_endpoint(receiver.url, topics=["event.received"])
    _source, key = source_create(actor=Actor.system("cli"), name="Shop", kind="server")
    batch = {
        "batch": [
            {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1", "properties": {"plan": "pro"}},
            {"type": "page", "name": "Home", "anonymousId": "a-1", "messageId": "m-2"},
            {"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "m-1"},
        ]
    }
    assert post_events(client, "/v1/batch", batch, key).json()["accepted"] == 2
    sent = deliveries("event.received")
    assert [d.payload["data"]["message_id"] for d in sent] == ["m-1", "m-2"]
    assert sent[0].payload["data"]["properties"] == {"plan": "pro"}
    assert sent[0].payload["data"]["name"] == "Signed Up" and sent[0].payload["data"]["id"]
    # Sent to the receiver after the commit, signed.
    assert sorted(r.json["data"]["message_id"] for r in receiver.requests) == ["m-1", "m-2"]
    # The SDK retries the same batch: stored once, sent once.
    assert post_events(client, "/v1/batch", batch, key).json()["duplicates"] == 3
    assert len(deliveries("event.received")) == 2
    assert services.deliveries_send_due() == 0 and len(receiver.requests) == 2


def test_an_order_from_an_event_emits_order_created(client: Any, make_endpoint: Any, post_events: Any) -> None:
    make_endpoint("https://hooks.example.com/in", topics=["order.created"])
    _source, key = source_create(actor=Actor.system("cli"), name="Shop", kind="server")
    body = {
        "event": "Order Completed",
        "userId": "u-9",
        "messageId": "o-1",
        "properties": {"order_id": "A-100", "total": 150000, "currency": "VND",
                       "products": [{"product_id": "SKU-1", "name": "Cà phê", "quantity": 3, "price": 50000}]},
    }  # fmt: skip
    response = post_events(client, "/v1/track", body, key)
    assert response.status_code == 200, response.content
    [delivery] = deliveries("order.created")
    data = delivery.payload["data"]
    assert data["order_id"] == "A-100" and data["currency"] == "VND"
    assert data["total"] == "150000.00"  # money as exact decimal strings
    assert [(line["name"], line["quantity"]) for line in data["lines"]] == [("Cà phê", 3)]
    # The same order again (an update, not a new order) does not emit order.created.
    body["messageId"] = "o-2"
    post_events(client, "/v1/track", body, key)
    assert len(deliveries("order.created")) == 1


def test_contact_merged_sends_the_survivor_and_the_merged_ids(make_endpoint: Any, make_contact: Any) -> None:
    make_endpoint("https://hooks.example.com/in", topics=["contact.merged"])
    survivor = make_contact(full_name="Phạm Dũng")
    assert services.contact_merged(survivor, [41, 40]) == 1
    [delivery] = deliveries("contact.merged")
    assert delivery.payload["data"]["contact"]["full_name"] == "Phạm Dũng"
    assert delivery.payload["data"]["merged_ids"] == [40, 41]


def test_nobody_subscribed_costs_no_query_and_writes_nothing(
    client: Any, make_endpoint: Any, make_contact: Any, admin: Any, settings: Any
) -> None:
    settings.WEBHOOKS_TOPICS_CACHE_SECONDS = 3600
    make_endpoint("https://hooks.example.com/in", topics=["order.created"])  # someone, but not for these
    contact = make_contact()
    with CaptureQueriesContext(connection) as queries:
        assert services.contacts_changed(created=[contact.pk], updated={contact.pk: ["job_title"]}) == 0
        assert services.emit("contact.created", {"id": 1}) == 0
        assert services.events_received(source=None, message_ids=["m-1"], received_at=None) == 0  # type: ignore[arg-type]
        assert services.contact_merged(contact, [1]) == 0
    assert len(queries) == 0
    _source, key = source_create(actor=Actor.system("cli"), name="Shop", kind="server")
    response = client.post(
        "/v1/track",
        json.dumps({"event": "Viewed", "userId": "u-1", "messageId": "x-1"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(key),
    )
    assert response.status_code == 200
    contact_update(actor=actor_for(admin), contact=contact, data={"job_title": "Thợ may"})
    assert WebhookDelivery.objects.count() == 0


def test_a_new_subscription_is_seen_at_once_in_this_process(make_endpoint: Any, make_contact: Any) -> None:
    make_contact()
    assert services.subscribed_topics() == frozenset()
    make_endpoint("https://hooks.example.com/in", topics=["contact.created"])
    make_contact(full_name="Mới Tạo")
    assert len(deliveries("contact.created")) == 1
