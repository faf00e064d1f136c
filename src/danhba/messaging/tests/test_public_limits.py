"""The pages a recipient opens without an account are rate-limited per client network: a
scanner walking unsubscribe tokens gets 429 with Retry-After and changes nothing; another
network is not held back; an IPv6 client counts by its /64."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from danhba.core.ratelimit import TokenBuckets
from danhba.messaging.links import Recipient, make_token
from danhba.messaging.models import Suppression
from danhba.messaging.preferences import form_token
from danhba.messaging.views import public

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public.unsubscribe_rate, "per_minute", 3)
    monkeypatch.setattr(public.unsubscribe_rate, "buckets", TokenBuckets())


def test_unsubscribe_page_answers_429_past_the_limit_and_does_nothing(limit_of_three: None, make_contact: Any) -> None:
    contact = make_contact(full_name="Lê Thị Hồng", emails=["hong@example.vn"])
    token = make_token(Recipient(contact.pk, 1))
    scanner = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        assert scanner.get(f"/email/unsubscribe/{token[:-3]}xyz/").status_code == 400
    refused = scanner.post(f"/email/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert not Suppression.objects.exists()
    # Someone else, on another network, unsubscribes as usual.
    person = Client(REMOTE_ADDR="198.51.100.7")
    assert person.post(f"/email/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Suppression.objects.get().email == "hong@example.vn"


def test_an_ipv6_client_counts_by_its_64_network(limit_of_three: None, make_contact: Any) -> None:
    contact = make_contact(full_name="Lê Văn Nam", emails=["nam@example.vn"])
    token = make_token(Recipient(contact.pk, 1))
    answers = [
        Client(REMOTE_ADDR=f"2001:db8:1:2::{i}").get(f"/email/unsubscribe/{token}/").status_code for i in range(1, 6)
    ]
    assert answers == [200, 200, 200, 429, 429]
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").get(f"/email/unsubscribe/{token}/").status_code == 200


def test_the_preference_centre_is_limited_too(monkeypatch: pytest.MonkeyPatch, make_contact: Any) -> None:
    monkeypatch.setattr(public.preferences_rate, "per_minute", 2)
    monkeypatch.setattr(public.preferences_rate, "buckets", TokenBuckets())
    contact = make_contact(full_name="Lê Thị Hồng", emails=["hong@example.vn"])
    token = make_token(Recipient(contact.pk, 1))
    scanner = Client(REMOTE_ADDR="203.0.113.9")
    answers = [scanner.get(f"/email/preferences/{token}/").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    form = {"action": "unsubscribe", "form_token": form_token(Recipient(contact.pk, 1))}  # a valid form
    refused = scanner.post(f"/email/preferences/{token}/", form)
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1 and not Suppression.objects.exists()
    # The same form from another network is taken: only the limiter refused the first.
    assert Client(REMOTE_ADDR="198.51.100.7").post(f"/email/preferences/{token}/", form).status_code < 400
    assert Suppression.objects.filter(email="hong@example.vn").exists()
