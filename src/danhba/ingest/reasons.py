"""Why a row or a value of an import was refused: :class:`Reason` (``core.reasons``), kept
untranslated and translated when shown — an import runs in the worker, in no reader's
language, and its report is read later by people in English or Vietnamese.

Reasons made here in ingest are built from their msgid directly; a value refused by the shared
normalisers (``core.normalize``, custom fields) arrives as a ``NormalizationError``, which
carries its msgid and parameters too (:meth:`Reason.of_error`). No text is ever matched to
find its msgid, except in issues stored before reasons were kept this way (before migration
``ingest.0003``): they hold English text only, which :func:`reason_of` reads back with the
messages listed in :data:`KNOWN`.
"""

from __future__ import annotations

import functools
import re

from django.utils.translation import get_language, gettext

from danhba.core.reasons import HIDDEN, PLACEHOLDER, Param, Reason, reason

__all__ = ["HIDDEN", "KNOWN", "Param", "Reason", "reason", "reason_of"]

# Messages of core.normalize and contacts.custom_fields that issues stored before ingest.0003
# may hold as text (frozen: new reasons never need this list).
KNOWN = (
    "the email domain looks mistyped: did you mean %(suggestion)s?",
    "email is empty",
    "phone is empty",
    "phone contains letters",
    "phone is too short",
    "not a valid phone number for its country",
    "date is empty",
    "must be a date and time like 2025-07-01T09:30",
    "not a valid date: '%(value)s' (use dd/mm/yyyy or yyyy-mm-dd)",
    "unknown gender '%(value)s' (use Nam / Nữ / Khác, Male / Female / Other)",
    "'%(value)s' is not an Excel date number",
    "'%(value)s' is 29/02/1900, a day that does not exist",
    "not a valid email address: %(reason)s",
    "not a phone number: %(reason)s",
    "'%(value)s' is not a real date: the day or month is out of range",
    "must be yes or no",
    "unknown field type %(type)s",
    "must be a whole number",
    "must be a number",
    "no such custom field",
    "this field is required",
    "at most %(n)s characters",
    "must be one of: %(choices)s",
    "must be a web address starting with http:// or https://",
    "'%(value)s' is not one of: %(choices)s",
)


def reason_of(text: str) -> Reason:
    """A reason from its text in English or the active language, for issues stored as text
    before ingest.0003: a known message with its values, or the text itself."""
    for language in dict.fromkeys(("en", get_language() or "en")):
        exact, patterns = _known(language)
        if text in exact:
            return Reason(exact[text])
        for pattern, msgid in patterns:
            if match := pattern.fullmatch(text):
                return Reason(msgid, match.groupdict())
    return Reason(text)


@functools.cache
def _known(language: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """For one language: the known messages without values by their text, and a pattern for
    each message with values (most specific first), both giving the msgid."""
    from django.utils import translation

    exact: dict[str, str] = {}
    texts: list[tuple[str, str]] = []
    with translation.override(language):
        for msgid in KNOWN:
            text = msgid if language == "en" else gettext(msgid)
            if PLACEHOLDER.search(text):
                texts.append((text, msgid))
            else:
                exact[text] = msgid
    texts.sort(key=lambda item: -len(PLACEHOLDER.sub("", item[0])))
    return exact, [(_pattern(text), msgid) for text, msgid in texts]


def _pattern(text: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[position : match.start()]))
        name = match[1]
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = match.end()
    parts.append(re.escape(text[position:]))
    return re.compile("".join(parts), re.DOTALL)
