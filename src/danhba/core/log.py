"""Log records danhba shapes: a refused request (403) is one line, not a traceback, and other
client errors are left to the access log."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

_REASON = "_danhba_forbidden_reason"


def note_forbidden(request: HttpRequest, reason: str) -> None:
    """Remember why a request was refused, for the log line of its 403 answer (the API and
    pages that answer 403 without raising)."""
    setattr(request, _REASON, reason)


def _escaped(value: Any) -> str:
    # A path or a reason may hold a newline: one request stays one line (Vietnamese stays readable).
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in str(value))


def _user(request: HttpRequest | None) -> str:
    # An API key's user is request.auth (ninja); a page's is request.user.
    for user in (getattr(request, "auth", None), getattr(request, "user", None)):
        if user is not None and getattr(user, "is_authenticated", False):
            return f"{user.email} (#{user.pk})"
    return "anonymous"


def _reason(record: logging.LogRecord, request: HttpRequest | None) -> str:
    noted = getattr(request, _REASON, "")
    if noted:
        return noted
    if record.exc_info and record.exc_info[1] is not None:
        return str(record.exc_info[1]) or "permission denied"
    if record.msg == "Forbidden (%s): %s" and isinstance(record.args, tuple) and record.args:
        return str(record.args[0])  # Django's CSRF refusal: "Forbidden (reason): path"
    return "permission denied"


class OneLineForbidden(logging.Filter):
    """On django.request and django.security.csrf: a 403 becomes ``Forbidden: METHOD PATH
    user=… reason=…`` without the traceback Django attaches to PermissionDenied. Users who hit
    a page their role does not allow are not a fault of the site; the line says who and why."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Once per record, even if the logging configuration was applied twice (each time adds
        # the filter again).
        if getattr(record, "status_code", None) != 403 or getattr(record, "_one_line", False):
            return True
        record._one_line = True
        request = getattr(record, "request", None)
        reason = _reason(record, request)
        record.msg = "Forbidden: %s %s user=%s reason=%s"
        method, path = getattr(request, "method", "?"), _escaped(getattr(request, "path", "?"))
        record.args = (method, path, _user(request), _escaped(reason))
        record.exc_info = None
        record.exc_text = None
        return True


class SkipClientErrors(logging.Filter):
    """On django.request: 4xx answers other than 403 are dropped — the access log (gunicorn's,
    or runserver's) has a line for each request already, so "Not Found: /x" would be a second
    one. 403 (who was refused what) and 5xx (with their traceback) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500 and status != 403)
