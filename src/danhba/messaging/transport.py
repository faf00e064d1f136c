"""How email leaves danhba: the connection named by ``EMAIL_URL``, DKIM signing, and the
message itself.

``EMAIL_URL`` forms (README, settings.py):

- ``smtp://user:pass@host:port`` — plain SMTP (port 25 by default); ``?tls=1`` asks for STARTTLS;
- ``smtps://user:pass@host:port`` — TLS from the first byte (port 465 by default);
- ``file://`` — each message kept as an ``.eml`` file (opens in any mail program) in
  ``VAR_DIR/mail``, or in the folder given (``file:///srv/mail``); the default, so nothing leaves
  the machine until a real transport is set, and the terminal of ``make run`` stays readable.
  The files are kept ``EMAIL_FILE_RETENTION_DAYS`` (30; a nightly job) and go with the contact
  they were sent to when it is deleted;
- ``console://`` — messages printed on standard output;
- ``locmem://`` — kept in ``django.core.mail.outbox`` (tests);
- ``anymail://ESP`` — an email service provider through django-anymail (``amazon_ses``,
  ``mailgun``, ``sendgrid``, ``postmark``, ``brevo``, …), its keys in ``ANYMAIL_*`` variables.

User name and password are URL-encoded in the URL (``%40`` for ``@``). SMTP messages are DKIM
signed (dkimpy) with the key of the sender's sending domain (``SendingDomain``, /email/domains/)
when it has one, else with ``DKIM_PRIVATE_KEY_FILE``'s when that is set; an ESP signs its own.
"""

from __future__ import annotations

import hashlib
import logging
import re
import smtplib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import formataddr, getaddresses, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import dkim
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import transaction
from django.utils.module_loading import import_string

from danhba.contacts.changes import ContactsChange
from danhba.messaging.compose import Rendered
from danhba.messaging.domains import unseal
from danhba.messaging.mime import Shape

logger = logging.getLogger(__name__)

# Headers the DKIM signature covers (those present in the message).
DKIM_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"MIME-Version", b"Content-Type",
    b"List-Unsubscribe", b"List-Unsubscribe-Post",
)  # fmt: skip
_ESP = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Transport:
    kind: str  # smtp, file, console, locmem, anymail
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    esp: str = ""
    path: str = ""  # file://: the folder

    def describe(self) -> str:
        """For pages and logs: never the password."""
        if self.kind == "smtp":
            security = " (TLS)" if self.use_ssl else " (STARTTLS)" if self.use_tls else ""
            return f"SMTP {self.host}:{self.port}{security}"
        if self.kind == "anymail":
            return f"{self.esp} (django-anymail)"
        if self.kind == "file":
            return f"files in {self.path}"
        return self.kind


def parse_email_url(url: str) -> Transport:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ImproperlyConfigured(f"EMAIL_URL {scheme}:// needs a host")
        ssl = scheme == "smtps" or query.get("ssl") in ("1", "true")
        return Transport(
            kind="smtp",
            host=parts.hostname,
            port=parts.port or (465 if ssl else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_tls=not ssl and query.get("tls") in ("1", "true"),
            use_ssl=ssl,
        )
    if scheme in ("console", "locmem"):
        return Transport(kind=scheme)
    if scheme == "file":
        folder = Path(unquote(f"{parts.netloc}{parts.path}")) if (parts.netloc or parts.path) else Path("mail")
        return Transport(kind="file", path=str(folder if folder.is_absolute() else settings.VAR_DIR / folder))
    if scheme == "anymail":
        esp = (parts.hostname or "").replace("-", "_")
        if not _ESP.match(esp):
            raise ImproperlyConfigured("EMAIL_URL anymail:// needs the provider, e.g. anymail://mailgun")
        return Transport(kind="anymail", esp=esp)
    raise ImproperlyConfigured(f"EMAIL_URL: unknown scheme {scheme!r} (smtp, smtps, file, console, locmem, anymail)")


def configured() -> Transport:
    return parse_email_url(settings.EMAIL_URL)


@lru_cache(maxsize=4)
def _dkim_key(path: str) -> bytes:
    return Path(path).read_bytes()


# Sending domains' keys per process: (read at, {domain: (selector, private key)}). A send job
# signs many messages; the table is read again after DOMAIN_KEYS_SECONDS, or at once in the
# process that adds or deletes a domain (forget_domain_keys).
DOMAIN_KEYS_SECONDS = 60.0
SigningKey = tuple[str, str, bytes] | None  # (domain, selector, private key PEM); None: unsigned
_domain_keys: tuple[float, dict[str, tuple[str, bytes]]] | None = None


def forget_domain_keys() -> None:
    global _domain_keys
    _domain_keys = None


def _keys_by_domain() -> dict[str, tuple[str, bytes]]:
    global _domain_keys
    if _domain_keys is None or time.monotonic() - _domain_keys[0] > DOMAIN_KEYS_SECONDS:
        from danhba.messaging.models import SendingDomain

        keys: dict[str, tuple[str, bytes]] = {}
        for row in SendingDomain.objects.only("domain", "selector", "private_key_sealed"):
            private = unseal(row.private_key_sealed)
            if private is not None:  # sealed under a SECRET_KEY this site no longer has
                keys[row.domain] = (row.selector, private)
        _domain_keys = (time.monotonic(), keys)
    return _domain_keys[1]


def signing_key(from_domain: str) -> SigningKey:
    """(domain, selector, private key) to sign mail from ``from_domain``: its sending domain's,
    else the closest parent's (news.anhduong.vn signs as anhduong.vn, which DMARC's relaxed
    alignment accepts), else DKIM_PRIVATE_KEY_FILE's; None: unsigned."""
    keys = _keys_by_domain()
    labels = from_domain.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in keys:
            selector, private = keys[candidate]
            return candidate, selector, private
    if settings.DKIM_PRIVATE_KEY_FILE:
        domain = settings.DKIM_DOMAIN or from_domain
        return domain, settings.DKIM_SELECTOR, _dkim_key(settings.DKIM_PRIVATE_KEY_FILE)
    return None


def dkim_sign(message: bytes, from_address: str, key: SigningKey | bool = True) -> bytes:
    """``message`` with a DKIM-Signature header when a key is configured; unchanged otherwise.
    ``key``: the key ``build_message`` chose (None: unsigned), or True to look it up now."""
    if key is True:
        key = signing_key(from_address.rpartition("@")[2])
    if not isinstance(key, tuple):
        return message
    domain, selector, private = key
    signature: bytes = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private,
        include_headers=[h for h in DKIM_HEADERS if h.lower() + b":" in message.lower()],
    )
    return signature + message


class SigningSMTPBackend(SMTPBackend):
    """Django's SMTP backend, signing each message (DKIM) before it is sent."""

    def _send(self, email_message: EmailMessage) -> bool:
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email_message.from_email, encoding)
        recipients = [sanitize_address(addr, encoding) for addr in email_message.recipients()]
        raw = dkim_sign(
            email_message.message().as_bytes(linesep="\r\n"),
            parseaddr(from_email)[1],
            getattr(email_message, "dkim_key", True),
        )
        # A campaign's message names its own return path (VERP), so a bounce names its send.
        envelope = getattr(email_message, "envelope_sender", "") or from_email
        assert self.connection is not None
        try:
            self.connection.sendmail(envelope, recipients, raw)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True


class FileBackend(BaseEmailBackend):
    """Keeps each message as its own ``.eml`` file instead of sending it, and says so in the log
    once per process (with one line per message at INFO)."""

    told = False

    def __init__(self, folder: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder

    def send_messages(self, email_messages: Any) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = 0
        for message in email_messages:
            if not message.recipients():
                continue
            raw = message.message()
            digest = hashlib.blake2s(str(raw["Message-ID"]).encode(), digest_size=6).hexdigest()
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{digest}.eml"
            (self.folder / name).write_bytes(raw.as_bytes(linesep="\r\n"))
            kept += 1
            logger.info("email not sent (EMAIL_URL is file://): %s kept in %s", ", ".join(message.recipients()), name)
        if kept and not FileBackend.told:
            FileBackend.told = True
            logger.warning(
                "EMAIL_URL is not set to a real transport: email is kept as .eml files in %s, not sent", self.folder
            )
        return kept


def mail_files_purge(*, now: float | None = None) -> int:
    """Delete the file transport's ``.eml`` files older than ``EMAIL_FILE_RETENTION_DAYS`` (by
    modification time); returns how many. Nothing when ``EMAIL_URL`` is not ``file://``."""
    files = _mail_files()
    cutoff = (now or time.time()) - settings.EMAIL_FILE_RETENTION_DAYS * 86400
    old = [path for path in files if path.stat().st_mtime < cutoff]
    for path in old:
        path.unlink(missing_ok=True)
    return len(old)


def mail_files_erase(addresses: Iterable[str]) -> int:
    """Delete the file transport's ``.eml`` files sent to any of these addresses (To, Cc, Bcc;
    compared lower-cased): a contact erased takes its copies along. Returns how many."""
    wanted = {a.strip().lower() for a in addresses if a}
    if not wanted:
        return 0
    erased = 0
    parser = BytesHeaderParser()
    for path in _mail_files():
        with path.open("rb") as handle:
            headers = parser.parse(handle)
        sent_to = {a.lower() for _name, a in getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))}
        sent_to |= {a.lower() for _name, a in getaddresses(headers.get_all("Bcc", []))}
        if sent_to & wanted:
            path.unlink(missing_ok=True)
            erased += 1
    return erased


def mail_files_on_contacts_changed(change: ContactsChange) -> None:
    """contacts.changed: after the commit, the ``.eml`` files sent to the addresses of the
    contacts deleted that no contact has any more go too (an erasure; a merge keeps them: the
    address lives on in the contact kept)."""
    if not change.deleted or configured().kind != "file":
        return
    from danhba.contacts.models import ContactEmail
    from danhba.core.bulk import select_in

    # A chunk of ids at a time: an import's undo deletes more contacts than SQLite takes
    # variables in one statement.
    addresses = [email for (email,) in select_in(ContactEmail, ["email"], "contact_id", change.deleted)]

    def erase() -> None:
        still = {email for (email,) in select_in(ContactEmail, ["email"], "email", addresses)}
        mail_files_erase(a for a in addresses if a not in still)

    if addresses:
        transaction.on_commit(erase)


def _mail_files() -> list[Path]:
    kept = configured()
    if kept.kind != "file":
        return []
    folder = Path(kept.path)
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def connection(transport: Transport | None = None) -> BaseEmailBackend:
    """A backend for ``transport`` (default: ``EMAIL_URL``); open it to reuse one connection."""
    transport = transport or configured()
    if transport.kind == "smtp":
        return SigningSMTPBackend(
            host=transport.host,
            port=transport.port,
            username=transport.username or None,
            password=transport.password or None,
            use_tls=transport.use_tls,
            use_ssl=transport.use_ssl,
            timeout=settings.EMAIL_TIMEOUT,
            fail_silently=False,
        )
    if transport.kind == "file":
        return FileBackend(Path(transport.path), fail_silently=False)
    if transport.kind == "anymail":
        backend: Any = import_string(f"anymail.backends.{transport.esp}.EmailBackend")
        return backend(fail_silently=False)  # type: ignore[no-any-return]
    backend_class: Any = import_string(f"django.core.mail.backends.{transport.kind}.EmailBackend")
    return backend_class(fail_silently=False)  # type: ignore[no-any-return]


def new_message_id(from_address: str) -> str:
    domain = from_address.rpartition("@")[2] or "danhba.local"
    return make_msgid(domain=domain)


class Message(EmailMultiAlternatives):
    """An email with its own envelope sender (the bounce address), which the SMTP backend above
    and django-anymail (``envelope_sender``) both use instead of the From address."""

    # No class default: django-anymail reads the attribute whenever it exists, and refused the
    # empty address (every campaign message through an ESP failed without BOUNCE_ADDRESS).
    envelope_sender: str
    dkim_key: SigningKey | bool = True  # the key build_message chose; True: look it up when sent


def build_message(
    rendered: Rendered,
    *,
    to: str,
    from_address: str,
    from_name: str = "",
    reply_to: str = "",
    message_id: str = "",
    headers: dict[str, str] | None = None,
    envelope_sender: str = "",
) -> Message:
    """One email: the text part first, the HTML as its alternative, Message-ID fixed by the
    caller (a resend after a crash reuses it)."""
    all_headers = {"Message-ID": message_id or new_message_id(from_address), **(headers or {})}
    message = Message(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((from_name, from_address)) if from_name else from_address,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers=all_headers,
    )
    if rendered.html.strip():
        message.attach_alternative(rendered.html, "text/html")
    if envelope_sender:
        message.envelope_sender = envelope_sender
    # The DKIM key is chosen here, in the thread that builds the message: the send job sends
    # from a pool of threads, which should not read the database (their connections would see
    # other transactions and stay open).
    message.dkim_key = signing_key(from_address.rpartition("@")[2])
    return message


@dataclass(frozen=True)
class Outgoing:
    """One campaign message ready to leave: the bytes (SMTP) or a Django message (other
    transports), with its envelope."""

    to: str
    envelope_sender: str
    raw: bytes = b""
    message: Message | None = None


class Sender:
    """One connection of a campaign's send, used by one thread. ``send`` raises what the
    transport raises; SMTP's exceptions tell a refusal from a broken connection."""

    def __init__(self, backend: BaseEmailBackend, smtp: bool) -> None:
        self.backend = backend
        self.smtp = smtp
        self.opened = False

    def open(self) -> None:
        self.backend.open()
        if self.smtp:
            self.backend.connection.ehlo_or_helo_if_needed()  # type: ignore[attr-defined]
        self.opened = True

    def send(self, item: Outgoing) -> str:
        """Send one message; returns the id an ESP gave it (django-anymail's status), else ""."""
        if self.smtp:
            connection = self.backend.connection  # type: ignore[attr-defined]
            options = ["BODY=8BITMIME"] if connection.has_extn("8bitmime") and not item.raw.isascii() else []
            connection.sendmail(item.envelope_sender, [item.to], item.raw, mail_options=options)
            return ""
        assert item.message is not None
        self.backend.send_messages([item.message])
        status = getattr(item.message, "anymail_status", None)
        return str(getattr(status, "message_id", None) or "")[:200]

    def close(self) -> None:
        self.opened = False
        self.backend.close()


class CampaignMail:
    """How one campaign's messages are built and sent. Over SMTP (the fast path) the parts every
    message shares are encoded once (``mime.Shape``) and each message is bytes, DKIM signed with
    the key chosen once here; other transports (console, locmem, anymail) get Django messages
    from :func:`build_message` through their backend."""

    def __init__(self, *, from_address: str, from_name: str = "", reply_to: str = "", headers: dict[str, str]) -> None:
        self.transport = configured()
        self.from_address, self.from_name, self.reply_to = from_address, from_name, reply_to
        self.headers = headers
        self.key = signing_key(from_address.rpartition("@")[2]) if self.transport.kind == "smtp" else None
        self.shape = Shape(from_address=from_address, from_name=from_name, reply_to=reply_to, headers=headers)

    def build(
        self, rendered: Rendered, *, to: str, message_id: str, headers: dict[str, str], envelope_sender: str = ""
    ) -> Outgoing:
        envelope = envelope_sender or self.from_address
        if self.transport.kind != "smtp":
            message = build_message(
                rendered, to=to, from_address=self.from_address, from_name=self.from_name, reply_to=self.reply_to,
                message_id=message_id, headers={**self.headers, **headers}, envelope_sender=envelope_sender,
            )  # fmt: skip
            return Outgoing(to=to, envelope_sender=envelope, message=message)
        raw = self.shape.build(
            to=to, subject=rendered.subject, message_id=message_id, text=rendered.text, html=rendered.html,
            headers=headers,
        )  # fmt: skip
        return Outgoing(to=to, envelope_sender=envelope, raw=dkim_sign(raw, self.from_address, self.key))

    def sender(self) -> Sender:
        return Sender(connection(self.transport), smtp=self.transport.kind == "smtp")
