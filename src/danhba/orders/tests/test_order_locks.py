"""On PostgreSQL: an order write and a merge of its contact take their locks in one order
(contacts first, then the orders), so they wait for each other instead of deadlocking."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.orders import services as orders
from danhba.orders.models import PurchaseStats

SYSTEM = Actor.system("cli")


def _waiting_backends() -> int:
    with connection.cursor() as cursor:
        # Within a transaction PostgreSQL keeps showing the activity it read first: read afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    ("write", "spent_after"),
    [
        (lambda pk: orders.order_record(actor=SYSTEM, data={"order_id": "L-1", "total": 250}, contact_id=pk), 250),
        (lambda pk: orders.order_refund(actor=SYSTEM, order_id="L-1", amount=40), 60),
        (lambda pk: orders.order_cancel(actor=SYSTEM, order_id="L-1"), 0),
    ],
    ids=["update", "refund", "cancel"],
)
def test_an_order_write_waits_for_a_merge_holding_its_contact_without_holding_the_order(
    make_contact: Any, write: Any, spent_after: int
) -> None:
    contact = make_contact()
    orders.order_record(actor=SYSTEM, data={"order_id": "L-1", "total": 100}, contact_id=contact.pk)
    errors: list[BaseException] = []

    def other_request() -> None:
        try:
            write(contact.pk)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_request)
    with transaction.atomic():
        # What a merge does first: lock its contacts.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        thread.start()
        deadline = time.monotonic() + 10
        while _waiting_backends() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _waiting_backends() == 1, "the order write should be waiting for the contact"
        # What a merge does next: move the contact's orders. The waiting write holds none of them.
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM tracking_order WHERE contact_id = %s FOR UPDATE NOWAIT", [contact.pk])
            assert len(cursor.fetchall()) == 1
    thread.join(20)
    assert not thread.is_alive() and errors == []
    assert PurchaseStats.objects.get(contact=contact).total_spent == spent_after
    assert Contact.objects.get(pk=contact.pk).total_spent == spent_after
