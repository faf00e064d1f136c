"""The per-source rate limit of the event API (``/v1/*``): a token bucket per write key.

Each source may send ``EVENTS_RATE_LIMIT_PER_SECOND`` events per second on average, with bursts
up to ``EVENTS_RATE_LIMIT_BURST`` events (a batch costs one token per event). The buckets live in
the memory of each web process: no database or cache round trip on the hot path, at the price
of the limit being per process (N web processes let a source through N times as fast). That is
enough for what it is for — keeping one runaway integration from swamping the inbox and the
worker — and costs about a microsecond per request.
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings


class TokenBuckets:
    """One bucket per key: ``rate`` tokens per second, holding at most ``burst``."""

    def __init__(self) -> None:
        self.buckets: dict[object, tuple[float, float]] = {}  # key → (tokens, at)
        self.lock = threading.Lock()

    def take(self, key: object, cost: int, rate: float, burst: float) -> float:
        """Take ``cost`` tokens; returns 0.0 if they were there, else the seconds until they will
        be (nothing is taken then). A cost above the burst is charged as the burst, so a batch
        bigger than the burst is still accepted from a full bucket."""
        if rate <= 0:
            return 0.0
        burst = max(burst, 1.0)
        cost_f = min(float(cost), burst)
        now = time.monotonic()
        with self.lock:
            tokens, at = self.buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= cost_f:
                self.buckets[key] = (tokens - cost_f, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            if len(self.buckets) > 10_000:
                # Disabled or forgotten keys: drop the full buckets (a full bucket is the default).
                self.buckets = {k: v for k, v in self.buckets.items() if v[0] < burst}
        return (cost_f - tokens) / rate

    def clear(self) -> None:
        with self.lock:
            self.buckets.clear()


buckets = TokenBuckets()


def source_limit(source_id: int, cost: int) -> int:
    """0 if the source may send ``cost`` more events now, else the seconds to wait (a whole
    number, at least 1, for ``Retry-After``)."""
    rate = float(settings.EVENTS_RATE_LIMIT_PER_SECOND)
    burst = float(settings.EVENTS_RATE_LIMIT_BURST or rate)
    wait = buckets.take(source_id, cost, rate, burst)
    return max(1, math.ceil(wait)) if wait > 0 else 0
