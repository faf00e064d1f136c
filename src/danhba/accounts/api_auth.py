"""Who is calling the REST API: an API key (``Authorization: Bearer dbk_…`` or ``X-API-Key``)
or the browser session of a logged-in user (with Django's CSRF check, so htmx and scripts on
the pages can call the API). The caller then acts with its user's role, as in the UI."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyHeader, HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from danhba.accounts import permissions as perms
from danhba.accounts.middleware import activate_language, api_language
from danhba.accounts.models import ApiKey, User
from danhba.accounts.services import apikey_authenticate
from danhba.core.actor import Actor


def _user_from_key(request: HttpRequest, raw: str) -> User:
    """The active user behind ``raw``; a key that was sent but does not work is a 401 at once
    (no falling back to the session, so a client learns its key is wrong)."""
    key = apikey_authenticate(raw.strip()) if raw and len(raw) <= 200 else None
    if key is None or not key.user.is_active:
        raise AuthenticationError(401, _("The API key is missing, wrong or revoked."))
    request.api_key = key  # type: ignore[attr-defined]
    # A key acts as its user, in the user's language unless the client asks for another.
    activate_language(request, api_language(request, key.user))
    return key.user


class BearerKey(HttpBearer):
    """``Authorization: Bearer dbk_…``."""

    openapi_description = "An API key as a bearer token: `Authorization: Bearer dbk_…`."

    def authenticate(self, request: HttpRequest, token: str) -> User:
        return _user_from_key(request, token)


class HeaderKey(APIKeyHeader):
    """``X-API-Key: dbk_…``."""

    param_name = "X-API-Key"
    openapi_description = "An API key in the `X-API-Key` header."

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        if not key:
            return None
        return _user_from_key(request, key)


class BrowserSession(APIKeyCookie):
    """The session of a user logged in to the web pages. Unsafe methods need Django's CSRF
    token (the ``X-CSRFToken`` header htmx sends from ``base.html``)."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "The session cookie of a logged-in user; unsafe methods need the X-CSRFToken header."

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session means "not logged in" (401), checked before CSRF (which would say 403).
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(403, _("CSRF check failed: send the X-CSRFToken header with the csrftoken cookie."))
        return user


AUTH = [BearerKey(), HeaderKey(), BrowserSession()]


def api_user(request: HttpRequest) -> User:
    """The authenticated user of an API request (set by one of :data:`AUTH`)."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):
        raise AuthenticationError(401, _("Authentication required."))
    return user


def api_actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request, via="api", user=api_user(request))


def require(user: User, obj: str, action: str) -> None:
    """403 unless the user's role allows ``action`` on ``obj``."""
    perms.require(Actor(user=user, via="api"), obj, action)


def docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API docs and schema are for people who may use the API: a logged-in user or a
    valid key. Others get the login page (docs) or a 401 (schema)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return view(request, *args, **kwargs)
        raw = request.headers.get("X-API-Key", "")
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            raw = token
        key: ApiKey | None = apikey_authenticate(raw.strip()) if raw and len(raw) <= 200 else None
        if key is not None:
            return view(request, *args, **kwargs)
        if not request.path.endswith(".json"):
            try:
                resolve_url(settings.LOGIN_URL)
                return redirect_to_login(request.get_full_path())
            except NoReverseMatch:
                pass
        return JsonResponse(
            {"code": "unauthorized", "message": _("Log in or send an API key to read the API docs."), "details": {}},
            status=401,
        )

    return wrapped
