"""Nothing answers 500: with the demo data loaded, every route of the site (walked from the URL
configuration, ids set to 1, which the demo's contacts, segments, campaigns… have) is fetched
by every role. Each answers with a page, a redirect, or a refusal (403/404/405/422), never a
server error — whatever the role may or may not see."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from danhba.core.tests.test_every_route_needs_login import GUARDED, _concrete

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def demo(users: dict[str, Any]) -> dict[str, Any]:
    call_command("demo", contacts=40, stdout=io.StringIO())
    return users


def test_no_page_is_a_server_error_for_any_role(demo: dict[str, Any]) -> None:
    failures = []
    answered: dict[int, int] = {}
    for role, user in sorted(demo.items()):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for route in GUARDED:
            url = _concrete(route)
            status = client.get(url).status_code
            answered[status] = answered.get(status, 0) + 1
            if status >= 500:
                failures.append(f"{role}: GET {url} → {status}")
    assert failures == []
    # The walk reached real pages, not only refusals.
    assert answered.get(200, 0) > 200
