"""A busy database answers 503 with ``Retry-After``, never 500.

SQLite has one writer at a time: a write that waits longer than ``busy_timeout`` fails with
"database is locked". PostgreSQL gives up on a lock after ``lock_timeout`` or a statement after
``statement_timeout``, and aborts one side of a deadlock or a serialization conflict. None of
these is the request's fault, and trying again a moment later works: the client is told so
(``503 Service Unavailable`` and ``Retry-After``), as a JSON error for the APIs (``/api/``,
``/v1/``) and as a short page for the web UI.

``BusyDatabaseMiddleware`` turns such an exception raised by a view into that answer; the API
(django-ninja, which handles its views' exceptions itself) calls ``busy_response`` from its
exception handler."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# PostgreSQL SQLSTATEs: lock_not_available, serialization_failure, deadlock_detected,
# query_canceled (a statement timeout).
BUSY_SQLSTATES = frozenset({"55P03", "40001", "40P01", "57014"})
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says the database was too busy to answer in time (worth a retry)."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    text = str(exc).lower()
    return any(words in text for words in SQLITE_BUSY)


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/v1/")) or "application/json" in request.headers.get("Accept", "")


def busy_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 answer to a request that found the database busy."""
    logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
    message = gettext("The database is busy. Please try again in a moment.")
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {"code": "busy", "message": message, "details": {"retry_after": RETRY_AFTER_SECONDS}}, status=503
        )
    else:
        title = gettext("Busy")
        response = HttpResponse(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class BusyDatabaseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response(request, exception) if is_busy(exception) else None
