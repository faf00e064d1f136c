"""Sending: signed requests a real receiver can verify, retries with growing delays, giving up,
disabling an endpoint that keeps failing, network trouble, exclusive claims, SSRF refusal."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone, translation

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput
from danhba.core.reasons import Reason
from danhba.webhooks import services, signing
from danhba.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


def queue(endpoint: Any, n: int = 1, topic: str = "contact.created") -> list[WebhookDelivery]:
    for i in range(n):
        services.emit(topic, {"id": i, "full_name": f"Contact {i}"})
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))


def test_a_delivery_is_signed_so_the_receiver_can_verify_it(receiver: Any, make_endpoint: Any) -> None:
    endpoint = make_endpoint(receiver.url)
    [delivery] = queue(endpoint)
    assert services.deliveries_send_due() == 1
    [request] = receiver.requests
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    assert signing.verify(request.body, request.signature, endpoint.secret) > 0
    with pytest.raises(signing.SignatureError):
        signing.verify(request.body, request.signature, "whsec_wrong")
    with pytest.raises(signing.SignatureError):
        signing.verify(request.body + b" ", request.signature, endpoint.secret)
    # A replay an hour later is refused by the timestamp.
    with pytest.raises(signing.SignatureError):
        signing.verify(request.body, request.signature, endpoint.secret, now=timezone.now().timestamp() + 3600)
    body = request.json
    assert body["id"] == request.event_id == delivery.event_id
    assert body["topic"] == request.topic == "contact.created"
    assert body["data"] == {"id": 0, "full_name": "Contact 0"}
    assert request.headers["Danhba-Delivery-Attempt"] == "1"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (Status.SUCCEEDED, 1, 200)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert delivery.last_request_headers[signing.SIGNATURE_HEADER] == request.signature
    assert delivery.last_response_body == "ok"
    assert services.deliveries_send_due() == 0  # nothing left: never sent twice


def test_retries_wait_longer_each_time_then_give_up(receiver: Any, make_endpoint: Any, settings: Any) -> None:
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 1000
    receiver.answer(500, "boom")
    endpoint = make_endpoint(receiver.url)
    [delivery] = queue(endpoint)
    now = timezone.now()
    waits = []
    for attempt in range(1, services.MAX_ATTEMPTS + 1):
        assert services.deliveries_send_due(now=now) == 1
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_status_code == 500 and "500" in delivery.last_error
        assert delivery.last_response_body == "boom"
        if attempt < services.MAX_ATTEMPTS:
            assert delivery.status == Status.FAILED
            wait = delivery.next_attempt_at - now
            waits.append(wait.total_seconds())
            expected = services.RETRY_DELAYS[attempt - 1]
            assert expected * 0.89 <= wait.total_seconds() <= expected * 1.11
            # Not due a second early.
            assert services.deliveries_send_due(now=delivery.next_attempt_at - timedelta(seconds=1)) == 0
            now = delivery.next_attempt_at
    assert list(services.RETRY_DELAYS) == sorted(services.RETRY_DELAYS)
    assert sum(waits) < 26 * 3600
    assert delivery.status == Status.GAVE_UP and delivery.next_attempt_at is None
    assert services.deliveries_send_due(now=now + timedelta(days=2)) == 0
    assert [r.headers["Danhba-Delivery-Attempt"] for r in receiver.requests] == [
        str(i) for i in range(1, services.MAX_ATTEMPTS + 1)
    ]
    assert {r.event_id for r in receiver.requests} == {delivery.event_id}  # the receiver can dedupe
    assert {r.body for r in receiver.requests} == {receiver.requests[0].body}


def test_a_failure_then_success_delivers_and_resets_the_endpoint(receiver: Any, make_endpoint: Any) -> None:
    receiver.then(503, 200)
    endpoint = make_endpoint(receiver.url)
    [delivery] = queue(endpoint)
    services.deliveries_send_due()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since is not None and endpoint.is_failing
    delivery.refresh_from_db()
    services.deliveries_send_due(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED and delivery.attempts == 2
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None and endpoint.last_success_at


def test_an_endpoint_failing_again_and_again_is_disabled_with_the_reason(
    receiver: Any, make_endpoint: Any, settings: Any
) -> None:
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOKS_DISABLE_AFTER_HOURS = 1
    receiver.answer(500)
    endpoint = make_endpoint(receiver.url)
    queue(endpoint, 5)
    now = timezone.now()
    services.deliveries_send_due(now=now)
    endpoint.refresh_from_db()
    # Five failures in a row, but within the first hour: a blip, not yet disabled.
    assert endpoint.is_active and endpoint.consecutive_failures == 5
    services.deliveries_send_due(now=now + timedelta(hours=2))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "3 failed attempts" in endpoint.disabled_reason and endpoint.disabled_at is not None
    assert AuditEvent.objects.filter(object_type="webhook", object_id=str(endpoint.pk), via="job").exists()
    # Nothing more is queued for it, and what was waiting is given up.
    assert not WebhookDelivery.objects.filter(endpoint=endpoint, next_attempt_at__isnull=False).exists()
    assert services.emit("contact.created", {"id": 99}) == 0
    # Enabled again (after the receiver is fixed), the given-up deliveries go out.
    receiver.answer(200)
    queued = services.endpoint_enable(actor=services_actor(endpoint), endpoint=endpoint, resend_failed=True)
    assert queued == 5
    services.deliveries_send_due(now=now + timedelta(hours=2))
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status=Status.SUCCEEDED).count() == 5
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0


def services_actor(endpoint: WebhookEndpoint) -> Any:
    return actor_for(endpoint.created_by)


def test_timeout_refused_connection_and_redirect_are_failures(
    receiver: Any, make_endpoint: Any, closed_port_url: str, settings: Any
) -> None:
    settings.WEBHOOKS_TIMEOUT = 1
    receiver.answer(200, delay=2.5)
    slow = make_endpoint(receiver.url)
    [delivery] = queue(slow)
    services.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.last_status_code is None
    assert "Timed out" in delivery.last_error
    assert delivery.duration_ms is not None and delivery.duration_ms < 2500

    services.endpoint_delete(actor=services_actor(slow), endpoint=slow)
    refused = make_endpoint(closed_port_url)
    [delivery] = queue(refused)
    services.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and "refused" in delivery.last_error.lower()

    services.endpoint_delete(actor=services_actor(refused), endpoint=refused)
    receiver.answer(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
    moved = make_endpoint(receiver.url)
    [delivery] = queue(moved)
    before = len(receiver.requests)
    services.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.last_status_code == 302
    assert "redirect" in delivery.last_error and "169.254.169.254" in delivery.last_error
    assert len(receiver.requests) == before + 1  # the redirect was not followed
    # The sender runs in no reader's language: a Vietnamese reader gets the reason in Vietnamese.
    with translation.override("vi"):
        assert "169.254.169.254" in delivery.error_text and "redirect" not in delivery.error_text


def test_a_claimed_delivery_is_not_sent_by_a_second_sender(receiver: Any, make_endpoint: Any) -> None:
    endpoint = make_endpoint(receiver.url)
    queue(endpoint, 3)
    now = timezone.now()
    first = services._claim(now, 10)
    assert len(first) == 3
    # A second sender at the same moment (or until the lease runs out) finds nothing due.
    assert services._claim(now, 10) == []
    assert services.deliveries_send_due(now=now + timedelta(minutes=1)) == 0
    assert receiver.requests == []
    # A sender that died holding them: after the lease they are due again, and sent once.
    assert services.deliveries_send_due(now=now + services.LEASE + timedelta(seconds=1)) == 3
    assert sorted(r.event_id for r in receiver.requests) == sorted(d.event_id for d in first)
    # The dead sender's late result is ignored: its claim token is gone.
    assert not services._record(first[0], receiver_result(), now, token=first[0].claim_token)


def receiver_result() -> Any:
    from danhba.webhooks.transport import Result

    return Result(ok=False, error=Reason("late"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_senders_send_each_delivery_once(receiver: Any, make_endpoint: Any) -> None:
    receiver.answer(200, delay=0.02)
    endpoint = make_endpoint(receiver.url)
    queue(endpoint, 40)
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def sender() -> None:
        barrier.wait()
        try:
            counts.append(services.deliveries_send_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 40
    ids = [r.event_id for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 40
    assert WebhookDelivery.objects.filter(status=Status.SUCCEEDED).count() == 40


def test_rotation_signs_with_both_secrets_for_a_while(receiver: Any, make_endpoint: Any, admin: Any) -> None:
    endpoint = make_endpoint(receiver.url)
    old = endpoint.secret
    endpoint = services.endpoint_rotate_secret(actor=actor_for(admin), endpoint=endpoint, keep_previous_hours=24)
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")
    queue(endpoint)
    services.deliveries_send_due()
    request = receiver.requests[-1]
    assert request.signature.count("v1=") == 2
    signing.verify(request.body, request.signature, old)
    signing.verify(request.body, request.signature, endpoint.secret)
    # Rotated again with no overlap (the secret leaked): only the newest signs.
    leaked = endpoint.secret
    endpoint = services.endpoint_rotate_secret(actor=actor_for(admin), endpoint=endpoint, keep_previous_hours=0)
    queue(endpoint)
    services.deliveries_send_due()
    request = receiver.requests[-1]
    assert request.signature.count("v1=") == 1
    signing.verify(request.body, request.signature, endpoint.secret)
    with pytest.raises(signing.SignatureError):
        signing.verify(request.body, request.signature, leaked)
    with pytest.raises(InvalidInput):
        services.endpoint_rotate_secret(actor=actor_for(admin), endpoint=endpoint, keep_previous_hours=1000)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/",
        "http://192.168.1.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "ftp://example.com/hooks",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://user:secret@example.com/",
        "http:///nohost",
    ],
)
def test_unsafe_urls_are_refused(url: str, admin: Any, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(InvalidInput) as error:
        services.endpoint_create(actor=actor_for(admin), url=url, topics=["contact.created"])
    assert "url" in error.value.details


def test_a_host_name_resolving_to_a_private_address_is_not_called(
    receiver: Any, admin: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = services.endpoint_create(
        actor=actor_for(admin), url="http://hooks.example.com/in", topics=["contact.created"]
    )
    real = socket.getaddrinfo

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.com":
            # DNS answering with the receiver's loopback address (rebinding to the inside).
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    [delivery] = queue(endpoint)
    services.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert "127.0.0.1" in delivery.last_error and "private or local" in delivery.last_error
    assert receiver.requests == []


def test_nightly_purge_keeps_30_days(make_endpoint: Any, receiver: Any) -> None:
    endpoint = make_endpoint(receiver.url)
    old, recent = queue(endpoint, 2)
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert services.deliveries_purge() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_periodic_job_sends_due_retries(receiver: Any, make_endpoint: Any) -> None:
    from danhba.webhooks.tasks import deliveries_retry_job

    endpoint = make_endpoint(receiver.url)
    queue(endpoint, 2)
    assert deliveries_retry_job.call_local() == 2
    assert len(receiver.requests) == 2
