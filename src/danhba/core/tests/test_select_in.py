"""core.bulk.select_in: the rows whose key is one of many values, on SQLite (``IN``) and on
PostgreSQL (a join with one array of the values, which takes the key's index where ``IN`` of
thousands of values scanned the whole table)."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.contacts.models import ContactEmail, ContactPhone
from danhba.core.bulk import select_in

pytestmark = pytest.mark.django_db


def test_each_stored_match_comes_once_whatever_the_values_repeat(make_contact: Any) -> None:
    an = make_contact(full_name="An", emails=["an@example.vn"], phones=["0912345678"])
    binh = make_contact(full_name="Bình", emails=["binh@example.vn"], phones=["0912345678"])
    wanted = ["an@example.vn", "binh@example.vn", "an@example.vn", "nobody@example.vn"]
    found = sorted(select_in(ContactEmail, ["email", "contact_id"], "email", wanted))
    assert found == [("an@example.vn", an.pk), ("binh@example.vn", binh.pk)]
    shared = list(select_in(ContactPhone, ["e164", "contact_id"], "e164", ["+84912345678"] * 3, order_by="contact_id"))
    assert shared == [("+84912345678", an.pk), ("+84912345678", binh.pk)]
    assert list(select_in(ContactEmail, ["email"], "email", [])) == []


def test_where_and_integer_keys(make_contact: Any) -> None:
    an = make_contact(full_name="An", emails=["an@example.vn", "an2@example.vn"])
    binh = make_contact(full_name="Bình", emails=["binh@example.vn"])
    ids = [an.pk, binh.pk, an.pk]
    primary = select_in(ContactEmail, ["contact_id", "email"], "contact_id", ids, "contact_id", {"is_primary": True})
    assert list(primary) == [(an.pk, "an@example.vn"), (binh.pk, "binh@example.vn")]


def test_thousands_of_values_in_one_lookup(make_contact: Any) -> None:
    an = make_contact(full_name="An", emails=["an@example.vn"])
    wanted = [f"u{i}@example.vn" for i in range(70_000)] + ["an@example.vn"]  # over PostgreSQL's 65,535 parameters
    assert list(select_in(ContactEmail, ["contact_id"], "email", wanted)) == [(an.pk,)]
