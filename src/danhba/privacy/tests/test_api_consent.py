"""Consent over the REST API: purposes, appending statements to the ledger, the current state."""

import json

import pytest

from danhba.accounts.services import apikey_create
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.privacy.models import ConsentRecord, ConsentState

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(admin):
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="consent")
    return {"X-API-Key": raw}


def post(client, path, data, headers, **extra):
    return client.post(f"/api{path}", json.dumps(data), content_type="application/json", headers=headers, **extra)


def test_purposes_are_listed(client, headers):
    keys = [p["key"] for p in client.get("/api/consent-purposes", headers=headers).json()]
    assert "email_marketing" in keys


def test_grant_then_withdraw(client, headers, make_contact, admin):
    contact = make_contact(full_name="Nguyễn Thị Lan")
    before = client.get(f"/api/contacts/{contact.pk}/consent", headers=headers).json()
    email = next(p for p in before["current"] if p["purpose"] == "email_marketing")
    assert email["status"] is None and email["granted"] is False
    assert before["ledger"] == []

    granted = post(
        client,
        f"/contacts/{contact.pk}/consent",
        {"purpose": "email_marketing", "status": "granted", "source": "form", "proof": "https://shop.vn/dang-ky"},
        headers,
        REMOTE_ADDR="203.0.113.9",
    )
    assert granted.status_code == 201, granted.content
    record = granted.json()
    assert record["ip_address"] == "203.0.113.9"
    assert record["recorded_by"] == admin.pk and record["source"] == "form"

    withdrawn = post(
        client, f"/contacts/{contact.pk}/consent", {"purpose": "email_marketing", "status": "withdrawn"}, headers
    )
    assert withdrawn.status_code == 201
    assert withdrawn.json()["source"] == "api"

    after = client.get(f"/api/contacts/{contact.pk}/consent", headers=headers).json()
    email = next(p for p in after["current"] if p["purpose"] == "email_marketing")
    assert email["status"] == "withdrawn" and email["granted"] is False
    assert [r["status"] for r in after["ledger"]] == ["withdrawn", "granted"]
    assert ConsentRecord.objects.filter(contact_id=contact.pk).count() == 2
    assert ConsentState.objects.get(contact=contact).status == "withdrawn"
    assert AuditEvent.objects.filter(object_type="consent", via="api").count() == 2


def test_the_ip_can_be_that_of_the_person_and_a_forged_forwarded_for_is_ignored(client, headers, make_contact):
    contact = make_contact(full_name="A")
    given = post(
        client,
        f"/contacts/{contact.pk}/consent",
        {"purpose": "profiling", "status": "granted", "ip_address": "2001:db8::1"},
        headers,
    )
    assert given.json()["ip_address"] == "2001:db8::1"
    forged = post(
        client,
        f"/contacts/{contact.pk}/consent",
        {"purpose": "profiling", "status": "granted"},
        headers,
        HTTP_X_FORWARDED_FOR="not-an-ip, 10.0.0.1",
        REMOTE_ADDR="198.51.100.7",
    )
    assert forged.status_code == 201
    assert forged.json()["ip_address"] == "198.51.100.7"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"purpose": "nope", "status": "granted"}, "purpose"),
        ({"purpose": "profiling", "status": "maybe"}, None),
        ({"purpose": "profiling", "status": "granted", "recorded_at": "2199-01-01T00:00:00Z"}, "recorded_at"),
        ({"purpose": "profiling", "status": "granted", "recorded_at": "0001-01-01T00:00:00"}, None),
        ({"purpose": "profiling", "status": "granted", "ip_address": "999.1.1.1"}, None),
        ({"purpose": "profiling", "status": "granted", "text_version": "v" * 61}, None),
        ({"purpose": "profiling"}, None),
    ],
)
def test_bad_statements_are_422(client, headers, make_contact, payload, field):
    contact = make_contact(full_name="A")
    response = post(client, f"/contacts/{contact.pk}/consent", payload, headers)
    assert response.status_code == 422, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if field:
        assert field in body["details"]
    assert not ConsentRecord.objects.exists()


def test_consent_of_a_contact_the_caller_cannot_see_is_404(client, users, make_user, make_contact):
    other_rep = make_user("sales")
    hidden = make_contact(full_name="Hidden", owner=other_rep.pk)
    _key, raw = apikey_create(actor=actor_for(users["sales"]), user=users["sales"], name="k")
    headers = {"X-API-Key": raw}
    assert client.get(f"/api/contacts/{hidden.pk}/consent", headers=headers).status_code == 404
    response = post(client, f"/contacts/{hidden.pk}/consent", {"purpose": "profiling", "status": "granted"}, headers)
    assert response.status_code == 404
    assert not ConsentRecord.objects.exists()
