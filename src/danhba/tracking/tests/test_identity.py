"""Identity resolution: anonymous visitors become contacts, devices join, aliases chain, junk
identifiers never merge anyone, and two known contacts are flagged, never merged."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.contacts.models import Contact, ExternalId
from danhba.tracking.models import AnonymousIdentity, Event, SuspectedDuplicate

pytestmark = pytest.mark.django_db


def events_of(contact: Contact) -> set[str]:
    return set(Event.objects.filter(contact=contact).values_list("message_id", flat=True))


def contact_by_user_id(user_id: str) -> Contact:
    return ExternalId.objects.select_related("contact").get(system="segment", value=user_id).contact


def test_identify_creates_a_contact_from_traits(post: Any) -> None:
    response = post(
        "/v1/identify",
        {
            "userId": "u-100",
            "messageId": "i1",
            "traits": {
                "email": " Hoa.Nguyen@Example.VN ",
                "phone": "0912 345 678",
                "firstName": "Hoa",
                "lastName": "Nguyễn",
            },
        },
    )
    assert response.status_code == 200
    contact = contact_by_user_id("u-100")
    assert contact.email == "hoa.nguyen@example.vn"
    assert contact.phone == "+84912345678"
    assert contact.given_name == "Hoa" and contact.family_name == "Nguyễn"
    assert contact.source == "web_analytics"  # the source is a website
    assert events_of(contact) == {"i1"}


def test_identify_finds_an_existing_contact_by_email_then_phone(post: Any, make_contact: Any) -> None:
    by_email = make_contact(full_name="Trần Bình", emails=["binh@example.vn"])
    by_phone = make_contact(full_name="Lê Chi", phones=["0983456712"])
    post("/v1/identify", {"userId": "u-b", "messageId": "i1", "traits": {"email": "BINH@example.vn"}})
    post("/v1/identify", {"userId": "u-c", "messageId": "i2", "traits": {"phone": "+84 98 345 6712"}})
    assert contact_by_user_id("u-b") == by_email
    assert contact_by_user_id("u-c") == by_phone
    assert Contact.objects.count() == 2
    # The user id is now enough.
    post("/v1/track", {"userId": "u-c", "event": "Login", "messageId": "t1"})
    assert events_of(by_phone) == {"i2", "t1"}


def test_identify_adds_new_identifiers_to_the_known_contact(post: Any) -> None:
    post("/v1/identify", {"userId": "u-1", "messageId": "i1", "traits": {"email": "an@example.vn"}})
    post(
        "/v1/identify",
        {"userId": "u-1", "messageId": "i2", "traits": {"email": "an.work@example.vn", "phone": "0903000111"}},
    )
    contact = contact_by_user_id("u-1")
    assert sorted(contact.emails.values_list("email", flat=True)) == ["an.work@example.vn", "an@example.vn"]
    assert contact.email == "an@example.vn"  # the first address stays primary
    assert contact.phone == "+84903000111"


def test_rudderstack_identify_traits_under_context(post: Any) -> None:
    post("/v1/identify", {"userId": "r-1", "messageId": "i1", "context": {"traits": {"email": "rudder@example.vn"}}})
    assert contact_by_user_id("r-1").email == "rudder@example.vn"


def test_anonymous_events_move_to_the_contact_on_identify(post: Any) -> None:
    post("/v1/page", {"anonymousId": "dev-1", "name": "Home", "messageId": "p1"})
    post("/v1/track", {"anonymousId": "dev-1", "event": "Viewed Product", "messageId": "t1"})
    assert Event.objects.filter(contact__isnull=True).count() == 2
    post(
        "/v1/identify",
        {"anonymousId": "dev-1", "userId": "u-9", "traits": {"email": "chi@example.vn"}, "messageId": "i1"},
    )
    contact = contact_by_user_id("u-9")
    assert events_of(contact) == {"p1", "t1", "i1"}
    # Later anonymous events of the device go straight to the contact.
    post("/v1/page", {"anonymousId": "dev-1", "name": "Cart", "messageId": "p2"})
    assert "p2" in events_of(contact)


def test_identify_in_the_middle_of_a_batch_attaches_the_whole_batch(post: Any) -> None:
    batch = [
        {"type": "page", "anonymousId": "dev-b", "messageId": "b1"},
        {"type": "identify", "anonymousId": "dev-b", "userId": "u-b", "messageId": "b2"},
        {"type": "track", "anonymousId": "dev-b", "event": "Added to Cart", "messageId": "b3"},
    ]
    assert post("/v1/batch", {"batch": batch}).json()["accepted"] == 3
    assert events_of(contact_by_user_id("u-b")) == {"b1", "b2", "b3"}


def test_two_devices_then_login(post: Any) -> None:
    post("/v1/page", {"anonymousId": "phone", "messageId": "p1"})
    post("/v1/page", {"anonymousId": "laptop", "messageId": "p2"})
    post("/v1/identify", {"anonymousId": "phone", "userId": "u-2", "messageId": "i1"})
    post("/v1/identify", {"anonymousId": "laptop", "userId": "u-2", "messageId": "i2"})
    contact = contact_by_user_id("u-2")
    assert events_of(contact) == {"p1", "p2", "i1", "i2"}
    assert Contact.objects.count() == 1
    assert set(AnonymousIdentity.objects.values_list("anonymous_id", flat=True)) == {"phone", "laptop"}
    assert not SuspectedDuplicate.objects.exists()


def test_alias_chain(post: Any) -> None:
    post("/v1/page", {"anonymousId": "anon-1", "messageId": "p1"})
    post("/v1/alias", {"previousId": "anon-1", "userId": "u-old", "messageId": "a1"})
    post("/v1/alias", {"previousId": "u-old", "userId": "u-new", "messageId": "a2"})
    post("/v1/track", {"userId": "u-new", "event": "Purchased", "messageId": "t1"})
    contact = contact_by_user_id("u-old")
    assert contact_by_user_id("u-new") == contact
    assert events_of(contact) == {"p1", "a1", "a2", "t1"}
    assert Contact.objects.count() == 1


def test_alias_between_two_known_contacts_is_only_suspected(post: Any) -> None:
    post("/v1/identify", {"userId": "u-a", "messageId": "i1", "traits": {"email": "a@example.vn"}})
    post("/v1/identify", {"userId": "u-b", "messageId": "i2", "traits": {"email": "b@example.vn"}})
    post("/v1/alias", {"previousId": "u-a", "userId": "u-b", "messageId": "a1"})
    a, b = contact_by_user_id("u-a"), contact_by_user_id("u-b")
    assert a != b
    dup = SuspectedDuplicate.objects.get()
    assert {dup.contact_a_id, dup.contact_b_id} == {a.pk, b.pk} and dup.reason == "alias"


def test_two_identified_contacts_become_a_suspected_duplicate_not_a_merge(post: Any, make_contact: Any) -> None:
    existing = make_contact(full_name="Phạm Dung", emails=["dung@example.vn"])
    post("/v1/identify", {"userId": "u-x", "messageId": "i1", "traits": {"phone": "0911222333"}})
    # The user known by id now claims the email of another contact.
    post("/v1/identify", {"userId": "u-x", "messageId": "i2", "traits": {"email": "dung@example.vn"}})
    other = contact_by_user_id("u-x")
    assert other != existing
    assert list(existing.emails.values_list("email", flat=True)) == ["dung@example.vn"]
    assert not other.emails.exists()
    dup = SuspectedDuplicate.objects.get()
    assert (dup.contact_a_id, dup.contact_b_id) == tuple(sorted((existing.pk, other.pk)))
    assert dup.reason == "email" and dup.details["message_id"] == "i2"
    # Repeating it records nothing new.
    post("/v1/identify", {"userId": "u-x", "messageId": "i3", "traits": {"email": "dung@example.vn"}})
    assert SuspectedDuplicate.objects.count() == 1


@pytest.mark.parametrize("junk", ["null", "undefined", "anonymous", "0", "[object Object]", "  ", "NULL", "None"])
def test_junk_ids_never_join_visitors(post: Any, junk: str) -> None:
    post("/v1/identify", {"anonymousId": junk, "userId": "u-1", "messageId": "i1"})
    post("/v1/identify", {"anonymousId": junk, "userId": "u-2", "messageId": "i2"})
    post("/v1/track", {"userId": junk, "anonymousId": junk, "event": "x", "messageId": "t1"})
    post("/v1/track", {"userId": junk, "anonymousId": "real-device", "event": "x", "messageId": "t2"})
    assert contact_by_user_id("u-1") != contact_by_user_id("u-2")
    assert Contact.objects.count() == 2
    assert not AnonymousIdentity.objects.exists()
    assert not ExternalId.objects.exclude(value__in=["u-1", "u-2"]).exists()
    assert not SuspectedDuplicate.objects.exists()
    # (A blank id is no id: that track is refused as missing both ids.)
    assert not Event.objects.filter(message_id__in=["t1", "t2"], contact__isnull=False).exists()


def test_junk_emails_and_phones_never_match(post: Any) -> None:
    for i, traits in enumerate([{"email": "test@test.com"}, {"email": "TEST@test.com", "phone": "0000000000"}]):
        post("/v1/identify", {"userId": f"u-{i}", "messageId": f"i{i}", "traits": {**traits, "phone": "1234567890"}})
    a, b = contact_by_user_id("u-0"), contact_by_user_id("u-1")
    assert a != b
    assert not a.emails.exists() and not b.phones.exists()
    assert not SuspectedDuplicate.objects.exists()


def test_a_shared_computer_keeps_two_users_apart(post: Any) -> None:
    post("/v1/identify", {"anonymousId": "family-pc", "userId": "mom", "messageId": "i1"})
    post("/v1/identify", {"anonymousId": "family-pc", "userId": "son", "messageId": "i2"})
    mom, son = contact_by_user_id("mom"), contact_by_user_id("son")
    assert mom != son
    assert events_of(son) == {"i2"}
    assert not SuspectedDuplicate.objects.exists()


def test_track_with_an_unknown_user_id_creates_a_contact(post: Any) -> None:
    post("/v1/track", {"userId": "backend-42", "event": "Subscription Started", "messageId": "t1"})
    contact = contact_by_user_id("backend-42")
    assert contact.full_name == "" and str(contact) == f"Anonymous #{contact.pk}"
    assert events_of(contact) == {"t1"}


def test_group_traits_describe_the_company_not_the_person(post: Any) -> None:
    post("/v1/group", {"userId": "u-g", "groupId": "acme", "traits": {"email": "sales@acme.vn"}, "messageId": "g1"})
    contact = contact_by_user_id("u-g")
    assert not contact.emails.exists()


def test_identify_maps_segment_reserved_traits_and_ignores_unreadable_ones(post: Any) -> None:
    traits = {
        "email": "lan@example.vn",
        "name": "Phạm Thị Lan",
        "birthday": "1990-05-12T00:00:00.000Z",
        "gender": "Nữ",
        "title": "Trưởng phòng kinh doanh",
        "address": {"street": "12 Lý Thường Kiệt", "city": "TP.HCM", "country": "vn"},
    }
    post("/v1/identify", {"userId": "u-lan", "messageId": "t1", "traits": traits})
    lan = contact_by_user_id("u-lan")
    assert (lan.birthday.isoformat(), lan.gender, lan.job_title) == ("1990-05-12", "female", "Trưởng phòng kinh doanh")
    assert (lan.street, lan.province, lan.country) == ("12 Lý Thường Kiệt", "ho-chi-minh", "VN")

    odd = {"email": "odd@example.vn", "birthday": "not a date", "gender": "robot", "address": {"city": "Atlantis"}}
    post("/v1/identify", {"userId": "u-odd", "messageId": "t2", "traits": odd})
    contact = contact_by_user_id("u-odd")
    assert contact.email == "odd@example.vn" and contact.birthday is None and contact.gender == ""
    assert contact.province == ""
