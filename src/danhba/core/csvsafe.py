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
  damage danhba's own import has to repair in files that went through Excel. Phone numbers,
  lists of them and other digit strings Excel would change are written as ``="0912345678"``:
  a formula whose result is that text, shown without quotes or apostrophe, and kept as text
  when the file is saved again. An apostrophe would stay visible (it only means "text" when
  typed, not in a CSV); a leading tab or zero-width space would end up inside the value. Only
  digits, a leading ``+`` and ``"; "`` between numbers ever go inside the quotes, so the
  formula can never be anything but that text. Excel and LibreOffice (which evaluates formulas
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
# Excel shows 11 digits of a number as they are; from 12 on it rounds and writes them 9.12346E+11.
_EXCEL_DIGITS = 11
_EXCEL_TEXT = re.compile(r'^="([^"]*)"$')


def excel_would_change(text: str) -> bool:
    """Digit strings a spreadsheet would read as a number and show otherwise: a leading ``+``
    or ``0``, more digits than Excel shows, or several numbers in one cell."""
    if not _DIGITS.match(text):
        return False
    return text[0] == "+" or (text[0] == "0" and len(text) > 1) or ";" in text or len(text) > _EXCEL_DIGITS


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
