import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from danhba.core.normalize import (
    NormalizationError,
    clean_text,
    fold,
    looks_like_phone,
    name_case,
    normalize_email,
    normalize_phone,
    parse_date,
    split_name,
)
from danhba.core.vn import province_key


@pytest.mark.parametrize(
    "typed",
    [
        "0912 345 678",
        "0912.345.678",
        "+84912345678",
        "84912345678",
        "+84 (0) 912-345-678",
        "0084912345678",
        "912345678",
        "9.12345678E8",
        "912345678.0",
        " 0912\u00a0345\u00a0678 ",
    ],
)
def test_every_way_people_type_a_mobile_gives_one_e164(typed):
    phone = normalize_phone(typed)
    assert phone.e164 == "+84912345678"
    assert phone.kind == "mobile"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("0162 345 6789", "+84323456789"),
        ("0169 999 8888", "+84399998888"),
        ("0120 345 6789", "+84703456789"),
        ("0123 456 7890", "+84834567890"),
        ("0186 123 4567", "+84561234567"),
        ("0199 123 4567", "+84591234567"),
        ("+84 126 123 4567", "+84761234567"),
        ("1623456789", "+84323456789"),
    ],
)
def test_old_eleven_digit_mobiles_map_to_2018_prefixes(old, new):
    assert normalize_phone(old).e164 == new


def test_landline_is_told_apart_from_mobile():
    phone = normalize_phone("024 3825 1234")
    assert phone.e164 == "+842438251234"
    assert phone.kind == "landline"


def test_foreign_number_with_plus_keeps_its_country():
    assert normalize_phone("+1 (650) 253-0000").e164 == "+16502530000"


@pytest.mark.parametrize("bad", ["", "abc", "12345", "0912 34", "091234567890123", "call me"])
def test_invalid_phones_are_rejected_with_a_reason(bad):
    with pytest.raises(NormalizationError) as exc:
        normalize_phone(bad)
    assert str(exc.value)


def test_emails_are_trimmed_lowercased_and_validated():
    assert normalize_email("  Duc.Nguyen@GMAIL.COM ") == "duc.nguyen@gmail.com"
    assert normalize_email("<lan@congty.vn>") == "lan@congty.vn"
    for bad in ("", "lan@", "lan congty.vn", "a@b"):
        with pytest.raises(NormalizationError):
            normalize_email(bad)


def test_fold_removes_case_and_diacritics_including_d_stroke():
    assert fold("Nguyễn Văn Đức") == "nguyen van duc"
    assert fold("ĐẶNG THỊ HOÀ") == "dang thi hoa"
    nfd = unicodedata.normalize("NFD", "Trần Thị Ánh")
    assert fold(nfd) == fold("Trần Thị Ánh") == "tran thi anh"


def test_clean_text_is_nfc_and_collapses_odd_spaces():
    nfd = unicodedata.normalize("NFD", "Lê  Thị\u00a0Hồng ")
    cleaned = clean_text(nfd)
    assert cleaned == "Lê Thị Hồng"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_vietnamese_names_are_capitalised_and_split_family_middle_given():
    assert name_case("nGUYỄN văn đức") == "Nguyễn Văn Đức"
    parts = split_name("trần thị ngọc ánh")
    assert (parts.family, parts.middle, parts.given) == ("Trần", "Thị Ngọc", "Ánh")
    western = split_name("John Paul Smith", "western")
    assert (western.family, western.given) == ("Smith", "John")
    assert split_name("Lan").given == "Lan"


def test_dates_are_day_first_by_default():
    assert parse_date("05/03/1987").isoformat() == "1987-03-05"
    assert parse_date("1987-03-05").isoformat() == "1987-03-05"
    assert parse_date("05-03-87").year == 1987
    with pytest.raises(NormalizationError):
        parse_date("31/02/2000")


def test_provinces_by_name_abbreviation_or_key():
    assert province_key("TP.HCM") == "ho-chi-minh"
    assert province_key("Sài Gòn") == "ho-chi-minh"
    assert province_key("Hà Nội") == "ha-noi"
    assert province_key("tỉnh Đắk Lắk") == "dak-lak"
    assert province_key("Atlantis") is None


def test_search_box_tells_phone_numbers_from_names():
    assert looks_like_phone("0912 345 678")
    assert looks_like_phone("5678")
    assert not looks_like_phone("Nguyễn 0912")
    assert not looks_like_phone("123")


@given(st.text(max_size=60))
def test_fold_and_clean_never_crash_and_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)
    assert clean_text(clean_text(text)) == clean_text(text)


@given(st.text(max_size=30))
def test_phone_normalisation_either_succeeds_in_e164_or_explains(text):
    try:
        phone = normalize_phone(text)
    except NormalizationError as exc:
        assert str(exc)
    else:
        assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


def test_client_ip_believes_x_forwarded_for_only_behind_a_declared_proxy(rf, settings):
    from danhba.core.actor import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.5, 198.51.100.2", REMOTE_ADDR="10.0.0.1")
    settings.USE_X_FORWARDED_FOR = False
    assert client_ip(request) == "10.0.0.1"
    settings.USE_X_FORWARDED_FOR = True
    assert client_ip(request) == "198.51.100.2"
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="junk", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"
