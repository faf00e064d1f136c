"""The bounce mailbox: read the messages waiting in an IMAP folder (``BOUNCE_IMAP_URL``), hand
each to ``bounces.receive`` (which tells ``BOUNCE_RECEIVED``'s listeners), then mark it seen or
delete it. ``danhba bounces_fetch`` runs it; a scheduler (cron, a systemd timer) runs that.

``BOUNCE_IMAP_URL``: ``imaps://user:pass@host[:993]/FOLDER`` (TLS from the start),
``imap://user:pass@host[:143]/FOLDER?starttls=1``; the folder defaults to INBOX, user name and
password are URL-encoded (``%40`` for ``@``).
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from danhba.messaging import bounces

log = logging.getLogger(__name__)


class MailboxError(Exception):
    """The mailbox cannot be read: a bad URL, a refused login, a missing folder."""


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    ssl: bool = True
    starttls: bool = False


class Client(Protocol):
    """What the reader uses of ``imaplib.IMAP4``."""

    def login(self, user: str, password: str) -> Any: ...
    def select(self, mailbox: str = ...) -> Any: ...
    def uid(self, command: str, *args: Any) -> Any: ...
    def expunge(self) -> Any: ...
    def logout(self) -> Any: ...


def parse_url(url: str) -> Mailbox:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise MailboxError("BOUNCE_IMAP_URL must be imaps://user:pass@host/FOLDER or imap://…")
    ssl = parts.scheme == "imaps"
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return Mailbox(
        host=parts.hostname,
        port=parts.port or (993 if ssl else 143),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        ssl=ssl,
        starttls=not ssl and query.get("starttls") in ("1", "true"),
    )


def connect(mailbox: Mailbox, timeout: float = 30) -> Client:
    client: imaplib.IMAP4
    if mailbox.ssl:
        client = imaplib.IMAP4_SSL(mailbox.host, mailbox.port, timeout=timeout)
    else:
        client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
        if mailbox.starttls:
            client.starttls()
    return client


@dataclass
class FetchResult:
    read: int = 0
    hard: int = 0  # bounces with a hard failure
    soft: int = 0  # bounces with only soft failures
    not_bounces: int = 0  # messages that report no failure (autoreplies, notices)
    errors: int = 0  # messages a listener raised on: left unseen, tried again next run


def fetch(
    mailbox: Mailbox,
    *,
    delete: bool = False,
    limit: int = 500,
    connect_to: Callable[[Mailbox], Client] | None = None,
) -> FetchResult:
    """Read up to ``limit`` unseen messages of the folder, oldest first. Each handled message is
    marked seen (or deleted with ``delete``); one whose handling raised stays unseen."""
    try:
        client = (connect_to or connect)(mailbox)
        client.login(mailbox.username, mailbox.password)
        status, _data = client.select(mailbox.folder)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"{mailbox.host}: {exc}") from None
    if status != "OK":
        raise MailboxError(f"{mailbox.host}: no folder {mailbox.folder!r}")
    result = FetchResult()
    try:
        _status, data = client.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split()[:limit] if data else []
        for uid in uids:
            _status, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and len(p) > 1), None)
            if raw is None:
                continue
            result.read += 1
            try:
                bounce = bounces.receive(raw)
            except Exception:
                log.exception("bounce message %s could not be handled; left unseen", uid)
                result.errors += 1
                continue
            if bounce is None:
                result.not_bounces += 1
            elif bounce.hard:
                result.hard += 1
            else:
                result.soft += 1
            client.uid("STORE", uid, "+FLAGS", "(\\Deleted)" if delete else "(\\Seen)")
        if delete:
            client.expunge()
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()
    return result
