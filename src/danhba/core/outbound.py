"""Calling a URL that a user gave (a webhook receiver, a link in an email template), with
server-side request forgery in mind. The one place that decides which addresses danhba may call.

- Only ``http`` and ``https`` URLs, without user:password.
- Unless the caller allows private addresses (its own setting), every address the host name
  resolves to must be a public one (not loopback, private, link-local — cloud metadata at
  169.254.169.254 —, multicast or reserved), and the connection goes to the address that was
  checked: a DNS answer that changes between the check and the connection (DNS rebinding)
  cannot redirect it.
- Redirects are not followed, the body read back is capped, and connecting, sending and reading
  each time out.

The standard library's ``http.client`` does the HTTP: it lets us connect to the checked address
while TLS still verifies the certificate of the host name.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from danhba.core.reasons import Reason, reason

MAX_RESPONSE_BYTES = 64 * 1024


class UnsafeURL(ValueError):
    """A URL danhba refuses to call; the message says why, for the user (``reason``: the
    same, untranslated, for a log read later in another language)."""

    def __init__(self, why: Reason) -> None:
        super().__init__(str(why))
        self.reason = why


@dataclass
class Answer:
    """What the server answered, or ``error`` (with ``status`` None) when nothing came back."""

    status: int | None = None
    body: bytes = b""
    location: str = ""
    error: Reason | None = None


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL that may be called at all, or :class:`UnsafeURL`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(reason(gettext_noop("This is not a valid URL."))) from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(reason(gettext_noop("Only http:// and https:// URLs can be called.")))
    if not parts.hostname:
        raise UnsafeURL(reason(gettext_noop("The URL has no host name.")))
    if parts.username or parts.password:
        raise UnsafeURL(
            reason(
                gettext_noop("Put credentials in the receiver's checks, not in the URL (user:password@ is refused).")
            )
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refuse_local(host: str) -> None:
    literal = _literal(host)
    if literal is not None and _blocked(literal):
        raise UnsafeURL(
            reason(gettext_noop("The address %(host)s is private or local; danhba calls public addresses only."),
                   host=host)
        )  # fmt: skip
    if literal is None and (host == "localhost" or host.endswith((".localhost", ".local", ".internal"))):
        raise UnsafeURL(
            reason(gettext_noop("The host %(host)s is local; danhba calls public addresses only."), host=host)
        )


def _resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    if (literal := _literal(host)) is not None:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(reason(gettext_noop("The host name %(host)s does not resolve."), host=host)) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in [] if allow_private else addresses:
        if _blocked(ipaddress.ip_address(address.split("%")[0])):
            raise UnsafeURL(
                reason(
                    gettext_noop(
                        "%(host)s resolves to %(address)s, a private or local address; "
                        "danhba calls public addresses only."
                    ),
                    host=host,
                    address=address,
                )
            )
    return addresses


def check_url(url: str, *, allow_private: bool, resolve: bool = False) -> tuple[str, int, list[str]]:
    """(host, port, addresses to connect to) of a URL danhba may call, or :class:`UnsafeURL`.
    Without ``resolve`` only what the URL itself says is checked (for forms: DNS may not be
    set up yet); addresses are then empty."""
    _scheme, host, port = _split(url)
    if not allow_private:
        _refuse_local(host)
    return host, port, _resolve(host, port, allow_private=allow_private) if resolve else []


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


def request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Answer:
    """One request to ``url`` through the checks above; never raises for an unsafe URL or
    network trouble (``Answer.error`` says what happened). Tries up to three of the host's
    addresses while nothing was received, within ``timeout`` in all."""
    try:
        host, port, addresses = check_url(url, allow_private=allow_private, resolve=True)
    except UnsafeURL as exc:
        return Answer(error=exc.reason)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    errors: list[Reason] = []
    for address in addresses[:3]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        connection = cls(host, port, address, remaining)
        try:
            try:
                connection.request(method, target, body=body, headers=headers or {})
            except (TimeoutError, ConnectionError, OSError) as exc:
                errors.append(describe(exc))
                continue  # nothing was received: try the host's next address
            return _read(connection.getresponse(), deadline, max_bytes)
        except (http.client.HTTPException, OSError) as exc:
            return Answer(error=describe(exc))
        finally:
            connection.close()
    if not errors:
        errors.append(reason(gettext_noop("Timed out after %(seconds)s seconds."), seconds=str(round(timeout, 1))))
    return Answer(error=_one(errors))


def _read(response: http.client.HTTPResponse, deadline: float, max_bytes: int) -> Answer:
    chunks, size = [], 0
    while size < max_bytes and time.monotonic() < deadline:
        chunk = response.read(min(8192, max_bytes - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return Answer(status=response.status, body=b"".join(chunks), location=response.getheader("Location") or "")


def _one(errors: list[Reason]) -> Reason:
    """The errors of the addresses tried, one after the other."""
    first, *rest = errors
    return reason(gettext_noop("%(first)s; %(then)s"), first=first, then=_one(rest)) if rest else first


def describe(exc: BaseException) -> Reason:
    if isinstance(exc, socket.timeout | TimeoutError):
        return reason(gettext_noop("Timed out waiting for the receiver."))
    if isinstance(exc, ConnectionRefusedError):
        return reason(gettext_noop("Connection refused."))
    if isinstance(exc, ssl.SSLError):
        return reason(gettext_noop("TLS error: %(error)s"), error=str(exc)[:200])
    if isinstance(exc, http.client.HTTPException):
        return reason(gettext_noop("The receiver's answer is not valid HTTP: %(error)s"), error=type(exc).__name__)
    return reason(gettext_noop("Network error: %(error)s"), error=str(exc)[:200] or type(exc).__name__)
