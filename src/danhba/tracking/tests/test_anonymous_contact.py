"""A contact known only by an event's ``userId`` has no name (not the id, title-cased, as
"Kh-Unknown-99"), and shows as "Anonymous #id" wherever contacts are shown: the list, its
page, a list's members and search, the event explorer, vCard exports and the API."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, ExternalId
from danhba.segments import services as segments
from danhba.tracking.services import identity, intake

pytestmark = pytest.mark.django_db


def by_user_id(user_id: str) -> Contact:
    return ExternalId.objects.select_related("contact").get(system="segment", value=user_id).contact


@pytest.fixture(params=["batch", "one at a time"])
def path(request: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the intake creates contacts: a batch of many, and batches of one."""
    if request.param == "one at a time":
        monkeypatch.setattr(intake, "_resolve_contacts", _one_at_a_time)
    return str(request.param)


def _one_at_a_time(source: Any, messages: list[Any]) -> dict[str, int]:
    links: dict[str, int] = {}
    for message in messages:
        links.update(identity.BatchResolver(source).resolve_all([message]))
    return links


def test_a_user_id_alone_gives_a_contact_without_a_name(post: Any, path: str) -> None:
    assert post("/v1/track", {"userId": "kh-unknown-99", "event": "Signed Up", "messageId": "t1"}).status_code == 200
    contact = by_user_id("kh-unknown-99")
    assert (contact.full_name, contact.given_name, contact.family_name) == ("", "", "")
    assert contact.display_name == str(contact) == f"Anonymous #{contact.pk}"


def test_traits_still_name_the_contact(post: Any, path: str) -> None:
    post("/v1/identify", {"userId": "u-7", "messageId": "i1", "traits": {"name": "Ngô Mai", "email": "mai@x.vn"}})
    assert by_user_id("u-7").display_name == "Ngô Mai"


@pytest.fixture
def anonymous(post: Any) -> Contact:
    post("/v1/track", {"userId": "kh-unknown-99", "event": "Signed Up", "messageId": "t1"})
    return by_user_id("kh-unknown-99")


def test_anonymous_shows_the_same_everywhere(client: Any, admin: Any, anonymous: Contact) -> None:
    label = f"Anonymous #{anonymous.pk}"
    client.force_login(admin)
    assert label in client.get("/contacts/").content.decode()
    page = client.get(f"/contacts/{anonymous.pk}/").content.decode()
    assert f"<h1>{label}</h1>" in page and "Kh-Unknown" not in page
    for view in ("events", "people"):
        explorer = client.get("/events/", {"view": view, "name": "Signed Up"}).content.decode()
        assert label in explorer, view
    vcard = b"".join(client.get("/contacts/export.vcf").streaming_content).decode("utf-8-sig")
    assert f"FN:{label}" in vcard


def test_anonymous_in_a_list_and_its_history(client: Any, admin: Any, anonymous: Contact, make_contact: Any) -> None:
    label = f"Anonymous #{anonymous.pk}"
    listing = segments.segment_create(actor=actor_for(admin), name="Khách", kind="static")
    segments.list_add(actor=actor_for(admin), segment=listing, contact_ids=[anonymous.pk])
    client.force_login(admin)
    members = client.get(f"/segments/{listing.pk}/").content.decode()
    assert label in members
    history = client.get(f"/segments/{listing.pk}/", {"tab": "history"}).content.decode()
    assert label in history


def test_the_api_gives_the_display_name(client: Any, admin: Any, anonymous: Contact) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="anon")
    headers = {"Authorization": f"Bearer {raw}"}
    body = client.get(f"/api/contacts/{anonymous.pk}", headers=headers).json()
    assert body["full_name"] == "" and body["display_name"] == f"Anonymous #{anonymous.pk}"
    listed = client.get("/api/contacts", headers=headers).json()["items"]
    assert [c["display_name"] for c in listed] == [f"Anonymous #{anonymous.pk}"]


def test_in_vietnamese_it_is_an_an_danh(client: Any, admin: Any, anonymous: Contact) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client.force_login(admin)
    assert f"Ẩn danh #{anonymous.pk}" in client.get("/contacts/").content.decode()
