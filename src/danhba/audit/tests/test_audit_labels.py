"""The audit log names fields and values in the reader's language: "Loại → Cuộc gọi", not "Kind →
call"; the purpose's and stage's own names; dates and numbers in the language's format; and one
label for a consent statement, whether it came from the UI or from an import."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.audit.services import audit_event
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.contacts.services.contacts import contact_update
from danhba.contacts.services.timeline import timeline_entry_save
from danhba.core.actor import Actor
from danhba.ingest import services as imports
from danhba.privacy.services import consent_record
from danhba.segments.services import segment_create

pytestmark = pytest.mark.django_db


def changes(html: str) -> list[tuple[str, str, str]]:
    """The (field, before, after) rows of every change table on the page, as shown."""
    rows = re.findall(
        r'<tr><th scope="row">(.*?)</th><td class="before">(.*?)</td>.*?<td class="after">(.*?)</td></tr>', html, re.S
    )
    return [(unescape(f), unescape(b), unescape(a)) for f, b, a in rows]


def labels(html: str) -> list[str]:
    """What each audit row is about (the object's label), as shown."""
    found = re.findall(r"</span>\s*(?:<a [^>]*>)?([^<]+?)(?:</a>)?</td>\s*<td class=\"small\">", html)
    return [unescape(m) for m in found]


@pytest.fixture
def vi_admin(users: dict[str, Any]) -> Any:
    user = users["admin"]
    user.language = "vi"
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def contact(make_contact: Any) -> Contact:
    return make_contact(full_name="Trần Thị Bình", emails=["binh@example.vn"], lifecycle_stage="lead")


def audit_page(client: Any, **params: Any) -> str:
    return client.get(reverse("audit:log"), params).content.decode()


def test_timeline_and_contact_changes_read_as_the_page_names_them(
    client_for: Any, vi_admin: Any, contact: Contact
) -> None:
    actor = actor_for(vi_admin)
    timeline_entry_save(actor=actor, contact=contact, entry=None, data={"kind": "call", "subject": "Gọi tư vấn"})
    data = {"lifecycle_stage": "customer", "birthday": "1990-03-15", "source": "loyalty"}
    contact_update(actor=actor, contact=contact, data=data)
    client = client_for(vi_admin)
    shown = changes(audit_page(client, object_type="timeline")) + changes(audit_page(client, object_type="contact"))
    assert ("Loại", "—", "Cuộc gọi") in shown
    assert ("Giai đoạn vòng đời", "Khách hàng tiềm năng", "Khách hàng") in shown  # the stages' own names
    assert ("Ngày sinh", "—", "15/03/1990") in shown
    assert ("Nguồn", "Khác", "Chương trình khách hàng thân thiết") in shown
    codes = {value for row in shown for value in row}
    assert not codes & {"Kind", "kind", "call", "lifecycle_stage", "customer", "lead", "1990-03-15", "loyalty"}
    # The same rows on the contact's activity panel.
    panel = client.get(reverse("contacts:activity", kwargs={"pk": contact.pk})).content.decode()
    assert ("Loại", "—", "Cuộc gọi") in changes(panel)


def test_the_same_rows_in_english(client_for: Any, admin: Any, contact: Contact) -> None:
    data = {"kind": "call", "subject": "", "body": "Hẹn gọi lại"}
    timeline_entry_save(actor=actor_for(admin), contact=contact, entry=None, data=data)
    html = audit_page(client_for(admin), object_type="timeline")
    assert ("Kind", "—", "Call") in changes(html)
    assert "Call" in labels(html)  # an entry without a subject is named by its kind, not "call"


def test_a_consent_statement_reads_the_same_from_the_ui_and_from_an_import(
    client_for: Any, vi_admin: Any, contact: Contact
) -> None:
    consent_record(actor=actor_for(vi_admin), contact=contact, purpose="email_marketing", status="granted", source="ui")
    actor = Actor.system("cli")
    csv = "Họ và tên,Email\nĐỗ Thu Hà,ha@example.vn\n".encode()
    run = imports.import_create(actor=actor, file=csv, file_name="dong-y.csv")
    run = imports.import_configure(actor=actor, run=run, source="import", consent_purposes=["email_marketing"],
                                   consent_proof="Phiếu giấy")  # fmt: skip
    imports.import_start(actor=actor, run=run, enqueue=False)
    imports.import_execute(run.pk, via="cli")
    assert AuditEvent.objects.filter(object_type="consent").count() == 2

    html = audit_page(client_for(vi_admin), object_type="consent")
    assert labels(html) == ["Tiếp thị qua email: Đã đồng ý"] * 2  # not "1: granted", not "email_marketing: granted"
    shown = changes(html)
    assert shown.count(("Mục đích đồng ý", "—", "Tiếp thị qua email")) == 2
    assert shown.count(("Trạng thái", "—", "Đã đồng ý")) == 2
    assert ("Nguồn", "—", "Nhập dữ liệu") in shown and ("Nguồn", "—", "Nhân viên nhập") in shown
    for code in ("email_marketing", "granted", ": granted"):
        assert code not in html


def test_consent_rows_written_before_imports_recorded_the_purpose_still_name_it(
    client_for: Any, admin: Any, contact: Contact
) -> None:
    """Rows already in the log say "1: granted" and have no purpose: the statement they point
    to names it."""
    record = consent_record(actor=actor_for(admin), contact=contact, purpose="sms_marketing", status="withdrawn",
                            source="import")  # fmt: skip
    audit_event(
        actor=actor_for(admin), action="create", object_type="consent", object_id=record.pk,
        object_label=f"{record.purpose_id}: withdrawn", contact_id=contact.pk,
        changes={"status": [None, "withdrawn"], "source": [None, "import"]},
    )  # fmt: skip
    html = audit_page(client_for(admin), object_type="consent")
    assert labels(html) == ["SMS marketing: Withdrawn"] * 2
    assert changes(html).count(("Consent purpose", "—", "SMS marketing")) == 2


def test_segment_conditions_are_said_in_the_readers_language(client_for: Any, users: dict[str, Any]) -> None:
    conditions = {"op": "all", "conditions": [{"kind": "purchase", "metric": "total_spent", "operator": "gt",
                                               "value": "11360000"}]}  # fmt: skip
    segment_create(actor=actor_for(users["admin"]), name="Khách chi nhiều", conditions=conditions)
    english = changes(audit_page(client_for(users["admin"]), object_type="segment"))
    assert ("Conditions", "—", "Total spent > 11,360,000 ₫") in english
    users["analyst"].language = "vi"
    users["analyst"].save(update_fields=["language"])
    users["analyst"].role.permissions = {**users["analyst"].role.permissions, "audit": ["view"]}
    users["analyst"].role.save(update_fields=["permissions"])
    vietnamese = changes(audit_page(client_for(users["analyst"]), object_type="segment"))
    assert ("Điều kiện", "—", "Tổng chi tiêu > 11.360.000 ₫") in vietnamese


def test_every_object_type_written_is_described_by_the_app_that_writes_it() -> None:
    """Each app adds its own object types to audit.display.AUDIT_TYPES (no list in one app of
    every other app's rows): every object type a service writes is there."""
    from pathlib import Path

    from django.conf import settings

    from danhba.audit.display import AUDIT_TYPES

    written: set[str] = set()
    for path in Path(settings.PACKAGE_DIR).rglob("*.py"):
        if "tests" not in path.parts:
            written |= set(re.findall(r'object_type="([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert written and written <= set(AUDIT_TYPES.keys()), sorted(written - set(AUDIT_TYPES.keys()))
    # Each model named is one that exists (the orders' model moved apps once, unnoticed).
    from django.apps import apps

    for object_type, described in AUDIT_TYPES.items():
        if described.model:
            assert apps.get_model(described.model), object_type


def test_labels_written_by_jobs_and_exports_are_read_in_the_readers_language(client_for: Any, vi_admin: Any) -> None:
    system = Actor.system("cli")
    audit_event(actor=system, action=AuditEvent.Action.DELETE, object_type="event", object_id=1,
                object_label="Retention purge: 12345 events", changes={"deleted": 12345, "partitions": []})  # fmt: skip
    audit_event(actor=system, action=AuditEvent.Action.EXPORT, object_type="contact",
                object_label="contacts CSV export", changes={"format": [None, "csv"], "rows": [None, 3]})  # fmt: skip
    audit_event(actor=system, action=AuditEvent.Action.CREATE, object_type="demo",
                object_label="demo dataset: 3000 contacts (seed 7)", changes={"contacts": [None, 3000]})  # fmt: skip
    audit_event(actor=system, action=AuditEvent.Action.UPDATE, object_type="order", object_id=5,
                object_label="DH-5", changes={"status": ["pending", "paid"]})  # fmt: skip
    html = audit_page(client_for(vi_admin))
    shown = labels(html)
    assert "Dọn dữ liệu theo thời hạn lưu: 12.345 sự kiện" in shown
    assert "Liên hệ: xuất CSV" in shown and "Bộ dữ liệu mẫu: 3.000 liên hệ" in shown
    for english in ("Retention purge", "contacts CSV export", "demo dataset"):
        assert english not in html
    # The order's fields are named by its model (orders.Order), in Vietnamese.
    assert any(field == "Trạng thái" for field, _before, _after in changes(html)), changes(html)
