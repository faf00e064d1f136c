"""Content-Security-Policy on every response.

danhba's pages run no inline code: scripts and styles come from its own static files only, and
htmx is configured not to evaluate attribute code (``allowEval``) nor inject its own indicator
``<style>`` (base.html's htmx-config). So the policy needs no nonces and allows no
``unsafe-inline`` or ``unsafe-eval``: markup that slips into a page cannot run script.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def policy_header(policy: Mapping[str, Sequence[str]]) -> str:
    """The header value of a policy given as {directive: [sources]}."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy in ``settings.CONTENT_SECURITY_POLICY`` to every response that has none
    of its own (a view may set a narrower or a looser one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = policy_header(getattr(settings, "CONTENT_SECURITY_POLICY", {}))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and HEADER not in response:
            response[HEADER] = self.header
        return response
