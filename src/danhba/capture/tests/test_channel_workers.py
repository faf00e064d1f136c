"""On PostgreSQL, where workers really run in parallel: the same Facebook lead applied by two
workers at once (Facebook's retried delivery and the minutely sweep) makes one contact with one
consent record; the same payload taken by two workers at once is applied once; two payloads of
one Zalo user (a follow and the submitted info) applied at once make one contact."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from django.db import connection

from danhba.capture.channels import process, services
from danhba.capture.models import ChannelLead, ChannelPayload
from danhba.capture.tests.channel_fixtures import (
    FakeGraph,
    facebook_connection,
    leadgen_body,
    post_facebook,
    post_zalo,
    zalo_body,
    zalo_connection,
)
from danhba.contacts.models import Contact, ExternalId
from danhba.privacy.models import ConsentPurpose, ConsentRecord
from danhba.tracking.models import Event


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_applying_the_same_lead_make_one_contact(client: Any, monkeypatch: Any) -> None:
    ConsentPurpose.objects.get_or_create(key="marketing_email", defaults={"name": "Marketing email"})
    mapping = {"full_name": "full_name", "email": "email", "phone_number": "phone",
               "agree_newsletter": "consent:marketing_email"}  # fmt: skip
    conn = facebook_connection(mapping=mapping)
    graph = FakeGraph({"900005": {"full_name": "Đỗ Mai", "email": "mai@ex.vn", "phone_number": "0903 222 333",
                                  "agree_newsletter": "Yes"}})  # fmt: skip
    post_facebook(client, conn, leadgen_body("900005"))
    post_facebook(client, conn, leadgen_body("900005"))  # Facebook's retry of the same lead
    first, second = ChannelPayload.objects.order_by("id").values_list("id", flat=True)

    # Two workers on the two payloads, and a third taking the first payload again at the same time.
    statuses = _at_once(monkeypatch, [first, second, first], graph)
    assert statuses == ["processed", "processed", "processed"]
    contact = Contact.objects.get()
    assert (contact.email, contact.phone) == ("mai@ex.vn", "+84903222333")
    assert ChannelLead.objects.get().contact_id == contact.pk
    assert ConsentRecord.objects.filter(contact_id=contact.pk).count() == 1
    assert Event.objects.filter(contact=contact, name="Form Submitted").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_applying_one_zalo_users_payloads_make_one_contact(client: Any, monkeypatch: Any) -> None:
    conn = zalo_connection()
    post_zalo(client, conn, zalo_body("follow", user="8449000111"))
    info = {"name": "Phan Thị Hoa", "phone": "0912 777 888"}
    post_zalo(client, conn, zalo_body("user_submit_info", user="8449000111", info=info, timestamp="1765000000999"))
    payloads = list(ChannelPayload.objects.order_by("id").values_list("id", flat=True))
    assert _at_once(monkeypatch, payloads, None) == ["processed", "processed"]
    contact = Contact.objects.get()
    assert (contact.full_name, contact.phone) == ("Phan Thị Hoa", "+84912777888")
    assert list(ExternalId.objects.values_list("contact_id", "value")) == [(contact.pk, "8449000111")]
    names = set(Event.objects.filter(contact=contact).values_list("name", flat=True))
    assert names == {"Zalo Followed", "Form Submitted"}


def _at_once(monkeypatch: Any, payload_ids: list[int], graph: FakeGraph | None) -> list[str]:
    """Process the payloads, each in its own thread (a worker), holding each one just before it
    makes or matches the contact until another one is there too (or 2 s have passed): the
    workers overlap whenever nothing keeps them apart. Returns each one's status."""
    meet = threading.Barrier(2, timeout=2)
    upsert = process.lead_upsert

    def held_upsert(**kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return upsert(**kwargs)

    monkeypatch.setattr(process, "lead_upsert", held_upsert)
    statuses = [""] * len(payload_ids)

    def work(n: int, payload_id: int) -> None:
        try:
            statuses[n] = services.payload_process(payload_id=payload_id, graph=graph)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n, pk)) for n, pk in enumerate(payload_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses
