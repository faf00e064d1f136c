"""Numbers, money, dates and relative times as each language writes them (core/formatting.py,
the ``formatting`` template filters and danhba/formats/), date inputs that read dd/mm/yyyy in
Vietnamese, and the language a new install and a browser get."""

from __future__ import annotations

import datetime as dt
import runpy
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from danhba.audit.forms import AuditFilterForm
from danhba.contacts.forms import DATE_INPUT
from danhba.core import formatting

SAIGON = dt.timezone(dt.timedelta(hours=7))
MOMENT = dt.datetime(2026, 12, 6, 7, 5, tzinfo=SAIGON)


def render(source: str, **context: Any) -> str:
    return Template("{% load formatting %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("vi", ["3.005", "1.234.567,5", "45.000 ₫", "11.360.000 ₫", "12,50 USD", "3.005 liên hệ"]),
        ("en", ["3,005", "1,234,567.5", "45,000 ₫", "11,360,000 ₫", "12.50 USD", "3,005 contacts"]),
    ],
)
def test_numbers_and_money_as_the_language_writes_them(language: str, expected: list[str]) -> None:
    with translation.override(language):
        got = [
            formatting.number(3005),
            formatting.number(Decimal("1234567.50")),
            formatting.money(45000),
            render("{{ total|money:'VND' }}", total=Decimal("11360000.00")),
            render("{{ total|money:'usd' }}", total=12.5),
            render('{% load i18n %}{% blocktranslate count counter=total with n=total|num %}{{ n }} contact{% plural %}'
                   "{{ n }} contacts{% endblocktranslate %}", total=3005),
        ]  # fmt: skip
    assert got == expected


def test_numbers_keep_what_is_not_a_number_and_round_to_cents() -> None:
    with translation.override("vi"):
        assert formatting.number(2.999) == "3" and formatting.number(2.5) == "2,5"
        assert formatting.number(None) == "" and formatting.number("abc") == "abc"
        assert formatting.money(None) == "" and formatting.money(0) == "0 ₫"
        assert formatting.number(10**30).startswith("1.000.000")


@pytest.mark.parametrize(
    ("ago", "vi", "en"),
    [
        (dt.timedelta(seconds=20), "vừa xong", "just now"),
        (dt.timedelta(minutes=10), "10 phút trước", "10 minutes ago"),
        (dt.timedelta(hours=1, minutes=5), "1 giờ trước", "1 hour ago"),
        (dt.timedelta(days=27, hours=3), "27 ngày trước", "27 days ago"),  # not "3 weeks, 6 days ago"
        (dt.timedelta(days=70), "2 tháng trước", "2 months ago"),
        (dt.timedelta(days=800), "2 năm trước", "2 years ago"),
        (-dt.timedelta(days=3, hours=1), "3 ngày nữa", "in 3 days"),
    ],
)
def test_relative_times_in_one_unit_in_the_page_language(ago: dt.timedelta, vi: str, en: str) -> None:
    now = timezone.now()
    with translation.override("vi"):
        assert formatting.relative_time(now - ago, now=now) == vi
    with translation.override("en"):
        assert formatting.relative_time(now - ago, now=now) == en


def test_the_ago_filter_is_the_same_helper() -> None:
    with translation.override("vi"):
        assert render("{{ when|ago }}", when=timezone.now() - dt.timedelta(days=27, hours=1)) == "27 ngày trước"
        assert render("{{ when|ago }}", when=None) == ""


@pytest.mark.parametrize(
    ("language", "day", "moment", "axis"),
    [("vi", "06/12/2026", "07:05 06/12/2026", "06/12"), ("en", "6 Dec 2026", "6 Dec 2026, 07:05", "6 Dec")],
)
def test_one_date_format_per_language_everywhere(language: str, day: str, moment: str, axis: str) -> None:
    with translation.override(language), timezone.override(SAIGON):
        # |date with no argument, the named formats templates use, and the helpers all agree.
        assert render("{{ d|date }}|{{ d|date:'SHORT_DATE_FORMAT' }}|{{ d|date:'DATE_FORMAT' }}", d=MOMENT.date()) == (
            f"{day}|{day}|{day}"
        )
        assert render("{{ m|date:'DATETIME_FORMAT' }}|{{ m|date:'SHORT_DATETIME_FORMAT' }}", m=MOMENT) == (
            f"{moment}|{moment}"
        )
        assert formatting.day(MOMENT) == day and formatting.moment(MOMENT) == moment
        assert formatting.day_month(MOMENT) == axis
        # Dates kept as ISO text in JSON (refunds, audit values) read the same.
        assert render("{{ at|moment }}|{{ on|day }}", at=MOMENT.isoformat(), on="2026-12-06") == f"{moment}|{day}"
        assert not render("{{ m|date:'DATETIME_FORMAT' }}.", m=MOMENT).endswith("..")


@pytest.mark.django_db
def test_date_fields_read_day_first_in_vietnamese() -> None:
    with translation.override("vi"):
        assert forms.DateField().clean("06/12/2026") == dt.date(2026, 12, 6)
        assert forms.DateField().clean("2026-12-06") == dt.date(2026, 12, 6)  # what <input type="date"> sends
        form = AuditFilterForm({"date_from": "06/12/2026", "date_to": "07/12/2026"})
        assert form.is_valid(), form.errors
        cleaned = form.cleaned_data
        assert (cleaned["date_from"], cleaned["date_to"]) == (dt.date(2026, 12, 6), dt.date(2026, 12, 7))
    with translation.override("en"):
        assert forms.DateField().clean("6 Dec 2026") == dt.date(2026, 12, 6)


@pytest.mark.django_db
def test_date_inputs_keep_the_iso_value_the_browser_needs() -> None:
    """<input type="date"> only takes yyyy-mm-dd; the browser shows it the reader's way."""
    with translation.override("vi"):
        html = DATE_INPUT.render("birthday", dt.date(1990, 3, 15))
        assert 'value="1990-03-15"' in html
        assert 'value="2026-12-06"' in str(AuditFilterForm(initial={"date_from": dt.date(2026, 12, 6)})["date_from"])


# --- the language -----------------------------------------------------------------------------


def test_a_new_install_speaks_vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGUAGE_CODE", raising=False)
    assert runpy.run_path(settings.PACKAGE_DIR / "settings.py")["LANGUAGE_CODE"] == "vi"
    monkeypatch.setenv("LANGUAGE_CODE", "en")
    assert runpy.run_path(settings.PACKAGE_DIR / "settings.py")["LANGUAGE_CODE"] == "en"


@pytest.mark.django_db
def test_the_login_page_follows_the_browser_and_defaults_to_vietnamese(client: Any, settings: Any) -> None:
    settings.LANGUAGE_CODE = "vi"  # the real default; the suite runs with English
    login = reverse("accounts:login")
    page = client.get(login).content.decode()
    assert '<html lang="vi">' in page and "<h1>Đăng nhập</h1>" in page
    page = client.get(login, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    assert '<html lang="en">' in page and "<h1>Log in</h1>" in page
    vi_page = client.get(login, HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert 'name="language" value="en"' in vi_page  # English one click away on the login page


def language_switch(page: str) -> str:
    """The form on every page that switches the language."""
    start = page.index(f'action="{reverse("accounts:language")}"')
    return page[start : page.index("</form>", start)]


@pytest.mark.django_db
def test_english_is_one_click_away_in_the_sidebar(client_for: Any, users: dict[str, Any], settings: Any) -> None:
    settings.LANGUAGE_CODE = "vi"
    user = users["sales"]
    client = client_for(user)
    page = client.get(reverse("contacts:list")).content.decode()
    switch = language_switch(page)
    assert '<html lang="vi">' in page
    assert 'value="en"' in switch and ">English<" in switch
    response = client.post(reverse("accounts:language"), {"language": "en", "next": reverse("contacts:list")})
    assert response.status_code == 302 and response["Location"] == reverse("contacts:list")
    page = client.get(reverse("contacts:list")).content.decode()
    assert '<html lang="en">' in page and "<h1>Contacts</h1>" in page
    switch = language_switch(page)
    assert 'value="vi"' in switch and "Tiếng Việt" in switch  # and back
    user.refresh_from_db()
    assert user.language == "en"  # a choice that follows the user to other devices
