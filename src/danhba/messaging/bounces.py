"""Bounces: the VERP return path that names the send a bounce is about, and what a delivery
status notification (DSN) says failed.

Pure functions, no database: the bounce mailbox reader and whoever acts on a bounce (the send
log, the suppression list) call them. Acting on a bounce is not done here: ``BOUNCE_RECEIVED``
(``messaging/hooks.py``) is where that plugs in.

**VERP.** Each message leaves with its own envelope sender, ``bounces+<send-id>-<sig>@domain``
(made from ``BOUNCE_ADDRESS``): the server that refuses it writes back to that address, so the
bounce names the send log row even when the DSN is one that no parser understands. ``sig`` is an
HMAC of the send id under ``SECRET_KEY`` (or one of ``SECRET_KEY_FALLBACKS``), so a forged bounce
cannot suppress someone else's address. It is lower-case hex: mail servers may fold the local
part's case.

**DSNs.** flufl.bounce finds the failing recipients in RFC 3464 reports and in the older formats
of Exchange, Postfix, qmail, Exim and others. A recipient is a hard bounce when its status code
says permanent (5.x.x), a soft one when it says transient (4.x.x) or when the server only
delayed it; a full mailbox (x.2.2) counts as soft even when reported 5.2.2, as mail services
treat it. Without a status code flufl.bounce's judgement stands (failed = hard, delayed = soft).
"""

from __future__ import annotations

import email
import email.message
import hmac
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.iterators import typed_subpart_iterator
from email.utils import getaddresses, parseaddr
from itertools import chain

from django.conf import settings
from django.utils.crypto import salted_hmac
from flufl.bounce import all_failures

from danhba.messaging.hooks import BOUNCE_RECEIVED

log = logging.getLogger(__name__)
SALT = "danhba.messaging.bounces.verp"
SIG_CHARS = 16  # 64 bits of HMAC-SHA256, lower-case hex
# Headers a bounce mailbox's delivery agent writes the envelope recipient into (Postfix, Exim,
# qmail, Dovecot, Gmail), then the To the reporting server wrote.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "X-Delivered-To", "To")
_VERP = re.compile(
    rf"^(?P<local>[^+@]+)\+(?P<send>[1-9][0-9]{{0,18}})-(?P<sig>[0-9a-f]{{{SIG_CHARS}}})@(?P<domain>[^@]+)$"
)
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
HARD, SOFT = "hard", "soft"


class VerpError(ValueError):
    """The bounce address setting cannot carry VERP."""


def _signature(send_id: int, secret: str | bytes | None = None) -> str:
    return salted_hmac(SALT, str(send_id), secret=secret, algorithm="sha256").hexdigest()[:SIG_CHARS]


def return_path(send_id: int, base: str | None = None) -> str:
    """The envelope sender of send ``send_id``: ``local+<id>-<sig>@domain`` from ``base``
    (default ``BOUNCE_ADDRESS``)."""
    base = settings.BOUNCE_ADDRESS if base is None else base
    local, _, domain = base.strip().rpartition("@")
    if not local or not domain or "+" in local:
        raise VerpError(f"BOUNCE_ADDRESS {base!r} must be local@domain, without '+'")
    if send_id < 1:
        raise ValueError("send ids are positive")
    return f"{local}+{send_id}-{_signature(send_id)}@{domain}"


def send_id_of(address: str) -> int | None:
    """The send id a VERP address names, or None when it is not one or its signature is not
    danhba's (a forged or mangled bounce)."""
    match = _VERP.match(parseaddr(address)[1].strip().lower())
    if match is None:
        return None
    send_id = int(match["send"])
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if any(hmac.compare_digest(match["sig"], _signature(send_id, secret)) for secret in secrets):
        return send_id
    return None


@dataclass(frozen=True)
class Failure:
    """One recipient a bounce reports: ``kind`` hard or soft, the DSN status code and the
    server's diagnostic when the report gives them."""

    address: str
    kind: str
    status: str = ""
    diagnostic: str = ""

    @property
    def hard(self) -> bool:
        return self.kind == HARD


@dataclass(frozen=True)
class Bounce:
    """What one bounce message says: the send it is about (from its VERP address, None when it
    carries none or a forged one) and the failed recipients."""

    send_id: int | None
    failures: tuple[Failure, ...]

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(f.address for f in self.failures)

    @property
    def hard(self) -> bool:
        return any(f.hard for f in self.failures)


def _as_text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _status_blocks(message: email.message.Message) -> Iterator[email.message.Message]:
    """The per-recipient field blocks of every message/delivery-status part."""
    for part in typed_subpart_iterator(message, "message", "delivery-status"):
        payload = part.get_payload()  # type: ignore[attr-defined]
        if isinstance(payload, list):
            yield from payload


def _statuses(message: email.message.Message) -> dict[str, tuple[str, str]]:
    """address → (status code, diagnostic) from the DSN's recipient blocks."""
    found: dict[str, tuple[str, str]] = {}
    for block in _status_blocks(message):
        status = str(block.get("Status", "")).strip()
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        match = _STATUS.match(status)
        for header in ("Final-Recipient", "Original-Recipient", "X-Actual-Recipient"):
            value = str(block.get(header, ""))
            address = value.partition(";")[2].strip().strip("<>").lower()
            if "@" in address:
                found.setdefault(address, (".".join(match.groups()) if match else "", diagnostic[:500]))
    return found


def _kind(permanent: bool, status: str) -> str:
    if status:
        klass, subject, detail = status.split(".")
        if klass == "4" or (subject, detail) == ("2", "2"):
            return SOFT
        if klass == "5":
            return HARD
    return HARD if permanent else SOFT


def verp_send_id(message: email.message.Message) -> int | None:
    """The send a bounce is about: the first signed VERP address among the headers its
    delivery wrote (``RECIPIENT_HEADERS``)."""
    for header in RECIPIENT_HEADERS:
        for _name, address in getaddresses([str(v) for v in message.get_all(header, [])]):
            send_id = send_id_of(address)
            if send_id is not None:
                return send_id
    return None


def parse_bounce(raw: bytes) -> Bounce | None:
    """What the bounce message ``raw`` (as received, bytes) reports, or None when it reports no
    failed recipient (an autoreply, a delivery notice, a message that is not a bounce)."""
    message = email.message_from_bytes(raw)
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a heuristic detector tripping over an odd message (e.g. one without From)
        log.warning("flufl.bounce could not read a message; taken as no bounce", exc_info=True)
        return None
    statuses = _statuses(message)
    failures: dict[str, Failure] = {}
    for found, is_permanent in chain(((a, False) for a in temporary), ((a, True) for a in permanent)):
        address = _as_text(found).strip().strip("<>").lower()
        if "@" not in address:
            continue
        status, diagnostic = statuses.get(address, ("", ""))
        failure = Failure(address, _kind(is_permanent, status), status, diagnostic)
        if address not in failures or failure.hard:
            failures[address] = failure
    if not failures:
        return None
    return Bounce(verp_send_id(message), tuple(sorted(failures.values(), key=lambda f: f.address)))


def receive(raw: bytes) -> Bounce | None:
    """Parse a bounce and tell ``BOUNCE_RECEIVED``'s listeners (the send log, the suppression
    list): the one entry for a bounce mailbox reader. A message that reports no failure is
    ignored."""
    bounce = parse_bounce(raw)
    if bounce is not None:
        BOUNCE_RECEIVED(bounce)
    return bounce
