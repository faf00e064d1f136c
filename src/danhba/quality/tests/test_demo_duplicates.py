"""A new site's review queue is not empty: the demo plants near copies of a few contacts
(without diacritics, given name first, a mistyped phone or email, day and month swapped) and
the real-time check with the shipped model flags them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from danhba.quality.models import DuplicatePair

pytestmark = pytest.mark.django_db


def test_the_demo_has_duplicates_to_review(client_for: Any, users: Any) -> None:
    call_command("demo", contacts=120, stdout=io.StringIO())
    pairs = DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN, probability__gte=0.8)
    assert pairs.count() >= 4
    page = client_for(users["marketing"]).get("/quality/duplicates/").content.decode()
    assert all(f"/quality/duplicates/{p.pk}/" in page for p in pairs)
