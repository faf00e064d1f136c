"""The load a benchmark's JSON records (bench/machine.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench import machine, write_results
from bench.machine import LoadSampler


def test_the_sampler_tells_own_work_from_other_work() -> None:
    sampler = LoadSampler(interval=0.05)
    assert sampler.summary()["sampled"] is False
    sampler.start()
    sampler.start()  # once only
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # this process keeps one core busy
        pass
    summary = sampler.summary()
    assert summary["sampled"] is True and summary["samples"] >= 3
    # The busy loop is this process's work (how much of a core it got depends on the machine).
    assert 0 < summary["own_cores"] <= 1.2
    expected = max(0.0, summary["load1_mean"] - summary["own_cores"] - summary["servers_cores"])
    assert abs(summary["others_mean"] - expected) < 0.02
    assert summary["competed"] == (summary["others_mean"] > 0.5)
    assert ("slower" in summary["note"]) == summary["competed"]


def test_results_carry_the_machine_load(tmp_path: Path) -> None:
    path = write_results("probe", {"figure": 1}, tmp_path)
    data = json.loads(path.read_text())
    assert data["figure"] == 1 and len(data["machine_load"]["loadavg_at_end"]) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_the_database_servers_cpu_is_told_apart(monkeypatch: Any) -> None:
    """A PostgreSQL benchmark's server works for it: its processes' CPU is counted apart from
    the other work ("servers_cores"). Checked on this process, named as a server."""
    with open(f"/proc/{os.getpid()}/stat", encoding="ascii", errors="replace") as handle:
        stat = handle.read()
    monkeypatch.setattr(machine, "SERVERS", (stat[stat.find("(") + 1 : stat.rfind(")")],))
    sampler = LoadSampler(interval=0.05)
    sampler.start()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        pass
    assert os.getpid() in machine.servers_cpu()
    summary = sampler.summary()
    assert summary["servers_cores"] > 0.1  # this busy process, now counted as a server
