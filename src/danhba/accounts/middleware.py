"""Per-user language and time zone: on pages a user's own choice beats the browser and the site
default; the API (``/api/``, ``/v1/``) answers in the language its client asks for."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

LANGUAGE_SESSION_KEY = "danhba_language"
API_PREFIXES = ("/api/", "/v1/")


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def api_language(request: HttpRequest, user: object | None) -> str:
    """The language of an API answer, errors included: the first language of ``Accept-Language``
    danhba speaks, else the calling user's own (an API key's user, or the session's), else the
    site default. Cookies and the session's choice, which are for pages, do not count."""
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    own = getattr(user, "language", "")
    return own if own in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def activate_language(request: HttpRequest, language: str) -> None:
    translation.activate(language)
    request.LANGUAGE_CODE = language


class UserLanguageMiddleware:
    """Runs before LocaleMiddleware: puts the logged-in user's language where it will look."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request.session.get(LANGUAGE_SESSION_KEY)
        if language in dict(settings.LANGUAGES) and not is_api(request):
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = language
        return self.get_response(request)


class UserTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        tz_name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        # After AuthenticationMiddleware (LocaleMiddleware runs before it and cannot see the
        # user): a logged-in user's own language beats the session, cookie and browser.
        signed_in = user if user is not None and user.is_authenticated else None
        if is_api(request):
            # An API key's user is known only later (accounts.api_auth sets it again then).
            activate_language(request, api_language(request, signed_in))
        elif (language := getattr(signed_in, "language", "")) in dict(settings.LANGUAGES):
            activate_language(request, language)
        return self.get_response(request)
