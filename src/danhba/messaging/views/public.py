"""Pages a recipient opens from an email, without an account: the unsubscribe page with the
RFC 8058 one-click unsubscribe, and the preference centre.

- ``POST`` to the unsubscribe page unsubscribes at once and answers 200: mail providers send it
  with no cookie and no CSRF token (the signed token in the URL is the proof), so the view is
  CSRF-exempt.
- ``GET`` only shows a page with a button: link scanners and previews follow GETs.
- A forged or altered token is refused (400) and changes nothing.
- The preference centre (topics, a pause, unsubscribe from everything) shows the address masked
  and nothing else about the contact; its form carries a signed form token bound to the
  recipient instead of the CSRF cookie (``messaging/preferences.py``). It speaks the browser's
  language unless ``?lang=`` says otherwise (links on the page switch).
Both are rate-limited per client network (``core.ratelimit``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from danhba.core.actor import Actor, client_ip
from danhba.core.errors import ServiceError
from danhba.core.ratelimit import PublicLimit, public_rate_limited
from danhba.messaging import selectors
from danhba.messaging.links import Recipient, read_token
from danhba.messaging.preferences import PAUSE_MONTHS, form_token, form_token_ok
from danhba.messaging.services.campaigns import unsubscribe
from danhba.messaging.services.preferences import preferences_resume, preferences_save

# A person opens this page a few times; a scanner walking tokens gets 429 with Retry-After.
unsubscribe_rate = PublicLimit("unsubscribe", 30)
preferences_rate = PublicLimit("preferences", 30)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
@public_rate_limited(unsubscribe_rate)
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    recipient = read_token(token)
    if recipient is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        unsubscribe(
            recipient=recipient,
            ip_address=client_ip(request),
            proof=f"{'one-click (RFC 8058)' if one_click else 'unsubscribe page'}, campaign {recipient.campaign_id}",
        )
        response = render(request, "messaging/unsubscribe.html", {"done": True})
    else:
        response = render(request, "messaging/unsubscribe.html", {})
    return _private(response)


@csrf_exempt  # the form's signed token, bound to the recipient, is the check (module docstring)
@require_http_methods(["GET", "POST"])
@public_rate_limited(preferences_rate)
def preferences_page(request: HttpRequest, token: str) -> HttpResponse:
    language = request.POST.get("lang") or request.GET.get("lang") or ""
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        return _private(_preferences(request, token, language))


def _preferences(request: HttpRequest, token: str, language: str) -> HttpResponse:
    recipient = read_token(token)
    view = selectors.preferences_of(recipient.contact_id) if recipient else None
    if recipient is None or view is None:
        return render(request, "messaging/preferences.html", {"invalid": True}, status=400)
    error = ""
    if request.method == "POST":
        if not form_token_ok(request.POST.get("form_token", ""), recipient):
            error = _("This form has expired. Your choices are shown again: please save once more.")
        else:
            try:
                done = _apply(request, recipient)
            except ServiceError as exc:
                error = exc.message
            else:
                return redirect(f"{request.path}?lang={language}&done={done}")
    context = {
        "view": view,
        "form_token": form_token(recipient),
        "lang": language,
        "pause_choices": PAUSE_MONTHS,
        "done": request.GET.get("done", ""),
        "error": error,
        "languages": settings.LANGUAGES,
    }
    return render(request, "messaging/preferences.html", context, status=400 if error else 200)


def _apply(request: HttpRequest, recipient: Recipient) -> str:
    """One change from the form; the word the page confirms it with."""
    actor = Actor(user=None, via="ui", ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:255])
    action = request.POST.get("action", "save")
    if action == "unsubscribe":
        proof = f"preference centre, campaign {recipient.campaign_id}"
        unsubscribe(recipient=recipient, ip_address=actor.ip, proof=proof)
        return "unsubscribed"
    if action == "resume":
        preferences_resume(recipient=recipient, actor=actor)
        return "resumed"
    pause = request.POST.get("pause", "") or "0"
    offered = {str(months): months for months in (0, *PAUSE_MONTHS)}
    preferences_save(
        recipient=recipient,
        actor=actor,
        subscribed_topics=set(request.POST.getlist("topic")),
        pause_months=offered.get(pause, -1),  # anything not offered is the form's error, never int()'s
    )
    return "paused" if pause not in ("", "0") else "saved"
