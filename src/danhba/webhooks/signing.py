"""Webhook signatures, Stripe's scheme: ``Danhba-Signature: t=<unix time>,v1=<hex>`` where the
hex is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint's secret (the whole string,
``whsec_`` included). The timestamp is signed too, so a receiver that refuses old timestamps
refuses replays. During a secret rotation there is one ``v1=`` per valid secret.

:func:`verify` is what a receiver does; the developer docs copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Danhba-Signature"
EVENT_ID_HEADER = "Danhba-Event-Id"
TOPIC_HEADER = "Danhba-Topic"
DEFAULT_TOLERANCE = 300  # seconds a receiver should accept between our clock and theirs


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header_value(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={compute(s, timestamp, body)}" for s in secrets)])


class SignatureError(ValueError):
    pass


def verify(
    body: bytes, header: str, secret: str, *, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> int:
    """Check a received webhook; returns its timestamp or raises :class:`SignatureError`."""
    timestamp = None
    signatures = []
    for part in header.split(","):
        key, _sep, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) < 19:
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("no signature matches")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return timestamp
