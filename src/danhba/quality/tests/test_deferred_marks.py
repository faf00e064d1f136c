"""Two event drainers marking the same contacts in different orders (PostgreSQL): each storing
transaction marks contacts once per request and listener, each call in key order but not the
calls together; two drainers then deadlocked on ``quality_freshnessdirty`` (decision 0007).
``core.deferred.writes_at_end`` has a transaction's marks written once per table, in key order."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager, nullcontext

import pytest
from django.db import connection, transaction

from danhba.core import claims, deferred
from danhba.quality.models import FreshnessDirty

pytestmark = pytest.mark.django_db


def two_writers(defer: bool) -> list[BaseException]:
    """Writer A marks contact 1 then 2, writer B 2 then 1, each in one transaction, both having
    marked their first before either marks its second; returns what they raised."""
    claims.mark(FreshnessDirty, [1, 2])
    both_marked_once = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(first: int, second: int) -> None:
        try:
            block: AbstractContextManager[None] = deferred.writes_at_end() if defer else nullcontext()
            with transaction.atomic(), block:
                claims.mark(FreshnessDirty, [first])
                both_marked_once.wait(timeout=10)
                time.sleep(0.1)
                claims.mark(FreshnessDirty, [second])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_marks_made_at_once_do_not_deadlock() -> None:
    assert two_writers(defer=False), "marked call by call, the two writers deadlock (the test's premise)"
    assert two_writers(defer=True) == []
    assert sorted(FreshnessDirty.objects.values_list("contact_id", flat=True)) == [1, 2]


def test_deferred_marks_are_written_when_the_block_ends() -> None:
    with transaction.atomic():
        with deferred.writes_at_end():
            claims.mark(FreshnessDirty, [3, 1])
            claims.mark(FreshnessDirty, [1, 2])
            assert not FreshnessDirty.objects.exists()
        assert sorted(FreshnessDirty.objects.values_list("contact_id", flat=True)) == [1, 2, 3]


def test_an_error_writes_no_deferred_marks() -> None:
    with pytest.raises(RuntimeError), deferred.writes_at_end():
        claims.mark(FreshnessDirty, [1])
        raise RuntimeError
    assert not FreshnessDirty.objects.exists()
    claims.mark(FreshnessDirty, [4])  # the block is over: marks are written at once again
    assert list(FreshnessDirty.objects.values_list("contact_id", flat=True)) == [4]
