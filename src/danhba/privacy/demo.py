"""The consent part of the demo dataset (``core/demo.py``): statements for the contacts the
contacts part just made, written in bulk with the current state they give, as
``services.consent_record`` keeps it."""

from __future__ import annotations

import datetime as dt
import random

from danhba.contacts.models import Contact, ContactEmail, ContactPhone
from danhba.core.demo import DemoRun
from danhba.privacy.models import ConsentPurpose, ConsentRecord, ConsentSource, ConsentState

BATCH = 500


def demo_consent_load(run: DemoRun) -> None:
    purposes = {p.key: p for p in ConsentPurpose.objects.filter(is_active=True)}
    rng = random.Random(run.seed + 2)
    ids = run.contact_ids
    with_email = set(ContactEmail.objects.filter(contact_id__in=ids).values_list("contact_id", flat=True))
    with_phone = set(ContactPhone.objects.filter(contact_id__in=ids).values_list("contact_id", flat=True))
    records: list[ConsentRecord] = []
    for cid, created_at in Contact.objects.filter(pk__in=ids).order_by("pk").values_list("pk", "created_at"):
        records += _consent_for(rng, run.now, cid, created_at, cid in with_email, cid in with_phone, purposes)
    records = ConsentRecord.objects.bulk_create(records, batch_size=BATCH)
    # The state is the latest statement per contact and purpose, as consent_record keeps it.
    latest: dict[tuple[int, int], ConsentRecord] = {}
    for record in records:
        key = (record.contact_id, record.purpose_id)
        if key not in latest or record.recorded_at >= latest[key].recorded_at:
            latest[key] = record
    ConsentState.objects.bulk_create(
        [
            ConsentState(contact_id=cid, purpose_id=pid, status=r.status, since=r.recorded_at, record=r)
            for (cid, pid), r in latest.items()
        ],
        batch_size=BATCH,
    )
    run.counts["consent_records"] = len(records)


def _consent_for(
    rng: random.Random,
    now: dt.datetime,
    cid: int,
    created_at: dt.datetime,
    has_email: bool,
    has_phone: bool,
    purposes: dict[str, ConsentPurpose],
) -> list[ConsentRecord]:
    """Some statements per contact: email marketing granted on a form and sometimes withdrawn
    later through the email link; SMS and call consent from imports and calls."""
    out: list[ConsentRecord] = []

    def add(purpose: str, status: str, source: str, when: dt.datetime, proof: str, ip: str | None = None) -> None:
        if purpose in purposes:
            out.append(
                ConsentRecord(
                    contact_id=cid,
                    purpose=purposes[purpose],
                    status=status,
                    source=source,
                    recorded_at=when,
                    proof=proof,
                    text_version="2025-01",
                    ip_address=ip,
                )
            )

    span = max(1, int((now - created_at).total_seconds()))
    if has_email and rng.random() < 0.5:
        granted = created_at + dt.timedelta(seconds=rng.randrange(min(span, 86400)))
        ip = f"113.{rng.randrange(160, 191)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        add("email_marketing", "granted", ConsentSource.FORM, granted, "Form đăng ký bản tin trên website", ip)
        if rng.random() < 0.15:
            later = granted + dt.timedelta(seconds=rng.randrange(max(1, int((now - granted).total_seconds()))))
            add("email_marketing", "withdrawn", ConsentSource.EMAIL, later, "Liên kết hủy đăng ký trong email")
    if has_phone and rng.random() < 0.2:
        add("sms_marketing", "granted", ConsentSource.IMPORT, created_at, "Tệp nhập khach-hang-2024.xlsx")
    if has_phone and rng.random() < 0.1:
        when = created_at + dt.timedelta(seconds=rng.randrange(span))
        status = "granted" if rng.random() < 0.7 else "withdrawn"
        add("phone_calls", status, ConsentSource.VERBAL, when, "Khách đồng ý qua điện thoại với nhân viên")
    return out
