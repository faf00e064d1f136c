"""The pure rules of decay: phones, freshness buckets, and the MX answer read from dnspython
(its resolver replaced: no network)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import dns.exception
import dns.resolver
import pytest

from danhba.quality import decay


@pytest.mark.parametrize(
    ("e164", "problem"),
    [("+84912345678", None), ("+841662345678", "old_phone"), ("+84362345678", None), ("+8400012", "bad_phone"),
     ("+14155552671", None), ("+1415", "bad_phone")],
)  # fmt: skip
def test_phone_problems(e164: str, problem: str | None) -> None:
    assert decay.phone_problem(e164) == problem


def test_buckets_cover_every_age_once() -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    ages = {
        0: "fresh",
        80: "fresh",
        100: "ageing",
        360: "ageing",
        380: "stale",
        700: "stale",
        760: "dead",
        5000: "dead",
    }
    for days, key in ages.items():
        assert decay.bucket_of(now - dt.timedelta(days=days), now) == key, days
    assert decay.bucket_of(now + dt.timedelta(days=3), now) == "fresh"


def _resolver(answers: dict[tuple[str, str], Any]) -> Any:
    class Resolver:
        lifetime = 0.0

        def resolve(self, name: str, rdtype: str) -> Any:
            answer = answers.get((name, rdtype), dns.resolver.NoAnswer())
            if isinstance(answer, Exception):
                raise answer
            return answer

    return Resolver


def test_mx_answers(monkeypatch: Any) -> None:
    mx = lambda host: SimpleNamespace(exchange=host)  # noqa: E731
    answers = {
        ("mail.vn", "MX"): [mx("mx1.mail.vn.")],
        ("null.vn", "MX"): [mx(".")],  # RFC 7505: accepts no mail
        ("gone.vn", "MX"): dns.resolver.NXDOMAIN(),
        ("web.vn", "A"): ["203.0.113.7"],  # no MX, an address: the implicit MX
        ("slow.vn", "MX"): dns.exception.Timeout(),
    }
    monkeypatch.setattr(dns.resolver, "Resolver", _resolver(answers))
    assert decay.dns_has_mail("mail.vn") is True
    assert decay.dns_has_mail("null.vn") is False
    assert decay.dns_has_mail("gone.vn") is False
    assert decay.dns_has_mail("web.vn") is True
    assert decay.dns_has_mail("nothing.vn") is False
    with pytest.raises(decay.LookupFailed):
        decay.dns_has_mail("slow.vn")
