"""Rate limits, all of them token buckets kept in the memory of each web process.

- The event API (``/v1/*``, tracking): each source may send ``EVENTS_RATE_LIMIT_PER_SECOND``
  events per second on average, bursts up to ``EVENTS_RATE_LIMIT_BURST`` (a batch costs one
  token per event): :func:`source_limit`.
- Public pages that take no login (the tracking pixel, unsubscribe, later forms): a budget per
  client network (an IPv4 address, an IPv6 /64) and page, :class:`PublicLimit` and the
  :func:`public_rate_limited` decorator (over it: 429 with ``Retry-After``, nothing done).

No database or cache round trip on the hot path, at the price of the limit being per process
(N web processes let a client through N times as fast): enough for keeping one runaway
integration or one scraper from swamping the site, for about a microsecond per request.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from danhba.core.actor import client_ip


class TokenBuckets:
    """One bucket per key: ``rate`` tokens per second, holding at most ``burst``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.buckets: dict[object, tuple[float, float]] = {}  # key → (tokens, at)
        self.lock = threading.Lock()
        self.clock = clock  # tests stop it: a slow machine would refill buckets mid-test

    def take(self, key: object, cost: int, rate: float, burst: float) -> float:
        """Take ``cost`` tokens; returns 0.0 if they were there, else the seconds until they will
        be (nothing is taken then). A cost above the burst is charged as the burst, so a batch
        bigger than the burst is still accepted from a full bucket."""
        if rate <= 0:
            return 0.0
        burst = max(burst, 1.0)
        cost_f = min(float(cost), burst)
        now = self.clock()
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


def _seconds(wait: float) -> int:
    """A wait as ``Retry-After`` says it: whole seconds, at least 1; 0 for none."""
    return max(1, math.ceil(wait)) if wait > 0 else 0


def source_limit(source_id: int, cost: int) -> int:
    """0 if the source may send ``cost`` more events now, else the seconds to wait (a whole
    number, at least 1, for ``Retry-After``)."""
    rate = float(settings.EVENTS_RATE_LIMIT_PER_SECOND)
    burst = float(settings.EVENTS_RATE_LIMIT_BURST or rate)
    return _seconds(buckets.take(source_id, cost, rate, burst))


def client_network(ip: str | None) -> str:
    """The address whose requests count together: an IPv4 address, or for IPv6 its /64
    network (one home or office gets a whole /64 and picks any address in it, so counting per
    IPv6 address would let anyone walk past a limit). An IPv4-mapped IPv6 address counts as
    its IPv4 address; text that is no address is kept as it is."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip[:45]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class PublicLimit:
    """``per_minute`` requests a minute (a burst of as many) per client network, for one page."""

    def __init__(self, name: str, per_minute: int) -> None:
        self.name = name
        self.per_minute = per_minute
        self.buckets = TokenBuckets()

    def wait(self, request: HttpRequest, extra: str = "") -> int:
        """0 if this request may go on, else the seconds to wait (it was not counted)."""
        key = (client_network(client_ip(request)), extra)
        return _seconds(self.buckets.take(key, 1, self.per_minute / 60.0, float(self.per_minute)))


def public_rate_limited(limit: PublicLimit) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A public view answers 429 with ``Retry-After`` (and does nothing) to a client network
    over ``limit``."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            wait = limit.wait(request)
            if wait:
                response = HttpResponse(
                    _("Too many requests; try again in %(n)s seconds.") % {"n": wait},
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                response["Cache-Control"] = "no-store"
                return response
            return view(request, *args, **kwargs)

        return limited

    return decorate
