"""The import's fast paths must agree exactly with the full validators they stand in for."""

from __future__ import annotations

import datetime as dt
import re
import string
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from danhba.core import normalize
from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone
from danhba.core.tests.properties import examples


def _full_email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False, allow_smtputf8=True).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=examples(3000), deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "._%+-@", min_size=3, max_size=40))
def test_plain_email_shortcut_accepts_only_what_the_validator_accepts(text: str) -> None:
    try:
        ours: str | None = normalize_email(text)
    except NormalizationError:
        ours = None
    assert ours == _full_email(text)


@pytest.mark.parametrize("address", ["a@xn--80ak6aa92e.vn", "a@x.localhost", "a@00--0.aa", "a..b@x.vn"])
def test_plain_email_shortcut_leaves_the_odd_cases_to_the_validator(address: str) -> None:
    expected = _full_email(address)
    if expected is None:
        with pytest.raises(NormalizationError):
            normalize_email(address)
    else:
        assert normalize_email(address) == expected


def _full_phone(candidate: str) -> tuple[str, str] | None:
    try:
        phone = normalize._parse_phone(candidate, "VN")
    except NormalizationError:
        return None
    return phone.e164, phone.kind


@settings(max_examples=examples(3000), deadline=None)
@given(st.sampled_from("235789"), st.integers(min_value=0, max_value=10**10 - 1), st.sampled_from([9, 10]))
def test_vietnamese_prefix_cache_agrees_with_libphonenumber(first: str, rest: int, length: int) -> None:
    candidate = "+84" + (first + f"{rest:010d}")[:length]
    try:
        phone = normalize_phone(candidate)
        got: tuple[str, str] | None = (phone.e164, phone.kind)
    except NormalizationError:
        got = None
    assert got == _full_phone(candidate)


@settings(max_examples=examples(2000), deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.sampled_from([None, dt.UTC, ZoneInfo("Asia/Ho_Chi_Minh"), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
def test_the_bulk_writers_datetime_shortcut_stores_what_django_stores(value: dt.datetime, zone: Any) -> None:
    from django.db import connection

    from danhba.core.bulk import datetime_adapter

    aware = value if zone is None else value.replace(tzinfo=zone)
    assert datetime_adapter()(aware) == connection.ops.adapt_datetimefield_value(aware)


@settings(max_examples=examples(5000), deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=" \t\n\xa0\u200b\u202e\ufeffaăâđeêoôơuưAĂ\u0301\u0303\u0323Ng.-"),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    )
)
def test_clean_text_shortcut_gives_what_the_full_cleaning_gives(text: str) -> None:
    assert normalize.clean_text(text) == normalize._clean_str.__wrapped__(text)


@settings(max_examples=examples(3000), deadline=None)
@given(st.text(alphabet=" \t\xa0\x00\x07\u200b\u202e\u2066\ufeffaAeEoOuUyY\u0301\u0303\u0309\u0323\u0306\u0302\u031b"))
def test_clean_text_cleans_in_one_pass(text: str) -> None:
    once = normalize.clean_text(text)
    assert normalize.clean_text(once) == once
    assert unicodedata.is_normalized("NFC", once)


# --- an import's reader: names word by word, addresses with their hint, typed phones, clean rows ---

_NAME_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=" ,-'.\xa0\u200bNnGgUuYyỄễĐđăâÂAaVvHhOoÔôƠơMcDdΣσςßŉǰ\u0301\u0303\u0323İı", max_size=40),
    st.lists(
        st.sampled_from(["nguyễn", "NGUYỄN", "Văn", "đức", "Thị", "McDonald", "lê-thị", "o'neil", "ΣΑΣ", "ß", ""])
    ).map(" ".join),
)
_READERS = {
    (order, words): normalize.NameReader(order, given_words=words)
    for order in (normalize.NAME_ORDER_VI, normalize.NAME_ORDER_WESTERN)
    for words in (1, 2, 3)
}  # shared between examples: their words are found in the reader's memo, as in a file


def _name_by_the_rules(value: str, order: str, given_words: int) -> tuple[str, str, str, str, str]:
    """How an import read a full-name cell before NameReader (transform._names)."""
    parts = normalize.split_name(value, order, given_words=given_words)
    full = (
        normalize.join_name(parts.family, parts.middle, parts.given, order)
        if "," in value
        else normalize.name_case(value)
    )
    return full, parts.family, parts.middle, parts.given, normalize.fold(full)


@settings(max_examples=examples(2000), deadline=None)
@given(_NAME_TEXT, st.sampled_from(sorted(_READERS)), st.booleans())
def test_the_name_reader_reads_what_the_name_rules_read(text: str, key: tuple[str, int], fresh: bool) -> None:
    order, words = key
    reader = normalize.NameReader(order, given_words=words, size=0) if fresh else _READERS[key]
    assert reader.read(text) == _name_by_the_rules(text, order, words)


_EMAIL_TEXT = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "._%+-@", min_size=3, max_size=40),
    st.builds(
        "{}@{}".format,
        st.from_regex(r"[A-Za-z0-9._%+-]{1,12}", fullmatch=True),
        st.sampled_from(
            [
                "gmail.com",
                "gmial.com",
                "gmail.con",
                "gmailcom",
                "yahoo.com.vn",
                "yaho.com.vn",
                "fpt.vn",
                "ftp.vn",
                "hotmial.com",
                "gmx.com",
                "Gmail.COM",
                "outlook.co",
                "vnn.vm",
                "x.test",
                "a.b",
            ]
        ),
    ),
    st.text(max_size=30),
)


@settings(max_examples=examples(2000), deadline=None)
@given(_EMAIL_TEXT)
def test_the_hinted_email_is_the_email_and_its_typo_warning(text: str) -> None:
    try:
        expected: Any = normalize_email(text)
    except NormalizationError as exc:
        expected = exc.msgid, exc.params
        with pytest.raises(NormalizationError) as raised:
            normalize.normalize_email_hinted(text)
        assert (raised.value.msgid, raised.value.params) == expected
        return
    email, hint = normalize.normalize_email_hinted(text)
    assert email == expected
    assert _said(hint) == _said(normalize.email_typo_warning(expected))


def _said(warning: NormalizationError | None) -> tuple[str, dict[str, object]] | None:
    return None if warning is None else (warning.msgid, warning.params)


@settings(max_examples=examples(2000), deadline=None)
@given(st.one_of(st.text(alphabet="0123456789 .-()+xXe٣a/\t\xa0", max_size=20), st.text(max_size=12)))
def test_a_typed_phones_digits_are_what_the_full_checks_find(text: str) -> None:
    digits = normalize._typed_digits(text)
    if digits is not None:
        assert text  # not empty
        assert not normalize._LETTER.search(normalize._EXTENSION.sub("", text))  # no letters
        assert digits == normalize._NON_DIGITS.sub("", text)


def test_the_usual_phone_shapes_take_the_shortcut() -> None:
    for typed in ("0912 345 678", "0912.345.678", "(+84) 912-345-678", "84912345678", "(028) 3823 4567"):
        assert normalize._typed_digits(typed) is not None
    for other in ("0912 345 678 ext 12", "٠٩١٢٣٤٥٦٧٨", "", "0912/345"):
        assert normalize._typed_digits(other) is None


@settings(max_examples=examples(2000), deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.text(alphabet=" |\xa0\u200beé\u0301\u0338=<>가\u1161\u11a8Aa", max_size=6),
            st.sampled_from(["Nguyễn Văn", "a@b.vn", "0912 345 678", ""]),
        ),
        max_size=8,
    )
)
def test_a_row_is_clean_at_once_only_when_every_cell_is(cells: list[str]) -> None:
    if normalize.all_clean(cells):
        assert [normalize.clean_text(cell) for cell in cells] == cells
        assert all(normalize._clean_str.__wrapped__(cell) == cell for cell in cells)


def test_an_ordinary_row_is_clean_at_once() -> None:
    assert normalize.all_clean(["Nguyễn Văn Đức", "duc@gmail.com", "0912 345 678", "", "Hà Nội"])
    assert not normalize.all_clean(["Nguyễn Văn Đức ", "x"])
    assert not normalize.all_clean(["x", " Nguyễn"])


def _outcome(read: Any) -> Any:
    try:
        return read()
    except NormalizationError as exc:
        return exc.msgid, exc.params


@settings(max_examples=examples(2000), deadline=None)
@given(
    st.one_of(
        st.from_regex(r"[0-9]{1,2}[/.\-][0-9]{1,2}[/.\-]([0-9]{2}|[0-9]{4})", fullmatch=True),
        st.text(alphabet="0123456789/.- :٣T", max_size=14),
    ),
    st.booleans(),
    st.sampled_from([None, 2040]),
)
def test_a_typed_date_is_read_as_the_full_reading_reads_it(text: str, day_first: bool, pivot: int | None) -> None:
    fast = _outcome(lambda: normalize.parse_import_date(text, day_first=day_first, two_digit_pivot=pivot))
    full = _outcome(lambda: normalize._parse_date_text(normalize.clean_text(text), day_first, pivot))
    assert fast == full


_SQL_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12), st.sampled_from(["", "%s", "%%", "'", "a'%sb", "{}"]),
)  # fmt: skip


@settings(max_examples=examples(3000), deadline=None)
@given(st.lists(_SQL_VALUES, min_size=1, max_size=4), st.integers(min_value=1, max_value=3))
def test_a_column_written_as_a_literal_stores_what_binding_stores(values: list[Any], repeat: int) -> None:
    """``core.bulk``: a column whose rows share one value is written into the statement as a
    literal; through Django's SQLite cursor (``%s`` a parameter, ``%%`` a ``%``) it must store
    the value and type binding stores, and a column whose values differ is bound."""
    import sqlite3

    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    from danhba.core.bulk import _constant

    column = values * repeat
    literal = _constant(column, len(column))
    same = all(v == values[0] and type(v) is type(values[0]) for v in column)
    if literal is None:
        return
    assert same
    db = sqlite3.connect(":memory:")
    sql = SQLiteCursorWrapper.convert_query(None, f"SELECT {literal}, typeof({literal})")  # type: ignore[arg-type]
    assert db.execute(sql).fetchone() == db.execute("SELECT ?, typeof(?)", (values[0], values[0])).fetchone()


def test_the_usual_constants_are_literals_and_the_rest_is_bound() -> None:
    from danhba.core.bulk import _constant

    assert _constant(["", ""], 2) == "''"
    assert _constant([None, None], 2) == "NULL"
    assert _constant([True, True], 2) == "1"
    assert _constant(["50% 'off'"] * 3, 3) == "'50%% ''off'''"
    assert _constant([1, True], 2) is None  # equal, not the same type
    assert _constant(["a", "b"], 2) is None
    assert _constant([1.5, 1.5], 2) is None  # a float is bound, never printed
    assert _constant(["x" * 201] * 2, 2) is None  # long texts stay out of the statement


# --- the reader's known-clean entry points and its shortcuts (decision 0027, 2026-12-07 session 3) ---

_FOLD_TEXT = st.one_of(
    st.text(),
    st.text(
        alphabet="aăâeêioôơuưyĐđAĂÂ \u0300\u0301\u0303\u0309\u0323\u034f\u0338\u0483Σσςİıßﬁŉ가\u1100\u1161\u11a8Ω",
        max_size=20,
    ),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
)


def _fold_the_long_way(cleaned: str) -> str:
    text = cleaned.lower().replace("đ", "d")
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(normalize._DROP_COMBINING))


@settings(max_examples=examples(5000), deadline=None)
@given(_FOLD_TEXT)
def test_the_vietnamese_fold_shortcut_folds_what_the_full_fold_does(text: str) -> None:
    cleaned = normalize.clean_text(text)
    assert normalize._fold_str.__wrapped__(cleaned) == _fold_the_long_way(cleaned)
    assert normalize.fold_clean(cleaned) == normalize.fold(text)


def _read(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except NormalizationError as exc:
        return exc.msgid, exc.params


@settings(max_examples=examples(3000), deadline=None)
@given(
    st.one_of(
        st.text(max_size=24),
        st.text(alphabet="0123456789 .-()+eE/\xa0\u200b", max_size=20),
        st.text(alphabet=string.ascii_letters + string.digits + "._%+-@ <>\xa0", min_size=3, max_size=30),
    )
)
def test_the_entry_points_for_clean_text_read_what_the_public_ones_read(text: str) -> None:
    cleaned = normalize.clean_text(text)
    assert _read(normalize.phone_of_clean, cleaned) == _read(normalize.normalize_phone, text)
    assert _read(normalize.email_hinted_of_clean, cleaned) == _read(normalize.normalize_email_hinted, text)
    for day_first in (True, False):
        fast = _read(lambda: normalize.date_of_clean(cleaned, day_first=day_first))
        assert fast == _read(lambda: normalize.parse_import_date(text, day_first=day_first))
    reader = normalize.NameReader()
    assert reader.read_clean(cleaned) == reader.read(text)


@settings(max_examples=examples(3000), deadline=None)
@given(st.text(alphabet="0123456789 .-()+xXe٣a/\t", max_size=20))
def test_typed_phone_digits_are_taken_from_what_the_typed_pattern_accepts(text: str) -> None:
    typed = re.fullmatch(r"[0-9 ().+\-]+", text) is not None and any(c.isdigit() for c in text)
    assert (normalize._typed_digits(text) is not None) == typed


@settings(max_examples=examples(3000), deadline=None)
@given(_NAME_TEXT)
def test_a_folded_name_is_its_own_search_words_when_the_shortcut_says_so(text: str) -> None:
    from danhba.contacts.search import _name_words

    folded = normalize.fold(text)
    assert _name_words(text, folded) == " ".join(normalize.fold_words(text))
