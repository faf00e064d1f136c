"""Settings → Webhooks pages: who may see and change them, the form, the test button, the
delivery log (filters, pages, expanding, resend), secret reveal and rotation, disable/enable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.webhooks import services, signing
from danhba.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["marketing", "sales", "support", "analyst"])
def test_other_roles_get_403_everywhere(client_for: Any, users: Any, role: str, make_endpoint: Any) -> None:
    endpoint = make_endpoint("https://hooks.example.com/in")
    client = client_for(users[role])
    assert client.get("/settings/webhooks/").status_code == 403
    assert client.get("/settings/webhooks/new/").status_code == 403
    assert client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 403
    for action in ("test", "reveal", "rotate", "disable", "delete"):
        assert client.post(f"/settings/webhooks/{endpoint.pk}/{action}/").status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists()
    assert "/settings/webhooks/" not in client.get("/contacts/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client: Any) -> None:
    response = client.get("/settings/webhooks/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_admin_adds_an_endpoint_with_the_form(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    assert 'href="/settings/webhooks/"' in client.get("/contacts/").content.decode()
    page = client.get("/settings/webhooks/new/")
    assert page.status_code == 200 and "contact.merged" in page.content.decode()
    bad = client.post("/settings/webhooks/new/", {"url": "ftp://example.com", "topics": []})
    assert bad.status_code == 422
    text = bad.content.decode()
    assert "Only http:// and https:// URLs" in text and "Choose at least one topic." in text
    response = client.post(
        "/settings/webhooks/new/",
        {"url": "https://crm.example.com/hooks", "description": "CRM", "topics": ["contact.created", "order.created"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settings/webhooks/{endpoint.pk}/"
    assert endpoint.topics == ["contact.created", "order.created"] and endpoint.created_by == admin
    detail = client.get(response["Location"]).content.decode()
    assert "https://crm.example.com/hooks" in detail and endpoint.secret not in detail
    listing = client.get("/settings/webhooks/").content.decode()
    assert "https://crm.example.com/hooks" in listing and "order.created" in listing
    edit = client.post(
        f"/settings/webhooks/{endpoint.pk}/edit/", {"url": "https://crm.example.com/v2", "topics": ["order.created"]}
    )
    assert edit.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.topics) == ("https://crm.example.com/v2", ["order.created"])


def test_send_test_button_posts_a_signed_ping_and_shows_the_result(
    client_for: Any, admin: Any, receiver: Any, make_endpoint: Any
) -> None:
    endpoint = make_endpoint(receiver.url)
    client = client_for(admin)
    response = client.post(f"/settings/webhooks/{endpoint.pk}/test/", follow=True)
    assert response.status_code == 200
    [request] = receiver.requests
    signing.verify(request.body, request.signature, endpoint.secret)
    assert request.json["topic"] == "ping" and request.json["data"]["endpoint_id"] == endpoint.pk
    text = response.content.decode()
    assert "Test event delivered: HTTP 200" in text
    ping = WebhookDelivery.objects.get(topic="ping")
    assert ping.status == WebhookDelivery.Status.SUCCEEDED
    assert f'id="delivery-{ping.pk}" open' in text and ping.event_id in text  # expanded in the log
    receiver.answer(500, "nope")
    text = client.post(f"/settings/webhooks/{endpoint.pk}/test/", follow=True).content.decode()
    assert "Test event failed: The receiver answered HTTP 500." in text
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0  # a test never counts towards disabling


def test_the_delivery_log_filters_pages_expands_and_resends(
    client_for: Any, admin: Any, receiver: Any, make_endpoint: Any
) -> None:
    endpoint = make_endpoint(receiver.url)
    start = timezone.now() - timedelta(hours=1)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint, topic="contact.created", event_id=f"evt_{i:03}", payload={"id": f"evt_{i:03}"},
                created_at=start + timedelta(seconds=i), status=WebhookDelivery.Status.SUCCEEDED, attempts=1,
            )
            for i in range(60)
        ]
    )  # fmt: skip
    failed = WebhookDelivery.objects.create(
        endpoint=endpoint, topic="contact.updated", event_id="evt_failed", payload={"id": "evt_failed", "data": {}},
        status=WebhookDelivery.Status.GAVE_UP, attempts=8, last_error="The receiver answered HTTP 500.",
        last_status_code=500,
    )  # fmt: skip
    client = client_for(admin)
    first = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert first.count('<details id="delivery-') == 50
    assert "evt_failed" not in first  # bodies load when a row is opened
    assert f'hx-get="/settings/webhooks/{endpoint.pk}/deliveries/{failed.pk}/"' in first
    assert 'rel="next"' in first
    cursor = first.split('rel="next" href="?cursor=')[1].split('"')[0]
    second = client.get(f"/settings/webhooks/{endpoint.pk}/?cursor={cursor}").content.decode()
    assert second.count('<details id="delivery-') == 11 and 'rel="next"' not in second
    filtered = client.get(f"/settings/webhooks/{endpoint.pk}/?status=gave_up").content.decode()
    assert filtered.count('<details id="delivery-') == 1
    assert (
        client.get(f"/settings/webhooks/{endpoint.pk}/?topic=contact.updated")
        .content.decode()
        .count('<details id="delivery-')
        == 1
    )
    bogus = client.get(f"/settings/webhooks/{endpoint.pk}/?status=nope&cursor=zzz")
    assert bogus.status_code == 200 and bogus.content.decode().count('<details id="delivery-') == 50
    body = client.get(f"/settings/webhooks/{endpoint.pk}/deliveries/{failed.pk}/", HTTP_HX_REQUEST="true")
    text = body.content.decode()
    assert "evt_failed" in text and "The receiver answered HTTP 500." in text and "Resend now" in text
    assert "<html" not in text
    assert client.get(f"/settings/webhooks/{endpoint.pk}/deliveries/999999/").status_code == 404
    response = client.post(f"/settings/webhooks/{endpoint.pk}/deliveries/{failed.pk}/resend/", follow=True)
    assert "Resend delivered: HTTP 200" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == WebhookDelivery.Status.SUCCEEDED and failed.attempts == 9
    assert receiver.requests[-1].event_id == "evt_failed"


def test_reveal_and_rotate_the_secret(client_for: Any, admin: Any, make_endpoint: Any) -> None:
    endpoint = make_endpoint("https://hooks.example.com/in")
    client = client_for(admin)
    page = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in page and endpoint.secret_hint in page
    revealed = client.post(f"/settings/webhooks/{endpoint.pk}/reveal/")
    assert revealed.status_code == 200 and endpoint.secret in revealed.content.decode()
    assert revealed["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(object_type="webhook", action="view", actor=admin).count() == 1
    old = endpoint.secret
    response = client.post(f"/settings/webhooks/{endpoint.pk}/rotate/", {"keep_previous_hours": "24"}, follow=True)
    assert "Payloads are signed with both secrets for 24 hours" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old


def test_disable_enable_and_delete(client_for: Any, admin: Any, make_endpoint: Any) -> None:
    endpoint = make_endpoint("https://hooks.example.com/in")
    services.emit("contact.created", {"id": 1})
    client = client_for(admin)
    client.post(f"/settings/webhooks/{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert not endpoint.is_active and admin.email in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.GAVE_UP
    listing = client.get("/settings/webhooks/").content.decode()
    assert "was disabled on" in listing and "Review and enable it" in listing
    response = client.post(f"/settings/webhooks/{endpoint.pk}/enable/", {"resend_failed": "on"}, follow=True)
    assert "1 deliveries are queued again" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert client.post(f"/settings/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404


def test_an_automatically_disabled_endpoint_is_announced(
    client_for: Any, admin: Any, make_endpoint: Any, closed_port_url: str, settings: Any
) -> None:
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 0
    endpoint = make_endpoint(closed_port_url)
    services.emit("contact.created", {"id": 1})
    services.emit("contact.created", {"id": 2})
    client = client_for(admin)
    services.deliveries_send_due()
    listing = client.get("/settings/webhooks/").content.decode()
    assert "Disabled automatically after 2 failed attempts" in listing
    detail = client.get(f"/settings/webhooks/{endpoint.pk}/").content.decode()
    assert "Disabled automatically" in detail and "Also resend the deliveries" in detail
