"""Pure rules of data decay (no database): what a phone number's problem is, how old a
contact's data is (the freshness buckets), and the MX lookup through dnspython. The services
call these; tests call them directly."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from danhba.core.normalize import OLD_MOBILE_PREFIXES

OLD_PHONE, BAD_PHONE = "old_phone", "bad_phone"


def months_ago(now: dt.datetime, months: int) -> dt.datetime:
    """``now`` less a number of months counted as 30.44 days (freshness needs no calendar)."""
    return now - dt.timedelta(days=round(months * 30.44))


@dataclass(frozen=True)
class Bucket:
    key: str
    label: object
    # Data last seen at least ``min_months`` ago and less than ``max_months`` (None: no end).
    min_months: int
    max_months: int | None

    def bounds(self, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime]:
        """(oldest seen_at included or None, newest seen_at excluded)."""
        newest = months_ago(now, self.min_months) if self.min_months else now + dt.timedelta(days=36500)
        oldest = months_ago(now, self.max_months) if self.max_months is not None else None
        return oldest, newest


BUCKETS = (
    Bucket("fresh", _("Fresh (under 3 months)"), 0, 3),
    Bucket("ageing", _("Ageing (3–12 months)"), 3, 12),
    Bucket("stale", _("Stale (1–2 years)"), 12, 24),
    Bucket("dead", _("Long dead (2 years or more)"), 24, None),
)
BUCKET_KEYS = tuple(b.key for b in BUCKETS)


def bucket(key: str) -> Bucket:
    return next(b for b in BUCKETS if b.key == key)


def bucket_of(seen_at: dt.datetime, now: dt.datetime) -> str:
    for b in BUCKETS:
        oldest, newest = b.bounds(now)
        if seen_at < newest and (oldest is None or seen_at >= oldest):
            return b.key
    return BUCKETS[0].key  # in the future: fresh


@functools.lru_cache(maxsize=65536)
def phone_problem(e164: str) -> str | None:
    """``old_phone`` for a Vietnamese mobile still in its pre-2018 11-digit form (+84 16x…,
    never converted), ``bad_phone`` for a number libphonenumber says cannot exist, else None."""
    if e164.startswith("+84"):
        national = "0" + e164[3:]
        if len(national) == 11 and national[:4] in OLD_MOBILE_PREFIXES:
            return OLD_PHONE
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return BAD_PHONE
    return None if phonenumbers.is_valid_number(number) else BAD_PHONE


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1].strip().lower().rstrip(".") if "@" in email else ""


class LookupFailed(Exception):
    """The DNS did not answer (timeout, no server): nothing is known about the domain."""


# domain → True (it receives mail), False (it cannot), or raises LookupFailed.
MxLookup = Callable[[str], bool]


def dns_has_mail(domain: str) -> bool:
    """Whether a domain can receive mail: an MX record other than the null MX (RFC 7505), or,
    without MX, an address record (RFC 5321's implicit MX). A name that does not exist cannot."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = settings.QUALITY_DNS_TIMEOUT
    try:
        answer = resolver.resolve(domain, "MX")
        return any(str(r.exchange) not in (".", "") for r in answer)
    except dns.resolver.NXDOMAIN:
        return False
    except dns.resolver.NoAnswer:
        pass
    except dns.exception.DNSException as exc:
        raise LookupFailed(type(exc).__name__) from None
    for rdtype in ("A", "AAAA"):
        try:
            if resolver.resolve(domain, rdtype):
                return True
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            raise LookupFailed(type(exc).__name__) from None
    return False
