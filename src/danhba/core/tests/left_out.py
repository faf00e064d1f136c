"""A pytest plugin that says, at the end of a run, which tests a pass left out on purpose and why
(the PostgreSQL pass leaves out the tests no database can change: decision 0028), so nobody
wonders where they went.

It is loaded with ``-p`` (pyproject's ``addopts``), not from ``conftest.py``: under xdist the
controller process collects nothing and never imports ``danhba/conftest.py``; the workers,
which collect, hand it their counts (``workeroutput``)."""

from __future__ import annotations

from typing import Any

import pytest

LEFT_OUT = pytest.StashKey[dict[str, int]]()
WORKER_KEY = "danhba_left_out"


def note(config: pytest.Config, count: int, reason: str) -> None:
    """Record that ``count`` tests were left out of this pass for ``reason``."""
    if not count:
        return
    counts = config.stash.setdefault(LEFT_OUT, {})
    counts[reason] = counts.get(reason, 0) + count
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_KEY] = dict(counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Every xdist worker collects the same tests: one worker's counts are the run's."""
    counts = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if counts:
        node.config.stash[LEFT_OUT] = counts


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for reason, count in config.stash.get(LEFT_OUT, {}).items():
        terminalreporter.write_line(f"left out of this pass: {count:,} {reason}")
