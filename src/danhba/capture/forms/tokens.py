"""The signed tokens of web forms (Django's signing, the site's SECRET_KEY, one salt each).

- render token: which form, which questions were shown, to whom (a known contact), and when
  (the time-to-fill check); it travels in a hidden field and comes back with the submission;
- visitor token: the contact a browser's submission created (or already held a token for: never
  one merely matched by an email or phone someone typed), kept in a cookie on the hosted page,
  the host page's localStorage for the script embed, for progressive profiling;
- confirm token: the double opt-in link of one submission.
"""

from __future__ import annotations

import time
from typing import Any

from django.core import signing

RENDER_SALT = "capture.forms.render"
# ".2": tokens signed before a submission matched by email stopped getting one may name
# someone else's contact; they are no longer read.
VISITOR_SALT = "capture.forms.visitor.2"
CONFIRM_SALT = "capture.forms.confirm"
VISITOR_COOKIE = "danhba_fv"
VISITOR_MAX_AGE = 365 * 24 * 3600
CONFIRM_MAX_AGE = 14 * 24 * 3600


def render_token(form_id: int, shown: list[str], contact_id: int | None, now: float | None = None) -> str:
    return signing.dumps({"f": form_id, "k": shown, "c": contact_id, "t": int(now or time.time())}, salt=RENDER_SALT)


def read_render_token(token: Any, form_id: int) -> dict[str, Any] | None:
    """The token's content if it is genuine and for this form, else None."""
    if not isinstance(token, str) or not token or len(token) > 4000:
        return None
    try:
        data = signing.loads(token, salt=RENDER_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("f") != form_id or not isinstance(data.get("t"), int):
        return None
    return data


def visitor_token(contact_id: int) -> str:
    return signing.dumps(contact_id, salt=VISITOR_SALT)


def read_visitor_token(token: Any) -> int | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    try:
        value = signing.loads(token, salt=VISITOR_SALT, max_age=VISITOR_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def confirm_token(submission_id: int) -> str:
    return signing.dumps(submission_id, salt=CONFIRM_SALT)


def read_confirm_token(token: str) -> int | None:
    try:
        value = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None
