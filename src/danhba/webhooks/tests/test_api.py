"""/api/webhooks with API keys: endpoint CRUD, secret, test, delivery log, resend; bad input is
a 4xx with a JSON body; roles without the webhook permission get 403."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.webhooks import services, signing
from danhba.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def test_endpoint_crud(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    assert [t["topic"] for t in api.get("/webhooks/topics").json()] == [
        "contact.created", "contact.updated", "contact.merged", "event.received", "order.created",
    ]  # fmt: skip
    created = api.post("/webhooks", {"url": "https://erp.example.com/in", "topics": ["order.created"]})
    assert created.status_code == 201, created.content
    body = created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["is_active"] is True and body["topics"] == ["order.created"]
    listed = api.get("/webhooks").json()["items"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]
    assert listed[0]["secret_hint"].startswith("whsec_") and endpoint.secret not in str(listed)
    changed = api.patch(f"/webhooks/{endpoint.pk}", {"topics": ["order.created", "contact.created"]}).json()
    assert changed["topics"] == ["contact.created", "order.created"]
    disabled = api.patch(f"/webhooks/{endpoint.pk}", {"is_active": False}).json()
    assert disabled["is_active"] is False and disabled["disabled_reason"]
    assert api.patch(f"/webhooks/{endpoint.pk}", {"is_active": True}).json()["is_active"] is True
    secret = api.get(f"/webhooks/{endpoint.pk}/secret").json()
    assert secret["secret"] == endpoint.secret
    assert AuditEvent.objects.filter(object_type="webhook", action="view", via="api").exists()
    rotated = api.post(f"/webhooks/{endpoint.pk}/rotate-secret", {"keep_previous_hours": 1}).json()
    assert rotated["secret"] != endpoint.secret and rotated["previous_secret_expires_at"]
    assert api.delete(f"/webhooks/{endpoint.pk}").status_code == 204
    error(api.get(f"/webhooks/{endpoint.pk}"), 404)


def test_bad_payloads_are_422_with_json(api_for: Any, admin: Any, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    api = api_for(admin)
    unknown = error(api.post("/webhooks", {"url": "https://a.example.com", "topics": ["contact.deleted"]}), 422)
    assert unknown["details"][0]["loc"][-2:] == ["topics", 0]
    error(api.post("/webhooks", {"url": "https://a.example.com", "topics": []}), 422)
    error(api.post("/webhooks", {"topics": ["order.created"]}), 422)
    error(api.post("/webhooks", {"url": "https://a.example.com", "topics": ["order.created"], "secret": "x"}), 422)
    private = error(api.post("/webhooks", {"url": "http://10.0.0.8/hook", "topics": ["order.created"]}), 422)
    assert "private or local" in private["details"]["url"][0]
    scheme = error(api.post("/webhooks", {"url": "gopher://a.example.com", "topics": ["order.created"]}), 422)
    assert "http://" in scheme["details"]["url"][0]
    error(api.post("/webhooks", {"url": "https://a.example.com/" + "x" * 2000, "topics": ["order.created"]}), 422)
    assert api.post("/webhooks", raw="{not json").status_code == 400
    assert not WebhookEndpoint.objects.exists()
    endpoint = services.endpoint_create(
        actor=actor_for(admin),
        url="https://a.example.com",
        topics=["order.created"],
    )
    error(api.patch(f"/webhooks/{endpoint.pk}", {"topics": None}), 422)
    error(api.patch(f"/webhooks/{endpoint.pk}", {"url": "ftp://x"}), 422)
    error(api.post(f"/webhooks/{endpoint.pk}/rotate-secret", {"keep_previous_hours": -1}), 422)
    error(api.get(f"/webhooks/{endpoint.pk}/deliveries", status="bogus"), 422)
    error(api.get(f"/webhooks/{endpoint.pk}/deliveries", cursor="!!!"), 400)
    error(api.get("/webhooks/99999999999999999999"), 422)


@pytest.mark.parametrize("role", ["marketing", "sales", "support", "analyst"])
def test_roles_without_the_permission_get_403(api_for: Any, users: Any, role: str, make_endpoint: Any) -> None:
    endpoint = make_endpoint("https://hooks.example.com/in")
    api = api_for(users[role])
    error(api.get("/webhooks"), 403)
    error(api.post("/webhooks", {"url": "https://a.example.com", "topics": ["order.created"]}), 403)
    error(api.get(f"/webhooks/{endpoint.pk}/secret"), 403)
    error(api.post(f"/webhooks/{endpoint.pk}/test"), 403)
    error(api.delete(f"/webhooks/{endpoint.pk}"), 403)
    assert WebhookEndpoint.objects.count() == 1


def test_test_send_delivery_log_and_resend(api_for: Any, admin: Any, receiver: Any, make_endpoint: Any) -> None:
    endpoint = make_endpoint(receiver.url)
    api = api_for(admin)
    ping = api.post(f"/webhooks/{endpoint.pk}/test").json()
    assert ping["status"] == "succeeded" and ping["last_status_code"] == 200 and ping["topic"] == "ping"
    signing.verify(receiver.requests[0].body, receiver.requests[0].signature, endpoint.secret)
    receiver.answer(500)
    for i in range(3):
        services.emit("contact.created", {"id": i})
    services.deliveries_send_due()
    page = api.get(f"/webhooks/{endpoint.pk}/deliveries", limit=2).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.get(f"/webhooks/{endpoint.pk}/deliveries", limit=2, cursor=page["next_cursor"]).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    failed = api.get(f"/webhooks/{endpoint.pk}/deliveries", status="failed").json()["items"]
    assert len(failed) == 3 and all(d["next_attempt_at"] for d in failed)
    one = api.get(f"/webhooks/{endpoint.pk}/deliveries/{failed[0]['id']}").json()
    assert one["payload"]["topic"] == "contact.created" and one["last_request_headers"]["Danhba-Event-Id"]
    receiver.answer(200)
    resent = api.post(f"/webhooks/{endpoint.pk}/deliveries/{failed[0]['id']}/resend").json()
    assert resent["status"] == "succeeded" and resent["attempts"] == 2
    assert receiver.requests[-1].event_id == one["event_id"]
    pending = WebhookDelivery.objects.create(endpoint=endpoint, topic="contact.created", payload={}, status="pending")
    error(api.post(f"/webhooks/{endpoint.pk}/deliveries/{pending.pk}/resend"), 409)
    other = make_endpoint("https://other.example.com/in")
    error(api.get(f"/webhooks/{other.pk}/deliveries/{failed[0]['id']}"), 404)
