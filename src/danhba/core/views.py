"""View helpers every app's pages share: the typed request, the role check, the htmx event that
tells panels to refresh, and the safe "next" URL."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from danhba.core.errors import NotFound, PermissionDenied

if TYPE_CHECKING:
    from danhba.accounts.models import User

CHANGED = "contact-changed"  # htmx event: panels showing derived data refresh themselves


class AuthedRequest(HttpRequest):
    user: User
    htmx: HtmxDetails


View = Callable[..., HttpResponseBase]


def role_required(obj: str, action: str) -> Callable[[View], View]:
    """Login, then the role's object permission (403); services' NotFound becomes a 404 and
    their PermissionDenied a 403."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.can(obj, action):
                raise DjangoPermissionDenied
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from None
            except PermissionDenied:
                raise DjangoPermissionDenied from None

        return login_required(wrapper)

    return decorator


def require(request: AuthedRequest, obj: str, action: str) -> None:
    """A second permission inside a view (403 without it)."""
    if not request.user.can(obj, action):
        raise DjangoPermissionDenied


def next_url(request: HttpRequest, default: str) -> str:
    """The ``next`` parameter when it points into this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


def changed(response: HttpResponse) -> HttpResponse:
    """Tell the page's panels that the contact changed (they reload themselves)."""
    return trigger_client_event(response, CHANGED)


class ServiceErrorMiddleware:
    """A service's refusal that a page did not catch (a malformed cursor in the URL, a conflict)
    is the request's fault, not the server's: the page answers with the error's own status and
    message (400, 404, 409, 422), never a 500. The API has its own handlers (danhba/api.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from danhba.core.errors import ServiceError

        if not isinstance(exception, ServiceError) or request.path.startswith("/api/"):
            return None
        return render(request, "error.html", {"message": exception.message}, status=exception.status)
