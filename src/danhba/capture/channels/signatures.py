"""How each channel signs its webhook requests (pure: no database, no settings).

- Facebook: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw body under the
  app secret.
- Zalo OA: ``X-ZEvent-Signature: mac=<hex>``, the SHA-256 of app id + raw body + the body's
  ``timestamp`` + the OA secret key (the OA's key, not the app's).

Both compare in constant time and answer only yes or no: a caller learns nothing from a refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import json


def _hex_of(header: str, prefix: str) -> str:
    value = (header or "").strip()
    if value.lower().startswith(prefix):
        value = value[len(prefix) :]
    return value.strip().lower()


def facebook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def facebook_signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    expected = facebook_signature(body, secret)[len("sha256=") :]
    return hmac.compare_digest(_hex_of(header, "sha256=").encode(), expected.encode())


def zalo_timestamp(body: bytes) -> str:
    """The ``timestamp`` of a Zalo body as it is written there ("" when there is none)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    value = data.get("timestamp") if isinstance(data, dict) else None
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def zalo_signature(body: bytes, app_id: str, timestamp: str, secret: str) -> str:
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()
    return "mac=" + digest


def zalo_signature_ok(body: bytes, header: str | None, app_id: str, secret: str) -> bool:
    if not header or not secret or not app_id:
        return False
    timestamp = zalo_timestamp(body)
    if not timestamp:
        return False
    expected = zalo_signature(body, app_id, timestamp, secret)[len("mac=") :]
    return hmac.compare_digest(_hex_of(header, "mac=").encode(), expected.encode())
