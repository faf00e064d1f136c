"""Template safety and rendering: autoescape, no way to Python objects or files, the limits and
the deadline each end in a clear message for the author (never a 500), MJML, CSS inlining with
@media kept, the text part, tokens (anh/chị, fallbacks, signed links) and the warnings."""

from __future__ import annotations

import time
from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.messaging import compose, liquid
from danhba.messaging.compose import PartProblem, Parts
from danhba.messaging.links import Recipient, make_token, read_token
from danhba.messaging.liquid import TemplateProblem
from danhba.messaging.selectors import contact_tokens, sample_tokens


def render(body: str, tokens: dict[str, Any] | None = None, **parts: Any) -> compose.Rendered:
    source = Parts(subject=parts.pop("subject", "Hi"), body=body, **parts)
    return compose.render(compose.compile_parts(source), tokens or sample_tokens(), ad_label="[QC]")


def test_values_are_escaped_and_safe_is_gone() -> None:
    tokens = {"contact": {"given_name": '<script>alert(1)</script>"'}}
    rendered = render("<p>Chào {{ contact.given_name }}</p>", tokens)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    with pytest.raises(PartProblem) as problem:
        render("<p>{{ contact.given_name | safe }}</p>", tokens)
    assert problem.value.field == "body" and "safe" in str(problem.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__ }}{{ contact.__init__.__globals__ }}",
        "{{ contact.items }}{{ contact.keys }}{{ contact.get }}",
        "{{ contact.given_name.__class__.__mro__ }}",
        "{% assign x = contact %}{{ x.__dict__ }}",
    ],
)
def test_python_internals_are_unreachable(source: str) -> None:
    rendered = liquid.render(source, {"contact": {"given_name": "An"}}, html=True)
    assert rendered.strip() == ""


@pytest.mark.parametrize("tag", ["{% include 'x' %}", "{% render '/etc/passwd' %}", "{% include '../settings.py' %}"])
def test_no_file_tags(tag: str) -> None:
    with pytest.raises(TemplateProblem, match="syntax error"):
        liquid.parse(tag, html=True)


def test_mjml_includes_read_no_files() -> None:
    with pytest.raises(PartProblem, match="MJML"):
        render('<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>', mjml=True)


def test_huge_loop_is_refused() -> None:
    with pytest.raises(TemplateProblem, match="loop runs more than"):
        liquid.render("{% for i in (1..100000000) %}x{% endfor %}", {}, html=True)
    nested = "{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateProblem, match="loop runs more than"):
        liquid.render(nested, {}, html=True)


def test_huge_output_is_refused(settings: Any) -> None:
    source = "{% for i in (1..10000) %}" + "x" * 200 + "{% endfor %}"
    with pytest.raises(TemplateProblem, match="larger than"):
        liquid.render(source, {}, html=True)
    growing = "{% assign s = 'xxxxxxxxxx' %}" + "{% assign s = s | append: s %}" * 30 + "{{ s | size }}"
    with pytest.raises(TemplateProblem):
        liquid.render(growing, {}, html=True)


def test_render_deadline(settings: Any) -> None:
    settings.MESSAGING_LIQUID_TIMEOUT = 0.3
    # Many sibling loops, each under the iteration limit, writing nothing: only the clock stops it.
    source = "{% for i in (1..9000) %}{% endfor %}" * 2000
    # CPU time of this process: the loops would run for many seconds; a busy machine must not
    # make the check fail (wall time grows with other processes' load, this does not).
    started = time.process_time()
    with pytest.raises(TemplateProblem, match=r"longer than 0\.3 s"):
        liquid.render(source, {}, html=True)
    assert time.process_time() - started < 3


def test_syntax_error_names_the_part() -> None:
    with pytest.raises(PartProblem) as problem:
        compose.compile_parts(Parts(subject="Hi {{ contact.given_name ", body="<p>ok</p>"))
    assert problem.value.field == "subject" and "syntax error" in str(problem.value)


def test_mjml_inline_css_media_kept_and_text_part() -> None:
    body = (
        "<html><head><style>p { color: #b91c1c; } @media (max-width: 480px) { p { font-size: 18px; } }</style>"
        '<link rel="stylesheet" href="https://cdn.example.com/x.css"></head>'
        '<body><h1>Chào {{ xung_ho | default: "bạn" }} {{ contact.given_name }}</h1>'
        '<p>Xem <a href="https://shop.example.vn/sale">ưu đãi</a>.</p></body></html>'
    )
    rendered = render(body, preheader="Giảm 20% cho {{ contact.given_name }}")
    assert '<p style="color: #b91c1c;">' in rendered.html
    assert "@media (max-width: 480px)" in rendered.html and "cdn.example.com" not in rendered.html
    assert "Giảm 20% cho Mai" in rendered.html.split("<h1")[0]
    assert rendered.subject == "[QC] Hi"
    assert "Chào chị Mai" in rendered.text and "ưu đãi (https://shop.example.vn/sale)" in rendered.text
    mjml = render(
        "<mjml><mj-body><mj-section><mj-column><mj-text>Chào {{ contact.given_name }}</mj-text>"
        '<mj-button href="{{ links.preferences }}">Tuỳ chọn</mj-button></mj-column></mj-section></mj-body></mjml>',
        mjml=True,
        marketing=False,
    )
    assert "Chào Mai" in mjml.html and "/email/preferences/" in mjml.html and mjml.subject == "Hi"


def test_tokens_for_a_contact(make_contact: Any, admin: Any, users: Any) -> None:
    contact = make_contact(full_name="Trần Văn Bình", gender="male", emails=["binh@example.vn"])
    tokens = contact_tokens(contact)
    rendered = render(
        "<p>{{ xung_ho | capitalize }} {{ contact.given_name }} · {{ contact.email }} · "
        '{{ company.name | default: "—" }} · {{ contact.custom.hang | default: "thường" }}</p>',
        tokens,
    )
    assert "Anh Bình · binh@example.vn · — · thường" in rendered.html
    assert tokens["contact"]["gender"] == "male"
    hidden = contact_tokens(contact, hidden={"gender"})
    assert hidden["xung_ho"] == "" and hidden["contact"]["gender"] == ""
    token = tokens["links"]["unsubscribe"].rstrip("/").rsplit("/", 1)[1]
    assert read_token(token) == Recipient(contact_id=contact.pk)
    assert read_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert read_token(make_token(Recipient(contact.pk, 7))) == Recipient(contact.pk, 7)


def test_warnings_spam_words_size_and_links() -> None:
    rendered = render(
        '<p>Click here: <a href="https://a.example.vn/">a</a> <a href="mailto:x@example.vn">m</a>'
        '<a href="https://a.example.vn/">again</a></p>' + "<p>" + "x" * 110_000 + "</p>",
        subject="MIỄN PHÍ 100% NHANH TAY!!!",
    )
    found = " ".join(compose.warnings(rendered))
    assert "Gmail clips" in found and "“click here”" in found and "“nhanh tay”" in found
    assert "capital letters" in found and "exclamation" in found
    assert compose.links_in(rendered.html) == ["https://a.example.vn/", "mailto:x@example.vn"]


def test_contact_data_cannot_break_headers() -> None:
    rendered = render(
        "<p>x</p>", {"contact": {"name": "An\r\nBcc: victim@example.com"}}, subject="Hi {{ contact.name }}"
    )
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_template_problem_in_service_is_invalid_input(admin: Any) -> None:
    from danhba.core.errors import InvalidInput
    from danhba.messaging.services.templates import template_create

    with pytest.raises(InvalidInput) as problem:
        template_create(actor=actor_for(admin), data={"name": "x", "subject": "{% if %}", "body": "<p>x</p>"})
    assert "subject" in problem.value.details
