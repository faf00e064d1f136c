"""The import's fast paths must agree exactly with the full validators they stand in for."""

from __future__ import annotations

import datetime as dt
import string
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from danhba.core import normalize
from danhba.core.normalize import NormalizationError, normalize_email, normalize_phone


def _full_email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False, allow_smtputf8=True).normalized.lower()
    except EmailNotValidError:
        return None


@settings(max_examples=3000, deadline=None)
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


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from("235789"), st.integers(min_value=0, max_value=10**10 - 1), st.sampled_from([9, 10]))
def test_vietnamese_prefix_cache_agrees_with_libphonenumber(first: str, rest: int, length: int) -> None:
    candidate = "+84" + (first + f"{rest:010d}")[:length]
    try:
        phone = normalize_phone(candidate)
        got: tuple[str, str] | None = (phone.e164, phone.kind)
    except NormalizationError:
        got = None
    assert got == _full_phone(candidate)


@settings(max_examples=2000, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    st.sampled_from([None, dt.UTC, ZoneInfo("Asia/Ho_Chi_Minh"), dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
)
def test_the_bulk_writers_datetime_shortcut_stores_what_django_stores(value: dt.datetime, zone: Any) -> None:
    from django.db import connection

    from danhba.core.bulk import datetime_adapter

    aware = value if zone is None else value.replace(tzinfo=zone)
    assert datetime_adapter()(aware) == connection.ops.adapt_datetimefield_value(aware)


@settings(max_examples=5000, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.text(alphabet=" \t\n\xa0\u200b\u202e\ufeffaăâđeêoôơuưAĂ\u0301\u0303\u0323Ng.-"),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    )
)
def test_clean_text_shortcut_gives_what_the_full_cleaning_gives(text: str) -> None:
    assert normalize.clean_text(text) == normalize._clean_str.__wrapped__(text)
