"""The rejected-rows CSV gives each row as the file had it — Excel's damage, spaces and all — so
the person fixing it recognises their file; fixed, it imports again."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook

from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.ingest import services
from danhba.ingest.extract import read_rows
from danhba.ingest.models import Import

pytestmark = pytest.mark.django_db
HEAD = ["Họ và tên", "SĐT", "Điện thoại bàn", "Email", "Đồng ý nhận email"]
COLUMNS = {"Họ và tên": "full_name", "SĐT": "phone", "Điện thoại bàn": "phone", "Email": "email",
           "Đồng ý nhận email": "consent.email_marketing"}  # fmt: skip


def run_import(data: bytes, name: str = "khach.csv") -> Import:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=data, file_name=name)
    run = services.import_configure(actor=actor, run=run, columns=COLUMNS, source="import", consent_proof="x")
    services.import_start(actor=actor, run=run, enqueue=False)
    return services.import_execute(run.pk)


def rejected_rows(run: Import) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(services.issues_csv(run)).removeprefix("\ufeff"))))


def csv_file(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEAD, *rows])
    return out.getvalue().encode()


def test_the_rejected_rows_keep_the_values_as_the_file_had_them() -> None:
    # The consent answer cannot be read: the row is rejected; the rest of it was fine.
    run = run_import(csv_file(["  Nguyễn   Văn An ", "9.88776655E8", "028.3812.3456", "An@Example.vn", "có lẽ"]))
    assert run.rejected == 1
    [row] = rejected_rows(run)
    assert row["Họ và tên"] == "  Nguyễn   Văn An "
    assert row["SĐT"] == "9.88776655E8"  # not the 988776655 danhba read it as
    assert row["Email"] == "An@Example.vn"
    assert row["Đồng ý nhận email"] == "có lẽ"


def test_cells_written_as_text_for_excel_are_read_as_their_text() -> None:
    rows = list(read_rows(io.BytesIO(csv_file(["An", '="0912345678"', '="+842838123456"', "", ""])), format="csv"))
    assert rows[0].values["SĐT"] == "0912345678" and rows[0].values["Điện thoại bàn"] == "+842838123456"
    assert rows[0].as_read == rows[0].values


def test_xlsx_rows_keep_their_text_cells_as_typed() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HEAD)
    sheet.append(["  Trần Bình ", "9.12345678E+08", 842838123456, "", "không rõ"])
    data = io.BytesIO()
    book.save(data)
    run = run_import(data.getvalue(), name="khach.xlsx")
    [row] = rejected_rows(run)
    assert (row["Họ và tên"], row["SĐT"]) == ("  Trần Bình ", "9.12345678E+08")
    assert row["Điện thoại bàn"] == '="842838123456"'  # a number cell: its digits, as text for Excel


def test_fixed_and_imported_again_the_rejected_rows_load(settings: Any) -> None:
    run = run_import(csv_file(["Nguyễn Văn An", "0912345678", "9.88776655E8", "an@example.vn", "có lẽ"]))
    text = "".join(services.issues_csv(run)).replace("có lẽ", "Có")  # the fix
    assert '"=""0912345678"""' in text  # ="0912345678": Excel keeps the leading zero
    again = run_import(text.encode("utf-8"), name="khach-loi.csv")
    assert (again.created, again.rejected) == (1, 0)
    an = Contact.objects.get(full_name="Nguyễn Văn An")
    assert sorted(an.phones.values_list("e164", flat=True)) == ["+84912345678", "+84988776655"]
