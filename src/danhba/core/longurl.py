"""A URL too long for danhba answers 414 in danhba's own words: JSON for the APIs.

``danhba serve`` runs gunicorn without a request-line limit of its own (gunicorn's largest is
8,190 bytes, and above it gunicorn answered with an HTML page that an API client cannot read).
The limit is here instead, checked once the view is known and before it runs. A view that must
answer whatever it is sent (the tracking pixel always answers its GIF) is marked
``@long_urls_answered_by_view``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext

from danhba.core.busy import wants_json

# Path plus query string, in bytes as sent (percent-encoded): room for the longest cursor
# (core.keyset.CURSOR_MAX) and any filters a page or client sends, and still small.
URL_MAX = 16_384
V = TypeVar("V", bound=Callable[..., Any])


def long_urls_answered_by_view(view: V) -> V:
    """Mark a view that answers any URL length itself (the limit here does not apply)."""
    view.long_urls_answered_by_view = True  # type: ignore[attr-defined]
    return view


class LongUrlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        length = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
        if length <= URL_MAX or getattr(view, "long_urls_answered_by_view", False):
            return None
        # Before LocaleMiddleware: the reader's language is read here (Accept-Language, cookie).
        with translation.override(translation.get_language_from_request(request)):
            message = gettext("The address is too long (%(length)s characters; at most %(max)s).") % {
                "length": length,
                "max": URL_MAX,
            }
        if wants_json(request):
            details = {"length": length, "max": URL_MAX}
            return JsonResponse({"code": "url_too_long", "message": message, "details": details}, status=414)
        return HttpResponse(message, status=414, content_type="text/plain; charset=utf-8")
