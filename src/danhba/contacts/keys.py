"""How contacts, companies and tags are keyed: pure functions of text, no database, no services.

Every writer (the contact services, the import loader, the event worker, the demo) and every
reader (search, filters) makes its keys here, so a key written one way is always found the
same way.
"""

from __future__ import annotations

from danhba.core.normalize import fold

NAME_KEY_LENGTH = 200  # Contact.name_key and Company.name_key
TAG_KEY_LENGTH = 80  # Tag.name_key


def name_key(text: str, *, folded: str | None = None) -> str:
    """The sort and match key of a contact's or a company's name: folded, at most 200 characters.
    ``folded``: ``fold(text)``, when the caller already has it (an import's reader folds each
    name in its own process, so the loading one does not)."""
    return (fold(text) if folded is None else folded)[:NAME_KEY_LENGTH]


def company_key(name: str) -> str:
    """The key a company is found by its name with (``Company.name_key``)."""
    return name_key(name)


def tag_key(name: str) -> str:
    """The key that makes a tag unique whatever its case and accents (``Tag.name_key``)."""
    return fold(name)[:TAG_KEY_LENGTH]


def phone_digits(e164_or_digits: str) -> str:
    """Reversed national digits ("+84912345678" → "8765432190"): the search index stores a phone
    so, and a prefix search on it is a suffix search on the number (the last digits people
    remember find the contact)."""
    if e164_or_digits.startswith("+84") and e164_or_digits[3:].isdigit():
        return ("0" + e164_or_digits[3:])[::-1]  # nearly every stored phone: the rule below, sooner
    digits = "".join(ch for ch in e164_or_digits if ch.isdigit())
    if e164_or_digits.startswith("+84"):
        digits = "0" + digits[2:]
    return digits[::-1]
