"""The one place where text, names, emails and phone numbers are normalised.

Every write path (web forms, the REST API, imports, events) calls these functions so a value
typed anywhere ends up stored, searched and de-duplicated the same way. Vietnamese rules:

* text is NFC (Vietnamese has several NFD/composed spellings of the same letter), without
  control characters or the invisible marks that reorder or hide text (a bell, a
  right-to-left override that shows "evil.exe" as "exe.live");
* emails are NFKC first: a fullwidth ``ｔｅｓｔ＠probe.vn`` typed on an East Asian keyboard is
  ``test@probe.vn``;
* search keys fold case and diacritics, and ``đ`` to ``d`` (it is a letter, not an accent,
  so Unicode decomposition alone leaves it);
* phones default to region VN, map the 2018 11→10-digit mobile prefixes and repair what
  Excel does to numbers (dropped leading zero, ``9.12345678E8``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext, gettext_noop
from email_validator import EmailNotValidError, validate_email


class NormalizationError(ValueError):
    """A value that cannot be normalised, and why: a catalogue msgid and its parameters, not
    text. ``str(err)`` is the reason in the language active when it is shown, so a reason kept
    for later (an import's report, written by the worker) is read in its reader's language
    (``ingest.reasons.Reason.of_error``). A parameter may be another NormalizationError."""

    def __init__(self, msgid: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params: dict[str, object] = dict(params or {})

    def __str__(self) -> str:
        text = gettext(str(self.msgid))
        if not self.params:
            return text
        values = {key: str(value) for key, value in self.params.items()}
        for template in (text, str(self.msgid)):  # a translation that lost a placeholder: the msgid
            try:
                return template % values
            except (KeyError, ValueError, TypeError):
                continue
        return str(self.msgid)


_SPACES = re.compile(r"\s+", re.UNICODE)
_WORD = re.compile(r"\w+")


# Marks that change how text around them displays without showing themselves: the bidirectional
# embeddings, overrides, isolates and marks, zero-width space, word joiner and BOM. (The joiners
# U+200C/U+200D stay: scripts and emoji need them.)
_INVISIBLE = (0x061C, 0x200B, 0x200E, 0x200F, *range(0x202A, 0x202F), 0x2060, *range(0x2066, 0x206A), 0xFEFF)
_CONTROLS = (*range(0x00, 0x20), *range(0x7F, 0xA0))
# One line: control characters that are whitespace become a space (then collapsed), others go.
_LINE_TABLE = {cp: (" " if chr(cp).isspace() else None) for cp in _CONTROLS} | dict.fromkeys(_INVISIBLE)
# Several lines: newlines and tabs stay, other whitespace controls become a space.
_LINES_TABLE = _LINE_TABLE | {ord("\n"): "\n", ord("\t"): "\t"}


def clean_text(value: object) -> str:
    """One line of text: NFC, control characters and invisible direction marks taken out,
    non-breaking and other odd spaces collapsed, trimmed. ``None`` becomes ``""``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _already_clean(text):
        return text
    return _clean_str(text)


def _already_clean(text: str) -> bool:
    """Whether :func:`_clean_str` would give ``text`` back unchanged, checked without building a
    new string: most values reach ``clean_text`` clean already (an import cleans every cell,
    then its parser cleans the parts again). ``str.isprintable`` is false for every control,
    format mark (the invisible ones) and separator except the ASCII space, so a printable text
    has nothing to take out and no whitespace but spaces to collapse. A hypothesis test holds
    it to ``_clean_str`` (core/tests/test_fast_paths.py)."""
    return (
        text.isprintable()
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
        and (text.isascii() or unicodedata.is_normalized("NFC", text))
    )


def all_clean(texts: list[str]) -> bool:
    """Whether :func:`clean_text` gives every one of ``texts`` back as it is, checked on the texts
    joined (a row of a file at once): the checks of ``_already_clean`` on ``"|".join(texts)``,
    where ``|`` composes with nothing, is printable and is not a space, so each check holds for
    the whole exactly when it holds for every part, but for a space beside a ``|`` (which a text
    of the row might hold itself: then it answers no, and each text is cleaned on its own).
    A hypothesis test holds it to ``clean_text`` (core/tests/test_fast_paths.py)."""
    return joined_clean("|".join(texts))


def joined_clean(joined: str) -> bool:
    """:func:`all_clean` of the texts ``joined`` by ``|`` (a caller that has joined them)."""
    return _already_clean(joined) and "| " not in joined and " |" not in joined


def clean_long_text(value: object) -> str:
    """Text of several lines (notes, descriptions, "hobbies"): as :func:`clean_text`, but line
    breaks (any convention, read as ``\\n``) and tabs stay. ``None`` becomes ``""``."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", value if isinstance(value, str) else str(value))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return text.translate(_LINES_TABLE).strip()


# The normalisers below are pure, and an import calls them many times over on the same few
# values (every name part is cleaned by each function it passes through; provinces, tags and
# ward names repeat row after row): small caches take that cost away.
@functools.lru_cache(maxsize=16384)
def _clean_str(value: str) -> str:
    # NUL (a file read in the wrong encoding) cannot even be stored by PostgreSQL; a bell or a
    # direction override in a name is never meant.
    # Marks are taken out before composing: a mark between a letter and its accent would
    # otherwise leave the two apart, to be composed only by a second cleaning.
    text = unicodedata.normalize("NFC", value.translate(_LINE_TABLE))
    return _SPACES.sub(" ", text).strip()


def fold(value: object) -> str:
    """A lower-case ASCII-ish key with diacritics removed, for diacritic-insensitive search.

    ``fold("Nguyễn Văn Đức") == "nguyen van duc"``.
    """
    return _fold_str(clean_text(value))


def fold_clean(text: str) -> str:
    """:func:`fold` of a text known to be clean (``clean_text(text) == text``: a cell of a row an
    import has read, which ``ingest.extract`` cleaned once): the cleaning is not checked again."""
    return _fold_str(text)


@functools.lru_cache(maxsize=16384)
def _fold_str(cleaned: str) -> str:
    text = cleaned.lower().replace("đ", "d")
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    if _NOT_LATIN_MARKED.search(decomposed) is None:
        # Vietnamese (and any Latin text with accents): ASCII letters and the combining marks
        # U+0300–U+036F, every one of them dropped. Encoding drops them in C; ``translate``
        # with the table below looks every character up in a dict (a third of the time).
        return decomposed.encode("ascii", "ignore").decode("ascii")
    return unicodedata.normalize("NFC", decomposed.translate(_DROP_COMBINING))


# Every combining mark (what unicodedata.combining() calls non-zero), for str.translate.
_DROP_COMBINING = dict.fromkeys(cp for cp in range(0x110000) if unicodedata.combining(chr(cp)))
# A character neither ASCII nor a combining mark of U+0300–U+036F (U+034F, the grapheme joiner,
# is not one: its combining class is 0). A hypothesis test holds the shortcut to the full
# reading (core/tests/test_fast_paths.py).
_NOT_LATIN_MARKED = re.compile("[^\x00-\x7f\u0300-\u034e\u0350-\u036f]")


def fold_words(value: object, *, folded: str | None = None) -> list[str]:
    """The folded words of a value, punctuation dropped: ``"Lê-Thị  Hoa"`` → ``["le", "thi", "hoa"]``.
    ``folded``: ``fold(value)``, when the caller already has it."""
    return _WORD.findall(fold(value) if folded is None else folded)


# --- names ----------------------------------------------------------------------------------

NAME_ORDER_VI = "vi"  # family, middle, given: "Nguyễn Văn Đức"
NAME_ORDER_WESTERN = "western"  # given, middle, family: "John Paul Smith"


@dataclass(frozen=True)
class NameParts:
    family: str
    middle: str
    given: str

    def __post_init__(self) -> None:
        # The parts are derived from the full name, which keeps every word: a part longer than
        # its column (one 150-letter "word") is cut to fit instead of refusing the contact.
        object.__setattr__(self, "family", self.family[:FAMILY_MAX])
        object.__setattr__(self, "middle", self.middle[:MIDDLE_MAX])
        object.__setattr__(self, "given", self.given[:GIVEN_MAX])


# The lengths of the name parts' columns (contacts.Contact uses them).
FAMILY_MAX = 80
MIDDLE_MAX = 120
GIVEN_MAX = 80


def _capitalise_word(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def name_case(value: object) -> str:
    """Vietnamese capitalisation: every word starts upper-case (``"nGUYỄN văn đức"`` → ``"Nguyễn Văn Đức"``).

    A word typed with deliberate inner capitals (``"McDonald"``, ``"DeAnna"``) is kept as typed.
    """
    return _name_case_str(clean_text(value))


@functools.lru_cache(maxsize=16384)
def _name_case_str(text: str) -> str:
    if not text:
        return ""
    return " ".join(w if _deliberate_caps(w) else _capitalise_word(w) for w in text.split(" "))


def _deliberate_caps(word: str) -> bool:
    letters = word.replace("-", "").replace("'", "")
    return len(letters) > 2 and letters[0].isupper() and any(c.islower() for c in letters) and not letters[1:].islower()


def split_name(full_name: object, order: str = NAME_ORDER_VI, *, given_words: int = 1) -> NameParts:
    """Split a full name into family / middle / given parts.

    The rule: in Vietnamese order the first word is the family name, the last word the given
    name and the words between the middle name (Western order: first word given, last word
    family). ``given_words=2`` keeps the last two words together as a compound given name
    (``"Nguyễn Thị Minh Khai"`` → family ``Nguyễn``, middle ``Thị``, given ``Minh Khai``).
    Which names are compound cannot be told from the words, so the importer asks.

    A comma marks the inverted form address books export: in Vietnamese order
    ``"Tên, Họ Đệm"`` (``"Đức, Nguyễn Văn"``), in Western order ``"Family, Given Middle"``
    (``"Smith, John Paul"``). ALL-CAPS input is re-capitalised (``"NGUYỄN VĂN ĐỨC"``).
    """
    if given_words < 1:
        raise ValueError("given_words must be at least 1")
    text = clean_text(full_name)
    if text.count(",") == 1:
        before, after = (name_case(p).split() for p in text.split(","))
        if before and after:
            if order == NAME_ORDER_WESTERN:
                # "Smith, John Paul": family first, then given and middle names.
                return NameParts(" ".join(before), " ".join(after[1:]), after[0])
            # "Đức, Nguyễn Văn": given name first, then family and middle names.
            return NameParts(after[0], " ".join(after[1:]), " ".join(before))
        text = " ".join(before or after)
    words = name_case(text.replace(",", " ")).split()
    if not words:
        return NameParts("", "", "")
    if len(words) == 1:
        return NameParts("", "", words[0])
    if order == NAME_ORDER_WESTERN:
        return NameParts(words[-1], " ".join(words[1:-1]), words[0])
    count = min(given_words, len(words) - 1)
    return NameParts(words[0], " ".join(words[1:-count]), " ".join(words[-count:]))


def join_name(family: str, middle: str, given: str, order: str = NAME_ORDER_VI) -> str:
    parts = [given, middle, family] if order == NAME_ORDER_WESTERN else [family, middle, given]
    return " ".join(name_case(p) for p in parts if clean_text(p))


def read_full_name(value: object, order: str = NAME_ORDER_VI, *, given_words: int = 1) -> tuple[str, NameParts]:
    """A full-name cell as a file holds it: the name to show and its parts (:func:`split_name`).
    The inverted form (``"Đức, Nguyễn Văn"``) is shown in the name order, ``"Nguyễn Văn Đức"``;
    any other name as typed, capitalised (:func:`name_case`)."""
    parts = split_name(value, order, given_words=given_words)
    if "," in clean_text(value):
        return join_name(parts.family, parts.middle, parts.given, order), parts
    return name_case(value), parts


class NameReader:
    """:func:`read_full_name` for the many names of one file, the name folded too (:func:`fold`):
    ``(full, family, middle, given, folded)``.

    A name is read word by word, each distinct word once (a file of a million names holds a few
    hundred distinct words; whole names repeat far less): its capitalisation and its fold are
    kept in a :class:`~danhba.core.memo.Memo` of this reader, so a name of known words costs a
    dict lookup per word. Names with a comma take the full rule. A hypothesis test holds
    ``read`` to ``read_full_name`` and ``fold`` on any text (core/tests/test_fast_paths.py)."""

    def __init__(self, order: str = NAME_ORDER_VI, *, given_words: int = 1, size: int = 65_536) -> None:
        from danhba.core.memo import Memo

        if given_words < 1:
            raise ValueError("given_words must be at least 1")
        self.order = order
        self.given_words = given_words
        self.words: Memo[str, tuple[str, str, str]] = Memo(_name_word, size)

    def read(self, value: object) -> tuple[str, str, str, str, str]:
        return self.read_clean(clean_text(value))

    def read_clean(self, text: str) -> tuple[str, str, str, str, str]:
        """:meth:`read` of a text known to be clean (``clean_text(text) == text``)."""
        if not text or "," in text:
            full, parts = read_full_name(text, self.order, given_words=self.given_words)
            return full, parts.family, parts.middle, parts.given, fold(full)
        words = self.words
        # Clean text: single spaces only. One ``zip`` turns the words' readings into the three
        # sequences (cheaper than a comprehension each).
        shown, cased, folds = zip(*[words[word] for word in text.split(" ")], strict=True)
        full = " ".join(shown)
        folded = " ".join(folds)
        if len(cased) == 1:
            return full, "", "", cased[0][:GIVEN_MAX], folded
        if self.order == NAME_ORDER_WESTERN:
            family, middle, given = cased[-1], " ".join(cased[1:-1]), cased[0]
        else:
            count = min(self.given_words, len(cased) - 1)
            family, middle, given = cased[0], " ".join(cased[1:-count]), " ".join(cased[-count:])
        return full, family[:FAMILY_MAX], middle[:MIDDLE_MAX], given[:GIVEN_MAX], folded


def _name_word(word: str) -> tuple[str, str, str]:
    """A word of a clean full name: as the name shows it, as its part shows it, and folded.
    The name is the cleaned text capitalised (``name_case``); its parts are the words of that
    text capitalised after a second cleaning (``split_name``), which differs only where a
    control character, taken out by the first, stood between a letter and its mark."""
    cased = _name_case_str(word)
    return cased, name_case(word), fold(cased)


# --- emails ---------------------------------------------------------------------------------


_PLAIN_EMAIL = re.compile(
    r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@"  # dot-atoms: no leading, trailing or double dots
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def normalize_email(value: object) -> str:
    """A trimmed, lower-cased, syntax-checked email address, or :class:`NormalizationError`.
    NFKC first, so the fullwidth letters and ＠ of East Asian keyboards are the ASCII address
    they look like (one person, one address), as domain names are read anyway."""
    return _normalized_email(value)[0]


def normalize_email_hinted(value: object) -> tuple[str, NormalizationError | None]:
    """:func:`normalize_email` and :func:`email_typo_warning` of the address, as an import reads
    every address of its file. The everyday ASCII address (the shortcut of ``normalize_email``)
    is bare already: its domain is looked up as it is (a hypothesis test holds this to
    ``email_typo_warning``, core/tests/test_fast_paths.py)."""
    return email_hinted_of_clean(clean_text(value))


def email_hinted_of_clean(text: str) -> tuple[str, NormalizationError | None]:
    """:func:`normalize_email_hinted` of a text known to be clean (``clean_text(text) == text``)."""
    email, plain = _email_of_clean(text)
    if not plain:
        return email, email_typo_warning(email)
    local, _at, domain = email.rpartition("@")
    suggestion = _domain_suggestion(domain)
    return email, None if suggestion is None else _typo_warning(local, suggestion)


def _normalized_email(value: object) -> tuple[str, bool]:
    """The normalised address, and whether the everyday ASCII shortcut made it."""
    return _email_of_clean(clean_text(value))


def _email_of_clean(text: str) -> tuple[str, bool]:
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text)
    text = text.strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text:
        raise NormalizationError(gettext_noop("email is empty"))
    if (
        _PLAIN_EMAIL.match(text)
        and len(text) <= 254
        and "--" not in text.rsplit("@", 1)[1]
        and text.rsplit(".", 1)[1].lower() not in _SPECIAL_TLDS
    ):
        # The everyday ASCII address, which the full validator would accept unchanged: skip it.
        return text.lower(), True
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        # The library's reason is English; a translation may leave it out.
        # xgettext:no-python-format
        raise NormalizationError(gettext_noop("not a valid email address: %(reason)s"), {"reason": str(exc)}) from None
    return result.normalized.lower(), False


# --- phones ---------------------------------------------------------------------------------

# The 2018 renumbering of Vietnamese mobile prefixes from 11 to 10 digits (Ministry of
# Information and Communications, Sept–Nov 2018). Old 01xx → new 0xx.
OLD_MOBILE_PREFIXES: dict[str, str] = {
    # Viettel
    "0162": "032", "0163": "033", "0164": "034", "0165": "035",
    "0166": "036", "0167": "037", "0168": "038", "0169": "039",
    # MobiFone
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    # VinaPhone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    # Vietnamobile
    "0186": "056", "0188": "058",
    # Gmobile
    "0199": "059",
}  # fmt: skip

PHONE_MOBILE = "mobile"
PHONE_LANDLINE = "landline"
PHONE_OTHER = "other"

_EXCEL_FLOAT = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$|^\d+\.0+$")
_LETTER = re.compile(r"[A-Za-z]")
_EXTENSION = re.compile(r"(?i)(ext|x)\.?\s*\d+$")
_NON_DIGITS = re.compile(r"\D")


class Phone(NamedTuple):
    """A phone number in E.164 and its kind (a tuple: an import makes one per row)."""

    e164: str
    kind: str

    @property
    def national(self) -> str:
        number = phonenumbers.parse(self.e164)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _repair_excel_number(text: str) -> str:
    """``9.12345678E8`` and ``912345678.0`` are what Excel makes of a phone column."""
    if ("." in text or "e" in text or "E" in text) and _EXCEL_FLOAT.match(text):  # both forms need one
        try:
            return str(int(Decimal(text)))
        except (InvalidOperation, ValueError):
            return text
    return text


def _vn_digits(digits: str) -> str:
    """Bring a Vietnamese number to its current national form (leading 0, 10-digit mobiles)."""
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif not digits.startswith("0") and len(digits) in (9, 10):
        # Excel dropped the leading zero: 912345678 → 0912345678, 1623456789 → 01623456789.
        digits = "0" + digits
    if len(digits) == 11 and digits[:4] in OLD_MOBILE_PREFIXES:
        digits = OLD_MOBILE_PREFIXES[digits[:4]] + digits[4:]
    return digits


def normalize_phone(value: object, region: str | None = None) -> Phone:
    """Parse a phone number as people type it into E.164, or raise :class:`NormalizationError`."""
    return phone_of_clean(clean_text(value), region)


def phone_region(region: str | None = None) -> str:
    """The region a number without its country code is read in: ``region``, else the
    ``DEFAULT_PHONE_REGION`` setting (``VN``). A reader of many numbers (an import) takes it
    once and passes it: reading a setting costs about 1 µs, a quarter of reading a number."""
    return str(region or getattr(settings, "DEFAULT_PHONE_REGION", "VN")).upper()


def phone_of_clean(cleaned: str, region: str | None = None) -> Phone:
    """:func:`normalize_phone` of a text known to be clean (``clean_text(cleaned) == cleaned``)."""
    region = phone_region(region)
    text = _repair_excel_number(cleaned)
    digits = _typed_digits(text)
    if digits is None:
        if not text:
            raise NormalizationError(gettext_noop("phone is empty"))
        if _LETTER.search(_EXTENSION.sub("", text)):
            raise NormalizationError(gettext_noop("phone contains letters"))
        digits = _NON_DIGITS.sub("", text)
    has_plus = text.lstrip().startswith("+")
    if len(digits) < 6:
        raise NormalizationError(gettext_noop("phone is too short"))
    if has_plus and not digits.startswith("84"):
        candidate = "+" + digits
    elif region == "VN" or has_plus:
        national = _vn_digits(digits)
        candidate = "+84" + national[1:] if national.startswith("0") else "+" + digits
    else:
        candidate = digits
    fast = candidate.startswith("+84") and len(candidate) in (12, 13) and candidate[1:].isdigit()
    if fast and (key := (candidate[3:7], len(candidate))) in _VN_KINDS:
        # Whether a Vietnamese number is valid, and its kind, depends only on its first four
        # digits and its length (checked against libphonenumber's metadata for every such
        # prefix): the slow full parse runs once per prefix, not once per number.
        kind = _VN_KINDS[key]
        if kind is None:
            raise NormalizationError(gettext_noop("not a valid phone number for its country"))
        return Phone(candidate, kind)
    try:
        phone = _parse_phone(candidate, region)
    except NormalizationError:
        if fast:
            _VN_KINDS[(candidate[3:7], len(candidate))] = None
        raise
    if fast and phone.e164 == candidate:
        _VN_KINDS[(candidate[3:7], len(candidate))] = phone.kind
    return phone


_VN_KINDS: dict[tuple[str, int], str | None] = {}


def _typed_digits(text: str) -> str | None:
    """The digits of a number typed the usual ways (ASCII digits, spaces, dots, dashes,
    brackets, plus signs: no letter, so no extension, and some digit), ``None`` for anything
    else, which takes the full checks. The punctuation is taken out by ``str.replace``, which
    on short ASCII text is cheaper than a pattern and ``translate``. A hypothesis test holds it
    to the full checks (core/tests/test_fast_paths.py)."""
    digits = text.replace(" ", "").replace(".", "").replace("-", "").replace("(", "").replace(")", "").replace("+", "")
    return digits if digits.isdigit() and digits.isascii() else None


def _parse_phone(candidate: str, region: str) -> Phone:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        # xgettext:no-python-format
        raise NormalizationError(gettext_noop("not a phone number: %(reason)s"), {"reason": str(exc)}) from None
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError(gettext_noop("not a valid phone number for its country"))
    ntype = phonenumbers.number_type(number)
    if ntype in (phonenumbers.PhoneNumberType.MOBILE,):
        kind = PHONE_MOBILE
    elif ntype == phonenumbers.PhoneNumberType.FIXED_LINE:
        kind = PHONE_LANDLINE
    elif ntype == phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE:
        kind = PHONE_MOBILE
    else:
        kind = PHONE_OTHER
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


def looks_like_phone(query: str) -> bool:
    """True when a search box entry is meant as (part of) a phone number: four or more digits
    and nothing but phone punctuation."""
    text = clean_text(query)
    digits = re.sub(r"\D", "", text)
    return len(digits) >= 4 and re.fullmatch(r"[\d\s()+.\-]+", text) is not None


# --- dates ----------------------------------------------------------------------------------

_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(value: object, day_first: bool = True) -> dt.date:
    """A date as Vietnamese people write it: dd/mm/yyyy by default, or ISO yyyy-mm-dd.

    Two-digit years fall in the last hundred years (``05/03/87`` → 1987).
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = clean_text(value)
    if not text:
        raise NormalizationError(gettext_noop("date is empty"))
    try:
        if m := _YMD.match(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _DMY.match(text):
            first, second, year = int(m[1]), int(m[2]), int(m[3])
            day, month = (first, second) if day_first else (second, first)
            if len(m[3]) == 2:
                this_year = dt.date.today().year
                year += 2000 if 2000 + year <= this_year else 1900
            return dt.date(year, month, day)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise NormalizationError(
            gettext_noop("not a valid date: '%(value)s' (use dd/mm/yyyy or yyyy-mm-dd)"), {"value": text}
        ) from None


# The years a date or time may fall in, wherever it enters (dates, order and event times):
# beyond them time-zone arithmetic overflows, and no one meant year 1 or 9999.
SANE_YEARS = (1900, 2200)


def sane_moment(when: dt.date) -> bool:
    return SANE_YEARS[0] <= when.year <= SANE_YEARS[1]


def parse_datetime(value: object) -> dt.datetime:
    """An aware date and time from ISO text or a datetime; a naive one is taken in the current
    time zone. Years outside 1900–2200 are refused (they overflow time-zone arithmetic and are
    never what a person meant)."""
    from django.utils import timezone

    if isinstance(value, dt.datetime):
        when = value
    else:
        text = clean_text(value).replace(" ", "T", 1) if clean_text(value).count(" ") == 1 else clean_text(value)
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise NormalizationError(gettext_noop("must be a date and time like 2025-07-01T09:30")) from None
    if not sane_moment(when):
        raise NormalizationError(gettext_noop("must be a date and time like 2025-07-01T09:30"))
    try:
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise NormalizationError(gettext_noop("must be a date and time like 2025-07-01T09:30")) from None
    return when


# === import helpers =========================================================================
#
# What files from Excel, phones, other CRMs and old Vietnamese software need on top of the
# functions above. Nothing here changes a value silently that a person might have meant:
# email typos are *suggested*, ambiguous dates and genders are *refused with a reason*.

# --- names from import columns --------------------------------------------------------------


def join_name_columns(family: object, middle: object, given: object, order: str = NAME_ORDER_VI) -> str:
    """A full name from separate family / middle / given columns (any may be empty).

    Parts are cleaned and capitalised like :func:`name_case`. A column that only repeats the
    end of what is already there is skipped, so files whose "Họ" column holds ``"Nguyễn Văn"``
    and whose "Tên đệm" column also holds ``"Văn"`` give ``"Nguyễn Văn Đức"``, not a doubled word.
    """
    parts = [family, middle, given] if order != NAME_ORDER_WESTERN else [given, middle, family]
    words: list[str] = []
    for part in parts:
        new = name_case(part).split()
        if not new:
            continue
        have = [fold(w) for w in words]
        folded_new = [fold(w) for w in new]
        if len(folded_new) <= len(have) and have[-len(folded_new) :] == folded_new:
            continue
        words.extend(new)
    return " ".join(words)


# --- email domain typos ---------------------------------------------------------------------

# Mail providers most Vietnamese contact lists are full of. A domain one or two keystrokes away
# from one of these is very likely a typo.
COMMON_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "yahoo.com", "yahoo.com.vn", "hotmail.com", "outlook.com", "outlook.com.vn",
    "icloud.com", "fpt.vn", "vnn.vn", "googlemail.com",
)  # fmt: skip

# Real domains that happen to sit close to a common one; never "corrected".
_REAL_LOOKALIKE_DOMAINS = frozenset(
    {
        "gmx.com", "gmx.net", "gmx.de", "ymail.com", "mail.com", "email.com",
        "me.com", "mac.com", "msn.com", "aol.com", "vnu.vn", "fpt.com.vn", "fpt.edu.vn",
        "hotmail.fr", "hotmail.co.uk", "yahoo.co.uk", "yahoo.fr", "yahoo.co.jp", "yahoo.com.sg",
        "yahoo.com.au", "outlook.fr", "live.com", "live.fr", "icloud.net",
    }
)  # fmt: skip

# Top-level parts that are real country codes but are, after an address at a big provider,
# nearly always a slip of the finger (".co" for ".com", ".vm" for ".vn").
_TYPO_TLDS = frozenset({"co", "cm", "om", "vm", "nv", "con", "cmo", "ocm", "comm", "coom", "cpm", "xom", "vom"})
_REAL_SUFFIX = re.compile(r"^(?:(?:com|co|net|org|edu|gov|ac)\.)?(?:[a-z]{2}|com|net|org|edu|gov|biz|info|int)$")


def _bare_address(value: object) -> str:
    """``"Lan <mailto:lan@gmail.com>"`` → ``"lan@gmail.com"``: the address without display
    name, angle brackets or ``mailto:``."""
    text = clean_text(value)
    if (m := re.search(r"<([^<>]*)>", text)) and "@" in m[1]:
        text = m[1]
    text = text.strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip()


def _edit_distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance (optimal string alignment): insertions, deletions,
    substitutions and swaps of two neighbouring letters each cost 1."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _plausible_suffix(suffix: str) -> bool:
    return bool(_REAL_SUFFIX.match(suffix)) and suffix.rsplit(".", 1)[-1] not in _TYPO_TLDS


def _label_close(label: str, known: str) -> int | None:
    """The edit distance between two domain labels when it is small enough to be a typo."""
    distance = _edit_distance(label, known)
    if distance == 0:
        return 0
    if len(known) <= 3:
        # "fpt" / "vnn": only a swap of letters is safe; one changed letter is another company.
        return distance if distance == 1 and sorted(label) == sorted(known) else None
    limit = 1 if len(known) <= 5 else 2
    return distance if distance <= limit else None


def suggest_email_domain(email: object) -> str | None:
    """The common mail domain an address probably meant, or ``None``.

    ``suggest_email_domain("lan@gmial.com") == "gmail.com"``; the address itself is never
    changed — callers show the suggestion and let a person decide. Domains that are real and
    merely look alike (``gmx.com``, ``ymail.com``, ``congty.vn``) get no suggestion.
    """
    text = _bare_address(email).lower()
    if "@" not in text:
        return None
    return _domain_suggestion(text.rsplit("@", 1)[1].strip().rstrip("."))


@functools.lru_cache(maxsize=65536)
def _domain_suggestion(domain: str) -> str | None:
    """The suggestion for one domain: a file of a million addresses holds a few thousand."""
    if not domain or domain in COMMON_EMAIL_DOMAINS or domain in _REAL_LOOKALIKE_DOMAINS:
        return None
    if "." not in domain:
        # "gmailcom": the dot went missing.
        return next((known for known in COMMON_EMAIL_DOMAINS if known.replace(".", "") == domain), None)
    label, _dot, suffix = domain.partition(".")
    best: tuple[int, str] | None = None
    for known in COMMON_EMAIL_DOMAINS:
        known_label, _dot, known_suffix = known.partition(".")
        label_distance = _label_close(label, known_label)
        if label_distance is None:
            continue
        if suffix == known_suffix:
            suffix_distance = 0
        elif not _plausible_suffix(suffix) and _edit_distance(suffix, known_suffix) <= 1:
            suffix_distance = 1
        else:
            continue
        total = label_distance + suffix_distance
        if total and (best is None or total < best[0]):
            best = (total, known)
    return best[1] if best else None


def email_typo_warning(email: object) -> NormalizationError | None:
    """When :func:`suggest_email_domain` has a suggestion, the warning to show a user (msgid and
    parameters, as an error carries them; never raised: the address is kept as it is)."""
    suggestion = suggest_email_domain(email)
    if suggestion is None:
        return None
    return _typo_warning(_bare_address(email).rsplit("@", 1)[0], suggestion)


def _typo_warning(local: str, suggestion: str) -> NormalizationError:
    return NormalizationError(
        gettext_noop("the email domain looks mistyped: did you mean %(suggestion)s?"),
        {"suggestion": f"{local}@{suggestion}"},
    )


# --- dates in imported files ----------------------------------------------------------------

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIAL_TEXT = re.compile(r"^\d{5}(?:\.\d+)?$")
_COMPACT_YMD = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TRAILING_TIME = re.compile(
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:am|pm|sa|ch))?(?:z|[+-]\d{2}:?\d{2})?)$", re.I
)
_NUM_DMY = re.compile(r"^(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d{4}|\d{2})$")
_NUM_YMD = re.compile(r"^(\d{4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})$")
_VI_WORDS = re.compile(r"^(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})\s*(?:nam|,|/|-)?\s*(\d{4}|\d{2})$")
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_WORD = r"(?P<mon>[a-z]{3,9}|thg\s*\d{1,2})"
_DAY_MON_YEAR = re.compile(
    r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?[\s\-/.,]*" + _MONTH_WORD + r"[\s\-/.,]*(?P<year>\d{4}|\d{2})$"
)
_MON_DAY_YEAR = re.compile(
    _MONTH_WORD[:-1] + r")[\s\-/.]*(?P<day>\d{1,2})(?:st|nd|rd|th)?[\s,\-/.]+(?P<year>\d{4}|\d{2})$"
)


def excel_serial_date(serial: float) -> dt.date:
    """The date an Excel serial number stands for (1900 date system, the one Windows Excel
    uses): 1 is 1900-01-01 and 31778 is 1987-01-01. Excel counts a 29 February 1900 that never
    was (serial 60), so serials from 61 on are one day ahead of a plain count; that day itself
    is refused. The fraction (time of day) is dropped."""
    if not 1 <= serial < 2958466:  # also NaN and infinities
        raise NormalizationError(gettext_noop("'%(value)s' is not an Excel date number"), {"value": f"{serial:g}"})
    whole = int(serial)
    if whole == 60:
        raise NormalizationError(
            gettext_noop("'%(value)s' is 29/02/1900, a day that does not exist"), {"value": f"{serial:g}"}
        )
    if whole < 60:
        return _EXCEL_EPOCH + dt.timedelta(days=whole + 1)
    return _EXCEL_EPOCH + dt.timedelta(days=whole)


def _full_year(year_text: str, two_digit_pivot: int | None) -> int:
    year = int(year_text)
    if len(year_text) != 2:
        return year
    if two_digit_pivot is not None:
        return 2000 + year if 2000 + year <= two_digit_pivot else 1900 + year
    return 2000 + year if 2000 + year <= dt.date.today().year else 1900 + year


def _make_date(year_text: str, month: int, day: int, two_digit_pivot: int | None, text: str) -> dt.date:
    year = _full_year(year_text, two_digit_pivot)
    try:
        result = dt.date(year, month, day)
    except ValueError:
        raise NormalizationError(
            gettext_noop("'%(value)s' is not a real date: the day or month is out of range"), {"value": text}
        ) from None
    if len(year_text) == 2 and two_digit_pivot is None and result > dt.date.today():
        # A two-digit year is never read as a day still to come: "05/12/26" seen in
        # November 2026 is 1926, the way a birthday would be meant.
        result = result.replace(year=result.year - 100)
    return result


def parse_import_date(value: object, *, day_first: bool = True, two_digit_pivot: int | None = None) -> dt.date:
    """A date from an imported file, in any of the forms Vietnamese files hold it.

    * ``date``/``datetime`` objects as spreadsheet readers give them;
    * Excel serial numbers: numbers (``31778``, ``31778.5``) and five-digit text (``"31778"``);
    * ``dd/mm/yyyy``, ``d/m/yy``, ``dd.mm.yyyy``, ``dd-mm-yyyy`` (month first when
      ``day_first=False``), ``yyyy-mm-dd``, ``yyyy/mm/dd``, ``yyyymmdd``, with or without a
      trailing time of day (``05/03/1987 00:00:00``, ``1987-03-05T00:00:00``);
    * Vietnamese words: ``5 tháng 3 năm 1987``, ``ngày 05 tháng 03 năm 1987``, ``05 thg 3 1987``;
    * month names: ``05-Mar-1987``, ``5 March 1987``, ``March 5, 1987``.

    Two-digit years: by default ``yy`` is 20yy unless that would be in the future, so a
    birthday is never read as a date still to come. Give ``two_digit_pivot=2040`` (a year)
    for other dates: ``yy`` is then 20yy up to that year and 19yy after it.

    Raises :class:`NormalizationError` with the reason when the value is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return excel_serial_date(float(value))
    return date_of_clean(clean_text(value), day_first=day_first, two_digit_pivot=two_digit_pivot)


def date_of_clean(text: str, *, day_first: bool = True, two_digit_pivot: int | None = None) -> dt.date:
    """:func:`parse_import_date` of a text known to be clean (``clean_text(text) == text``)."""
    if m := _TYPED_DMY.fullmatch(text):
        # The usual shape (dd/mm/yyyy, d/m/yy, dd-mm-yyyy, dd.mm.yyyy), read as the full reading
        # below reads it (its dd/mm/yyyy pattern): a hypothesis test holds the two together
        # (core/tests/test_fast_paths.py).
        first, second = int(m[1]), int(m[3])
        day, month = (first, second) if day_first else (second, first)
        return _make_date(m[4], month, day, two_digit_pivot, text)
    return _parse_date_text(text, day_first, two_digit_pivot)


_TYPED_DMY = re.compile(r"([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})")


def _parse_date_text(text: str, day_first: bool, two_digit_pivot: int | None) -> dt.date:
    """The full reading of :func:`parse_import_date`, of a clean text."""
    if not text:
        raise NormalizationError(gettext_noop("date is empty"))
    if _EXCEL_SERIAL_TEXT.match(text):
        return excel_serial_date(float(text))
    folded = fold(text)
    core = _TRAILING_TIME.sub("", folded).strip() if any(c.isdigit() for c in folded) else folded
    if m := _COMPACT_YMD.match(core):
        return _make_date(m[1], int(m[2]), int(m[3]), two_digit_pivot, text)
    if m := _NUM_YMD.match(core):
        return _make_date(m[1], int(m[2]), int(m[3]), two_digit_pivot, text)
    if m := _NUM_DMY.match(core):
        first, second = int(m[1]), int(m[3])
        day, month = (first, second) if day_first else (second, first)
        return _make_date(m[4], month, day, two_digit_pivot, text)
    if m := _VI_WORDS.match(core):
        return _make_date(m[3], int(m[2]), int(m[1]), two_digit_pivot, text)
    for pattern in (_DAY_MON_YEAR, _MON_DAY_YEAR):
        if (m := pattern.match(core)) and (named_month := _month_number(m["mon"])):
            return _make_date(m["year"], named_month, int(m["day"]), two_digit_pivot, text)
    raise NormalizationError(
        gettext_noop("not a valid date: '%(value)s' (use dd/mm/yyyy or yyyy-mm-dd)"), {"value": text}
    )


def _month_number(word: str) -> int | None:
    if word.startswith("thg"):
        month = int(word[3:].strip())
        return month if 1 <= month <= 12 else None
    if len(word) > 3 and not any(full.startswith(word) for full in _FULL_MONTHS):
        return None
    return _MONTHS.get(word[:4] if word.startswith("sept") else word[:3])


_FULL_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


# --- gender ---------------------------------------------------------------------------------

GENDER_FEMALE = "female"
GENDER_MALE = "male"
GENDER_OTHER = "other"
GENDER_UNKNOWN = ""

# Folded words people and systems use. "1"/"0" follow the common Vietnamese HR convention
# (1 = Nam, 0 = Nữ); pass ``mapping={"1": "female", "0": "male"}`` for files that do it the
# other way round. Forms of address count: Anh/Ông/Chú are men, Chị/Bà women ("Cô" is left
# out: without diacritics it is "có", yes).
DEFAULT_GENDER_MAP: dict[str, str] = {
    "nam": GENDER_MALE, "nam gioi": GENDER_MALE, "trai": GENDER_MALE, "con trai": GENDER_MALE,
    "male": GENDER_MALE, "m": GENDER_MALE, "man": GENDER_MALE, "boy": GENDER_MALE, "mr": GENDER_MALE,
    "anh": GENDER_MALE, "ong": GENDER_MALE, "chu": GENDER_MALE, "1": GENDER_MALE,
    "nu": GENDER_FEMALE, "nu gioi": GENDER_FEMALE, "gai": GENDER_FEMALE, "con gai": GENDER_FEMALE,
    "female": GENDER_FEMALE, "f": GENDER_FEMALE, "w": GENDER_FEMALE, "woman": GENDER_FEMALE,
    "girl": GENDER_FEMALE, "mrs": GENDER_FEMALE, "ms": GENDER_FEMALE, "miss": GENDER_FEMALE,
    "chi": GENDER_FEMALE, "ba": GENDER_FEMALE, "0": GENDER_FEMALE,
    "khac": GENDER_OTHER, "other": GENDER_OTHER, "o": GENDER_OTHER, "x": GENDER_OTHER,
    "non binary": GENDER_OTHER, "nonbinary": GENDER_OTHER,
    "khong ro": GENDER_UNKNOWN, "chua ro": GENDER_UNKNOWN, "khong xac dinh": GENDER_UNKNOWN,
    "unknown": GENDER_UNKNOWN, "n a": GENDER_UNKNOWN, "na": GENDER_UNKNOWN, "u": GENDER_UNKNOWN,
}  # fmt: skip
_GENDERS = (GENDER_FEMALE, GENDER_MALE, GENDER_OTHER, GENDER_UNKNOWN)


def parse_gender(value: object, mapping: Mapping[str, str] | None = None) -> str:
    """``"female"``, ``"male"``, ``"other"`` or ``""`` (not given) from what a file holds.

    Case, diacritics and punctuation do not matter (``"Nữ"``, ``"nu"``, ``"NỮ"``, ``"Mr."``).
    ``mapping`` adds to or overrides :data:`DEFAULT_GENDER_MAP`; its keys are matched the same
    way. A value nobody mapped raises :class:`NormalizationError` naming it.
    """
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\.0+\s*", value):
        value = value.strip().split(".")[0]  # "1.0": Excel made the code a number
    key = " ".join(fold_words(value))
    if not key:
        return GENDER_UNKNOWN
    table = DEFAULT_GENDER_MAP
    if mapping:
        table = dict(DEFAULT_GENDER_MAP)
        for raw, gender in mapping.items():
            if gender not in _GENDERS:
                raise ValueError(f"gender mapping value must be one of {_GENDERS}, not {gender!r}")
            table[" ".join(fold_words(raw))] = gender
    if key in table:
        return table[key]
    raise NormalizationError(
        gettext_noop("unknown gender '%(value)s' (use Nam / Nữ / Khác, Male / Female / Other)"),
        {"value": clean_text(value)},
    )


# --- tags -----------------------------------------------------------------------------------


def split_tags(value: object, delimiters: str = ",;|") -> list[str]:
    """Tags from one delimited cell (``"VIP; khách sỉ | Hà Nội"``) or a list of them.

    Each tag is cleaned (NFC, spaces); empty ones are dropped; tags that differ only in case
    or diacritics (``"Khách VIP"``, ``"khach vip"``) are one tag, spelt the way it first came.
    """
    if value is None:
        return []
    items = [str(v) for v in value] if isinstance(value, (list, tuple, set, frozenset)) else [str(value)]
    splitter = re.compile("|".join(re.escape(d) for d in delimiters)) if delimiters else None
    tags: list[str] = []
    seen: set[str] = set()
    for item in items:
        for piece in splitter.split(item) if splitter else [item]:
            tag = clean_text(piece)
            key = " ".join(fold(tag).split())
            if tag and key not in seen:
                seen.add(key)
                tags.append(tag)
    return tags
