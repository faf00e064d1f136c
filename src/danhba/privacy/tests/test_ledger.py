"""The consent ledger and the audit log are insert-only and prove what happened."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.core.models import ImmutableRowError
from danhba.privacy.models import ConsentRecord, ConsentState
from danhba.privacy.services import consent_record, consent_summary

pytestmark = pytest.mark.django_db


def status_of(contact, key):
    return next(s for s in consent_summary(contact) if s["purpose"].key == key)


def test_silence_is_not_consent(make_contact):
    contact = make_contact()
    summary = consent_summary(contact)
    assert {s["purpose"].key for s in summary} >= {
        "email_marketing",
        "sms_marketing",
        "phone_calls",
        "profiling",
        "partner_sharing",
    }
    assert all(s["status"] is None and not s["granted"] for s in summary)


def test_current_status_follows_the_latest_statement(admin, make_contact):
    contact = make_contact()
    actor = actor_for(admin)
    consent_record(
        actor=actor,
        contact=contact,
        purpose="email_marketing",
        status="granted",
        source="form",
        proof="https://shop.vn/dang-ky",
        text_version="v3",
        ip_address="203.0.113.9",
    )
    assert status_of(contact, "email_marketing")["granted"]
    consent_record(actor=actor, contact=contact, purpose="email_marketing", status="withdrawn", source="email")
    assert status_of(contact, "email_marketing")["status"] == "withdrawn"
    # A statement dated before the current one goes into the ledger without overriding it.
    consent_record(
        actor=actor,
        contact=contact,
        purpose="email_marketing",
        status="granted",
        source="verbal",
        recorded_at=timezone.now() - dt.timedelta(days=30),
    )
    assert status_of(contact, "email_marketing")["status"] == "withdrawn"
    assert ConsentRecord.objects.filter(contact=contact).count() == 3
    assert ConsentState.objects.get(contact=contact).status == "withdrawn"
    first = ConsentRecord.objects.filter(contact=contact).order_by("id").first()
    assert (first.ip_address, first.text_version, first.proof) == ("203.0.113.9", "v3", "https://shop.vn/dang-ky")
    assert AuditEvent.objects.filter(object_type="consent", contact_id=contact.pk).count() == 3


def test_bad_consent_input_is_refused(admin, users, make_contact):
    contact = make_contact()
    with pytest.raises(InvalidInput) as exc:
        consent_record(actor=actor_for(admin), contact=contact, purpose="telepathy", status="maybe", source="x")
    assert set(exc.value.details) == {"purpose", "status", "source"}
    with pytest.raises(InvalidInput):
        consent_record(
            actor=actor_for(admin),
            contact=contact,
            purpose="profiling",
            status="granted",
            source="ui",
            recorded_at=timezone.now() + dt.timedelta(days=1),
        )
    with pytest.raises(PermissionDenied):
        consent_record(
            actor=actor_for(users["analyst"]), contact=contact, purpose="profiling", status="granted", source="ui"
        )
    assert not ConsentRecord.objects.exists()


def test_ledger_and_audit_rows_cannot_be_changed_through_the_orm(admin, make_contact):
    contact = make_contact()
    record = consent_record(actor=actor_for(admin), contact=contact, purpose="profiling", status="granted", source="ui")
    event = AuditEvent.objects.first()
    for row in (record, event):
        with pytest.raises(ImmutableRowError):
            row.save()
        with pytest.raises(ImmutableRowError):
            row.delete()
    with pytest.raises(ImmutableRowError):
        ConsentRecord.objects.update(status="withdrawn")
    with pytest.raises(ImmutableRowError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize("table", ["privacy_consentrecord", "privacy_auditevent"])
def test_the_database_refuses_updates_even_in_raw_sql(admin, make_contact, table):
    contact = make_contact()
    consent_record(actor=actor_for(admin), contact=contact, purpose="profiling", status="granted", source="ui")
    column = "status" if table == "privacy_consentrecord" else "action"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"UPDATE {table} SET {column} = 'x'")


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["privacy_consentrecord", "privacy_auditevent"])
def test_postgres_also_refuses_deletes_in_raw_sql(admin, make_contact, table):
    contact = make_contact()
    consent_record(actor=actor_for(admin), contact=contact, purpose="profiling", status="granted", source="ui")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table}")


def test_the_ledger_outlives_a_deleted_contact(admin, make_contact):
    from danhba.contacts.services.contacts import contact_delete

    contact = make_contact()
    contact_id = contact.pk
    consent_record(actor=actor_for(admin), contact=contact, purpose="email_marketing", status="granted", source="form")
    contact_delete(actor=actor_for(admin), contact=contact)
    assert ConsentRecord.objects.filter(contact_id=contact_id).count() == 1
    assert not ConsentState.objects.filter(contact_id=contact_id).exists()
    trail = list(AuditEvent.objects.filter(contact_id=contact_id).values_list("action", flat=True))
    assert "delete" in trail and "create" in trail


def test_consent_for_a_contact_outside_ones_visibility_is_not_found(users, make_contact, make_user):
    from danhba.core.errors import NotFound

    other_rep = make_user("sales")
    contact = make_contact(owner=other_rep.pk)
    with pytest.raises(NotFound):
        consent_record(actor=actor_for(users["sales"]), contact=contact, purpose="profiling", status="granted",
                       source="ui")  # fmt: skip
