"""The send job's messages (``mime.Shape``, the SMTP fast path) say what Django's would: parsed,
the headers, the parts and their text are the same; long lines go quoted-printable; long
Vietnamese subjects are folded into encoded words that decode to the subject. And the text part's
scanner gives what HTMLParser gives."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from danhba.core.tests.properties import examples
from danhba.messaging import compose, mime, transport
from danhba.messaging.compose import Rendered

HEADERS = {
    "X-Danhba-Campaign": "7",
}
OWN = {
    "List-Unsubscribe": "<https://danhba.example.vn/email/unsubscribe/abc:def/>, <mailto:news@anhduong.vn?subject=x>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def both(rendered: Rendered) -> tuple[EmailMessage, EmailMessage]:
    django = transport.build_message(
        rendered, to="lan@example.vn", from_address="news@anhduong.vn", from_name="Cửa hàng Ánh Dương",
        reply_to="hotro@anhduong.vn", message_id="<c7.r9.k@anhduong.vn>", headers={**HEADERS, **OWN},
    )  # fmt: skip
    shape = mime.Shape(
        from_address="news@anhduong.vn", from_name="Cửa hàng Ánh Dương", reply_to="hotro@anhduong.vn", headers=HEADERS
    )
    fast = shape.build(
        to="lan@example.vn", subject=rendered.subject, message_id="<c7.r9.k@anhduong.vn>", text=rendered.text,
        html=rendered.html, headers=OWN,
    )  # fmt: skip
    return parsed(django.message().as_bytes(linesep="\r\n")), parsed(fast)


def same(django: EmailMessage, fast: EmailMessage) -> None:
    for name in ("Subject", "From", "To", "Reply-To", "Message-ID", "MIME-Version", *HEADERS, *OWN):
        # Django's folding of a long subject parses back with a leading space; ours does not.
        assert str(fast[name]) == str(django[name]).lstrip(), name
    assert fast.get_content_type() == django.get_content_type()
    fast_parts = [(p.get_content_type(), p.get_content()) for p in fast.walk() if not p.is_multipart()]
    django_parts = [(p.get_content_type(), p.get_content()) for p in django.walk() if not p.is_multipart()]
    assert fast_parts == django_parts and fast_parts


@pytest.fixture(autouse=True)
def _unsigned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "signing_key", lambda domain: None)  # no database in these tests


def test_the_fast_message_is_djangos() -> None:
    rendered = Rendered(
        subject="[QC] Chị Lan ơi, ưu đãi tháng 12", preheader="",
        html='<html><body><p style="color: #0f766e;">Chào chị Lan,</p></body></html>', text="Chào chị Lan,\n",
    )  # fmt: skip
    django, fast = both(rendered)
    same(django, fast)
    assert fast["Date"] and fast.get_content_charset() is None


def test_long_lines_long_subjects_and_text_only() -> None:
    long_html = "<p>" + "Ưu đãi đặc biệt " * 200 + "</p>"  # one line of 3,800 octets
    subject = compose.one_line("[QC] " + "Chương trình khuyến mãi cuối năm dành riêng cho khách hàng thân thiết " * 3)
    django, fast = both(Rendered(subject=subject, preheader="", html=long_html, text="x\n"))
    same(django, fast)
    raw = mime.Shape(from_address="a@b.vn").build(
        to="c@d.vn", subject=subject, message_id="<1@b.vn>", text="x", html=long_html
    )
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"quoted-printable" in raw and parsed(raw)["Subject"] == subject
    text_only = parsed(
        mime.Shape(from_address="a@b.vn").build(to="c@d.vn", subject="S", message_id="<1@b.vn>", text="Chào\n", html="")
    )
    assert text_only.get_content_type() == "text/plain" and text_only.get_content().replace("\r\n", "\n") == "Chào\n"


@given(st.text(min_size=1, max_size=200).map(lambda s: " ".join(s.split())).filter(bool))
@settings(max_examples=examples(200), deadline=None)
def test_encoded_subjects_decode_to_the_subject(subject: str) -> None:
    raw = mime.Shape(from_address="a@b.vn").build(
        to="c@d.vn", subject=subject, message_id="<1@b.vn>", text="x", html=""
    )
    assert str(parsed(raw)["Subject"]) == subject
    head = raw.split(b"\r\n\r\n")[0].decode()
    assert all(len(word) <= 75 for word in re.findall(r"=\?utf-8\?b\?[^?]*\?=", head))  # RFC 2047


def reference_text(html: str) -> str:
    parser = compose._TextParser()
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def scanned_text(html: str) -> str:
    parser = compose._TextParser()
    compose._scan(parser, html)
    return "".join(parser.out)


SAMPLES = [
    "<p>a &amp; b</p><br/><a href='https://x.vn/?a=1&amp;b=2'>x</a><img alt=\"Ảnh &quot;\" src=x>",
    "a < b <3 <!-- c --> <!DOCTYPE html><script>if (a<b) {}</script>t",
    "<STYLE>p>a{}</style><Title>x</Title><ul><li>1<li>2</ul><a href=https://a.vn/>https://a.vn/</a>",
    '<a href="https://a.vn" title="x > y">đi</a><A HREF=https://b.vn/x>b</A><img alt=x/><br / >',
    "<table><tr><td>1</td></tr></table><h1>T</h1><hr><blockquote>q</blockquote><p>&#7845;&nbsp;&unknown;</p>",
]


def test_the_text_scanner_reads_html_as_htmlparser_does() -> None:
    for html in SAMPLES:
        assert scanned_text(html) == reference_text(html), html


TAGS = st.sampled_from(["p", "a", "br", "li", "img", "style", "div", "span", "title", "b", "A", "P"])
ATTRS = st.sampled_from(["", ' href="https://a.vn/x"', " href=https://b.vn/", " alt='Ảnh'", ' href="/x"', " / ", "/"])
PIECES = st.one_of(
    st.text(alphabet="abc đê &;<>\n", max_size=8),
    st.builds(lambda t, a: f"<{t}{a}>", TAGS, ATTRS),
    st.builds(lambda t: f"</{t}>", TAGS),
    st.sampled_from(["<!-- x -->", "&amp;", "&lt;", "&#7845;", "<!DOCTYPE html>"]),
)


@given(st.lists(PIECES, max_size=30).map("".join))
@settings(max_examples=examples(300), deadline=None)
def test_the_text_scanner_on_generated_html(html: str) -> None:
    assert scanned_text(html) == reference_text(html)
