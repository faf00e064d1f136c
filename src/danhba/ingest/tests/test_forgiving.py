"""Forgiving rows: a row with one bad value loads without it, with a warning that says where
(line, column, value) and why; only a row with no usable identity left is rejected. The wizard's
preview, the report's counts and issues, and the API all show those warnings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, ContactEmail, ContactPhone
from danhba.core.actor import Actor
from danhba.ingest import services
from danhba.ingest.models import Import

pytestmark = pytest.mark.django_db
HEAD = "Họ và tên,Email,SĐT,Ngày sinh,Đồng ý nhận email\n"
ROWS = (
    "Lê Văn Cường,cuong@@example,0912 345 678,,\n"  # 2: a bad email, a good phone
    "Phạm Thị Dung,dung@example.vn,12345,,\n"  # 3: a good email, a bad phone
    "Trần Văn Em,em@example.vn; sai@,,,\n"  # 4: two addresses in a cell, one bad
    "Ngô Văn Giang,giang@,,,\n"  # 5: a name, and the only email is bad: nothing to know him by
    ",sai@,123,,\n"  # 6: no name, nothing valid
    "Hồ Thị Hoa,,,,\n"  # 7: only a name: as before, a contact (nothing was left out)
    "Đỗ Văn Khoa,khoa@example.vn,,31/02/1990,\n"  # 8: an impossible birthday
    "Vũ Thị Lan,lan@example.vn,,,có lẽ\n"  # 9: consent that cannot be read
)
LEFT_OUT = "the row is imported without this value"


def start(data: bytes, actor: Actor | None = None, **config: Any) -> Import:
    actor = actor or Actor.system("cli")
    run = services.import_create(actor=actor, file=data, file_name="khach.csv")
    columns = {"Họ và tên": "full_name", "Email": "email", "SĐT": "phone", "Ngày sinh": "birthday",
               "Đồng ý nhận email": "consent.email_marketing"}  # fmt: skip
    config.setdefault("source", "import")
    run = services.import_configure(actor=actor, run=run, columns=columns, consent_proof="phiếu giấy", **config)
    return services.import_start(actor=actor, run=run, enqueue=False)


@pytest.fixture
def done() -> Import:
    return services.import_execute(start((HEAD + ROWS).encode()).pk, via="cli")


def issues(run: Import, severity: str) -> list[tuple[int, str, str, str]]:
    return [(i.line, i.column, i.value, i.reason) for i in run.issues.filter(severity=severity).order_by("line", "pk")]


def test_a_bad_email_or_phone_is_left_out_and_the_row_loads(done: Import) -> None:
    cuong = Contact.objects.get(full_name="Lê Văn Cường")
    assert (cuong.email, cuong.phone) == ("", "+84912345678")
    dung = Contact.objects.get(full_name="Phạm Thị Dung")
    assert (dung.email, dung.phone) == ("dung@example.vn", "")
    em = Contact.objects.get(full_name="Trần Văn Em")
    assert list(ContactEmail.objects.filter(contact=em).values_list("email", flat=True)) == ["em@example.vn"]
    assert not ContactPhone.objects.filter(contact=dung).exists()
    khoa = Contact.objects.get(full_name="Đỗ Văn Khoa")
    assert (khoa.email, khoa.birthday) == ("khoa@example.vn", None)
    assert Contact.objects.filter(full_name="Hồ Thị Hoa").exists()
    warned = {(line, column, value): reason for line, column, value, reason in issues(done, "warning")}
    assert warned[(2, "Email", "cuong@@example")].startswith("not a valid email address")
    assert warned[(3, "SĐT", "12345")] == f"phone is too short; {LEFT_OUT}"
    assert warned[(4, "Email", "sai@")].endswith(LEFT_OUT)
    assert warned[(8, "Ngày sinh", "31/02/1990")].endswith(LEFT_OUT)
    assert all(reason.endswith(LEFT_OUT) for reason in warned.values())


def test_only_rows_without_a_usable_identity_or_with_unreadable_consent_are_rejected(done: Import) -> None:
    assert (done.created, done.rejected, done.warned) == (5, 3, 4)
    rejected = issues(done, "error")
    assert sorted({line for line, *_rest in rejected}) == [5, 6, 9]
    assert (5, "Email", "giang@") in [(line, col, value) for line, col, value, _r in rejected]
    assert any(line == 5 and col == "" and "no valid email, phone or external id is left" in r
               for line, col, _v, r in rejected)  # fmt: skip
    assert any(line == 6 and col == "" for line, col, _v, _r in rejected)
    assert [(col, value) for line, col, value, _r in rejected if line == 9] == [("Đồng ý nhận email", "có lẽ")]
    assert not Contact.objects.filter(full_name__in=["Ngô Văn Giang", "Vũ Thị Lan"]).exists()


def test_the_wizard_preview_shows_what_will_be_left_out(client_for: Any, admin: Any) -> None:
    run = services.import_create(actor=actor_for(admin), file=(HEAD + ROWS).encode(), file_name="khach.csv")
    html = client_for(admin).get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    line = html.split('data-line="2"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="nowrap">0912 345 678</td>' in line  # the phone loads
    assert "Rejected" not in line
    assert "not a valid email address" in line and LEFT_OUT in line and "cuong@@example" in line
    rejected = html.split('data-line="5"', 1)[1].split("</tr>", 1)[0]
    assert "Rejected: this row will not be imported" in rejected


def test_the_report_counts_and_lists_the_warnings(client_for: Any, admin: Any, done: Import) -> None:
    client = client_for(admin)
    page = client.get(reverse("ingest:detail", kwargs={"pk": done.pk})).content.decode()
    assert '<strong data-count="warned">4</strong>' in page
    warnings = client.get(reverse("ingest:issues", kwargs={"pk": done.pk}), {"severity": "warning"}).content.decode()
    row = warnings.split('data-line="3"', 1)[1].split("</tr>", 1)[0]
    assert "SĐT" in row and "12345" in row and f"phone is too short; {LEFT_OUT}" in row


def test_the_api_shows_the_warnings_in_the_preview_the_counts_and_the_issues(client: Any, admin: Any) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="tests")
    auth = {"Authorization": f"Bearer {raw}"}
    run = services.import_create(actor=actor_for(admin), file=(HEAD + ROWS).encode(), file_name="khach.csv")
    preview = client.get(f"/api/imports/{run.pk}/preview", headers=auth).json()
    line2 = next(r for r in preview["rows"] if r["line"] == 2)
    assert line2["outcome"] == "ok" and line2["contact"]["phones"] == ["+84912345678"]
    assert line2["contact"]["emails"] == []
    assert [(w["column"], w["value"]) for w in line2["warnings"]] == [("Email", "cuong@@example")]
    assert line2["warnings"][0]["reason"].endswith(LEFT_OUT)
    assert next(r for r in preview["rows"] if r["line"] == 5)["outcome"] == "rejected"
    body = json.dumps({"source": "import", "consent_proof": "x", "columns": {"Đồng ý nhận email": ""}})
    client.patch(f"/api/imports/{run.pk}", body, content_type="application/json", headers=auth)
    client.post(f"/api/imports/{run.pk}/start", headers=auth)
    services.import_execute(run.pk)
    out = client.get(f"/api/imports/{run.pk}", headers=auth).json()
    assert (out["counts"]["created"], out["counts"]["rejected"], out["counts"]["warnings"]) == (6, 2, 4)
    items = client.get(f"/api/imports/{run.pk}/issues", {"severity": "warning"}, headers=auth).json()["items"]
    found = {(i["line"], i["column"], i["value"]) for i in items}
    assert found >= {(2, "Email", "cuong@@example"), (3, "SĐT", "12345")}
