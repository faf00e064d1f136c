"""Text is cleaned the same way wherever it enters — the API, the event API
(``tracking/tests/test_event_text_cleaning.py``), imports and the pages' forms — by
``core.normalize``: control characters and bidirectional overrides are taken
out of names and other text (a bell, or a right-to-left override that shows "evil.exe" as
"exe.live"), fullwidth email addresses are read as the ASCII ones they look like, and event
timestamps outside the years danhba accepts everywhere (1900–2200) are refused with a reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.normalize import clean_long_text, clean_text, name_case, normalize_email
from danhba.ingest.tests.test_load import run_import

BELL_NAME = "Bell\x07 Nguyễn\x1b Văn\x7f An"
RLO_NAME = "\u202eTrần\u2066 Thị\u2069 Bích\u200f"
FULLWIDTH = "ｔｅｓｔ＠probe.vn"
HOBBY = "Đọc sách\u202e\r\nBơi\x07 lội\n\tchạy bộ"


def test_the_normaliser_takes_out_controls_and_direction_overrides() -> None:
    assert name_case(BELL_NAME) == "Bell Nguyễn Văn An"
    assert name_case(RLO_NAME) == "Trần Thị Bích"
    assert clean_text("a\tb\x0bc\x85d") == "a b c d"  # control whitespace is a space
    assert clean_text("Nguyễn\u200dVăn") == "Nguyễn\u200dVăn"  # joiners that scripts need stay
    assert clean_long_text(HOBBY) == "Đọc sách\nBơi lội\n\tchạy bộ"
    assert normalize_email(FULLWIDTH) == "test@probe.vn"
    assert normalize_email("Ｔｒａｎ.Ｂｉｃｈ@ＥＸＡＭＰＬＥ.vn") == "tran.bich@example.vn"


def assert_clean(contact: Contact, email: str = "test@probe.vn") -> None:
    assert contact.full_name == "Bell Nguyễn Văn An"
    assert list(contact.emails.values_list("email", flat=True)) == [email]


@pytest.mark.django_db
def test_through_the_api(client: Any, admin: Any) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="clean")
    payload = {"full_name": BELL_NAME, "emails": [FULLWIDTH], "hobbies": HOBBY, "job_title": "Kế\u202e toán"}
    response = client.post("/api/contacts", payload, content_type="application/json", headers={"X-API-Key": raw})
    assert response.status_code == 201, response.content
    contact = Contact.objects.get()
    assert_clean(contact)
    assert contact.hobbies == "Đọc sách\nBơi lội\n\tchạy bộ"
    assert contact.job_title == "Kế toán"
    # The same address typed in ASCII is the same person, not a second contact.
    again = client.post(
        "/api/contacts", {"full_name": "X", "emails": ["test@probe.vn"]}, content_type="application/json",
        headers={"X-API-Key": raw},
    )  # fmt: skip
    assert again.status_code == 409


@pytest.mark.django_db
def test_through_an_import(admin: Any) -> None:
    csv = f'name,email,hobbies\n{BELL_NAME},{FULLWIDTH},"{HOBBY}"\n'.encode()
    run = run_import(csv, actor_for(admin), columns={"name": "full_name", "email": "email", "hobbies": "hobbies"})
    assert run.created == 1, list(run.issues.values_list("reason", flat=True))
    contact = Contact.objects.get()
    assert_clean(contact)
    # The importer reads every cell as one line; what is taken out is the same.
    assert contact.hobbies == "Đọc sách Bơi lội chạy bộ"


@pytest.mark.django_db
def test_through_the_contact_form(client: Any, admin: Any) -> None:
    client.force_login(admin)
    response = client.post("/contacts/new/", {"full_name": RLO_NAME, "email": [FULLWIDTH], "source": "other"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    contact = Contact.objects.get()
    assert contact.full_name == "Trần Thị Bích"
    assert contact.email == "test@probe.vn"


def test_event_times_share_the_window_of_every_other_date() -> None:
    from danhba.core.normalize import sane_moment

    assert sane_moment(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert not sane_moment(dt.datetime(1, 1, 1, tzinfo=dt.UTC))
    assert not sane_moment(dt.datetime(9999, 1, 1, tzinfo=dt.UTC))
