"""One lead writer for every capture door (Facebook, Zalo, web forms): a lead completes a
contact's name but never shortens it, never erases a value, never takes an identifier another
contact holds; a web form (anyone may type anyone's phone or email) adds no identifier to the
contact it matched unless it carries that contact's visitor token."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from danhba.capture.channels import services
from danhba.capture.forms import tokens
from danhba.capture.models import ChannelConnection, ChannelPayload, FormSubmission
from danhba.capture.tests.channel_fixtures import (
    FakeGraph,
    facebook_connection,
    leadgen_body,
    post_facebook,
    post_zalo,
    zalo_body,
    zalo_connection,
)
from danhba.capture.tests.conftest import CONSENT_TEXT
from danhba.contacts.models import Contact
from danhba.privacy.models import ConsentRecord
from danhba.tracking.models import SuspectedDuplicate

pytestmark = pytest.mark.django_db
DOORS = ["facebook", "zalo", "form"]
_numbers = itertools.count(900100)


def _submit(client: Any, slug: str, data: dict[str, Any]) -> Any:
    # The newsletter form is embedded on the shop's site; the quote form is only hosted.
    headers = {"HTTP_ORIGIN": "https://shop.example.vn"} if slug == "ban-tin" else {}
    return client.post(f"/f/{slug}/submit", json.dumps(data), content_type="application/json", **headers)


def _lead(door: str, client: Any, *, name: str, phone: str, email: str = "") -> None:
    """A lead with this name, phone (and email) comes in through ``door`` and is processed."""
    n = str(next(_numbers))
    if door == "form":
        response = _submit(client, "bao-gia", {"full_name": name, "phone": phone, "message": "Xin báo giá"})
        assert response.status_code == 200 and FormSubmission.objects.latest("id").status == "done"
        return
    connection = ChannelConnection.objects.filter(kind=door).first()
    graph = None
    if door == "facebook":
        fields = {"full_name": name, "phone_number": phone, **({"email": email} if email else {})}
        post_facebook(client, connection or facebook_connection(), leadgen_body(n))
        graph = FakeGraph({n: fields})
    else:
        info = {"name": name, "phone": phone}
        body = zalo_body("user_submit_info", user=f"84{n}", info=info, timestamp=str(1765000000000 + int(n)))
        post_zalo(client, connection or zalo_connection(), body)
    ids = ChannelPayload.objects.filter(status="received").values_list("id", flat=True)
    assert [services.payload_process(payload_id=pk, graph=graph) for pk in ids] == ["processed"]


@pytest.mark.parametrize("door", DOORS)
def test_a_shorter_name_never_replaces_a_fuller_one_and_a_fuller_one_completes_it(
    door: str, client: Any, quote: Any, make_contact: Any
) -> None:
    minh = make_contact(full_name="Nguyễn Văn Minh", job_title="Kế toán", phones=[{"phone": "0912 000 111"}])
    _lead(door, client, name="Minh", phone="+84 912 000 111")
    minh.refresh_from_db()
    assert (minh.full_name, minh.job_title) == ("Nguyễn Văn Minh", "Kế toán")  # nothing shortened or erased
    _lead(door, client, name="Nguyen Van Minh", phone="0912000111")  # the same words without diacritics
    minh.refresh_from_db()
    assert minh.full_name == "Nguyễn Văn Minh"
    lan = make_contact(full_name="Lan", phones=[{"phone": "0912 000 222"}])
    _lead(door, client, name="Trần Thị Lan", phone="0912000222")  # completes the stored name
    lan.refresh_from_db()
    assert lan.full_name == "Trần Thị Lan"
    _lead(door, client, name="Phạm Hùng", phone="0912000222")  # another name on that phone: kept out
    lan.refresh_from_db()
    assert lan.full_name == "Trần Thị Lan" and Contact.objects.count() == 2


def test_knowing_a_phone_does_not_let_a_stranger_attach_an_email_to_that_contact(
    client: Any, newsletter: Any, make_contact: Any
) -> None:
    victim = make_contact(full_name="Lê Thu", emails=[{"email": "thu@example.vn"}], phones=[{"phone": "0903 111 222"}])
    data = {"full_name": "Kẻ Lạ", "email": "attacker@evil.vn", "phone": "0903111222", "consent": ["email_marketing"]}
    response = _submit(client, "ban-tin", data)
    assert response.status_code == 200 and response.json()["ok"]
    victim.refresh_from_db()
    assert list(victim.emails.values_list("email", flat=True)) == ["thu@example.vn"]
    assert victim.full_name == "Lê Thu" and not ConsentRecord.objects.filter(contact=victim).exists()
    # The submission made a contact of its own, which the review queue sees next to the victim.
    stranger = Contact.objects.get(email="attacker@evil.vn")
    assert stranger.pk != victim.pk and not stranger.phones.exists()  # the victim's phone is not copied
    assert FormSubmission.objects.get().contact_id == stranger.pk
    assert ConsentRecord.objects.filter(contact=stranger).count() == 1
    suspect = SuspectedDuplicate.objects.get()
    assert {suspect.contact_a_id, suspect.contact_b_id} == {victim.pk, stranger.pk} and suspect.reason == "phone"
    assert tokens.read_visitor_token(response.json()["visitor"]) == stranger.pk


def test_knowing_an_email_does_not_let_a_stranger_attach_a_phone_to_that_contact(
    client: Any, newsletter: Any, make_contact: Any
) -> None:
    victim = make_contact(full_name="Lê Thu", emails=[{"email": "thu@example.vn"}])
    data = {"full_name": "Lê Thu", "email": "thu@example.vn", "phone": "0988 777 666", "consent": ["email_marketing"]}
    assert _submit(client, "ban-tin", data).json()["ok"]
    assert not victim.phones.exists()
    stranger = Contact.objects.get(phones__e164="+84988777666")
    assert stranger.pk != victim.pk and not stranger.emails.exists()
    assert SuspectedDuplicate.objects.filter(reason="email").count() == 1


def test_with_its_own_visitor_token_a_contact_adds_its_phone(client: Any, newsletter: Any) -> None:
    ok = {"consent": ["email_marketing"]}
    mine = _submit(client, "ban-tin", {"full_name": "Đỗ Hà", "email": "ha@example.vn", **ok}).json()["visitor"]
    data = {"full_name": "Đỗ Hà", "email": "ha@example.vn", "phone": "0977 123 456", "visitor": mine, **ok}
    assert _submit(client, "ban-tin", data).json()["ok"]
    contact = Contact.objects.get()
    assert contact.phone == "+84977123456" and not SuspectedDuplicate.objects.exists()


def test_a_channel_lead_never_takes_a_phone_another_contact_holds(client: Any, make_contact: Any) -> None:
    """Facebook vouches for its lead's email and phone together, but a phone another contact holds
    stays there: the two contacts become a suspected duplicate."""
    with_email = make_contact(full_name="Vũ Nam", emails=[{"email": "nam@example.vn"}])
    with_phone = make_contact(full_name="Vũ Văn Nam", phones=[{"phone": "0905 444 555"}])
    _lead("facebook", client, name="Vũ Văn Nam", phone="0905444555", email="nam@example.vn")
    with_email.refresh_from_db()
    assert with_email.full_name == "Vũ Văn Nam" and not with_email.phones.exists()
    assert with_phone.phones.count() == 1 and Contact.objects.count() == 2
    suspect = SuspectedDuplicate.objects.get()
    assert (suspect.contact_a_id, suspect.contact_b_id, suspect.reason) == (with_email.pk, with_phone.pk, "phone")


def test_the_consent_wording_is_still_recorded_through_the_shared_writer(client: Any, newsletter: Any) -> None:
    data = {"full_name": "Mai Lan", "email": "lan@example.vn", "consent": ["email_marketing"]}
    assert _submit(client, "ban-tin", data).json()["ok"]
    assert CONSENT_TEXT in ConsentRecord.objects.get(contact__email="lan@example.vn").proof
