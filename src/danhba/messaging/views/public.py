"""Pages a recipient opens from an email, without an account: the unsubscribe page and the
RFC 8058 one-click unsubscribe.

- ``POST`` unsubscribes at once and answers 200: mail providers send it with no cookie and no
  CSRF token (the signed token in the URL is the proof), so the view is CSRF-exempt.
- ``GET`` only shows a page with a button: link scanners and previews follow GETs.
- A forged or altered token is refused (400) and changes nothing.
The preference centre (topics, pause) is a later slice; its link shows this page meanwhile."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from danhba.core.actor import client_ip
from danhba.core.ratelimit import PublicLimit, public_rate_limited
from danhba.messaging.links import read_token
from danhba.messaging.services.campaigns import unsubscribe

# A person opens this page a few times; a scanner walking tokens gets 429 with Retry-After.
unsubscribe_rate = PublicLimit("unsubscribe", 30)


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
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
