"""A bounded cache of one pure function's results, for one job (an import's reading of a file).

A file of a million rows holds a few hundred distinct name words, a few dozen genders, some
tens of thousands of dates: reading each distinct value once and every repeat by one dict
lookup is where an import's reader saves most (decision 0009, "Reader, per value"). The cache belongs to the job,
not to the process: it goes with the job, and it never grows past ``size`` entries (it starts
again empty when full: no bookkeeping per hit, unlike an LRU).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    """``memo[key]`` is ``function(key)``, computed on the first request of each key.

    A hit is a plain dict lookup (``dict.__getitem__`` in C); only a miss runs Python
    (``__missing__``). ``function`` must be pure: same key, same result, no side effect, and a
    result nobody mutates (tuples, strings, dates, frozen objects), since every hit shares it.
    ``size=0`` keeps nothing: every request computes (tests compare the two)."""

    __slots__ = ("function", "size")

    def __init__(self, function: Callable[[K], V], size: int = 65_536) -> None:
        super().__init__()
        self.function = function
        self.size = size

    def __missing__(self, key: K) -> V:
        value = self.function(key)
        if self.size > 0:
            if len(self) >= self.size:
                self.clear()
            self[key] = value
        return value
