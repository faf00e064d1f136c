"""Who gets which variant of an A/B test: at random, but the same answer every time for the same
campaign and contact (a run that starts again after a crash splits the audience the same way).
Pure."""

from __future__ import annotations

import hashlib

LABELS = "ABCDE"  # at most five variants
MAX_VARIANTS = len(LABELS)


def _uniform(key: str, contact_id: int, salt: str) -> float:
    digest = hashlib.sha256(f"{key}:{salt}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def slot(key: str, contact_id: int, share_percent: int, variants: int) -> int | None:
    """The variant (0-based) a contact gets in the test, or None: the contact waits for the
    winner. ``key`` is the campaign's own random key, so two campaigns split differently."""
    if variants < 1 or _uniform(key, contact_id, "share") * 100 >= share_percent:
        return None
    return min(int(_uniform(key, contact_id, "variant") * variants), variants - 1)
