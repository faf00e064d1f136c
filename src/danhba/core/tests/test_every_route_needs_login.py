"""Security by default: every route of the site, walked from the URL configuration, turns an
anonymous visitor away (to the login page, or 401/403/405 for the API), except the few public
ones, which are listed here by name so that a new public route is a decision, not an accident."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Routes that answer without a login, each with why (they take signed tokens or write keys,
# are rate-limited, and reveal nothing about the data).
PUBLIC = {
    "login/": "the login page itself",
    "email/unsubscribe/<str:token>/": "one-click unsubscribe (signed token)",
    "sales/calendar/<str:token>.ics": "a user's task calendar feed (secret token, 404 without it)",
    "email/preferences/<str:token>/": "the preference centre (signed token)",
    "email/esp/<str:esp>/tracking/": "ESP webhooks (anymail's own authentication)",
    "email/o/<str:token>.gif": "open pixel (signed token)",
    "email/c/<str:token>/": "tracked link redirect (signed token)",
    "capture/hooks/facebook/<str:key>/": "Facebook Lead Ads webhook (X-Hub-Signature-256, verify token handshake)",
    "capture/hooks/zalo/<str:key>/": "Zalo OA webhook (X-ZEvent-Signature)",
    "f/embed.js": "the web form embed script (static code, no data)",
    "f/<slug:slug>": "a web form's hosted page and iframe (rate-limited, honeypot, signed render token)",
    "f/<slug:slug>/schema": "a web form's questions for the script embed (CORS for the form's sites; rate-limited)",
    "f/<slug:slug>/submit": "a web form's submissions from the script embed (CORS for the form's sites; rate-limited)",
    "f/confirm/<str:token>/": "double opt-in confirmation of a form submission (signed token; rate-limited)",
    "api/": "the API's root: its name and where its docs are",
    r"api/^[\s\S]*$": "the API's catch-all: a JSON 404 for unknown paths",
}
PUBLIC_PREFIXES = ("v1/",)  # the event intake (Segment-compatible), authenticated by write keys


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _concrete(route: str) -> str:
    url = route.lstrip("^").rstrip("$")
    url = re.sub(r"<int:[^>]+>", "1", url)
    url = re.sub(r"<uuid:[^>]+>", "00000000-0000-0000-0000-000000000001", url)
    url = re.sub(r"<[^>]+>", "x", url)
    return "/" + url


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))
GUARDED = [r for r in ROUTES if r not in PUBLIC and not r.startswith(PUBLIC_PREFIXES)]


def test_the_walk_finds_the_site() -> None:
    assert len(GUARDED) > 200
    assert "contacts/" in GUARDED and any(r.startswith("api/contacts") for r in GUARDED)
    assert set(PUBLIC) <= set(ROUTES), "a public route listed here no longer exists"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_turned_away_everywhere(client: Any, method: str) -> None:
    let_in = []
    for route in GUARDED:
        response = getattr(client, method)(_concrete(route))
        refused = response.status_code in (401, 403, 405)
        to_login = response.status_code == 302 and response["Location"].startswith("/login/")
        if not (refused or to_login):
            let_in.append(f"{method.upper()} {_concrete(route)} → {response.status_code}")
    assert let_in == []
