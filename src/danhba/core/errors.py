"""Errors services raise; the web UI shows them next to the fields, the API turns them into
``{"code", "message", "details"}`` with a 4xx status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details if details is not None else {}


class InvalidInput(ServiceError):
    """``details`` maps a field name to a list of messages."""

    status = 422
    code = "invalid"

    def __init__(self, details: dict[str, list[str]], message: str | None = None) -> None:
        from django.utils.translation import gettext

        super().__init__(message or gettext("Some fields are not valid."), details)


class PermissionDenied(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"
