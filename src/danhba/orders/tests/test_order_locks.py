"""On PostgreSQL: an order write and a merge of its contact take their locks in one order
(contacts first, then the orders), so they wait for each other instead of deadlocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


def _thread(target: Callable[[], Any], errors: list[BaseException]) -> threading.Thread:
    """Another request: ``target`` on its own connection; what it raises goes to ``errors``."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test's assertion
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


def _soon(count: Callable[[], int]) -> int:
    """``count()`` once it is not 0, or after 10 s."""
    deadline = time.monotonic() + 10
    while (found := count()) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


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
    thread = _thread(lambda: write(contact.pk), errors)
    with transaction.atomic():
        # What a merge does first: lock its contacts.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        thread.start()
        assert _soon(_waiting_backends) == 1, "the order write should be waiting for the contact"
        # What a merge does next: move the contact's orders. The waiting write holds none of them.
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM tracking_order WHERE contact_id = %s FOR UPDATE NOWAIT", [contact.pk])
            assert len(cursor.fetchall()) == 1
    thread.join(20)
    assert not thread.is_alive() and errors == []
    assert PurchaseStats.objects.get(contact=contact).total_spent == spent_after
    assert Contact.objects.get(pk=contact.pk).total_spent == spent_after


def _blocked_by(pid: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))",
            [pid],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_order_moved_to_another_contact_while_its_write_waited_is_locked_again(make_contact: Any) -> None:
    """A merge moves the order from the contact the write waits for to another one: the write
    locks the new contact before the order again instead of waiting for it while holding the
    order (the next merge of the new contact would wait for the order: a deadlock)."""
    old, new = make_contact(full_name="Trần Thị Cũ"), make_contact(full_name="Lê Văn Mới")
    orders.order_record(actor=SYSTEM, data={"order_id": "L-1", "total": 100}, contact_id=old.pk)
    errors: list[BaseException] = []
    holding, release = threading.Event(), threading.Event()
    holder_pid: list[int] = []

    def hold_new_contact() -> None:
        # Another merge, of the new contact with a third: it holds the new contact and moves
        # that contact's orders next.
        with transaction.atomic():
            Contact.objects.select_for_update(no_key=True).filter(pk=new.pk).first()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                holder_pid.append(cursor.fetchone()[0])
            holding.set()
            release.wait(20)
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
                cursor.execute("SELECT id FROM tracking_order WHERE order_id = 'L-1' FOR UPDATE")

    holder = _thread(hold_new_contact, errors)
    holder.start()
    assert holding.wait(10)
    writer = _thread(lambda: orders.order_cancel(actor=SYSTEM, order_id="L-1"), errors)
    with transaction.atomic():
        # The first merge: it locks the order's contact, the write waits for it, the merge
        # moves the order to the new contact and commits.
        Contact.objects.select_for_update().filter(pk=old.pk).first()
        writer.start()
        assert _soon(_waiting_backends) == 1, "the order write should be waiting for the old contact"
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tracking_order SET contact_id = %s WHERE order_id = 'L-1'", [new.pk])
    assert _soon(lambda: _blocked_by(holder_pid[0])) == 1, "the order write should now wait for the new contact"
    release.set()
    holder.join(20)
    writer.join(20)
    assert not holder.is_alive() and not writer.is_alive()
    assert errors == []
