"""Write the committed extract fixtures, byte for byte the way the real tools write them.

Run ``python -m danhba.ingest.tests.make_fixtures`` (from ``src``) to regenerate; the output is deterministic.
Each file holds the same few people plus some bad rows, so tests can assert exact values and line numbers.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import unicodedata
from pathlib import Path

from danhba.ingest.legacy_vn import encode_tcvn3, encode_vni

FIXTURES = Path(__file__).parent / "fixtures"

PEOPLE = [
    ("Nguyễn Văn Đức", "0912345678", "duc.nguyen@gmail.com", "15/03/1985", "12 Lý Tự Trọng, Quận 1, TP.HCM"),
    ("Trần Thị Ánh Tuyết", "0987654321", "tuyet.tran@yahoo.com", "02/11/1990", "Hoàn Kiếm, Hà Nội"),
    ("Lê Hoàng Phương", "+84 903 123 456", "phuong.le@gmial.com", "31/12/1978", "Hải Châu, Đà Nẵng"),
    ("Đặng Thuỳ Dương", "", "duong.dang@example.vn", "1995-07-20", "Ninh Kiều, Cần Thơ"),
]
# Bad rows: no name and garbage values; a row with a missing column.
BAD = [("", "12345", "not-an-email", "32/13/2000", "???"), ("Phạm Quốc Việt", "0909 888 777")]
HEADER = ("Họ và tên", "Số điện thoại", "Email", "Ngày sinh", "Địa chỉ")

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def encode_cp1258(text: str) -> bytes:
    """Encode as Windows does for cp1258: base letter (with its breve/circumflex/horn) + combining tone mark."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        tones = "".join(ch for ch in decomposed if ch in _TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONE_MARKS))
        out += (base + tones).encode("cp1258")
    return bytes(out)


def _delimited(rows: list[tuple[str, ...]], delimiter: str) -> str:
    def quote(cell: str) -> str:
        if delimiter in cell or '"' in cell or "\n" in cell:
            return '"' + cell.replace('"', '""') + '"'
        return cell

    return "".join(delimiter.join(quote(c) for c in row) + "\r\n" for row in rows)


def _table() -> list[tuple[str, ...]]:
    return [HEADER, *PEOPLE, *BAD]


def write_cp1258() -> None:
    # Vietnamese Windows: list separator ";", CRLF, cp1258 with combining tones. A blank line before the bad rows.
    rows = [HEADER, *PEOPLE]
    text = _delimited(rows, ";") + "\r\n" + _delimited(BAD, ";")
    (FIXTURES / "excel_cp1258.csv").write_bytes(encode_cp1258(text))


def write_utf16() -> None:
    # Excel "Unicode text": UTF-16 LE with BOM, tab-separated, CRLF; a phone Excel turned into 9.12345678E+08.
    rows = [HEADER, *PEOPLE, *BAD]
    rows[1] = (rows[1][0], "9.12345678E+08", *rows[1][2:])
    rows[2] = (rows[2][0], "987654321.0", *rows[2][2:])
    (FIXTURES / "excel_unicode.txt").write_bytes(codecs.BOM_UTF16_LE + _delimited(rows, "\t").encode("utf-16-le"))


def write_tcvn3() -> None:
    (FIXTURES / "legacy_tcvn3.csv").write_bytes(encode_tcvn3(_delimited(_table(), ",")))


def write_vni() -> None:
    (FIXTURES / "legacy_vni.csv").write_bytes(encode_vni(_delimited(_table(), ",")))


def write_xlsx() -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Khách hàng"
    ws.append(["Họ tên", "SĐT", "Email", "Ngày sinh", "Ghi chú"])
    ws.append(["  Nguyễn Văn Đức\u00a0", 912345678, "duc.nguyen@gmail.com", dt.datetime(1985, 3, 15), "VIP"])
    ws.append(["Trần Thị Ánh Tuyết", 9.87654321e8, "tuyet.tran@yahoo.com", 33179, None])  # serial date
    ws.append([None, None, None, None, None])  # an empty row: skipped, numbering unchanged
    ws.append(["Lê Hoàng Phương", "0903123456", "phuong.le@gmial.com", "31/02/1978", "ngày sinh sai"])
    ws.append([None, 12345, "not-an-email", None, None])
    for row in (2, 3):
        ws.cell(row=row, column=4).number_format = "dd/mm/yyyy"
    other = wb.create_sheet("Nhà cung cấp")
    other.append(["Công ty", "Điện thoại"])
    other.append(["Công ty TNHH Ánh Dương", 2838123456])
    wb.save(FIXTURES / "customers.xlsx")
    _fix_zip_timestamps(FIXTURES / "customers.xlsx")


def _fix_zip_timestamps(path: Path) -> None:
    """Rewrite the zip with fixed timestamps and metadata so regeneration is byte-identical."""
    import re
    import zipfile

    entries = []
    with zipfile.ZipFile(path) as zin:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2025-01-01T00:00:00Z", data)
            entries.append((info.filename, data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            zout.writestr(zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)


def write_vcard() -> None:
    cards = [
        # An Android export: vCard 3.0, two phones, folded NOTE line.
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Nguyễn;Đức;Văn;;\r\nFN:Nguyễn Văn Đức\r\n"
        "TEL;TYPE=CELL:0912 345 678\r\nTEL;TYPE=WORK:028 3812 3456\r\nEMAIL;TYPE=INTERNET:duc.nguyen@gmail.com\r\n"
        "ORG:Công ty Ánh Dương\r\nTITLE:Giám đốc\r\nBDAY:1985-03-15\r\n"
        "ADR;TYPE=HOME:;;12 Lý Tự Trọng;Quận 1;TP.HCM;;Việt Nam\r\n"
        "NOTE:Khách hàng thân thiết từ năm 2019\\, hay mua\r\n  hàng online\r\nEND:VCARD\r\n",
        # An iPhone-style vCard 4.0 with a tel: URI and a basic-format birthday.
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Trần Thị Ánh Tuyết\r\nN:Trần;Tuyết;Thị Ánh;;\r\n"
        "TEL;VALUE=uri;TYPE=cell:tel:+84987654321\r\nEMAIL:tuyet.tran@yahoo.com\r\nEMAIL:tuyet@work.vn\r\n"
        "BDAY:19901102\r\nEND:VCARD\r\n",
        # A bad card: no FN, a broken email, a non-date birthday.
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nTEL:12345\r\nEMAIL:abc@\r\nBDAY:not a date\r\nEND:VCARD\r\n",
    ]
    (FIXTURES / "phone_contacts.vcf").write_bytes("".join(cards).encode("utf-8"))


def write_google() -> None:
    header = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Nickname",
        "E-mail 1 - Label",
        "E-mail 1 - Value",
        "Phone 1 - Label",
        "Phone 1 - Value",
        "Organization Name",
        "Organization Title",
        "Birthday",
        "Notes",
        "Labels",
    ]
    rows = [
        tuple(header),
        ("Đức", "Văn", "Nguyễn", "", "* Home", "duc.nguyen@gmail.com", "Mobile", "0912 345 678 ::: 028 3812 3456",
         "Công ty Ánh Dương", "Giám đốc", "1985-03-15", "", "* myContacts ::: Khách VIP"),
        ("Tuyết", "Thị Ánh", "Trần", "", "", "tuyet.tran@yahoo.com", "", "+84987654321",
         "", "", "--11-02", "", "* myContacts"),
        ("", "", "", "", "", "not-an-email", "", "abc", "", "", "", "", ""),
    ]  # fmt: skip
    (FIXTURES / "google_contacts.csv").write_bytes(codecs.BOM_UTF8 + _delimited(rows, ",").encode("utf-8"))


def write_outlook() -> None:
    header = [
        "First Name",
        "Middle Name",
        "Last Name",
        "Title",
        "E-mail Address",
        "E-mail 2 Address",
        "Mobile Phone",
        "Business Phone",
        "Company",
        "Job Title",
        "Business City",
        "Birthday",
        "Notes",
    ]
    rows = [
        tuple(header),
        ("Phương", "Hoàng", "Lê", "", "phuong.le@gmial.com", "", "0903123456", "", "", "", "Đà Nẵng",
         "12/31/1978", "Gặp ở hội chợ\nliên hệ lại tháng 5"),
        ("Dương", "Thuỳ", "Đặng", "", "duong.dang@example.vn", "", "", "", "", "", "Cần Thơ", "0/0/00", ""),
        ("", "", "", "", "", "", "", "", "", "", "", "", ""),  # an all-empty row, as Outlook writes sometimes
        ("Việt", "Quốc", "Phạm", "", "viet@@example", "", "0909888777", "", "", "", "", "", ""),
    ]  # fmt: skip
    (FIXTURES / "outlook_contacts.csv").write_bytes(codecs.BOM_UTF8 + _delimited(rows, ",").encode("utf-8"))


def write_json() -> None:
    records: list[object] = [
        {"name": "Nguyễn Văn Đức", "phone": 912345678, "email": "duc.nguyen@gmail.com", "vip": True},
        {"name": "Lê Hoàng Phương", "phone": "0903123456", "tags": ["khách sỉ", "miền Trung"]},
        "not an object",
    ]
    (FIXTURES / "contacts.json").write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", "utf-8")
    lines = [
        json.dumps({"name": "Trần Thị Ánh Tuyết", "phone": "0987654321"}, ensure_ascii=False),
        "",
        "{broken json",
        json.dumps({"name": "Đặng Thuỳ Dương", "email": "duong.dang@example.vn"}, ensure_ascii=False),
    ]
    (FIXTURES / "contacts.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for write in (write_cp1258, write_utf16, write_tcvn3, write_vni, write_xlsx, write_vcard, write_google,
                  write_outlook, write_json):  # fmt: skip
        write()


if __name__ == "__main__":
    main()
