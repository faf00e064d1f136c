"""The loading process takes the reader's batches off the channel and unpacks them on a thread
ahead of the loader (``pipeline._Ahead``, decision 0027 session 5): the same batches in the
same order, the child's error or death raised where the loop meets it, and no more than
``UNPACKED_AHEAD`` batches held unpacked. A queue.Queue stands for the processes' channel."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest

from danhba.ingest import pipeline


def channel_of(*messages: Any) -> queue.Queue[Any]:
    channel: queue.Queue[Any] = queue.Queue()
    for message in messages:
        channel.put(message)
    return channel


def test_the_batches_arrive_unpacked_in_order() -> None:
    channel = channel_of(*(("batch", line, [line, line + 1]) for line in (3, 5, 7)), None)
    ahead = pipeline._Ahead(channel, lambda: True, lambda packed: [f"row {n}" for n in packed])
    assert list(ahead) == [(3, ["row 3", "row 4"]), (5, ["row 5", "row 6"]), (7, ["row 7", "row 8"])]
    ahead.join()
    assert not ahead.thread.is_alive()


def test_the_childs_error_is_raised_after_the_batches_before_it() -> None:
    channel = channel_of(("batch", 3, [1]), ("error", "'utf-8' codec can't decode byte 0xff"))
    got = []
    with pytest.raises(pipeline.PipelineError, match="can't decode"):
        for last, _rows in pipeline._Ahead(channel, lambda: True, list):
            got.append(last)
    assert got == [3]


def test_a_child_that_died_without_its_last_message_is_an_error() -> None:
    channel = channel_of(("batch", 3, [1]))
    ahead = pipeline._Ahead(channel, lambda: False, list)
    with pytest.raises(pipeline.PipelineError, match="stopped unexpectedly"):
        list(ahead)


def test_the_last_message_of_a_child_that_just_ended_is_read() -> None:
    # The child sends its end and exits between the thread's empty read and its look at the child.
    channel: queue.Queue[Any] = queue.Queue()
    alive = {"n": 0}

    def ended() -> bool:
        alive["n"] += 1
        channel.put(None)  # arrives just after the look
        return False

    assert list(pipeline._Ahead(channel, ended, list)) == []
    assert alive["n"] == 1


def test_an_error_while_unpacking_is_raised_in_the_loop() -> None:
    def broken(packed: Any) -> list[Any]:
        raise KeyError("row")

    with pytest.raises(KeyError, match="row"):
        list(pipeline._Ahead(channel_of(("batch", 3, [1]), None), lambda: True, broken))


def test_it_holds_few_batches_ahead_and_stops_when_the_loop_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "POLL_SECONDS", 0.01)
    channel = channel_of(*(("batch", line, [line]) for line in range(1, 21)), None)
    unpacked: list[int] = []
    lock = threading.Lock()

    def unpack(packed: list[int]) -> list[int]:
        with lock:
            unpacked.append(packed[0])
        return packed

    ahead = pipeline._Ahead(channel, lambda: True, unpack)
    rows = iter(ahead)
    assert next(rows) == (1, [1])
    time.sleep(0.2)
    # The one the loop holds, UNPACKED_AHEAD waiting, one more unpacked waiting for room.
    assert len(unpacked) == 1 + pipeline.UNPACKED_AHEAD + 1
    rows.close()  # the import stopped (a cancel, an error of the loader)
    ahead.stop()
    ahead.join()
    assert not ahead.thread.is_alive()
    assert len(unpacked) <= 1 + pipeline.UNPACKED_AHEAD + 1
