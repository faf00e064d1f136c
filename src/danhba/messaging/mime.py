"""A campaign's messages as bytes, from a shape prepared once per campaign. Pure: no database.

Django's ``EmailMultiAlternatives`` builds a tree of ``email.message`` objects and serialises it
for every message: at campaign sizes that was a large share of the send's CPU. The parts that
are the same for every recipient (From, Reply-To, the MIME structure, the campaign's headers)
are encoded once here; per recipient only To, Subject, Date, Message-ID, the per-recipient
headers and the two bodies are added. The result is the message Django would send: multipart/
alternative with the text part first and the HTML second, UTF-8, 8bit (quoted-printable for a
part with a line longer than SMTP's 998 octets), non-ASCII headers as RFC 2047 encoded words.
``tests/test_mime.py`` parses both and compares them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from email.utils import formataddr, formatdate

# RFC 5322: a line is at most 998 octets; RFC 2047: an encoded word at most 75 characters, so
# 45 octets of text per base64 word.
MAX_LINE = 998
WORD_OCTETS = 45


def encode_header(value: str) -> str:
    """``value`` as it goes in a header: as is when ASCII, else base64 encoded words of whole
    UTF-8 characters, one per folded line."""
    if value.isascii():
        return value
    data, words, start = value.encode(), [], 0
    while start < len(data):
        stop = min(start + WORD_OCTETS, len(data))
        while stop < len(data) and data[stop] & 0xC0 == 0x80:  # not inside a character
            stop -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:stop]).decode()}?=")
        start = stop
    return "\r\n ".join(words)


_date: tuple[int, str] = (0, "")


def date_header() -> str:
    """The Date header's value, formatted once a second (it names the second)."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now))
    return _date[1]


def address(name: str, email: str) -> str:
    return formataddr((name, email), charset="utf-8") if name else email


def _part(content_type: str, body: str) -> tuple[str, bytes]:
    """A part's own headers and its body, CRLF line ends."""
    data = body.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    encoding = "8bit"
    if any(len(line) > MAX_LINE for line in data.split(b"\r\n")):
        encoding = "quoted-printable"
        data = binascii.b2a_qp(body.replace("\r\n", "\n").encode(), istext=True).replace(b"\n", b"\r\n")
    return f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n', data


class Shape:
    """What every message of one campaign shares, encoded once."""

    def __init__(
        self, *, from_address: str, from_name: str = "", reply_to: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        lines = ["MIME-Version: 1.0", f"From: {address(from_name, from_address)}"]
        if reply_to:
            lines.append(f"Reply-To: {reply_to}")
        lines += [f"{k}: {encode_header(v)}" for k, v in (headers or {}).items()]
        self.fixed = "".join(f"{line}\r\n" for line in lines)
        self.boundary = f"==danhba-{secrets.token_hex(16)}=="

    def build(
        self, *, to: str, subject: str, message_id: str, text: str, html: str, headers: Mapping[str, str] | None = None
    ) -> bytes:
        """One message; ``headers``: this recipient's own (List-Unsubscribe…)."""
        own = "".join(f"{k}: {encode_header(v)}\r\n" for k, v in (headers or {}).items())
        head = (
            f"Subject: {encode_header(subject)}\r\n{self.fixed}To: {to}\r\n"
            f"Date: {date_header()}\r\nMessage-ID: {message_id}\r\n{own}"
        )
        if not html.strip():
            part_head, data = _part("text/plain", text)
            return f"{head}{part_head}\r\n".encode() + data
        parts = [_part("text/plain", text), _part("text/html", html)]
        boundary = self.boundary
        while any(boundary.encode() in data for _h, data in parts):
            boundary = f"==danhba-{secrets.token_hex(16)}=="
        out = [f'{head}Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode()]
        for part_head, data in parts:
            out += [f"--{boundary}\r\n{part_head}\r\n".encode(), data, b"\r\n"]
        out.append(f"--{boundary}--\r\n".encode())
        return b"".join(out)
