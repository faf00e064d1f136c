"""The search index's phone shortcut must agree with the rule it stands in for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from danhba.contacts.keys import phone_digits
from danhba.core.tests.properties import examples


def _phone_digits_by_the_rule(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("+84"):
        digits = "0" + digits[2:]
    return digits[::-1]


@settings(max_examples=examples(3000), deadline=None)
@given(st.one_of(st.text(alphabet="+84 0123456789-x٣", max_size=16), st.from_regex(r"\+84\d{0,11}", fullmatch=True)))
def test_phone_digits_shortcut_agrees_with_the_rule(value: str) -> None:
    assert phone_digits(value) == _phone_digits_by_the_rule(value)
