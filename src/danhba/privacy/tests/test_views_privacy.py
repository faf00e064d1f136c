"""The consent panel of a contact page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact
from danhba.privacy.models import ConsentRecord, ConsentState

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def contact(make_contact: Any) -> Contact:
    return make_contact(full_name="Phan Thị Đồng Ý", emails=["dongy@example.vn"])


def consent_status(body: str, purpose: str) -> str:
    match = re.search(rf'data-purpose="{purpose}">.*?<span class="badge[^"]*">([^<]+)</span>', body, re.S)
    assert match, purpose
    return match.group(1)


def test_consent_panel_says_not_given_without_a_statement(client_for: Any, admin: Any, contact: Contact) -> None:
    body = client_for(admin).get(reverse("contacts:detail", kwargs={"pk": contact.pk})).content.decode()
    for purpose in ("email_marketing", "sms_marketing", "phone_calls", "profiling", "partner_sharing"):
        assert consent_status(body, purpose) == "Not given"
    # Nothing is pre-ticked in the form.
    form = body[body.index('id="consent"') :]
    assert "checked" not in form.split("</form>")[0]


def test_record_consent_granted_then_withdrawn(client_for: Any, users: Any, contact: Contact) -> None:
    client = client_for(users["support"])
    url = reverse("privacy:consent_record", kwargs={"pk": contact.pk})
    response = client.post(
        url,
        {"purpose": "email_marketing", "status": "granted", "source": "verbal", "proof": "Cuộc gọi 09:30",
         "text_version": "v2"},
        REMOTE_ADDR="203.0.113.9",
        **HTMX,
    )  # fmt: skip
    assert response.status_code == 200 and "contact-changed" in response["HX-Trigger"]
    body = response.content.decode()
    assert consent_status(body, "email_marketing") == "Granted"
    assert consent_status(body, "sms_marketing") == "Not given"
    assert "Cuộc gọi 09:30" in body and "Consent statement recorded" in body
    record = ConsentRecord.objects.get()
    assert (record.status, record.source, record.proof, record.text_version) == (
        "granted",
        "verbal",
        "Cuộc gọi 09:30",
        "v2",
    )
    assert (record.ip_address, record.recorded_by) == ("203.0.113.9", users["support"])

    client.post(url, {"purpose": "email_marketing", "status": "withdrawn", "source": "email"}, **HTMX)
    assert ConsentState.objects.get(contact=contact).status == "withdrawn"
    page = client.get(reverse("contacts:detail", kwargs={"pk": contact.pk})).content.decode()
    assert consent_status(page, "email_marketing") == "Withdrawn"
    assert "Ledger (2 statements)" in page
    assert AuditEvent.objects.filter(object_type="consent", contact_id=contact.pk).count() == 2


def test_record_consent_needs_a_statement(client_for: Any, admin: Any, contact: Contact) -> None:
    url = reverse("privacy:consent_record", kwargs={"pk": contact.pk})
    response = client_for(admin).post(url, {"purpose": "email_marketing", "source": "ui"}, **HTMX)
    assert response.status_code == 422 and "This field is required" in response.content.decode()
    bad = client_for(admin).post(url, {"purpose": "nope", "status": "granted", "source": "ui"}, follow=True)
    assert "was not recorded" in bad.content.decode()
    assert not ConsentRecord.objects.exists()


def test_record_consent_without_htmx_redirects_to_panel(client_for: Any, admin: Any, contact: Contact) -> None:
    url = reverse("privacy:consent_record", kwargs={"pk": contact.pk})
    response = client_for(admin).post(url, {"purpose": "profiling", "status": "granted", "source": "ui"})
    assert response.status_code == 302 and response.url.endswith("#consent")
    assert ConsentRecord.objects.get().purpose.key == "profiling"


# --- audit log ------------------------------------------------------------------------------
