"""From a template as its author wrote it to the parts of one email. Pure: no database access.

Compiled once per template (or campaign): MJML to HTML (mjml-python, no includes), and each
part parsed as Liquid. Rendered per recipient: the Liquid parts filled with that recipient's
tokens, the advertising label put before a marketing subject, the preheader put at the top of
the body, CSS inlined (css-inline: ``@media`` rules kept in a ``<style>`` for phones, no
stylesheet fetched), and the plain-text part derived from the HTML when the author left it
empty.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser, attrfind_tolerant  # type: ignore[attr-defined]
from typing import Any

import css_inline
import mjml
from django.utils.translation import gettext as _
from liquid.template import BoundTemplate

from danhba.messaging import liquid
from danhba.messaging.liquid import TemplateProblem

# Gmail shows "[Message clipped]" and hides the rest of a message whose HTML is above 102 KB.
GMAIL_CLIP_BYTES = 102 * 1024
MAX_LINKS_LISTED = 200
# Words that spam filters and readers take for spam (English and Vietnamese), matched as words
# in the subject, preheader and text.
SPAM_WORDS = (
    "100% free", "act now", "buy now", "cash bonus", "click here", "congratulations", "earn money",
    "free gift", "guaranteed", "limited time", "no cost", "risk-free", "urgent", "winner", "you have been selected",
    "miễn phí 100%", "nhấp vào đây", "bấm vào đây", "click ngay", "nhanh tay", "trúng thưởng", "quà tặng miễn phí",
    "cơ hội cuối cùng", "kiếm tiền", "cam kết 100%", "khẩn cấp", "bạn đã trúng",
)  # fmt: skip
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False)


@dataclass(frozen=True)
class Parts:
    """What an author wrote, as stored on a template (or a campaign's copy of it)."""

    subject: str
    preheader: str = ""
    body: str = ""
    text_body: str = ""
    mjml: bool = False
    marketing: bool = True


@dataclass(frozen=True)
class Compiled:
    subject: BoundTemplate
    preheader: BoundTemplate
    html: BoundTemplate
    text: BoundTemplate | None
    marketing: bool


@dataclass(frozen=True)
class Footer:
    """What a marketing email ends with: who sends it, their postal address, and the visible
    unsubscribe and preference links (bilingual: the recipient's language is not known)."""

    identity: str
    address: str
    unsubscribe: str
    preferences: str

    def html(self) -> str:
        esc = html_lib.escape
        who = " · ".join(esc(p) for p in (self.identity, self.address) if p)
        return (
            '<div style="margin-top:24px;padding-top:12px;border-top:1px solid #e5e7eb;color:#6b7280;'
            f'font-size:12px;line-height:18px;">{who}<br>'
            f'<a href="{esc(self.unsubscribe)}" style="color:#6b7280;">Huỷ đăng ký · Unsubscribe</a> · '
            f'<a href="{esc(self.preferences)}" style="color:#6b7280;">Tuỳ chọn nhận thư · Preferences</a></div>'
        )

    def text(self) -> str:
        who = " · ".join(p for p in (self.identity, self.address) if p)
        return (
            f"\n--\n{who}\nHuỷ đăng ký · Unsubscribe: {self.unsubscribe}\nTuỳ chọn · Preferences: {self.preferences}\n"
        )


@dataclass(frozen=True)
class Rendered:
    subject: str
    preheader: str
    html: str
    text: str


class PartProblem(TemplateProblem):
    """A problem in one part of a template; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _no_includes(path: str) -> str:
    raise ValueError(path)


def mjml_to_html(source: str) -> str:
    try:
        return mjml.mjml2html(source, include_loader=_no_includes)
    except ValueError as exc:
        raise TemplateProblem(_("The MJML cannot be compiled: %(detail)s") % {"detail": str(exc)}) from None


def _parse(field: str, source: str, *, html: bool) -> BoundTemplate:
    try:
        return liquid.parse(source, html=html)
    except TemplateProblem as exc:
        raise PartProblem(field, str(exc)) from None


def compile_parts(parts: Parts) -> Compiled:
    """Parse every part; the first problem found is raised as a :class:`PartProblem`."""
    body = parts.body
    if parts.mjml and body.strip():
        try:
            body = mjml_to_html(body)
        except TemplateProblem as exc:
            raise PartProblem("body", str(exc)) from None
    return Compiled(
        subject=_parse("subject", parts.subject, html=False),
        preheader=_parse("preheader", parts.preheader, html=False),
        html=_parse("body", body, html=True),
        text=_parse("text_body", parts.text_body, html=False) if parts.text_body.strip() else None,
        marketing=parts.marketing,
    )


def _render(field: str, template: BoundTemplate, tokens: Mapping[str, Any], *, html: bool) -> str:
    try:
        return liquid.render(template, tokens, html=html)
    except TemplateProblem as exc:
        raise PartProblem(field, str(exc)) from None


def one_line(text: str) -> str:
    """Headers are one line: newlines a token brought in become spaces."""
    return " ".join(text.split())


def render(
    compiled: Compiled, tokens: Mapping[str, Any], *, ad_label: str = "", footer: Footer | None = None
) -> Rendered:
    subject = one_line(_render("subject", compiled.subject, tokens, html=False))
    if compiled.marketing and ad_label and not subject.startswith(ad_label):
        subject = f"{ad_label} {subject}"
    preheader = one_line(_render("preheader", compiled.preheader, tokens, html=False))
    body = _render("body", compiled.html, tokens, html=True)
    if compiled.text is not None:
        text = _render("text_body", compiled.text, tokens, html=False).strip() + "\n"
    else:
        text = html_to_text(body)
    if footer is not None:
        body = with_footer(body, footer.html())
        text = text + footer.text()
    body = inline_css(with_preheader(body, preheader))
    return Rendered(subject=subject, preheader=preheader, html=body, text=text)


def inline_css(html: str) -> str:
    if not html.strip():
        return html
    try:
        return _inliner.inline(html)
    except (css_inline.InlineError, ValueError):
        # CSS the inliner cannot read is left as written: clients still read <style>.
        return html


_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def with_preheader(html: str, preheader: str) -> str:
    """The preheader (the line inboxes show after the subject) as hidden text at the top."""
    if not preheader:
        return html
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;line-height:1px;">'
        f"{html_lib.escape(preheader)}</div>"
    )
    match = _BODY_OPEN.search(html)
    if match:
        return html[: match.end()] + hidden + html[match.end() :]
    return hidden + html


_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


def with_footer(html: str, footer: str) -> str:
    matches = list(_BODY_CLOSE.finditer(html))
    if matches:
        at = matches[-1].start()
        return html[:at] + footer + html[at:]
    return html + footer


class _TextParser(HTMLParser):
    BLOCKS = frozenset(
        ("p", "div", "br", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "section",
         "article", "header", "footer", "blockquote", "hr")
    )  # fmt: skip
    SKIP = frozenset(("style", "script", "head", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str | None] = []
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
            self.link_text = []
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "img" and (alt := dict(attrs).get("alt")):
            self.out.append(alt)
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.href:
            href = self.href.pop()
            shown = " ".join("".join(self.link_text).split())
            if href and href.startswith(("http://", "https://")) and href != shown:
                self.out.append(f" ({href})")
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.out.append(data)
        if self.href:
            self.link_text.append(data)


# The tokens HTMLParser tells apart, for _scan: comments, declarations and processing
# instructions (ignored), then start and end tags (name, the rest up to ``>``).
_TAG = re.compile(
    r"<!--.*?-->|<![^>]*>|<\?[^>]*>|<(/?)([a-zA-Z][^\t\n\r\f />\x00]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S
)
_RAW_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}
_AFTER_NAME = re.compile(r"(?:\s|/(?!>))*")


def _attrs(rest: str) -> tuple[list[tuple[str, str | None]], str]:
    """A start tag's attributes, read as HTMLParser reads them (its own expression), and what is
    left before ``>``: "" for a start tag, "/" for an empty one (``<br/>``), else not a tag."""
    text = rest + ">"
    found: list[tuple[str, str | None]] = []
    k = _AFTER_NAME.match(text).end()  # type: ignore[union-attr]
    while k < len(rest) and (m := attrfind_tolerant.match(text, k)):
        name, equals, value = m.group(1, 2, 3)
        if not equals:
            value = None
        elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
            value = value[1:-1]
        found.append((name.lower(), html_lib.unescape(value) if value else value))
        k = m.end()
    return found, text[k:-1].strip()


def _scan(parser: _TextParser, html: str) -> None:
    """Feed ``parser``'s handlers what ``HTMLParser.feed`` would, at a fraction of its cost: one
    regular expression per tag, attributes read only where the handlers use them (links and
    images). ``tests/test_render.py`` holds the two to the same text."""
    pos, end = 0, len(html)
    while pos < end:
        lt = html.find("<", pos)
        if lt < 0:
            lt = end
        if lt > pos:
            parser.handle_data(html_lib.unescape(html[pos:lt]))
        if lt == end:
            return
        tag = _TAG.match(html, lt)
        if tag is None:  # a "<" that opens no tag is text
            parser.handle_data("<")
            pos = lt + 1
            continue
        pos = _tag(parser, html, tag)


def _tag(parser: _TextParser, html: str, tag: re.Match[str]) -> int:
    """Hand one tag to the parser; where the text goes on."""
    pos = tag.end()
    closing, name, rest = tag.groups()
    if name is None:
        return pos
    name = name.lower()
    if closing:
        parser.handle_endtag(name)
        return pos
    attrs, left = _attrs(rest) if name in ("a", "img") or "/" in rest else ([], "")
    if left not in ("", "/"):  # HTMLParser takes it for text
        parser.handle_data(tag.group())
        return pos
    parser.handle_starttag(name, attrs)
    if left == "/":
        parser.handle_endtag(name)
    elif name in _RAW_END:  # raw text up to its end tag
        stop = _RAW_END[name].search(html, pos)
        parser.handle_data(html[pos : stop.start() if stop else len(html)])
        return stop.start() if stop else len(html)
    return pos


def html_to_text(html: str) -> str:
    """A readable plain-text part: paragraphs on lines of their own, links with their address."""
    parser = _TextParser()
    _scan(parser, html)
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text + "\n" if text else ""


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area") and (href := dict(attrs).get("href")) and len(self.links) < MAX_LINKS_LISTED:
            self.links[href.strip()] = None


def links_in(html: str) -> list[str]:
    """Every link of a body, once each, in the order they appear."""
    parser = _LinkParser()
    parser.feed(html)
    parser.close()
    return list(parser.links)


def warnings(rendered: Rendered) -> list[str]:
    """What may keep the email out of the inbox or cut it short: for the author, never blocking."""
    found: list[str] = []
    size = len(rendered.html.encode())
    if size > GMAIL_CLIP_BYTES:
        found.append(
            _("The HTML is %(kb)s KB; Gmail clips messages above 102 KB and hides the rest behind a link.")
            % {"kb": round(size / 1024)}
        )
    words = spam_words(" ".join((rendered.subject, rendered.preheader, rendered.text)))
    if words:
        found.append(_("Words spam filters dislike: %(words)s.") % {"words": ", ".join(f"“{w}”" for w in words)})
    letters = [c for c in rendered.subject if c.isalpha()]
    if len(letters) >= 10 and sum(c.isupper() for c in letters) > 0.7 * len(letters):
        found.append(_("The subject is mostly capital letters, which spam filters count against it."))
    if rendered.subject.count("!") >= 3:
        found.append(_("The subject has many exclamation marks."))
    if not rendered.text.strip():
        found.append(_("The email has no text: write a body."))
    return found


def spam_words(text: str) -> list[str]:
    folded = " ".join(text.lower().split())
    return [w for w in SPAM_WORDS if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", folded)]
