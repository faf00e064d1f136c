"""The contact list and a contact's page in each language's formats: "27 ngày trước" beside
"10 phút trước" (one relative-time helper everywhere), dd/mm/yyyy dates in Vietnamese and
"6 Dec 2026" in English (never month first)."""

from __future__ import annotations

import datetime as dt
from html import unescape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_contact(make_contact: Any) -> Contact:
    contact = make_contact(full_name="Trần Thị Bình")
    created = timezone.now() - dt.timedelta(days=400)
    Contact.objects.filter(pk=contact.pk).update(
        last_activity_at=timezone.now() - dt.timedelta(days=27, hours=2), created_at=created
    )
    contact.refresh_from_db()
    return contact


def page(client: Any, url: str) -> str:
    return unescape(client.get(url).content.decode())


def test_last_activity_reads_in_the_page_language(client_for: Any, users: dict[str, Any], active_contact: Any) -> None:
    admin = users["admin"]
    english = page(client_for(admin), reverse("contacts:list"))
    assert "27 days ago" in english and "weeks" not in english
    admin.language = "vi"
    admin.save(update_fields=["language"])
    vietnamese = page(client_for(admin), reverse("contacts:list"))
    assert "27 ngày trước" in vietnamese
    for english_word in ("ago", "week", "day", "month"):
        assert f" {english_word}" not in vietnamese.split("<tbody", 1)[1].split("</tbody>", 1)[0]


def test_dates_are_day_first_in_vietnamese_and_unambiguous_in_english(
    client_for: Any, users: dict[str, Any], active_contact: Any
) -> None:
    created = timezone.localtime(active_contact.created_at)
    admin = users["admin"]
    english = page(client_for(admin), reverse("contacts:list"))
    assert created.strftime("%-d %b %Y") in english and created.strftime("%m/%d/%Y") not in english
    detail = page(client_for(admin), reverse("contacts:detail", args=[active_contact.pk]))
    assert f"{created:%-d %b %Y}, {created:%H:%M}" in detail  # the Created field
    admin.language = "vi"
    admin.save(update_fields=["language"])
    vietnamese = page(client_for(admin), reverse("contacts:list"))
    assert created.strftime("%d/%m/%Y") in vietnamese and created.strftime("%d-%m-%Y") not in vietnamese
    detail = page(client_for(admin), reverse("contacts:detail", args=[active_contact.pk]))
    assert f"{created:%H:%M %d/%m/%Y}" in detail
