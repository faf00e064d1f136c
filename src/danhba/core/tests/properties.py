"""How many examples the property tests (hypothesis) try: today's counts in ``make test`` and CI,
about a fifth in a plain ``pytest`` (decision 0028: the property tests were the largest share of
the default run's test calls).

A plain run loads the "dev" profile (``conftest.py``, by ``RUN_SLOW``); ``make test`` and CI
load none, so hypothesis keeps its own default (or its built-in "ci" profile where it detects
CI). A test that sets ``max_examples`` itself ignores profiles: it passes ``examples(n)``."""

from __future__ import annotations

from hypothesis import settings

HYPOTHESIS_DEFAULT = 100  # hypothesis's own max_examples, which the full runs keep
DEV_EXAMPLES = 20
FEWEST = 20


def load_dev_profile() -> None:
    settings.register_profile("dev", max_examples=DEV_EXAMPLES)
    settings.load_profile("dev")


def examples(n: int) -> int:
    """``n`` in the full runs; in the "dev" profile scaled like the profile's own count (a fifth),
    but never below 20 (nor above ``n``)."""
    scale = settings.default.max_examples / HYPOTHESIS_DEFAULT
    if scale >= 1:
        return n
    return min(n, max(FEWEST, round(n * scale)))
