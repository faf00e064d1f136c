"""Two requests naming the same new person at the same moment make one contact, not two: the
loser of the race sees the winner's contact and attaches its event to it (PostgreSQL, where
requests really run in parallel)."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from danhba.contacts.models import Contact, ExternalId
from danhba.tracking.models import Event
from danhba.tracking.tests.conftest import basic


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_identifies_of_one_new_user_make_one_contact(write_key: str) -> None:
    before = Contact.objects.count()
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def send(i: int) -> None:
        body = {
            "userId": "u-race",
            "anonymousId": f"device-{i}",
            "messageId": f"i{i}",
            "traits": {"email": "race@example.vn", "phone": "0912000111"},
        }
        barrier.wait()
        try:
            response = Client().post(
                "/v1/identify", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=basic(write_key)
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert Contact.objects.count() == before + 1
    contact = ExternalId.objects.get(system="segment", value="u-race").contact
    assert set(Event.objects.filter(contact=contact).values_list("message_id", flat=True)) == {"i0", "i1", "i2", "i3"}
