"""The workflow editor answers odd posts with the form again (422), never a server error: a
row number that is a digit to Python but not a number ("²"), JSON nested past the parser's
depth, a branch row asked for conditions by an odd number."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.tests.test_views import STEPS, editor_post

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    "extra",
    [
        {"steps-0-branch-branches-²-label": "a", "steps-0-kind": "branch", "steps-0-branch-shown": "1"},
        {"steps-0-kind": "webhook", "steps-0-webhook-data": DEEP, "steps-0-webhook-shown": "1"},
        {"steps-0-params": DEEP},
        {"trigger_params": DEEP},
        {"edit_conditions": "²"},
    ],
    ids=["superscript-row", "deep-webhook-data", "deep-step-json", "deep-trigger-json", "superscript-edit-row"],
)
def test_odd_editor_posts_get_the_form_again(users: Any, client_for: Any, extra: dict[str, str]) -> None:
    client = client_for(users["marketing"])
    answer = client.post("/automation/new/", editor_post("Thử dữ liệu lạ", STEPS, **extra))
    assert answer.status_code in (200, 302, 422), answer.status_code
    if answer.status_code == 302:  # taken as it could be read: then it is a real workflow
        assert Workflow.objects.filter(name="Thử dữ liệu lạ").exists()
