"""The public side of web forms, taking no login: the hosted page (/f/<slug>, also the iframe),
the script embed (/f/embed.js, which asks /f/<slug>/schema and posts to /f/<slug>/submit from
the host page's origin: CORS for exactly the form's allowed origins, preflight included), and
the double opt-in confirmation (/f/confirm/<signed token>).

Spam: a honeypot field, a rate limit per client network (``core.ratelimit``), and, when the
form asks for it, a minimum time to fill read from the signed render token. A honeypot or
too-fast submission gets the same answer as a good one (a bot learns nothing) and is only
counted; the rate limit answers 429 with Retry-After.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from danhba.capture.forms import fields as ff
from danhba.capture.forms import selectors, services, tokens
from danhba.capture.models import FormSubmission, WebForm
from danhba.core.actor import client_ip
from danhba.core.csp import HEADER, policy_header
from danhba.core.errors import NotFound
from danhba.core.ratelimit import PublicLimit

SUBMIT_LIMIT = PublicLimit("form-submit", 10)  # submissions a minute per client network and form
SHOW_LIMIT = PublicLimit("form-show", 120)
MAX_BODY = 64 * 1024


def _form(slug: str) -> WebForm:
    form = WebForm.objects.filter(slug=slug[:80], is_active=True).first()
    if form is None:
        raise Http404(_("No such form."))
    return form


def _too_many(wait: int) -> HttpResponse:
    response = HttpResponse(_("Too many requests; try again in %(n)s seconds.") % {"n": wait}, status=429,
                            content_type="text/plain; charset=utf-8")  # fmt: skip
    response["Retry-After"] = str(wait)
    response["Cache-Control"] = "no-store"
    return response


# --- what is shown --------------------------------------------------------------------------


def _shown(request: HttpRequest, form: WebForm, visitor: str, anonymous_id: str) -> tuple[list[dict[str, Any]], str]:
    """The questions for this visitor and the signed render token that remembers them."""
    contact = selectors.known_contact(visitor_contact_id=tokens.read_visitor_token(visitor),
                                      anonymous_id=anonymous_id)  # fmt: skip
    questions = selectors.questions_for(form, contact)
    token = tokens.render_token(form.pk, [q["target"] for q in questions], contact.pk if contact else None)
    return questions, token


def _widgets(questions: list[dict[str, Any]]) -> list[ff.Widget]:
    customs = ff.custom_fields()
    return [ff.widget(q, customs) for q in questions]


def hosted_policy(form: WebForm) -> str:
    """The site's policy, but framed by the sites the form lists and posting (or redirecting)
    where the form goes."""
    policy = {k: list(v) for k, v in settings.CONTENT_SECURITY_POLICY.items()}
    policy["frame-ancestors"] = ["'self'", *form.allowed_origins]
    redirect_origin = ff.origin_of(form.redirect_url) if form.redirect_url else None
    policy["form-action"] = ["'self'", *([redirect_origin] if redirect_origin else [])]
    return policy_header(policy)


def _page(request: HttpRequest, form: WebForm, context: dict[str, Any], status: int = 200) -> HttpResponse:
    with translation.override(form.language):
        response = render(request, "capture/forms/public_form.html", {"form": form, **context}, status=status)
    response[HEADER] = hosted_policy(form)
    response["Cache-Control"] = "no-store"
    return response


# --- taking a submission --------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # "ok" (also for silently blocked spam), "invalid", "limited"
    errors: dict[str, list[str]] = field(default_factory=dict)
    wait: int = 0
    submission: FormSubmission | None = None


def _payload(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body[:MAX_BODY] or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}
    return {k: (v if len(v) > 1 or k == "consent" else v[0]) for k, v in request.POST.lists()}


def _context(request: HttpRequest, payload: dict[str, Any], known: int | None) -> dict[str, Any]:
    def text(key: str) -> str:
        value = payload.get(key)
        return value if isinstance(value, str) else ""

    return {
        "utm": {k: text(k) for k in ff.UTM_KEYS if text(k)},
        "page_url": text("page_url"),
        "referrer": text("referrer"),
        "anonymous_id": text("anonymous_id"),
        "known_contact_id": known,
        "ip": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
    }


_NOT_STORED = {ff.HONEYPOT, ff.TOKEN_FIELD, "visitor", "anonymous_id", "page_url", "referrer", *ff.UTM_KEYS}


def _screen(request: HttpRequest, form: WebForm, payload: dict[str, Any]) -> tuple[Outcome | None, dict[str, Any]]:
    """The spam and flood checks: (the outcome of a blocked submission or None, the render token's
    contents). A bot is told "ok" and counted, so it learns nothing."""
    wait = SUBMIT_LIMIT.wait(request, extra=str(form.pk))
    if wait:
        services.form_count(form.pk, "blocked_rate")
        return Outcome("limited", wait=wait), {}
    if payload.get(ff.HONEYPOT):
        services.form_count(form.pk, "blocked_honeypot")
        return Outcome("ok"), {}
    rendered = tokens.read_render_token(payload.get(ff.TOKEN_FIELD), form.pk)
    if form.min_fill_seconds and (rendered is None or time.time() - rendered["t"] < form.min_fill_seconds):
        services.form_count(form.pk, "blocked_too_fast")
        return Outcome("ok"), {}
    return None, rendered or {}


def take(request: HttpRequest, form: WebForm, payload: dict[str, Any]) -> Outcome:
    """The rules every door shares (hosted page, iframe, script embed)."""
    blocked, rendered = _screen(request, form, payload)
    if blocked is not None:
        return blocked
    by_target = {q["target"]: q for q in form.all_questions()}
    shown = [t for t in rendered.get("k", []) if t in by_target] or [q["target"] for q in form.fields]
    with translation.override(form.language):
        answers = ff.read_answers([by_target[t] for t in shown], form.consents, payload)
    if answers.errors:
        return Outcome("invalid", errors=answers.errors)
    known = rendered.get("c") or tokens.read_visitor_token(payload.get("visitor"))
    stored = {k: v for k, v in payload.items() if k not in _NOT_STORED and (k in by_target or k == "consent")}
    context = _context(request, payload, known if isinstance(known, int) else None)
    submission = services.submission_store(
        form=form, payload=stored, shown=shown, consents=answers.consents, context=context
    )
    return Outcome("ok", submission=services.submission_process(submission=submission))


def _visitor_token(outcome: Outcome) -> str:
    """A token only to the browser that made the contact, or that already held one for it: a
    submission matched by an email (anyone may type anyone's) must not hand out that contact."""
    sub = outcome.submission
    if sub is None or not sub.contact_id:
        return ""
    if not (sub.created_contact or sub.known_contact_id == sub.contact_id):
        return ""
    return tokens.visitor_token(sub.contact_id)


# --- the hosted page and the iframe ---------------------------------------------------------


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def hosted(request: HttpRequest, slug: str) -> HttpResponse:
    form = _form(slug)
    embedded = request.GET.get("embed") == "1"
    if request.method == "POST":
        payload = _payload(request)
        outcome = take(request, form, payload)
        if outcome.status == "limited":
            return _too_many(outcome.wait)
        if outcome.status == "invalid":
            questions, token = _shown(request, form, request.COOKIES.get(tokens.VISITOR_COOKIE, ""), "")
            context = {"widgets": _widgets(questions), "token": token, "errors": outcome.errors, "values": payload,
                       "embedded": embedded, "hidden": _hidden(payload)}  # fmt: skip
            return _page(request, form, context, status=422)
        response = (
            redirect(form.redirect_url)
            if form.redirect_url
            else _page(request, form, {"thanks": True, "embedded": embedded})
        )
        visitor = _visitor_token(outcome)
        if visitor:
            response.set_cookie(tokens.VISITOR_COOKIE, visitor, max_age=tokens.VISITOR_MAX_AGE, path="/f/",
                                secure=request.is_secure(), httponly=True,
                                samesite="None" if request.is_secure() else "Lax")  # fmt: skip
        return response
    wait = SHOW_LIMIT.wait(request)
    if wait:
        return _too_many(wait)
    questions, token = _shown(request, form, request.COOKIES.get(tokens.VISITOR_COOKIE, ""), request.GET.get("aid", ""))
    services.form_count(form.pk, "views")
    hidden = {k: request.GET[k] for k in ff.UTM_KEYS if request.GET.get(k)}
    hidden["referrer"] = request.META.get("HTTP_REFERER", "")[:1000]
    hidden["page_url"] = request.build_absolute_uri()[:1000]
    context = {"widgets": _widgets(questions), "token": token, "errors": {}, "values": {}, "embedded": embedded,
               "hidden": hidden}  # fmt: skip
    return _page(request, form, context)


def _hidden(payload: dict[str, Any]) -> dict[str, str]:
    keys = (*ff.UTM_KEYS, "referrer", "page_url", "anonymous_id")
    return {k: payload[k] for k in keys if isinstance(payload.get(k), str)}


# --- the script embed -----------------------------------------------------------------------


def _allowed(request: HttpRequest, form: WebForm) -> tuple[bool, str]:
    """(may this browser call, its origin). No Origin header: not a cross-origin browser call
    (a server posting, or the same site), so allowed."""
    origin = request.headers.get("Origin", "")
    if not origin:
        return True, ""
    own = urlsplit(settings.SITE_URL)
    same = origin in (f"{own.scheme}://{own.netloc}", f"{request.scheme}://{request.get_host()}")
    return same or origin in form.allowed_origins, origin


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    response["Cache-Control"] = "no-store"
    return response


def _preflight(request: HttpRequest, form: WebForm, methods: str) -> HttpResponse:
    allowed, origin = _allowed(request, form)
    if not allowed:
        return _cors(HttpResponse(status=403), "")
    response = _cors(HttpResponse(status=204), origin)
    response["Access-Control-Allow-Methods"] = methods
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    return response


def _refused(origin: str) -> HttpResponse:
    return _cors(JsonResponse({"ok": False, "error": "origin"}, status=403), "")


@csrf_exempt
@require_http_methods(["GET", "OPTIONS"])
def schema(request: HttpRequest, slug: str) -> HttpResponse:
    form = _form(slug)
    if request.method == "OPTIONS":
        return _preflight(request, form, "GET, OPTIONS")
    allowed, origin = _allowed(request, form)
    if not allowed:
        return _refused(origin)
    wait = SHOW_LIMIT.wait(request)
    if wait:
        return _cors(_too_many(wait), origin)
    questions, token = _shown(request, form, request.GET.get("visitor", ""), request.GET.get("aid", ""))
    services.form_count(form.pk, "views")
    with translation.override(form.language):
        data = {
            "form": form.slug, "name": form.name, "language": form.language, "token": token,
            "honeypot": ff.HONEYPOT, "token_field": ff.TOKEN_FIELD,
            "fields": [w.__dict__ for w in _widgets(questions)],
            "consents": [{k: c[k] for k in ("purpose", "text", "required")} for c in form.consents],
            "submit_label": form.submit_label or _("Send"),
            "messages": {"sending": _("Sending…"), "busy": _("Too many tries; please wait a minute."),
                         "failed": _("The form could not be sent; please try again."),
                         "invalid": _("Please correct the fields marked below."), "required": _("required")},
        }  # fmt: skip
    return _cors(JsonResponse(data), origin)


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def submit(request: HttpRequest, slug: str) -> HttpResponse:
    form = _form(slug)
    if request.method == "OPTIONS":
        return _preflight(request, form, "POST, OPTIONS")
    allowed, origin = _allowed(request, form)
    if not allowed:
        return _refused(origin)
    outcome = take(request, form, _payload(request))
    if outcome.status == "limited":
        return _cors(_too_many(outcome.wait), origin)
    with translation.override(form.language):
        if outcome.status == "invalid":
            body = {"ok": False, "message": _("Please correct the fields marked below."), "errors": outcome.errors}
            return _cors(JsonResponse(body, status=422), origin)
        thanks = form.thanks_message or _("Thank you! We have received your details.")
    body = {"ok": True, "message": thanks, "redirect": form.redirect_url, "visitor": _visitor_token(outcome)}
    return _cors(JsonResponse(body), origin)


@cache
def _embed_source() -> bytes:
    return (Path(__file__).parent.parent / "static" / "capture" / "embed.js").read_bytes()


@require_http_methods(["GET"])
def embed_js(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(_embed_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    # Loaded by <script> from other sites: no CORS needed, but say it may be.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# --- double opt-in --------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners open links; only a person's click confirms), POST confirms."""
    wait = SHOW_LIMIT.wait(request, extra="confirm")
    if wait:
        return _too_many(wait)
    submission_id = tokens.read_confirm_token(token)
    submission = (
        FormSubmission.objects.select_related("form").filter(pk=submission_id).first() if submission_id else None
    )
    if submission is None:
        raise Http404(_("This link is no longer valid."))
    form = submission.form
    done = submission.confirmed_at is not None
    if request.method == "POST" and not done:
        wait = SUBMIT_LIMIT.wait(request, extra="confirm")
        if wait:
            return _too_many(wait)
        try:
            services.submission_confirm(submission_id=submission.pk)
        except NotFound:
            raise Http404(_("This link is no longer valid.")) from None
        done = True
    with translation.override(form.language):
        response = render(request, "capture/forms/confirm.html", {"form": form, "done": done})
    response["Cache-Control"] = "no-store"
    return response
