"""The one place where text, names, emails and phone numbers are normalised.

Every write path (web forms, the REST API, imports, events) calls these functions so a value
typed anywhere ends up stored, searched and de-duplicated the same way. Vietnamese rules:

* text is NFC (Vietnamese has several NFD/composed spellings of the same letter);
* search keys fold case and diacritics, and ``đ`` to ``d`` (it is a letter, not an accent,
  so Unicode decomposition alone leaves it);
* phones default to region VN, map the 2018 11→10-digit mobile prefixes and repair what
  Excel does to numbers (dropped leading zero, ``9.12345678E8``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email


class NormalizationError(ValueError):
    """A value that cannot be normalised; ``str(err)`` is a reason fit to show a user."""


_SPACES = re.compile(r"\s+", re.UNICODE)


def clean_text(value: object) -> str:
    """NFC, non-breaking and other odd spaces collapsed, trimmed. ``None`` becomes ``""``."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = text.replace("\u200b", "").replace("\ufeff", "")
    return _SPACES.sub(" ", text).strip()


def fold(value: object) -> str:
    """A lower-case ASCII-ish key with diacritics removed, for diacritic-insensitive search.

    ``fold("Nguyễn Văn Đức") == "nguyen van duc"``.
    """
    text = clean_text(value).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def fold_words(value: object) -> list[str]:
    """The folded words of a value, punctuation dropped: ``"Lê-Thị  Hoa"`` → ``["le", "thi", "hoa"]``."""
    return re.findall(r"\w+", fold(value))


# --- names ----------------------------------------------------------------------------------

NAME_ORDER_VI = "vi"  # family, middle, given: "Nguyễn Văn Đức"
NAME_ORDER_WESTERN = "western"  # given, middle, family: "John Paul Smith"


@dataclass(frozen=True)
class NameParts:
    family: str
    middle: str
    given: str


def _capitalise_word(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def name_case(value: object) -> str:
    """Vietnamese capitalisation: every word starts upper-case (``"nGUYỄN văn đức"`` → ``"Nguyễn Văn Đức"``).

    A word typed with deliberate inner capitals (``"McDonald"``, ``"DeAnna"``) is kept as typed.
    """
    text = clean_text(value)
    if not text:
        return ""
    return " ".join(w if _deliberate_caps(w) else _capitalise_word(w) for w in text.split(" "))


def _deliberate_caps(word: str) -> bool:
    letters = word.replace("-", "").replace("'", "")
    return len(letters) > 2 and letters[0].isupper() and any(c.islower() for c in letters) and not letters[1:].islower()


def split_name(full_name: object, order: str = NAME_ORDER_VI) -> NameParts:
    """Split a full name into family / middle / given parts."""
    words = name_case(full_name).split()
    if not words:
        return NameParts("", "", "")
    if len(words) == 1:
        return NameParts("", "", words[0])
    if order == NAME_ORDER_WESTERN:
        return NameParts(words[-1], " ".join(words[1:-1]), words[0])
    return NameParts(words[0], " ".join(words[1:-1]), words[-1])


def join_name(family: str, middle: str, given: str, order: str = NAME_ORDER_VI) -> str:
    parts = [given, middle, family] if order == NAME_ORDER_WESTERN else [family, middle, given]
    return " ".join(name_case(p) for p in parts if clean_text(p))


# --- emails ---------------------------------------------------------------------------------


def normalize_email(value: object) -> str:
    """A trimmed, lower-cased, syntax-checked email address, or :class:`NormalizationError`."""
    text = clean_text(value).strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text:
        raise NormalizationError(_("email is empty"))
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        # The library's reason is English; a translation may leave it out.
        # xgettext:no-python-format
        raise NormalizationError(_("not a valid email address: %(reason)s") % {"reason": exc}) from None
    return result.normalized.lower()


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


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: str

    @property
    def national(self) -> str:
        number = phonenumbers.parse(self.e164)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _repair_excel_number(text: str) -> str:
    """``9.12345678E8`` and ``912345678.0`` are what Excel makes of a phone column."""
    if _EXCEL_FLOAT.match(text):
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
    from django.conf import settings

    region = str(region or getattr(settings, "DEFAULT_PHONE_REGION", "VN")).upper()
    text = _repair_excel_number(clean_text(value))
    if not text:
        raise NormalizationError(_("phone is empty"))
    if re.search(r"[A-Za-z]", re.sub(r"(?i)(ext|x)\.?\s*\d+$", "", text)):
        raise NormalizationError(_("phone contains letters"))
    has_plus = text.lstrip().startswith("+")
    digits = re.sub(r"\D", "", text)
    if len(digits) < 6:
        raise NormalizationError(_("phone is too short"))
    if has_plus and not digits.startswith("84"):
        candidate = "+" + digits
    elif region == "VN" or has_plus:
        national = _vn_digits(digits)
        candidate = "+84" + national[1:] if national.startswith("0") else "+" + digits
    else:
        candidate = digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        # xgettext:no-python-format
        raise NormalizationError(_("not a phone number: %(reason)s") % {"reason": exc}) from None
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError(_("not a valid phone number for its country"))
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
        raise NormalizationError(_("date is empty"))
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
            _("not a valid date: '%(value)s' (use dd/mm/yyyy or yyyy-mm-dd)") % {"value": text}
        ) from None


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
            raise NormalizationError(_("must be a date and time like 2025-07-01T09:30")) from None
    if not 1900 <= when.year <= 2200:
        raise NormalizationError(_("must be a date and time like 2025-07-01T09:30"))
    try:
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise NormalizationError(_("must be a date and time like 2025-07-01T09:30")) from None
    return when
