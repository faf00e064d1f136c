"""Whether a captured lead's name may replace the one a contact has (pure).

A person types their name differently at every door: "Minh" in a chat, "Nguyen Van Minh" on
a phone keyboard, "Nguyễn Văn Minh" in a careful form. A lead only ever completes a name: it
replaces the stored one when it holds all of its words (diacritics aside) and says more — more
words, or the same words with their diacritics. "Minh" never replaces "Nguyễn Văn Minh";
"Nguyễn Văn Minh" replaces "Minh" and "Nguyen Van Minh"; a different name ("Trần Lan") is kept
out (the same phone may be a relative's; a person corrects a name in the contact, not by
filling a form again).
"""

from __future__ import annotations

from collections import Counter

from danhba.core.normalize import clean_text, fold, fold_words

NAME_FIELDS = ("full_name", "family_name", "given_name")


def _marks(text: str) -> int:
    """How many letters carry a diacritic (folding changes them)."""
    return sum(1 for char in text if char.isalpha() and fold(char) != char.lower())


def is_fuller_name(new: str, old: str) -> bool:
    new, old = clean_text(new), clean_text(old)
    if not new:
        return False
    if not old:
        return True
    new_words, old_words = Counter(fold_words(new)), Counter(fold_words(old))
    if old_words - new_words:  # a word of the stored name is missing
        return False
    more_words = sum(new_words.values()) > sum(old_words.values())
    return more_words or _marks(new) > _marks(old)


def lead_name(fields: dict[str, str]) -> str:
    """The name a lead gives: its full name, else family and given names together."""
    if fields.get("full_name"):
        return fields["full_name"]
    return " ".join(part for part in (fields.get("family_name"), fields.get("given_name")) if part)
