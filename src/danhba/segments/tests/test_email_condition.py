"""The ``email`` condition on the email events alone (no campaign needed: the events name it):
one campaign or any, machines' opens and clicks left out, a click counted as an open, "did
not", the period; a campaign nobody can name reads as its number."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone, translation

from danhba.contacts.models import Contact
from danhba.segments.compiler import matching
from danhba.segments.conditions import clean, describe
from danhba.tracking.services.server import ServerEvent, server_events_store

pytestmark = pytest.mark.django_db


def _ids(**leaf: Any) -> set[int]:
    tree = clean({"op": "all", "conditions": [{"kind": "email", **leaf}]})
    return set(matching(tree).values_list("pk", flat=True))


def test_email_condition_reads_the_email_events(make_contact: Any) -> None:
    lan, minh, hoa = (make_contact(full_name=name) for name in ("Lan", "Minh", "Hoa"))
    long_ago = timezone.now() - dt.timedelta(days=90)
    server_events_store(
        source="email",
        events=[
            ServerEvent(lan.pk, "Email Opened", "o1", {"campaign_id": 7, "machine": False}),
            ServerEvent(minh.pk, "Email Opened", "o2", {"campaign_id": 7, "machine": True}),  # Apple's proxy
            ServerEvent(minh.pk, "Email Link Clicked", "c1", {"campaign_id": 8, "machine": False}),
            ServerEvent(hoa.pk, "Email Sent", "s1", {"campaign_id": 7}, timestamp=long_ago),
        ],
    )
    everyone = set(Contact.objects.values_list("pk", flat=True))
    assert _ids(action="opened", campaign=7) == {lan.pk}
    assert _ids(action="opened", campaign=None) == {lan.pk, minh.pk}  # Minh's click on campaign 8
    assert _ids(action="clicked", campaign=7) == set()
    assert _ids(action="opened", campaign=7, negate=True) == everyone - {lan.pk}
    assert _ids(action="received", campaign=7) == {hoa.pk}
    assert _ids(action="received", campaign=7, period={"last_days": 30}) == set()
    with translation.override("en"):
        tree = clean({"op": "all", "conditions": [{"kind": "email", "action": "clicked", "campaign": 99999}]})
        assert describe(tree) == "clicked a link in campaign #99999"


def test_email_events_from_another_source_do_not_count(make_contact: Any) -> None:
    """A browser write key is public: anyone can send "Email Opened" with a campaign_id. Only the
    events danhba's email code writes (its internal source) join an email segment."""
    lan, minh = make_contact(full_name="Lan"), make_contact(full_name="Minh")
    server_events_store(source="email", events=[ServerEvent(lan.pk, "Email Opened", "o1", {"campaign_id": 7})])
    server_events_store(
        source="website",
        events=[
            ServerEvent(minh.pk, "Email Opened", "f1", {"campaign_id": 7, "machine": False}),
            ServerEvent(minh.pk, "Email Link Clicked", "f2", {"campaign_id": 7, "machine": False}),
        ],
    )
    assert _ids(action="opened", campaign=7) == {lan.pk}
    assert _ids(action="clicked", campaign=None) == set()
