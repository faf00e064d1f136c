"""Sending domains, the pure part: a DKIM key pair, the DNS records to publish, the private
key sealed for the database, and the check of the published SPF, DKIM and DMARC records.

The check reads TXT records through a ``Lookup`` (name → the TXT strings there): dnspython's
resolver in production, a dictionary in tests. Each verdict is ok, missing, wrong, or failed
(the lookup itself failed), with a reason kept untranslated (``core.reasons.Reason``) so that
the page and the API show it in their reader's language.

Private keys are sealed with Fernet under a key derived from ``SECRET_KEY`` (opened with
``SECRET_KEY_FALLBACKS`` too, so rotating the secret the Django way keeps them readable). They
are never shown, not even after creation: publishing needs only the public key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_noop

from danhba.core.reasons import Reason, reason

KEY_BITS = 2048
SALT = "danhba.messaging.domains.dkim-key"
OK, MISSING, WRONG, FAILED = "ok", "missing", "wrong", "failed"
RECORDS = ("spf", "dkim", "dmarc")
TXT_CHUNK = 255  # the longest character-string a TXT record holds; longer values are split
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class LookupFailed(Exception):
    """The DNS lookup did not answer (timeout, no server, refused): nothing is known."""


# name → the TXT records there, each as its character-strings joined; [] when none exist.
Lookup = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_b64: str  # the DER SubjectPublicKeyInfo, base64: the p= of the DKIM record


def generate_key() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(private_pem, base64.b64encode(public_der).decode())


def _fernet(secret: str | bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(salted_hmac(SALT, "", secret=secret, algorithm="sha256").digest()))


def _keys() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(secret) for secret in secrets])


def seal(private_pem: bytes) -> str:
    return _keys().encrypt(private_pem).decode()


def unseal(sealed: str) -> bytes | None:
    """The private key, or None when no secret of this site opens it (SECRET_KEY changed
    without keeping the old one in SECRET_KEY_FALLBACKS)."""
    try:
        return _keys().decrypt(sealed.encode())
    except (InvalidToken, ValueError):
        return None


def valid_selector(selector: str) -> bool:
    return bool(_SELECTOR.match(selector))


def dkim_name(domain: str, selector: str) -> str:
    return f"{selector}._domainkey.{domain}"


def dkim_value(public_b64: str) -> str:
    return f"v=DKIM1; k=rsa; p={public_b64}"


def spf_value() -> str:
    """The SPF record to publish when the domain has none: the sending service's mechanism
    (``SENDING_SPF_INCLUDE``), or the domain's own MX hosts."""
    mechanism = settings.SENDING_SPF_INCLUDE or "mx"
    return f"v=spf1 {mechanism} ~all"


def dmarc_value(domain: str) -> str:
    """A first DMARC policy: monitoring only, reports to the domain's postmaster. Tighten to
    quarantine or reject once the reports show every source passes."""
    return f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}; adkim=r; aspf=r"


def txt_chunks(value: str) -> list[str]:
    """``value`` as the quoted strings of a zone file (a 2048-bit key is longer than one)."""
    return [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)] or [""]


@dataclass(frozen=True)
class Record:
    """A TXT record to publish: which check it serves, where, and its value."""

    check: str  # spf, dkim, dmarc
    name: str
    value: str

    @property
    def zone_value(self) -> str:
        """The value as a zone file writes it: quoted strings of at most 255 characters."""
        return " ".join(f'"{chunk}"' for chunk in txt_chunks(self.value))


def records(domain: str, selector: str, public_b64: str) -> list[Record]:
    return [
        Record("dkim", dkim_name(domain, selector), dkim_value(public_b64)),
        Record("spf", domain, spf_value()),
        Record("dmarc", f"_dmarc.{domain}", dmarc_value(domain)),
    ]


@dataclass(frozen=True)
class Verdict:
    status: str
    why: Reason
    found: str = ""  # the record as published, when there is one

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.why.to_json(), "found": self.found}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        return cls(str(data.get("status", "")), Reason.from_json(data.get("reason") or {}), str(data.get("found", "")))


def _tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags.setdefault(name.strip().lower(), "".join(value.split()))
    return tags


def _v(status: str, msgid: str, found: str = "", **params: str) -> Verdict:
    return Verdict(status, reason(msgid, **params), found)


def _lookup(lookup: Lookup, name: str) -> list[str] | Verdict:
    try:
        return [str(r) for r in lookup(name)]
    except LookupFailed as exc:
        return _v(FAILED, gettext_noop("The DNS lookup of %(name)s failed: %(error)s"), name=name, error=str(exc))


def check_spf(domain: str, lookup: Lookup) -> Verdict:
    records = _lookup(lookup, domain)
    if isinstance(records, Verdict):
        return records
    spf = [r for r in records if r.lower().split(" ", 1)[0] == "v=spf1"]
    if not spf:
        return _v(MISSING, gettext_noop("No SPF record (TXT starting v=spf1) at %(name)s."), name=domain)
    if len(spf) > 1:
        msgid = gettext_noop("%(count)s SPF records at %(name)s: receivers take several as an error; merge them.")
        return _v(WRONG, msgid, " | ".join(spf), count=str(len(spf)), name=domain)
    record = spf[0]
    terms = record.lower().split()
    if "+all" in terms or "all" in terms:
        return _v(
            WRONG, gettext_noop("The SPF record ends in +all: any server may send as %(name)s."), record, name=domain
        )
    include = settings.SENDING_SPF_INCLUDE.lower()
    if include and include not in terms and not any(t.startswith("redirect=") for t in terms):
        msgid = gettext_noop("The SPF record does not name the sending service (%(mechanism)s).")
        return _v(WRONG, msgid, record, mechanism=include)
    return _v(OK, gettext_noop("One SPF record."), record)


def check_dkim(domain: str, selector: str, public_b64: str, lookup: Lookup) -> Verdict:
    name = dkim_name(domain, selector)
    records = _lookup(lookup, name)
    if isinstance(records, Verdict):
        return records
    keys = [r for r in records if "p" in _tags(r)]
    if not keys:
        return _v(MISSING, gettext_noop("No DKIM record (TXT with p=) at %(name)s."), name=name)
    record = keys[0]
    tags = _tags(record)
    if len(keys) > 1:
        return _v(WRONG, gettext_noop("Several DKIM records at %(name)s; keep only one."), record, name=name)
    if not tags["p"]:
        return _v(WRONG, gettext_noop("The DKIM record at %(name)s is revoked (empty p=)."), record, name=name)
    if tags.get("v", "DKIM1") != "DKIM1" or tags.get("k", "rsa") != "rsa":
        return _v(WRONG, gettext_noop("The DKIM record at %(name)s is not an RSA DKIM1 key."), record, name=name)
    if tags["p"] != public_b64:
        msgid = gettext_noop("The DKIM record at %(name)s holds another key than danhba's for this domain.")
        return _v(WRONG, msgid, record, name=name)
    return _v(OK, gettext_noop("The DKIM key matches."), record)


def check_dmarc(domain: str, lookup: Lookup) -> Verdict:
    name = f"_dmarc.{domain}"
    records = _lookup(lookup, name)
    if isinstance(records, Verdict):
        return records
    dmarc = [r for r in records if r.replace(" ", "").lower().startswith("v=dmarc1")]
    if not dmarc:
        return _v(MISSING, gettext_noop("No DMARC record (TXT starting v=DMARC1) at %(name)s."), name=name)
    if len(dmarc) > 1:
        msgid = gettext_noop("Several DMARC records at %(name)s: receivers ignore them all.")
        return _v(WRONG, msgid, " | ".join(dmarc), name=name)
    record = dmarc[0]
    policy = _tags(record).get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        msgid = gettext_noop("The DMARC record has no valid policy (p=none, quarantine or reject).")
        return _v(WRONG, msgid, record)
    if policy == "none":
        return _v(OK, gettext_noop("DMARC policy none: receivers only report."), record)
    return _v(OK, gettext_noop("DMARC policy %(policy)s."), record, policy=policy)


def check(domain: str, selector: str, public_b64: str, lookup: Lookup) -> dict[str, Verdict]:
    return {
        "spf": check_spf(domain, lookup),
        "dkim": check_dkim(domain, selector, public_b64, lookup),
        "dmarc": check_dmarc(domain, lookup),
    }


def dns_lookup(name: str) -> list[str]:
    """TXT records at ``name`` through the system's resolver (dnspython)."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver()
    resolver.lifetime = settings.SENDING_DOMAIN_DNS_TIMEOUT
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise LookupFailed(type(exc).__name__) from None
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
