"""The profile's time-zone list starts where danhba's users are: Vietnam and the user's own zone,
then the zones of the same region, then all the others — not at "Africa/Abidjan"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def groups(html: str) -> list[tuple[str, list[str]]]:
    """The time-zone select's option groups: (label, [zone, …]) in page order."""
    select = re.search(r'<select name="time_zone".*?</select>', html, re.S)
    assert select, "no time-zone select"
    return [
        (label, re.findall(r'<option value="([^"]+)"', body))
        for label, body in re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select.group(0), re.S)
    ]


def test_vietnam_first_then_asia_then_the_rest(client_for: Any, users: dict[str, Any]) -> None:
    html = client_for(users["sales"]).get(reverse("accounts:profile")).content.decode()
    (first, suggested), (second, region), (third, rest) = groups(html)
    assert suggested == ["Asia/Ho_Chi_Minh"]
    assert (first, second, third) == ("Suggested", "Same region", "All time zones")
    assert "Asia/Bangkok" in region and all(zone.startswith("Asia/") for zone in region)
    assert rest[0] == "Africa/Abidjan" and "Europe/London" in rest
    everything = suggested + region + rest
    assert len(everything) == len(set(everything)) > 300  # each zone once
    assert 'value="Asia/Ho_Chi_Minh" selected' in html


def test_a_user_elsewhere_gets_their_zone_and_region_next(client_for: Any, users: dict[str, Any]) -> None:
    user = users["analyst"]
    user.time_zone = "Europe/Berlin"
    user.save(update_fields=["time_zone"])
    html = client_for(user).get(reverse("accounts:profile")).content.decode()
    (_l1, suggested), (_l2, region), (_l3, rest) = groups(html)
    assert suggested == ["Asia/Ho_Chi_Minh", "Europe/Berlin"]
    assert "Europe/Paris" in region and "Asia/Bangkok" in rest
    assert 'value="Europe/Berlin" selected' in html


def test_saving_a_zone_from_any_group_works(client_for: Any, users: dict[str, Any]) -> None:
    user = users["support"]
    response = client_for(user).post(reverse("accounts:profile"), {"full_name": "Hỗ Trợ", "time_zone": "America/Lima"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.time_zone == "America/Lima"
