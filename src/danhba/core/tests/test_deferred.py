"""``core.deferred``: what writers collect in a block is written once, when the outermost block
ends without an error, the kinds in their registered order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from danhba.core import deferred


@pytest.fixture
def written() -> Iterator[list[tuple[str, list[int]]]]:
    out: list[tuple[str, list[int]]] = []
    deferred.register("test.last", lambda rows: out.append(("last", sorted(rows))), order=1000)
    deferred.register("test.first", lambda rows: out.append(("first", sorted(rows))), order=-1000)
    yield out
    for key in ("test.last", "test.first"):
        deferred._flushers.pop(key)


def add(key: str, value: int) -> None:
    rows = deferred.bucket(key, list)
    assert rows is not None
    rows.append(value)


def test_collected_rows_are_written_at_the_outer_blocks_end_in_order(written: list[tuple[str, list[int]]]) -> None:
    assert deferred.bucket("test.first", list) is None, "outside a block: write now"
    with deferred.writes_at_end():
        add("test.last", 2)
        with deferred.writes_at_end():  # nested: the outer block writes
            add("test.first", 9)
            add("test.last", 1)
        assert written == []
    assert written == [("first", [9]), ("last", [1, 2])]
    assert deferred.bucket("test.first", list) is None


def test_an_error_writes_nothing_and_closes_the_block(written: list[tuple[str, list[int]]]) -> None:
    with pytest.raises(RuntimeError), deferred.writes_at_end():
        add("test.first", 1)
        raise RuntimeError
    assert written == []
    assert deferred.bucket("test.first", list) is None


def test_a_writer_that_needs_a_transaction_writes_at_once_outside_one(written: list[tuple[str, list[int]]]) -> None:
    with deferred.writes_at_end():  # no transaction open (no database in this test)
        assert deferred.bucket("test.first", list, in_transaction=True) is None
        assert deferred.bucket("test.first", list) == []
