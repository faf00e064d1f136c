"""How danhba writes one cell of a CSV file that people open in Excel or LibreOffice.

Every CSV danhba writes (contact and segment exports, the events explorer's people, the
import's rejected rows) passes its cells through :func:`csv_cell`, so the two dangers of a
spreadsheet opening a CSV are handled once:

* **Formulas.** A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
  return, which some programs strip before looking) is run as a formula:
  ``-1+1+cmd|' /C calc'!A0`` starts a program, ``=HYPERLINK(…)`` sends data away. Such text gets
  a leading apostrophe, which makes it plain text in both programs. There is no exemption for
  "a sign followed by a digit": ``+1+HYPERLINK(…)`` is a formula too.
* **Numbers that are not numbers.** Excel turns ``0912345678`` into 912345678 and
  ``+84912345678`` into 84912345678, and shows a long digit string as ``9.12346E+11``: the
  damage danhba's own import has to repair in files that went through Excel; a phone written
  ``0912.345.678`` or ``0912 345 678`` becomes 912345678 where the dot or the space groups
  thousands (Vietnamese, French settings), and ``+84 912 345 678`` would need an apostrophe.
  Phone numbers in every shape danhba stores or shows (E.164, national digits, with spaces,
  dots, hyphens or brackets: a leading ``+`` or ``0`` and 9 to 15 digits), lists of them and
  other digit strings Excel would change are written as ``="0912345678"``:
  a formula whose result is that text, shown without quotes or apostrophe, and kept as text
  when the file is saved again. An apostrophe would stay visible (it only means "text" when
  typed, not in a CSV); a leading tab or zero-width space would end up inside the value. Only
  digits, a leading ``+``, the separators above and ``"; "`` between numbers ever go inside
  the quotes, so the formula can never be anything but that text. Excel and LibreOffice (which evaluates formulas
  when it opens a CSV, headless or not) both show it as the phone number; danhba's import
  unwraps it again, so a file written here imports as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# One or more phone numbers (E.164 or national digits), "; " between them, as exports join lists.
_DIGITS = re.compile(r"^\+?\d+(?:; \+?\d+)*$")
# A phone as people write it: "+84 912 345 678", "0912.345.678", "(028) 3822-1234".
_PHONE = re.compile(r"^(?:\+|\(?0)[\d ().\-]*\d$")
_PHONE_DIGITS = range(9, 16)  # national numbers have 9 digits or more (a dd.mm.yyyy date 8); E.164 at most 15
# Excel shows 11 digits of a number as they are; from 12 on it rounds and writes them 9.12346E+11.
_EXCEL_DIGITS = 11
_EXCEL_TEXT = re.compile(r'^="([^"]*)"$')


def is_phone(text: str) -> bool:
    """Whether ``text`` is written like a phone number: a leading ``+`` or ``0`` (or ``(0``),
    9 to 15 digits, and only spaces, dots, hyphens and brackets between them."""
    return bool(_PHONE.match(text)) and sum(c.isdigit() for c in text) in _PHONE_DIGITS


def excel_would_change(text: str) -> bool:
    """Text a spreadsheet would read as a number, or as a formula, and show otherwise: digit
    strings with a leading ``+`` or ``0``, more digits than Excel shows, several numbers in one
    cell, and phone numbers in any shape (one per cell or "; " between them)."""
    if _DIGITS.match(text):
        return text[0] == "+" or (text[0] == "0" and len(text) > 1) or ";" in text or len(text) > _EXCEL_DIGITS
    return all(is_phone(part) for part in text.split("; "))


def safe_text(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as that text and never runs."""
    if excel_would_change(text):
        return f'="{text}"'
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def csv_cell(value: Any, *, joiner: str = "; ") -> Any:
    """One value as a CSV cell: text made safe (:func:`safe_text`), lists joined, dates in ISO
    8601, objects as JSON, ``None`` empty; numbers and booleans as they are."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, list | tuple):
        return safe_text(joiner.join(map(str, value)))
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, dict):
        return safe_text(json.dumps(value, ensure_ascii=False))
    return safe_text(str(value))


def unwrap_excel_text(cell: str) -> str:
    """The text of a ``="…"`` cell (as :func:`safe_text` and other programs write numbers meant
    as text); any other cell as it is."""
    match = _EXCEL_TEXT.match(cell)
    return match[1] if match else cell
