"""The configured ESP's tracking webhook: ``/email/esp/<esp>/tracking/`` answers through
django-anymail's own view for that ESP (its authentication: HTTP basic auth with
``ANYMAIL_WEBHOOK_SECRET``, and the ESP's signature where it signs, e.g. Mailgun's
``ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY``), whose normalised events ``services/esp.py`` applies.

Only the ESP that ``EMAIL_URL`` names (``anymail://mailgun``) has a webhook: another ESP's URL is
a 404. A webhook with no authentication at all configured is refused (403) rather than open to
anyone; a payload anymail cannot read is a 400 (ESPs resend on a 5xx). A failure of danhba's own
processing of a readable event (``services/esp.EspEventFailed``) is not the payload's fault: it
stays a 500, so the ESP sends the event again."""

from __future__ import annotations

import logging
import warnings
from functools import cache
from typing import Any

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailInsecureWebhookWarning, AnymailWebhookValidationFailure
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from danhba.core.log import note_forbidden
from danhba.messaging import transport

log = logging.getLogger(__name__)


@cache
def _anymail_view(esp: str) -> Any:
    for pattern in anymail_urls.urlpatterns:
        if getattr(pattern, "name", "") == f"{esp}_tracking_webhook":
            return pattern.callback
    return None


def _refused(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse:
    if status == 403:
        note_forbidden(request, code)
    return JsonResponse({"code": code, "message": message}, status=status)


@csrf_exempt
def esp_tracking(request: HttpRequest, esp: str) -> HttpResponse:
    configured = transport.configured()
    view = _anymail_view(esp)
    if configured.kind != "anymail" or configured.esp != esp or view is None:
        raise Http404
    try:
        with warnings.catch_warnings():  # an open webhook is refused below, not warned about
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            check = view.view_class(**view.view_initkwargs)
    except ImproperlyConfigured as exc:
        log.warning("%s webhook not configured: %s", esp, exc)
        return _refused(request, 403, "not_configured", _("This webhook is not configured."))
    if check.warn_if_no_basic_auth and not check.basic_auth:
        return _refused(request, 403, "not_configured", _("Set ANYMAIL_WEBHOOK_SECRET to receive this webhook."))
    try:
        response: HttpResponse = view(request)
    except AnymailWebhookValidationFailure:
        return _refused(request, 403, "forbidden", _("The webhook's authentication failed."))
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        log.warning("%s webhook: unreadable payload: %r", esp, exc)
        return _refused(request, 400, "invalid", _("The payload could not be read."))
    return response
