"""What duplicate detection compares: one contact as a flat record of folded, comparable values.

Pure functions, no database. The batch run (``linkage.py``, many contacts into DuckDB) and the
real-time check (``matching.py``, one new contact in Python) make their records here, so a value
is compared the same way whichever path found the pair.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import jellyfish

from danhba.core.normalize import fold_words
from danhba.core.vn import province_key

# How many trailing digits of a phone still say "the same line": the 2018 renumbering changed
# the prefix of 11-digit mobiles (0168… → 038…) and kept the last seven digits.
PHONE_TAIL = 7

# Legal forms people type in front of a company's name, or abbreviate, or leave out ("Công ty
# TNHH Minh Phát", "Cty TNHH Minh Phát", "Minh Phát"): folded words, longest first.
_LEGAL_FORMS = re.compile(
    r"\b(?:doanh nghiep tu nhan|cong ty co phan|cong ty tnhh mtv|cong ty tnhh|cong ty cp|cong ty|cty tnhh mtv|"
    r"cty tnhh|cty cp|cty|ctcp|tnhh mtv|tnhh|mtv|dntn|co phan|jsc|co ltd|ltd|corp|company|limited)\b"
)

# The columns of a record, in the order of the Arrow/DuckDB table.
COLUMNS = (
    "unique_id",
    "name",
    "name_sorted",
    "first_word",
    "last_word",
    "email",
    "email_local",
    "phone",
    "phone_tail",
    "birthday",
    "birth_year",
    "province",
    "company",
    "street",
    "ward",
    "name_phonetic",
)


@dataclass(frozen=True)
class ContactValues:
    """The stored values of one contact that matching reads (a row of the contacts table, its
    primary email and phone and the name of its first company)."""

    id: int
    full_name: str = ""
    email: str = ""
    phone: str = ""
    birthday: dt.date | str | None = None
    province: str = ""
    company: str = ""
    street: str = ""
    ward: str = ""


def _or_none(text: str) -> str | None:
    return text or None


def _birthday_text(value: dt.date | str | None) -> str | None:
    if not value:
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def company_key(name: str) -> str:
    """A company's folded name without its legal form: "Công ty TNHH Minh Phát" and "Cty Minh
    Phát" are both "minh phat"."""
    words = " ".join(fold_words(name))
    return " ".join(_LEGAL_FORMS.sub(" ", words).split()) or words


def name_phonetic(words: list[str]) -> str | None:
    """The name's words as sounds (NYSIIS codes), sorted: a typo that keeps the sound ("Nguyen"
    and "Nguyenn", "Smith" and "Smyth") and any word order give the same key. A blocking key,
    never a comparison."""
    return " ".join(sorted(jellyfish.nysiis(w) for w in words)) or None


def record(values: ContactValues) -> dict[str, object]:
    """The record of one contact: names folded (no diacritics, đ→d, lower case) with their words
    sorted (the same words in any order: "Đức Nguyễn Văn", "Nguyen Van Duc") and the first and
    last word (family and given name in Vietnamese order, whatever the middle names); the email
    lower-cased with its local part; the E.164 phone with its last digits; the birthday as ISO
    text; the province as its current key (a province merged in 2025 becomes the one it joined);
    the company's folded name without its legal form; the street address and the ward folded;
    the name's sounds (``name_phonetic``)."""
    words = fold_words(values.full_name)
    email = values.email.strip().lower()
    phone = values.phone.strip()
    birthday = _birthday_text(values.birthday)
    return {
        "unique_id": int(values.id),
        "name": _or_none(" ".join(words)),
        "name_sorted": _or_none(" ".join(sorted(words))),
        "first_word": words[0] if words else None,
        "last_word": words[-1] if words else None,
        "email": _or_none(email),
        "email_local": _or_none(email.split("@", 1)[0]) if "@" in email else None,
        "phone": _or_none(phone),
        "phone_tail": phone[-PHONE_TAIL:] if len(phone) >= PHONE_TAIL + 2 else None,
        "birthday": birthday,
        "birth_year": birthday[:4] if birthday else None,
        "province": (province_key(values.province) or None) if values.province else None,
        "company": _or_none(company_key(values.company)),
        "street": _or_none(" ".join(fold_words(values.street))),
        "ward": _or_none(" ".join(fold_words(values.ward))),
        "name_phonetic": name_phonetic(words),
    }
