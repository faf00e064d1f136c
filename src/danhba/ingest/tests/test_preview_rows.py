"""The wizard's preview of prepared rows (``views._present``): each row as the reader will see
it imported — the name and its parts, emails, phones, the province's name, the stage, buyer role
and owner by name, every other value under its column's label — or refused, or empty."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from danhba.contacts.models import BuyerRole, LifecycleStage
from danhba.ingest.transform import Issue, Prepared, Rejected
from danhba.ingest.views import _present

pytestmark = pytest.mark.django_db


def test_each_prepared_value_is_shown_under_its_label(admin: Any) -> None:
    stage = LifecycleStage.objects.create(key="vip-lead", name="Hot lead", position=99)
    role = BuyerRole.objects.create(key="payer", name="Payer")
    warning = Issue("Email", "an@@x", ("not a valid email address", {}))
    item = Prepared(
        line=2, raw={},
        fields={"full_name": "Nguyễn Văn An", "family_name": "Nguyễn", "middle_name": "Văn", "given_name": "An",
                "province": "ha-noi", "job_title": "Kế toán", "address_raw": "12 Lý Thường Kiệt",
                "lifecycle_stage_id": stage.pk, "buyer_role_id": role.pk, "owner_id": admin.pk,
                "income_band": 999},
        emails=["an@example.vn"], phones=[("+84912345678", "0912 345 678", "mobile")],
        company="Sao Mai", tags=["VIP", "Hội chợ"], external_ids=[("crm", "KH-1")], socials=[("zalo", "0912345678")],
        custom={"hang": "Vàng"}, notes=["gọi lại", "thích trà"], consents={1: "granted", 2: "withdrawn"},
        warnings=[warning],
    )  # fmt: skip
    refused = Rejected(line=3, raw={}, errors=[warning])
    with translation.override("en"):
        rows = _present([item, refused, None, None], [2, 3, 4])
    ok, bad, empty, past_the_end = rows
    assert (ok.line, ok.state, ok.name, ok.emails, ok.phones, ok.province) == (
        2, "ok", "Nguyễn Văn An", ["an@example.vn"], ["+84912345678"], "Hà Nội",
    )  # fmt: skip
    assert ok.name_parts == [("Family name (Họ)", "Nguyễn"), ("Middle name", "Văn"), ("Given name (Tên)", "An")]
    assert ok.other == [
        ("Job title", "Kế toán"),
        ("Address as written", "12 Lý Thường Kiệt"),
        ("Lifecycle stage", "Hot lead"),
        ("Buyer role", "Payer"),
        ("Owner (user's email)", admin.email),
        ("Income band", "999"),
        ("Company", "Sao Mai"),
        ("Tags", "VIP, Hội chợ"),
        ("External id", "crm: KH-1"),
        ("zalo", "0912345678"),
        ("hang", "Vàng"),
        ("Note (added to the timeline)", "gọi lại / thích trà"),
        ("Consent", "granted, withdrawn"),
    ]
    assert ok.warnings == [warning] and ok.errors == []
    assert (bad.line, bad.state, bad.errors, bad.other) == (3, "rejected", [warning], [])
    assert (empty.line, empty.state, past_the_end.line, past_the_end.state) == (4, "empty", 0, "empty")


def test_unknown_ids_and_a_bare_row_show_as_they_are() -> None:
    item = Prepared(line=5, raw={}, fields={"lifecycle_stage_id": 987654, "owner_id": 987654, "province": "atlantis"})
    [row] = _present([item], [5])
    assert (row.name, row.province, row.name_parts) == ("", "", [])
    assert [value for _label, value in row.other] == ["987654", "987654"]
