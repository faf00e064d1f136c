"""Extract: encodings (incl. TCVN3/VNI), formats, Excel damage, streaming — against committed fixtures."""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from danhba.core.csvsafe import unwrap_excel_text
from danhba.core.tests.properties import examples
from danhba.ingest import extract, legacy_vn
from danhba.ingest.extract import Row, detect_encoding, list_sheets, preview, read_rows, repair_number

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["Nguyễn Văn Đức", "Trần Thị Ánh Tuyết", "Lê Hoàng Phương", "Đặng Thuỳ Dương"]
VN_HEADER = ["Họ và tên", "Số điện thoại", "Email", "Ngày sinh", "Địa chỉ"]


def rows(name: str, **kwargs: str) -> list[Row]:
    return list(read_rows(FIXTURES / name, **kwargs))


def table(name: str, **kwargs: str) -> list[tuple[int, list[str]]]:
    return [(row.line, list(row.values.values())) for row in rows(name, **kwargs)]


# --- legacy encodings -----------------------------------------------------------------------------


def test_every_vietnamese_letter_with_every_tone_survives_vni() -> None:
    letters = legacy_vn.all_letters()
    assert len(letters) == 134  # 12 vowels x 6 tones x 2 cases, minus a e i o u y plain, plus đ Đ
    for letter in letters:
        assert legacy_vn.decode_vni(legacy_vn.encode_vni(letter)) == letter, letter
    text = " ".join(letters)
    assert legacy_vn.decode_vni(legacy_vn.encode_vni(text)) == text


def test_every_lowercase_letter_survives_tcvn3_and_uppercase_toned_ones_fold_to_lowercase() -> None:
    for letter in legacy_vn.all_letters():
        decoded = legacy_vn.decode_tcvn3(legacy_vn.encode_tcvn3(letter))
        if letter.islower() or letter in "ĂÂÊÔƠƯĐ":
            assert decoded == letter, letter
        else:  # TCVN3 has no codes for upper-case toned letters: written (and read back) lower case
            assert decoded == letter.lower(), letter
    # ... except inside an all-capitals word, which is read back as capitals.
    for text in ["NGUYỄN VĂN ĐỨC", "TRẦN THỊ ÁNH TUYẾT", "Nguyễn ĐỨC Lý"]:
        assert legacy_vn.decode_tcvn3(legacy_vn.encode_tcvn3(text)) == text


def test_known_byte_sequences() -> None:
    assert legacy_vn.encode_vni("Nguyễn Văn Đức") == "Nguyeãn Vaên Ñöùc".encode("cp1252")
    assert legacy_vn.encode_tcvn3("Nguyễn Văn Đức") == "NguyÔn V¨n §øc".encode("cp1252")
    assert legacy_vn.encode_vni("Lý Ỵ ị ỉ ĩ") == "Lyù Î ò æ ó".encode("cp1252")
    assert (
        legacy_vn.encode_tcvn3("ạ ặ ậ ẹ ệ ị ọ ộ ợ ụ ự ỵ")
        == bytes(
            [0xB9, 32, 0xC6, 32, 0xCB, 32, 0xD1, 32, 0xD6, 32, 0xDE, 32, 0xE4, 32, 0xE9, 32, 0xEE, 32, 0xF4, 32, 0xF9]
        )
        + b" \xfe"
    )
    assert legacy_vn.decode_vni(b"AUs") == "AUs"
    assert legacy_vn.decode_vni("AØnh Aùnh".encode("latin-1")) == "Ành Ánh"  # mixed-case modifiers


def test_unencodable_characters() -> None:
    with pytest.raises(ValueError, match="TCVN3"):
        legacy_vn.encode_tcvn3("€")
    assert legacy_vn.encode_vni("a€", errors="replace") == b"a?"


@pytest.mark.parametrize(
    ("fixture", "expected_names"),
    [
        ("legacy_vni.csv", NAMES),
        # TCVN3 cannot hold the capital "Á": the file has the lower-case code, as ABC keyboards wrote it.
        ("legacy_tcvn3.csv", ["Nguyễn Văn Đức", "Trần Thị ánh Tuyết", "Lê Hoàng Phương", "Đặng Thuỳ Dương"]),
    ],
)
def test_real_names_decode_from_legacy_fixture_bytes(fixture: str, expected_names: list[str]) -> None:
    data = (FIXTURES / fixture).read_bytes()
    decode = legacy_vn.decode_vni if "vni" in fixture else legacy_vn.decode_tcvn3
    lines = decode(data).splitlines()
    assert lines[0] == ",".join(VN_HEADER)
    assert [line.split(",")[0] for line in lines[1:5]] == expected_names


# --- encoding detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "encoding"),
    [
        ("excel_cp1258.csv", "cp1258"),
        ("excel_unicode.txt", "utf-16"),
        ("legacy_tcvn3.csv", "tcvn3"),
        ("legacy_vni.csv", "vni"),
        ("google_contacts.csv", "utf-8-sig"),
        ("outlook_contacts.csv", "utf-8-sig"),
        ("phone_contacts.vcf", "utf-8"),
        ("contacts.jsonl", "utf-8"),
    ],
)
def test_detects_the_encoding_of_each_fixture(fixture: str, encoding: str) -> None:
    guess = detect_encoding((FIXTURES / fixture).read_bytes())
    assert guess.name == encoding
    assert guess.confidence >= 0.9
    assert guess.reason


def test_detects_utf16_without_bom_and_big_endian_bom() -> None:
    text = "Họ tên\tSĐT\r\nNguyễn Văn Đức\t0912345678\r\n"
    assert detect_encoding(text.encode("utf-16-le")).name == "utf-16-le"
    assert detect_encoding(text.encode("utf-16-be")).name == "utf-16-be"
    guess = detect_encoding(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert (guess.name, guess.reason) == ("utf-16", "UTF-16 BE byte order mark")


def test_detects_legacy_encodings_on_a_single_name() -> None:
    for name in NAMES:
        assert detect_encoding(legacy_vn.encode_vni(name)).name == "vni", name
    for name in ["Nguyễn Văn Đức", "Lê Hoàng Phương", "Đặng Thuỳ Dương", "NGUYỄN VĂN ĐỨC"]:
        assert detect_encoding(legacy_vn.encode_tcvn3(name)).name == "tcvn3", name
    from danhba.ingest.tests.make_fixtures import encode_cp1258

    for name in NAMES:
        assert detect_encoding(encode_cp1258(name)).name == "cp1258", name


def test_a_truncated_utf8_sample_is_still_utf8() -> None:
    data = "Nguyễn Văn Đức".encode()
    assert detect_encoding(data[:-1]).name == "utf-8"


def test_falls_back_to_charset_normalizer_for_non_vietnamese_text() -> None:
    data = "Größe Straße Müller Übermaß, café crème".encode("latin-1") * 5
    guess = detect_encoding(data)
    assert guess.reason == "charset-normalizer"


def test_user_can_override_the_encoding() -> None:
    # The VNI file read as cp1258 gives mojibake — but it is what the user asked for.
    first = rows("legacy_vni.csv", encoding="cp1258")[0]
    assert first.values["Hoï vaø teân"] == "Nguyeăn Vaên Ñöùc"
    assert preview(FIXTURES / "legacy_vni.csv", encoding="VNI").encoding == extract.EncodingGuess(
        "vni", 1.0, "chosen by the user"
    )
    assert rows("legacy_tcvn3.csv", encoding="tcvn3")[0].values["Họ và tên"] == "Nguyễn Văn Đức"


# --- delimited text -------------------------------------------------------------------------------

EXPECTED_VN_ROWS = [
    ["Nguyễn Văn Đức", "0912345678", "duc.nguyen@gmail.com", "15/03/1985", "12 Lý Tự Trọng, Quận 1, TP.HCM"],
    ["Trần Thị Ánh Tuyết", "0987654321", "tuyet.tran@yahoo.com", "02/11/1990", "Hoàn Kiếm, Hà Nội"],
    ["Lê Hoàng Phương", "+84 903 123 456", "phuong.le@gmial.com", "31/12/1978", "Hải Châu, Đà Nẵng"],
    ["Đặng Thuỳ Dương", "", "duong.dang@example.vn", "1995-07-20", "Ninh Kiều, Cần Thơ"],
    ["", "12345", "not-an-email", "32/13/2000", "???"],
    ["Phạm Quốc Việt", "0909 888 777", "", "", ""],  # a short row: missing cells are empty
]


def test_cp1258_excel_csv() -> None:
    result = table("excel_cp1258.csv")
    # Line 6 is blank: skipped, and the bad rows keep their real line numbers.
    assert result == list(zip([2, 3, 4, 5, 7, 8], EXPECTED_VN_ROWS, strict=True))
    assert list(rows("excel_cp1258.csv")[0].values) == VN_HEADER
    raw = (FIXTURES / "excel_cp1258.csv").read_bytes()
    assert b"e\xd2" in raw or b"\xea\xde" in raw  # combining tone marks really are in the file


def test_utf16_unicode_text_with_excel_damaged_phones() -> None:
    result = table("excel_unicode.txt")
    expected = [row[:] for row in EXPECTED_VN_ROWS]
    expected[0][1] = "912345678"  # was 9.12345678E+08
    expected[1][1] = "987654321"  # was 987654321.0
    assert result == list(zip([2, 3, 4, 5, 6, 7], expected, strict=True))
    info = preview(FIXTURES / "excel_unicode.txt")
    assert (info.format, info.delimiter, info.headers) == ("csv", "\t", VN_HEADER)


@pytest.mark.parametrize("fixture", ["legacy_tcvn3.csv", "legacy_vni.csv"])
def test_legacy_csv(fixture: str) -> None:
    expected = [row[:] for row in EXPECTED_VN_ROWS]
    if "tcvn3" in fixture:
        expected[1][0] = "Trần Thị ánh Tuyết"
    assert table(fixture) == list(zip([2, 3, 4, 5, 6, 7], expected, strict=True))


def test_google_contacts_csv() -> None:
    result = rows("google_contacts.csv")
    assert [row.line for row in result] == [2, 3, 4]
    first = result[0].values
    assert (first["Last Name"], first["Middle Name"], first["First Name"]) == ("Nguyễn", "Văn", "Đức")
    assert first["Phone 1 - Value"] == "0912 345 678 ::: 028 3812 3456"
    assert first["Labels"] == "* myContacts ::: Khách VIP"
    assert result[1].values["Middle Name"] == "Thị Ánh"
    assert result[1].values["Birthday"] == "--11-02"
    assert result[2].values["E-mail 1 - Value"] == "not-an-email"  # the bad row is still returned
    assert next(iter(first)) == "First Name"  # the BOM is not part of the first header


def test_outlook_csv_with_a_multiline_note() -> None:
    result = rows("outlook_contacts.csv")
    # The first contact's note spans lines 2–3; the all-empty line 5 is skipped.
    assert [row.line for row in result] == [2, 4, 6]
    assert result[0].values["Last Name"] == "Lê"
    assert result[0].values["Notes"] == "Gặp ở hội chợ liên hệ lại tháng 5"
    assert result[1].values["Birthday"] == "0/0/00"
    assert result[2].values["E-mail Address"] == "viet@@example"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;2,5;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('"Họ, tên";SĐT\n"Lê, Văn";0912\n', ";"),
    ],
)
def test_sniffs_the_delimiter(text: str, delimiter: str) -> None:
    info = preview(io.BytesIO(text.encode()))
    assert info.delimiter == delimiter
    assert len(info.headers) == text.splitlines()[0].count(delimiter) + 1 - text.splitlines()[0].count('", ')


def test_duplicate_and_empty_headers_and_extra_cells() -> None:
    data = b"Email,,Email\na@x.vn,b,c@x.vn,extra\n"
    [row] = read_rows(io.BytesIO(data))
    assert row.values == {"Email": "a@x.vn", "column_2": "b", "Email (2)": "c@x.vn", "column_4": "extra"}


def test_values_are_cleaned() -> None:
    data = "Tên,SĐT\n\u00a0 Nguye\u0302\u0303n   Văn\u00a0,  9.12345678E+08 \n".encode()
    [row] = read_rows(io.BytesIO(data), format="csv")
    assert row.values == {"Tên": "Nguyễn Văn", "SĐT": "912345678"}


@pytest.mark.parametrize(
    ("raw", "repaired"),
    [
        ("9.12345678E8", "912345678"),
        ("9.12345678E+08", "912345678"),
        ("8,4912345678E+10", "84912345678"),
        ("912345678.0", "912345678"),
        ("912345678.00", "912345678"),
        ("0912345678", "0912345678"),
        ("1.5", "1.5"),
        ("1.23E-05", "1.23E-05"),
        ("9.1234567891E8", "9.1234567891E8"),  # not a whole number: left alone
        ("1E1000000", "1E1000000"),  # far too big for a phone: left alone (it overflowed)
        ("9.9E19", "99000000000000000000"),
        ("1E20", "1E20"),
        ("Nguyễn", "Nguyễn"),
    ],
)
def test_repair_number(raw: str, repaired: str) -> None:
    assert repair_number(raw) == repaired


# --- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_rows_with_serial_dates_and_numeric_phones() -> None:
    assert table("customers.xlsx") == [
        (2, ["Nguyễn Văn Đức", "912345678", "duc.nguyen@gmail.com", "1985-03-15", "VIP"]),
        (3, ["Trần Thị Ánh Tuyết", "987654321", "tuyet.tran@yahoo.com", "1990-11-02", ""]),  # serial 33179
        # row 4 is empty
        (5, ["Lê Hoàng Phương", "0903123456", "phuong.le@gmial.com", "31/02/1978", "ngày sinh sai"]),
        (6, ["", "12345", "not-an-email", "", ""]),
    ]


def test_xlsx_sheets_are_listed_and_selectable() -> None:
    path = FIXTURES / "customers.xlsx"
    assert list_sheets(path) == ["Khách hàng", "Nhà cung cấp"]
    assert table("customers.xlsx", sheet="Nhà cung cấp") == [(2, ["Công ty TNHH Ánh Dương", "2838123456"])]
    info = preview(path, n=1)
    assert (info.format, info.encoding, info.sheets, info.sheet) == ("xlsx", None, list_sheets(path), "Khách hàng")
    assert info.headers == ["Họ tên", "SĐT", "Email", "Ngày sinh", "Ghi chú"]
    assert [row.line for row in info.rows] == [2]
    with pytest.raises(ValueError, match="no sheet named"):
        rows("customers.xlsx", sheet="Sheet9")


def test_cell_text() -> None:
    import datetime as dt

    assert extract.cell_text(9.12345678e8) == "912345678"
    assert extract.cell_text(0.5) == "0.5"
    assert extract.cell_text(dt.datetime(1990, 1, 2, 8, 30)) == "1990-01-02 08:30:00"
    assert extract.cell_text(dt.date(1990, 1, 2)) == "1990-01-02"
    assert extract.cell_text(False) == "false"
    assert extract.cell_text(None) == ""


# --- JSON, JSON Lines, vCard ----------------------------------------------------------------------


def test_json_array() -> None:
    result = rows("contacts.json")
    assert [row.line for row in result] == [1, 2, 3]
    assert result[0].values == {
        "name": "Nguyễn Văn Đức",
        "phone": "912345678",
        "email": "duc.nguyen@gmail.com",
        "vip": "true",
    }
    assert result[1].values["tags"] == '["khách sỉ", "miền Trung"]'
    assert result[2].values == {"_error": "not an object: not an object"}


def test_json_lines_with_a_broken_line() -> None:
    result = rows("contacts.jsonl")
    assert [row.line for row in result] == [1, 3, 4]
    assert result[0].values == {"name": "Trần Thị Ánh Tuyết", "phone": "0987654321"}
    assert result[1].values["_error"].startswith("invalid JSON")
    assert result[2].values["name"] == "Đặng Thuỳ Dương"


def test_large_json_array_is_parsed_across_chunk_boundaries() -> None:
    records = [{"name": f"Người {i}", "note": "x" * (i % 700)} for i in range(3000)]
    data = json.dumps(records, ensure_ascii=False).encode()
    assert len(data) > 4 * extract.SAMPLE_SIZE
    result = list(read_rows(io.BytesIO(data), format="json"))
    assert len(result) == 3000
    assert result[-1] == Row(3000, {"name": "Người 2999", "note": "x" * (2999 % 700)})


def test_vcards_of_both_versions() -> None:
    result = rows("phone_contacts.vcf")
    assert [row.line for row in result] == [1, 15, 24]  # the BEGIN:VCARD line of each card
    assert result[0].values == {
        "full_name": "Nguyễn Văn Đức",
        "family_name": "Nguyễn",
        "given_name": "Đức",
        "middle_name": "Văn",
        "email": "duc.nguyen@gmail.com",
        "phone": "0912 345 678; 028 3812 3456",
        "organization": "Công ty Ánh Dương",
        "title": "Giám đốc",
        "address": "12 Lý Tự Trọng, Quận 1, TP.HCM, Việt Nam",
        "birthday": "1985-03-15",
        "note": "Khách hàng thân thiết từ năm 2019, hay mua hàng online",
    }
    second = result[1].values
    assert (second["full_name"], second["middle_name"]) == ("Trần Thị Ánh Tuyết", "Thị Ánh")
    assert second["phone"] == "+84987654321"
    assert second["email"] == "tuyet.tran@yahoo.com; tuyet@work.vn"
    assert second["birthday"] == "1990-11-02"
    third = result[2].values
    assert (third["full_name"], third["email"], third["phone"], third["birthday"]) == (
        "",
        "abc@",
        "12345",
        "not a date",
    )
    assert preview(FIXTURES / "phone_contacts.vcf").format == "vcard"


def test_unreadable_and_unterminated_vcards_are_returned_as_error_rows() -> None:
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ok\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut off\r\n"
    result = list(read_rows(io.BytesIO(data), format="vcard"))
    assert [row.line for row in result] == [1, 5]
    assert result[0].values["full_name"] == "Ok"
    assert result[1].values == {"_error": "vCard without END:VCARD"}


# --- format sniffing, preview, streaming ----------------------------------------------------------


def test_format_is_sniffed_from_content_without_a_name() -> None:
    for fixture, fmt in [
        ("customers.xlsx", "xlsx"),
        ("phone_contacts.vcf", "vcard"),
        ("contacts.json", "json"),
        ("contacts.jsonl", "jsonl"),
        ("excel_cp1258.csv", "csv"),
    ]:
        assert preview(io.BytesIO((FIXTURES / fixture).read_bytes())).format == fmt, fixture


def test_preview_reports_what_the_wizard_shows() -> None:
    info = preview(FIXTURES / "legacy_vni.csv", n=2)
    assert info.format == "csv"
    assert info.encoding is not None and info.encoding.name == "vni"
    assert info.delimiter == ","
    assert info.headers == VN_HEADER
    assert [row.values["Họ và tên"] for row in info.rows] == NAMES[:2]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        list(read_rows(io.BytesIO(b"a,b\n"), format="pdf"))


class _Tracking(io.BytesIO):
    """A file that records the furthest position read."""

    furthest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = super().readinto(buffer)
        self.furthest = max(self.furthest, self.tell())
        return count

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.furthest = max(self.furthest, self.tell())
        return data


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (lambda text: text.encode("utf-8"), "utf-8"),
        (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf-16"),
        (legacy_vn.encode_vni, "vni"),
        (legacy_vn.encode_tcvn3, "tcvn3"),
    ],
)
def test_big_files_are_streamed_not_read_whole(encode: object, encoding: str) -> None:
    lines = ["Họ và tên;Số điện thoại"] + [f"Nguyễn Văn Đức {i};0912{i:06d}" for i in range(40_000)]
    data = encode("\r\n".join(lines) + "\r\n")  # type: ignore[operator]
    source = _Tracking(data)
    iterator = read_rows(source)
    first = next(iterator)
    assert first == Row(2, {"Họ và tên": "Nguyễn Văn Đức 0", "Số điện thoại": "0912000000"})
    assert source.furthest < len(data) / 4  # only the detection sample and a buffer have been read
    *_, last = iterator
    assert last == Row(40_001, {"Họ và tên": "Nguyễn Văn Đức 39999", "Số điện thoại": "0912039999"})
    assert detect_encoding(data[: extract.SAMPLE_SIZE]).name == encoding


@settings(max_examples=examples(3000), deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.text(alphabet='0123456789+-.,eE| ="\xa0\u200ba²٣', max_size=12),
            st.sampled_from(["9.12345678E+08", "912345678.0", '="0912345678"', "0912.345.678", "+84 912", "Hà Nội"]),
        ),
        max_size=11,
    )
)
def test_a_csv_rows_texts_are_each_cells_clean_value(cells: list[str]) -> None:
    unwrapped = [unwrap_excel_text(cell) for cell in cells]
    assert extract.csv_texts(cells) == (unwrapped, [extract.clean_value(cell) for cell in unwrapped])
