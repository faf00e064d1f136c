"""The comparisons of the duplicate model, each written once for both engines.

Every level has its SQL condition (Splink runs it in DuckDB over many pairs) and the same test
in Python (the real-time check scores one new contact against a few candidates without DuckDB).
jellyfish's Jaro-Winkler and Levenshtein give DuckDB's numbers (a test checks both engines
score the same pairs alike). Levels are tried in order; the first that holds is the pair's
level for that field, as in Splink. The labels are stored in the model and shown in the review
queue's explanation (translated through ``LEVEL_LABELS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jellyfish
from django.utils.translation import gettext_lazy as _

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    test: Callable[[Record, Record], bool]
    is_null: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str  # Splink's output column name, the key of the field in explanations
    levels: tuple[Level, ...]

    def splink(self) -> dict[str, Any]:
        """The comparison as a Splink settings dict."""
        return {
            "output_column_name": self.name,
            "comparison_description": self.name,
            "comparison_levels": [
                {
                    "sql_condition": lv.sql,
                    "label_for_charts": lv.label,
                    **({"is_null_level": True} if lv.is_null else {}),
                }
                for lv in self.levels
            ],
        }

    def level_of(self, left: Record, right: Record) -> int:
        """The index of the first level whose test holds (Splink's gamma, counted from the
        null level: 0 is "a value is missing", the last is "different")."""
        for index, level in enumerate(self.levels):
            if level.test(left, right):
                return index
        return len(self.levels) - 1


def _null(*cols: str) -> Level:
    sql = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols)
    return Level("null", sql, lambda a, b: any(a[c] is None or b[c] is None for c in cols), is_null=True)


def _equal(col: str, label: str = "exact") -> Level:
    return Level(label, f'"{col}_l" = "{col}_r"', lambda a, b: a[col] == b[col])


def _jaro_winkler(col: str, threshold: float) -> Level:
    return Level(
        f"jaro_winkler >= {threshold}",
        f'jaro_winkler_similarity("{col}_l", "{col}_r") >= {threshold}',
        lambda a, b: jellyfish.jaro_winkler_similarity(a[col], b[col]) >= threshold,
    )


def _levenshtein(col: str, distance: int) -> Level:
    return Level(
        f"levenshtein <= {distance}",
        f'levenshtein("{col}_l", "{col}_r") <= {distance}',
        lambda a, b: jellyfish.levenshtein_distance(a[col], b[col]) <= distance,
    )


def _else() -> Level:
    return Level("else", "ELSE", lambda a, b: True)


def _day_month_swapped(a: Record, b: Record) -> bool:
    x, y = a["birthday"], b["birthday"]
    return bool(x[:4] == y[:4] and x[5:7] == y[8:10] and x[8:10] == y[5:7])


NAME = Comparison(
    "name",
    (
        _null("name"),
        _equal("name"),
        _equal("name_sorted", "same words in another order"),
        _jaro_winkler("name", 0.95),
        Level(
            "same family and given name",
            '"first_word_l" = "first_word_r" AND "last_word_l" = "last_word_r"',
            lambda a, b: a["first_word"] == b["first_word"] and a["last_word"] == b["last_word"],
        ),
        Level(
            "family and given name swapped",
            '"first_word_l" = "last_word_r" AND "last_word_l" = "first_word_r"',
            lambda a, b: a["first_word"] == b["last_word"] and a["last_word"] == b["first_word"],
        ),
        _jaro_winkler("name", 0.88),
        _else(),
    ),
)
EMAIL = Comparison(
    "email",
    (
        _null("email"),
        _equal("email"),
        # A typo in the local part or the domain (gmial.com). The same local part at another
        # provider is no level of its own: local parts are made of names, so among namesakes
        # they agree by chance far more often than random sampling says (it blocks, below).
        _levenshtein("email", 2),
        _else(),
    ),
)
PHONE = Comparison(
    "phone",
    (
        _null("phone"),
        _equal("phone"),
        _equal("phone_tail", "same last digits"),
        _levenshtein("phone", 1),
        _else(),
    ),
)
BIRTHDAY = Comparison(
    "birthday",
    (
        _null("birthday"),
        _equal("birthday"),
        Level(
            "day and month swapped",
            'substr("birthday_l", 1, 4) = substr("birthday_r", 1, 4)'
            ' AND substr("birthday_l", 6, 2) = substr("birthday_r", 9, 2)'
            ' AND substr("birthday_l", 9, 2) = substr("birthday_r", 6, 2)',
            _day_month_swapped,
        ),
        _levenshtein("birthday", 1),
        _else(),
    ),
)
PROVINCE = Comparison("province", (_null("province"), _equal("province"), _else()))
COMPANY = Comparison("company", (_null("company"), _equal("company"), _jaro_winkler("company", 0.9), _else()))

# The address as a contact holds it: the street (house number and street name) and the ward.
STREET = Comparison("street", (_null("street"), _equal("street"), _jaro_winkler("street", 0.9), _else()))
WARD = Comparison("ward", (_null("ward"), _equal("ward"), _jaro_winkler("ward", 0.9), _else()))

COMPARISONS = (NAME, EMAIL, PHONE, BIRTHDAY, PROVINCE, COMPANY, STREET, WARD)

# The fields of the explanation, and the levels, in the reader's language.
FIELD_LABELS = {
    "name": _("Name"),
    "email": _("Email"),
    "phone": _("Phone"),
    "birthday": _("Birthday"),
    "province": _("Province"),
    "company": _("Company"),
    "street": _("Street address"),
    "ward": _("Ward / commune"),
}
LEVEL_LABELS = {
    "null": _("missing on one side"),
    "exact": _("the same"),
    "same words in another order": _("same words in another order"),
    "jaro_winkler >= 0.95": _("nearly the same (a typo)"),
    "jaro_winkler >= 0.9": _("similar"),
    "jaro_winkler >= 0.88": _("similar"),
    "same family and given name": _("same family and given name (middle name differs)"),
    "family and given name swapped": _("family and given name swapped"),
    "levenshtein <= 2": _("one or two characters differ"),
    "levenshtein <= 1": _("one character differs"),
    "same last digits": _("same last 7 digits"),
    "day and month swapped": _("day and month swapped"),
    "else": _("different"),
}

# Keys that still agree when the name and the birthday both have a typo, or there is no phone
# or email to agree on: the name's sounds, one name word with the other's initial, the birthday
# or the ward with an initial, the street. Names repeat far more than phones: a key shared by
# more than ``BLOCKING_KEY_MAX`` contacts ("nguyen a" at a million Vietnamese contacts) tells
# them apart too little to compare them all, so the batch run leaves it out (``linkage.Engine``
# makes these columns, NULL for such a key; the other rules still compare those contacts).
# This bounds each rule at ``BLOCKING_KEY_MAX / 2`` pairs per contact, whatever the data.
BLOCKING_KEY_MAX = 10
BLOCKING_KEYS = {
    "key_name_sound": '"name_phonetic"',
    "key_first_initial": '"first_word" || \' \' || substr("last_word", 1, 1)',
    "key_last_initial": '"last_word" || \' \' || substr("first_word", 1, 1)',
    "key_birthday_first": '"birthday" || \' \' || substr("first_word", 1, 1)',
    "key_birthday_last": '"birthday" || \' \' || substr("last_word", 1, 1)',
    "key_street": '"street"',
    "key_ward_first": '"ward" || \' \' || substr("first_word", 1, 1)',
    "key_ward_last": '"ward" || \' \' || substr("last_word", 1, 1)',
}

# Pairs the batch run scores: those that share one of these (Splink's blocking rules). Each is
# selective enough at a million contacts; together they catch a duplicate whose name, email or
# phone was mistyped as long as another value agrees. The real-time check asks the database for
# the first four (indexed columns).
BLOCKING_RULES = (
    'l."phone" = r."phone"',
    'l."email" = r."email"',
    'l."name_sorted" = r."name_sorted" AND l."birth_year" = r."birth_year"',
    'l."name_sorted" = r."name_sorted" AND l."province" = r."province"',
    'l."email_local" = r."email_local"',
    'l."phone_tail" = r."phone_tail"',
    'l."birthday" = r."birthday" AND l."last_word" = r."last_word"',
    'l."birthday" = r."birthday" AND l."first_word" = r."first_word"',
    *(f'l."{key}" = r."{key}"' for key in BLOCKING_KEYS),
)
