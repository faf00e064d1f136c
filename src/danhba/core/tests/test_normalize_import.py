"""The normalisation helpers imports need: email domain typos, dates in every form Vietnamese
files hold them, gender codes, the 63 → 34 provinces of 1 July 2025, names from inverted or
split columns, and tags from one delimited cell."""

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from danhba.core.normalize import (
    DEFAULT_GENDER_MAP,
    NormalizationError,
    email_typo_warning,
    excel_serial_date,
    join_name_columns,
    normalize_email,
    parse_gender,
    parse_import_date,
    split_name,
    split_tags,
    suggest_email_domain,
)
from danhba.core.vn import (
    OLD_PROVINCE_NAMES,
    PROVINCE_NAMES,
    PROVINCES,
    PROVINCES_BEFORE_2025,
    province_from_text,
    province_key,
)

# --- email domain typos ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("lan@gmial.com", "gmail.com"),
        ("lan@gmail.con", "gmail.com"),
        ("lan@gmai.com", "gmail.com"),
        ("lan@gmal.com", "gmail.com"),
        ("lan@gnail.com", "gmail.com"),
        ("lan@gmail.co", "gmail.com"),
        ("lan@gmailcom", "gmail.com"),
        ("duc.nguyen@yaho.com", "yahoo.com"),
        ("duc.nguyen@yahooo.com", "yahoo.com"),
        ("duc.nguyen@yhoo.com.vn", "yahoo.com.vn"),
        ("duc.nguyen@yahoo.com.vm", "yahoo.com.vn"),
        ("hoa@hotmial.com", "hotmail.com"),
        ("hoa@hotmai.com", "hotmail.com"),
        ("hoa@hotmail.co", "hotmail.com"),
        ("anh@outlok.com", "outlook.com"),
        ("anh@iclod.com", "icloud.com"),
        ("anh@icloud.co", "icloud.com"),
        ("binh@ftp.vn", "fpt.vn"),
        ("binh@fpt.vm", "fpt.vn"),
        ("  Lan.Tran@GMIAL.COM ", "gmail.com"),
        ("Trần Lan <lan@gmial.com>", "gmail.com"),
        ("mailto:lan@gmial.com", "gmail.com"),
    ],
)
def test_obvious_domain_typos_get_a_suggestion(typed, suggestion):
    assert suggest_email_domain(typed) == suggestion


@pytest.mark.parametrize(
    "real",
    [
        "lan@gmail.com",
        "lan@yahoo.com.vn",
        "lan@gmx.com",
        "lan@ymail.com",
        "lan@mail.com",
        "lan@congty.vn",
        "lan@vnu.vn",
        "lan@fpt.com.vn",
        "lan@fpt.edu.vn",
        "lan@vnn.vn",
        "lan@yahoo.com.sg",
        "lan@yahoo.co.uk",
        "lan@hotmail.fr",
        "lan@gmail.vn",
        "lan@viettel.com.vn",
        "lan@live.com",
        "",
        "không có email",
        "lan@",
    ],
)
def test_real_or_unrelated_domains_get_no_suggestion(real):
    assert suggest_email_domain(real) is None


def test_a_typo_is_flagged_never_fixed():
    # The address is stored as typed (lower-cased); the suggestion is only a warning.
    assert normalize_email("Lan@Gmial.com") == "lan@gmial.com"
    warning = email_typo_warning("Lan@Gmial.com")
    assert warning is not None and "Lan@gmail.com" in str(warning)
    assert email_typo_warning("lan@gmail.com") is None


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "05/03/1987",
        "5/3/1987",
        "5/3/87",
        "05-03-1987",
        "05.03.1987",
        " 05 / 03 / 1987 ",
        "1987-03-05",
        "1987/3/5",
        "19870305",
        "05/03/1987 00:00:00",
        "5/3/1987 10:30 AM",
        "1987-03-05T00:00:00",
        "1987-03-05 00:00",
        "5 tháng 3 năm 1987",
        "ngày 05 tháng 03 năm 1987",
        "Ngày 5 Tháng 3 Năm 1987",
        "ngay 5 thang 3 nam 1987",
        "5 tháng 3, 1987",
        "05 thg 3 1987",
        "05-thg3-1987",
        "05-Mar-1987",
        "5-mar-87",
        "5 March 1987",
        "5th March 1987",
        "March 5, 1987",
        "Mar 5 1987",
        unicodedata.normalize("NFD", "5 tháng 3 năm 1987"),
        dt.date(1987, 3, 5),
        dt.datetime(1987, 3, 5, 8, 30),
    ],
)
def test_every_way_a_vietnamese_file_writes_5_march_1987(typed):
    assert parse_import_date(typed) == dt.date(1987, 3, 5)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (31778, dt.date(1987, 1, 1)),
        (31778.0, dt.date(1987, 1, 1)),
        (31778.75, dt.date(1987, 1, 1)),
        ("31778", dt.date(1987, 1, 1)),
        ("31778.5", dt.date(1987, 1, 1)),
        (45839, dt.date(2025, 7, 1)),
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),
        (36526, dt.date(2000, 1, 1)),
    ],
)
def test_excel_serial_numbers_with_the_1900_leap_year_bug(serial, expected):
    assert parse_import_date(serial) == expected


def test_excel_serial_60_is_the_day_that_never_was():
    with pytest.raises(NormalizationError, match="29/02/1900"):
        excel_serial_date(60)
    for bad in (0, -5, 3_000_000):
        with pytest.raises(NormalizationError, match="Excel"):
            parse_import_date(bad)


def test_month_first_when_asked():
    assert parse_import_date("12/31/1987", day_first=False) == dt.date(1987, 12, 31)
    assert parse_import_date("3/5/1987", day_first=False) == dt.date(1987, 3, 5)
    assert parse_import_date("3/5/1987") == dt.date(1987, 5, 3)


def test_two_digit_years_are_never_in_the_future_by_default():
    today = dt.date.today()
    for typed in ("01/01/99", "31/12/50", f"01/01/{today.year % 100:02d}"):
        assert parse_import_date(typed) <= today
    assert parse_import_date("01/01/99").year == 1999
    # A day later this year than today, written with two digits, is a century ago.
    tomorrow = today + dt.timedelta(days=1)
    if tomorrow.year == today.year:
        typed = f"{tomorrow.day}/{tomorrow.month}/{tomorrow.year % 100:02d}"
        assert parse_import_date(typed).year == tomorrow.year - 100
    # Yesterday is this century.
    yesterday = today - dt.timedelta(days=1)
    assert parse_import_date(f"{yesterday.day}/{yesterday.month}/{yesterday.year % 100:02d}") == yesterday


def test_a_pivot_year_for_dates_that_may_lie_ahead():
    assert parse_import_date("01/06/35", two_digit_pivot=2040) == dt.date(2035, 6, 1)
    assert parse_import_date("01/06/45", two_digit_pivot=2040) == dt.date(1945, 6, 1)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        (None, "empty"),
        ("31/02/2000", "31/02/2000"),
        ("29/02/2023", "29/02/2023"),
        ("12/31/1987", "12/31/1987"),
        ("00/00/0000", "00/00/0000"),
        ("hôm qua", "hôm qua"),
        ("5 Foo 1987", "5 Foo 1987"),
        ("1987", "1987"),
        ("05/03-1987", "05/03-1987"),
        ("tháng 3/1987", "tháng 3/1987"),
        ("30 thg 13 1987", "30 thg 13 1987"),
    ],
)
def test_bad_dates_are_refused_with_the_value_in_the_reason(typed, reason):
    with pytest.raises(NormalizationError) as exc:
        parse_import_date(typed)
    assert reason in str(exc.value)


@given(st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True)))
def test_import_dates_either_parse_or_explain(value):
    try:
        result = parse_import_date(value)
    except NormalizationError as exc:
        assert str(exc)
    else:
        assert isinstance(result, dt.date)


# --- gender ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "gender"),
    [
        ("Nam", "male"),
        ("nam", "male"),
        ("NAM", "male"),
        ("Nữ", "female"),
        ("nữ", "female"),
        ("NỮ", "female"),
        ("nu", "female"),
        (unicodedata.normalize("NFD", "Nữ"), "female"),
        ("  Nữ\u00a0", "female"),
        ("Male", "male"),
        ("Female", "female"),
        ("M", "male"),
        ("F", "female"),
        ("m", "male"),
        ("1", "male"),
        ("0", "female"),
        (1, "male"),
        (0, "female"),
        (1.0, "male"),
        ("1.0", "male"),
        ("Anh", "male"),
        ("Chị", "female"),
        ("Ông", "male"),
        ("Bà", "female"),
        ("Mr.", "male"),
        ("Mrs.", "female"),
        ("Khác", "other"),
        ("Other", "other"),
        ("Không xác định", ""),
        ("N/A", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_gender_as_files_write_it(typed, gender):
    assert parse_gender(typed) == gender


def test_gender_mapping_can_swap_one_and_zero_and_add_codes():
    swapped = {"1": "female", "0": "male"}
    assert parse_gender("1", swapped) == "female"
    assert parse_gender(0, swapped) == "male"
    assert parse_gender("Nữ", swapped) == "female"  # the rest of the defaults stay
    assert parse_gender("Đàn ông", {"Đàn ông": "male", "Đàn bà": "female"}) == "male"
    assert parse_gender("dan ba", {"Đàn ông": "male", "Đàn bà": "female"}) == "female"
    assert DEFAULT_GENDER_MAP["1"] == "male"  # the default table was not changed by a call
    with pytest.raises(ValueError):
        parse_gender("x", {"x": "woman"})


@pytest.mark.parametrize("typed", ["abc", "2", "Em", "nam nữ", "có", "Cô"])
def test_unknown_gender_names_the_value(typed):
    with pytest.raises(NormalizationError) as exc:
        parse_gender(typed)
    assert typed in str(exc.value)


# --- provinces ------------------------------------------------------------------------------


def test_the_63_old_provinces_each_map_to_one_of_the_34():
    assert len(PROVINCES) == 34
    assert len(PROVINCES_BEFORE_2025) == 63
    assert len({old for old, _name, _new in PROVINCES_BEFORE_2025}) == 63
    assert {new for _old, _name, new in PROVINCES_BEFORE_2025} == set(PROVINCE_NAMES)
    # 11 units were not merged: they are the only ones a single old province maps to.
    counts: dict[str, int] = {}
    for _old, _name, new in PROVINCES_BEFORE_2025:
        counts[new] = counts.get(new, 0) + 1
    unchanged = {key for key, n in counts.items() if n == 1}
    assert unchanged == {
        "ha-noi", "hue", "lai-chau", "dien-bien", "son-la", "lang-son",
        "quang-ninh", "thanh-hoa", "nghe-an", "ha-tinh", "cao-bang",
    }  # fmt: skip
    for old, name, new in PROVINCES_BEFORE_2025:
        assert province_key(name) == new, name
        assert province_key(old) == new, old


@pytest.mark.parametrize(
    ("typed", "key", "merged_from"),
    [
        ("Bình Dương", "ho-chi-minh", "Bình Dương"),
        ("Bà Rịa–Vũng Tàu", "ho-chi-minh", "Bà Rịa - Vũng Tàu"),
        ("Bà Rịa - Vũng Tàu", "ho-chi-minh", "Bà Rịa - Vũng Tàu"),
        ("BRVT", "ho-chi-minh", "Bà Rịa - Vũng Tàu"),
        ("Vũng Tàu", "ho-chi-minh", "Bà Rịa - Vũng Tàu"),
        ("Hà Giang", "tuyen-quang", "Hà Giang"),
        ("Tỉnh Hà Giang", "tuyen-quang", "Hà Giang"),
        ("Bắc Giang", "bac-ninh", "Bắc Giang"),
        ("Quảng Nam", "da-nang", "Quảng Nam"),
        ("Thừa Thiên Huế", "hue", "Thừa Thiên Huế"),
        ("Thừa Thiên - Huế", "hue", "Thừa Thiên Huế"),
        ("Kiên Giang", "an-giang", "Kiên Giang"),
        ("Long An", "tay-ninh", "Long An"),
        ("Bình Phước", "dong-nai", "Bình Phước"),
        ("Tiền Giang", "dong-thap", "Tiền Giang"),
        ("Bến Tre", "vinh-long", "Bến Tre"),
        ("Trà Vinh", "vinh-long", "Trà Vinh"),
        ("Sóc Trăng", "can-tho", "Sóc Trăng"),
        ("Hậu Giang", "can-tho", "Hậu Giang"),
        ("Bạc Liêu", "ca-mau", "Bạc Liêu"),
        ("Bình Định", "gia-lai", "Bình Định"),
        ("Kon Tum", "quang-ngai", "Kon Tum"),
        ("Kontum", "quang-ngai", "Kon Tum"),
        ("Phú Yên", "dak-lak", "Phú Yên"),
        ("Ninh Thuận", "khanh-hoa", "Ninh Thuận"),
        ("Đắk Nông", "lam-dong", "Đắk Nông"),
        ("Đăk Nông", "lam-dong", "Đắk Nông"),
        ("Bình Thuận", "lam-dong", "Bình Thuận"),
        ("Quảng Bình", "quang-tri", "Quảng Bình"),
        ("Hải Dương", "hai-phong", "Hải Dương"),
        ("Thái Bình", "hung-yen", "Thái Bình"),
        ("Hà Nam", "ninh-binh", "Hà Nam"),
        ("Nam Định", "ninh-binh", "Nam Định"),
        ("Vĩnh Phúc", "phu-tho", "Vĩnh Phúc"),
        ("Hòa Bình", "phu-tho", "Hòa Bình"),
        ("Hoà Bình", "phu-tho", "Hòa Bình"),
        ("Bắc Kạn", "thai-nguyen", "Bắc Kạn"),
        ("Bắc Cạn", "thai-nguyen", "Bắc Kạn"),
        ("Yên Bái", "lao-cai", "Yên Bái"),
        ("Hà Tây", "ha-noi", "Hà Tây"),
    ],
)
def test_old_provinces_map_to_the_current_one_and_say_so(typed, key, merged_from):
    match = province_from_text(typed)
    assert match is not None
    assert (match.key, match.merged_from, match.raw) == (key, merged_from, typed)
    assert match.name == PROVINCE_NAMES[key]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("HCM", "ho-chi-minh"),
        ("hcm", "ho-chi-minh"),
        ("TP.HCM", "ho-chi-minh"),
        ("TP HCM", "ho-chi-minh"),
        ("TPHCM", "ho-chi-minh"),
        ("Tp. Hồ Chí Minh", "ho-chi-minh"),
        ("T.P Hồ Chí Minh", "ho-chi-minh"),
        ("Thành phố Hồ Chí Minh", "ho-chi-minh"),
        ("Hồ Chí Minh", "ho-chi-minh"),
        ("Ho Chi Minh City", "ho-chi-minh"),
        ("HCMC", "ho-chi-minh"),
        ("Sài Gòn", "ho-chi-minh"),
        ("Saigon", "ho-chi-minh"),
        ("SG", "ho-chi-minh"),
        ("HN", "ha-noi"),
        ("Hà Nội", "ha-noi"),
        ("Ha Noi", "ha-noi"),
        ("HANOI", "ha-noi"),
        ("Hà Nội city", "ha-noi"),
        ("Thành phố Hà Nội", "ha-noi"),
        ("TP. Hà Nội", "ha-noi"),
        ("Hà Nội, Việt Nam", "ha-noi"),
        ("Đà Nẵng", "da-nang"),
        ("Da Nang", "da-nang"),
        ("Danang", "da-nang"),
        ("Huế", "hue"),
        ("TP Huế", "hue"),
        ("Cần Thơ", "can-tho"),
        ("tp. Cần Thơ", "can-tho"),
        ("Hải Phòng", "hai-phong"),
        ("Haiphong", "hai-phong"),
        ("tỉnh Đắk Lắk", "dak-lak"),
        ("Dak Lak", "dak-lak"),
        ("Daklak", "dak-lak"),
        ("Đắc Lắc", "dak-lak"),
        ("Khánh Hoà", "khanh-hoa"),
        ("Khánh Hòa", "khanh-hoa"),
        ("Thanh Hoá", "thanh-hoa"),
        ("Thanh Hoa province", "thanh-hoa"),
        ("Tỉnh Thanh Hóa", "thanh-hoa"),
        ("ho-chi-minh", "ho-chi-minh"),
        (unicodedata.normalize("NFD", "Thừa Thiên Huế"), "hue"),
    ],
)
def test_current_provinces_by_name_abbreviation_or_spelling(typed, key):
    match = province_from_text(typed)
    assert match is not None and match.key == key
    assert province_key(typed) == key


def test_current_names_are_not_reported_as_merged():
    for key, name in PROVINCES:
        match = province_from_text(name)
        assert match is not None and match.key == key and match.merged_from == "", name
    # Hải Phòng absorbed Hải Dương but is itself still Hải Phòng.
    assert province_from_text("Hải Phòng").merged_from == ""  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["", None, "Atlantis", "Tỉnh", "Thành phố", "Quận 1", "Việt Nam", "Bình"])
def test_unknown_places_are_none(typed):
    assert province_from_text(typed) is None
    assert province_key(typed) is None


def test_old_province_names_table_is_complete():
    assert OLD_PROVINCE_NAMES["ba-ria-vung-tau"] == "Bà Rịa - Vũng Tàu"
    assert all(unicodedata.is_normalized("NFC", name) for name in OLD_PROVINCE_NAMES.values())


# --- names ----------------------------------------------------------------------------------


def test_default_split_rule_is_unchanged():
    parts = split_name("Nguyễn Thị Minh Khai")
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Thị Minh", "Khai")


def test_compound_given_names_when_the_importer_says_so():
    parts = split_name("Nguyễn Thị Minh Khai", given_words=2)
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Thị", "Minh Khai")
    parts = split_name("Trần Bảo Ngọc", given_words=2)
    assert (parts.family, parts.middle, parts.given) == ("Trần", "", "Bảo Ngọc")
    parts = split_name("Lê Lan", given_words=2)  # a family name is always kept
    assert (parts.family, parts.middle, parts.given) == ("Lê", "", "Lan")
    with pytest.raises(ValueError):
        split_name("Lê Lan", given_words=0)


def test_inverted_given_comma_family_form():
    parts = split_name("Đức, Nguyễn Văn")
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Văn", "Đức")
    parts = split_name("Minh Khai, Nguyễn Thị")
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Thị", "Minh Khai")
    western = split_name("Smith, John Paul", "western")
    assert (western.family, western.middle, western.given) == ("Smith", "Paul", "John")
    trailing = split_name("nguyễn văn đức,")
    assert (trailing.family, trailing.middle, trailing.given) == ("Nguyễn", "Văn", "Đức")


def test_all_caps_names_are_recapitalised():
    parts = split_name("NGUYỄN VĂN ĐỨC")
    assert (parts.family, parts.middle, parts.given) == ("Nguyễn", "Văn", "Đức")
    parts = split_name("ĐẶNG THỊ HOÀ")
    assert (parts.family, parts.middle, parts.given) == ("Đặng", "Thị", "Hoà")


def test_join_name_columns():
    assert join_name_columns("Nguyễn", "Văn", "Đức") == "Nguyễn Văn Đức"
    assert join_name_columns("NGUYỄN", "văn", "đức") == "Nguyễn Văn Đức"
    assert join_name_columns("Nguyễn Văn", "Văn", "Đức") == "Nguyễn Văn Đức"
    assert join_name_columns("Nguyễn Văn Đức", "", "Đức") == "Nguyễn Văn Đức"
    assert join_name_columns("Trần", "", "Bảo Ngọc") == "Trần Bảo Ngọc"
    assert join_name_columns("", "", "Lan") == "Lan"
    assert join_name_columns(None, " ", "\u00a0") == ""
    assert join_name_columns("Smith", "Paul", "John", "western") == "John Paul Smith"
    nfd = unicodedata.normalize("NFD", "Lê")
    assert unicodedata.is_normalized("NFC", join_name_columns(nfd, "Thị", "Hồng"))


# --- tags -----------------------------------------------------------------------------------


def test_tags_are_split_trimmed_and_deduplicated_keeping_the_first_spelling():
    assert split_tags("VIP; khách sỉ | Hà Nội, vip,  Khach Si ,,hà nội") == ["VIP", "khách sỉ", "Hà Nội"]
    assert split_tags("Khách  hàng\u00a0mới;khách hàng mới") == ["Khách hàng mới"]
    nfd = unicodedata.normalize("NFD", "Đối tác")
    assert split_tags(f"{nfd}, đối tác") == ["Đối tác"]
    assert unicodedata.is_normalized("NFC", split_tags(nfd)[0])


def test_tags_with_other_delimiters_lists_and_nothing():
    assert split_tags("a/b / A", "/") == ["a", "b"]
    assert split_tags("a,b", "") == ["a,b"]
    assert split_tags(["Sỉ", "sỉ; Lẻ"]) == ["Sỉ", "Lẻ"]
    assert split_tags(None) == []
    assert split_tags(" ; , |") == []
