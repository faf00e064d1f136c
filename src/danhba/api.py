"""danhba's REST API (django-ninja), mounted at ``/api/``; docs at ``/api/docs``, schema at
``/api/openapi.json`` (both for logged-in users or API key holders).

Every error, wherever it arises (request validation, malformed JSON, services, permissions,
unknown routes, wrong methods), is JSON ``{"code", "message", "details"}`` with its status, and
bad input is always a 4xx: the parser refuses text the databases cannot store, path ids are
bounded to 64 bits, and cursors are checked before they reach a query.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, OperationalError
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern, URLResolver, path, re_path
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from danhba.accounts.api import router as me_router
from danhba.accounts.api_auth import AUTH, docs_access
from danhba.analytics.api import router as analytics_router
from danhba.automation.api import router as automation_router
from danhba.capture.channels.api import router as channels_router
from danhba.capture.forms.api import router as capture_forms_router
from danhba.contacts import api as contacts_api
from danhba.core.busy import busy_response, is_busy
from danhba.core.errors import ServiceError
from danhba.core.log import note_forbidden
from danhba.ingest.api import router as ingest_router
from danhba.messaging.api import router as messaging_router
from danhba.orders import api as orders_api
from danhba.privacy.api import router as privacy_router
from danhba.quality.api import router as quality_router
from danhba.quality.api.merges import router as quality_merges_router
from danhba.sales.api import router as sales_router
from danhba.scoring.api import router as scoring_router
from danhba.segments.api import router as segments_router
from danhba.tracking.api import router as tracking_router
from danhba.webhooks.api import router as webhooks_router

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "throttled",
}


class UnstorableText(ValueError):
    """Text no database column takes: NUL characters or unpaired surrogates."""


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class StrictJSONParser(Parser):
    """JSON as RFC 8259 has it (no NaN/Infinity), with only text that SQLite and PostgreSQL
    can store (PostgreSQL refuses NUL; neither encodes a lone surrogate)."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body, parse_constant=_refuse_constant)
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                if _bad_text(item):
                    raise UnstorableText(item[:40])
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def error_response(
    status: int, message: str, details: Any = None, code: str = "", headers: dict[str, str] | None = None
) -> JsonResponse:
    response = JsonResponse(
        {
            "code": code or CODES.get(status, "error"),
            "message": str(message),
            "details": {} if details is None else details,
        },
        status=status,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class DanhbaAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """The document is a function of the routes, fixed once the module is imported, and
        building it costs about 1.8 s of CPU: it is built once per prefix and the same
        document is given to every caller (who only read or serialise it)."""
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        documents: dict[str, OpenAPISchema] = self.__dict__.setdefault("_openapi_documents", {})
        if path_prefix not in documents:
            documents[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return documents[path_prefix]

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        """Ninja's routes, each wrapped so the few responses ninja makes outside its exception
        handlers are JSON too, plus a JSON 404 for every other path under /api/."""
        urls: list[URLResolver | URLPattern] = []
        for pattern in super()._get_urls():
            if isinstance(pattern, URLPattern):
                if pattern.name == "api-root":
                    # Ninja's root raises an HTML 404; the name stays for ninja's reverse().
                    pattern = path("", api_root, name="api-root")
                pattern.callback = _json_errors(pattern.callback)
            urls.append(pattern)
        # [\s\S], not ".": a path holding a newline (%0A in a text id) is a JSON 404 too.
        urls.append(re_path(r"^[\s\S]*$", _json_errors(not_found), name="not-found"))
        return urls


def _json_errors(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = _answer(view, request, *args, **kwargs)
        # API answers carry personal data (errors echo input too): no browser or proxy keeps one.
        add_never_cache_headers(response)
        return response

    return csrf_exempt(wrapped)


def _answer(view: Callable[..., HttpResponseBase], request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    try:
        bad = [key for key, values in request.GET.lists() if _bad_text(key) or any(_bad_text(v) for v in values)]
    except SuspiciousOperation:
        return error_response(400, _("The query string is not valid."))
    if bad:
        details = [{"loc": ["query", key], "msg": _("must not contain NUL characters")} for key in bad]
        return error_response(422, _("The request is not valid."), details)
    response = view(request, *args, **kwargs)
    if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
        return error_response(
            405,
            _("This method is not allowed here."),
            {"allowed": response.get("Allow", "")},
            headers={"Allow": response.get("Allow", "")},
        )
    return response


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return error_response(404, _("There is no API endpoint at this address; see /api/docs."))


def api_root(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return JsonResponse({"name": "danhba API", "version": api.version, "docs": request.path + "docs"})


api = DanhbaAPI(
    title="danhba API",
    version="1",
    description=(
        "Contacts, companies, tags, custom fields, timeline, consent, events and orders of danhba. "
        "Events go in through the Segment-compatible `/v1` API and are read back here. Authenticate "
        "with an API key (`Authorization: Bearer dbk_…` or `X-API-Key: dbk_…`) or, from the web "
        "pages, the session cookie plus the `X-CSRFToken` header. A key acts with its user's "
        "role: records outside the role's visibility are 404, actions it lacks are 403, and "
        "sensitive fields it is not granted are absent from responses and refused on write. "
        "Every error is `{code, message, details}`."
    ),
    auth=AUTH,
    parser=StrictJSONParser(),
    docs_decorator=docs_access,
    urls_namespace="api",
)
api.add_router("/contacts", contacts_api.contacts)
api.add_router("/timeline", contacts_api.timeline)
api.add_router("/companies", contacts_api.companies)
api.add_router("/tags", contacts_api.tags)
api.add_router("/custom-fields", contacts_api.custom_fields)
api.add_router("", privacy_router)
api.add_router("", me_router)
api.add_router("", ingest_router)
api.add_router("", webhooks_router)
api.add_router("/orders", orders_api.orders)
api.add_router("/products", orders_api.products)
api.add_router("/purchase-stats", orders_api.purchase_stats)
api.add_router("/segments", segments_router)
api.add_router("", messaging_router)
api.add_router("/scoring", scoring_router)
api.add_router("/quality", quality_router)
api.add_router("/quality", quality_merges_router)
api.add_router("/sales", sales_router)
api.add_router("/capture/channels", channels_router)
api.add_router("/capture", capture_forms_router)
api.add_router("/automation", automation_router)
api.add_router("/home", analytics_router)
api.add_router("", tracking_router)


# --- exception handlers: every error is {"code", "message", "details"} -----------------------


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    if exc.status == 403:
        note_forbidden(request, exc.message)
    return error_response(exc.status, exc.message, exc.details, code=exc.code)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors]
    return error_response(422, _("The request is not valid."), details)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, UnstorableText):
        return error_response(
            422, _("The request is not valid."), [{"loc": ["body"], "msg": _("text must not contain NUL characters")}]
        )
    if isinstance(cause, RequestDataTooBig):
        return error_response(413, _("The request body is too large."))
    if isinstance(cause, ValueError | RecursionError):
        return error_response(400, _("The request body is not valid JSON."), code="malformed_json")
    if isinstance(exc, AuthenticationError) or exc.status_code == 401:
        message = exc.message
        if message == "Unauthorized":  # ninja's word when no credentials came at all
            message = _("Authentication required: send an API key or log in.")
        return error_response(401, message, headers={"WWW-Authenticate": 'Bearer realm="danhba"'})
    if exc.status_code == 403:
        note_forbidden(request, exc.message)
    return error_response(exc.status_code, exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, _("Not found."))


@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    message = str(exc) or _("Your role does not allow this.")
    note_forbidden(request, message)
    return error_response(403, message)


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(413, _("The request body is too large."))


@api.exception_handler(MultiPartParserError)
def _bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    # A multipart body without a boundary, or cut short: the client's request, not our fault.
    return error_response(400, _("The multipart body is not valid."), {"reason": str(exc)}, code="bad_multipart")


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return error_response(400, _("The request is not valid."))


@api.exception_handler(DjangoValidationError)
def _model_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    # A value a service let through but a model field refused: still the client's input.
    logger.warning("model validation error on %s: %s", request.path, exc)
    return error_response(422, _("Some values are not valid."), {"__all__": exc.messages})


@api.exception_handler(ProtectedError)
def _protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
    # A delete a service did not check first (core.db.protected_references): other rows still
    # point at the object. The client's request cannot succeed as it is: 409, and a log line.
    logger.warning("delete refused on %s: %s", request.path, exc)
    return error_response(409, _("This is still in use and cannot be deleted."), code="conflict")


@api.exception_handler(DataError)
def _data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    # The database refused a value (too long, out of range) that validation should have caught;
    # the services' transaction has rolled back, so the client gets a 422, and we a log line.
    logger.warning("database refused a value on %s: %s", request.path, exc)
    return error_response(422, _("A value is too long or out of range."))


@api.exception_handler(OverflowError)
def _overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # A number or date beyond what Python's datetime or the database holds, e.g. a custom
    # date-time in the year 1 converted to UTC: bad input that slipped past validation.
    logger.warning("value out of range on %s: %s", request.path, exc)
    return error_response(422, _("A value is too large or out of range."))


@api.exception_handler(OperationalError)
def _operational_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # A busy database (SQLite locked, a PostgreSQL lock or statement timeout): 503, try again.
    return busy_response(request, exc) if is_busy(exc) else _server_error(request, exc)


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, _("Something went wrong on our side; it has been logged."), code="server_error")
