"""Sending one HTTP POST to a receiver, with server-side request forgery in mind.

- Only ``http`` and ``https`` URLs, without user:password.
- Unless ``WEBHOOKS_ALLOW_PRIVATE`` is set, every address the host name resolves to must be a
  public one (not loopback, private, link-local — cloud metadata at 169.254.169.254 —, multicast
  or reserved), and the connection goes to the address that was checked: a DNS answer that
  changes between the check and the connection (DNS rebinding) cannot redirect it.
- Redirects are not followed (a 3xx is a failed attempt), the body read back is capped, and
  connecting, sending and reading each time out.

The standard library's ``http.client`` does the HTTP: it lets us connect to the checked address
while TLS still verifies the certificate of the host name.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from danhba.core.reasons import Reason, reason

MAX_RESPONSE_BYTES = 64 * 1024
STORED_RESPONSE_CHARS = 4000
USER_AGENT = "danhba-webhooks/1"


class UnsafeURL(ValueError):
    """A URL danhba refuses to call; the message says why, for the user (``reason``: the
    same, untranslated, for a delivery's log read later in another language)."""

    def __init__(self, why: Reason) -> None:
        super().__init__(str(why))
        self.reason = why


@dataclass
class Result:
    ok: bool
    status_code: int | None = None
    error: Reason | None = None  # why it failed, shown in the reader's language
    response_body: str = ""
    duration_ms: int = 0
    request_headers: dict[str, str] = field(default_factory=dict)


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, resolve: bool = False) -> tuple[str, int, list[str]]:
    """(host, port, addresses to connect to) of a URL danhba may call, or :class:`UnsafeURL`.
    Without ``resolve`` only what the URL itself says is checked (for forms: DNS may not be
    set up yet); addresses are then empty."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(reason(gettext_noop("This is not a valid URL."))) from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(reason(gettext_noop("Only http:// and https:// URLs can receive webhooks.")))
    if not parts.hostname:
        raise UnsafeURL(reason(gettext_noop("The URL has no host name.")))
    if parts.username or parts.password:
        raise UnsafeURL(
            reason(
                gettext_noop("Put credentials in the receiver's checks, not in the URL (user:password@ is refused).")
            )
        )
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if not allow_private:
        if literal is not None and _blocked(literal):
            raise UnsafeURL(
                reason(gettext_noop("The address %(host)s is private or local; webhooks go to public addresses only."),
                       host=host)
            )  # fmt: skip
        if literal is None and (host == "localhost" or host.endswith((".localhost", ".local", ".internal"))):
            local = gettext_noop("The host %(host)s is local; webhooks go to public addresses only.")
            raise UnsafeURL(reason(local, host=host))
    if not resolve:
        return host, port, []
    if literal is not None:
        return host, port, [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(reason(gettext_noop("The host name %(host)s does not resolve."), host=host)) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if _blocked(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeURL(
                    reason(
                        gettext_noop(
                            "%(host)s resolves to %(address)s, a private or local address; "
                            "webhooks go to public addresses only."
                        ),
                        host=host,
                        address=address,
                    )
                )
    return host, port, addresses


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Result:
    """POST ``body`` to ``url``; success is a 2xx answer. Never raises for network trouble."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    started = time.monotonic()

    def done(**values: object) -> Result:
        return Result(duration_ms=int((time.monotonic() - started) * 1000), request_headers=headers, **values)  # type: ignore[arg-type]

    try:
        host, port, addresses = check_url(url, resolve=True)
    except UnsafeURL as exc:
        return done(ok=False, error=exc.reason)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = started + timeout
    errors = []
    for address in addresses[:3]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = cls(host, port, address, remaining)
        try:
            try:
                connection.request("POST", target, body=body, headers=headers)
            except (TimeoutError, ConnectionError, OSError) as exc:
                errors.append(_describe(exc))
                continue  # nothing was received: try the host's next address
            response = connection.getresponse()
            chunks, size = [], 0
            while size < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
                chunk = response.read(min(8192, MAX_RESPONSE_BYTES - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            text = b"".join(chunks).decode("utf-8", "replace").replace("\x00", "")[:STORED_RESPONSE_CHARS]
            status = response.status
            if 200 <= status < 300:
                return done(ok=True, status_code=status, response_body=text)
            if 300 <= status < 400:
                error = reason(
                    gettext_noop(
                        "The receiver answered with a redirect (to %(location)s); redirects are not followed."
                    ),
                    location=(response.getheader("Location") or "?")[:200],
                )
            else:
                error = reason(gettext_noop("The receiver answered HTTP %(status)s."), status=str(status))
            return done(ok=False, status_code=status, response_body=text, error=error)
        except (http.client.HTTPException, OSError) as exc:
            return done(ok=False, error=_describe(exc))
        finally:
            connection.close()
    if not errors:
        errors.append(reason(gettext_noop("Timed out after %(seconds)s seconds."), seconds=str(round(timeout, 1))))
    return done(ok=False, error=_one(errors))


def _one(errors: list[Reason]) -> Reason:
    """The errors of the addresses tried, one after the other."""
    first, *rest = errors
    return reason(gettext_noop("%(first)s; %(then)s"), first=first, then=_one(rest)) if rest else first


def _describe(exc: BaseException) -> Reason:
    if isinstance(exc, socket.timeout | TimeoutError):
        return reason(gettext_noop("Timed out waiting for the receiver."))
    if isinstance(exc, ConnectionRefusedError):
        return reason(gettext_noop("Connection refused."))
    if isinstance(exc, ssl.SSLError):
        return reason(gettext_noop("TLS error: %(error)s"), error=str(exc)[:200])
    if isinstance(exc, http.client.HTTPException):
        return reason(gettext_noop("The receiver's answer is not valid HTTP: %(error)s"), error=type(exc).__name__)
    return reason(gettext_noop("Network error: %(error)s"), error=str(exc)[:200] or type(exc).__name__)
