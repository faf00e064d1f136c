"""Each kind of event told in one line (``selectors.event_line``: the timeline, the explorer
and the API's timeline rows): what the reader sees as its title and detail, with the keys
named like a field the reader may not see left out."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from danhba.tracking.models import Event
from danhba.tracking.selectors import event_line


def line(type_: str, name: str = "", hidden: frozenset[str] = frozenset(), **values: Any) -> tuple[str, str]:
    with translation.override("en"):
        told = event_line(Event(type=type_, name=name, **values), hidden)
        return str(told.title), str(told.detail)


@pytest.mark.parametrize(
    ("name", "props", "told"),
    [
        ("Home", {"url": "https://shop.vn/a/b?x=1", "title": "Shop"}, ("Shop", "/a/b")),
        ("Home", {"url": "https://shop.vn/a/b"}, ("Home", "/a/b")),
        ("", {"path": "/cart"}, ("/cart", "")),
        ("", {"url": "https://shop.vn"}, ("https://shop.vn", "")),
        ("", {}, ("(untitled page)", "")),
        ("", {"title": "T" * 130, "path": "/p"}, ("T" * 119 + "…", "/p")),
        ("", "not an object", ("(untitled page)", "")),
    ],
)
def test_a_page_shows_its_title_and_path(name: str, props: Any, told: tuple[str, str]) -> None:
    assert line("page", name, properties=props) == told
    assert line("screen", name, properties=props) == told


def test_an_identify_names_the_traits_it_set_not_their_values() -> None:
    traits = {f"t{i}": "v" for i in range(9)} | {"birthday": "1990-01-01"}
    assert line("identify", traits={"email": "a@b.vn", "plan": "pro"}) == ("Identified", "Traits: email, plan")
    assert line("identify", traits=traits, hidden=frozenset({"birthday"})) == (
        "Identified", "Traits: t0, t1, t2, t3, t4, t5, t6, t7 …",
    )  # fmt: skip
    assert line("identify", traits={"birthday": "x"}, hidden=frozenset({"birthday"})) == ("Identified", "")
    assert line("identify", traits=None) == ("Identified", "")


def test_group_and_alias() -> None:
    assert line("group", "acme") == ("Joined group acme", "")
    assert line("group") == ("Joined a group", "")
    assert line("alias", properties={"previousId": "d-0"}) == ("Linked another identity (alias)", "")


def test_an_email_event_names_its_campaign_and_what_happened() -> None:
    clicked = {"campaign": "Tết sale", "url": "https://shop.vn/tet", "machine": True}
    assert line("track", "Email Link Clicked", properties=clicked) == (
        "Link clicked in an email: “Tết sale”",
        "https://shop.vn/tet · by a machine (mail privacy proxy or link scanner), not a reader",
    )
    assert line("track", "Email Bounced", properties={"bounce_type": "soft"}) == ("Email bounced", "soft bounce")
    assert line("track", "Email Bounced", properties={"bounce_type": "hard"}) == ("Email bounced", "hard bounce")


def test_a_track_shows_its_first_scalar_properties() -> None:
    props = {"nested": {"a": 1}, "list": [1], "none": None, "blank": "", "custom_vip": "yes", "total": 450000,
             "currency": "VND", "sku": "A" * 70, "fourth": "left out"}  # fmt: skip
    assert line("track", "Order Completed", hidden=frozenset({"custom.custom_vip"}), properties=props) == (
        "Order Completed", "total: 450000 · currency: VND · sku: " + "A" * 59 + "…",
    )  # fmt: skip
    assert line("track", properties={}) == ("Track", "")
