"""The load a benchmark's JSON records (bench/machine.py)."""

from __future__ import annotations

import json
import subprocess
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
    the other work ("servers_cores"), that of a backend gone before the end (it served a child
    process of the benchmark) included. Checked on a shell process, named as a server, that
    works and ends."""
    monkeypatch.setattr(machine, "SERVERS", ("sh",))
    sampler = LoadSampler(interval=0.05, servers_interval=0.05)
    sampler.start()
    busy = subprocess.Popen(["/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        if any(pid == busy.pid for pid, _start in machine.servers_cpu()):
            break
    else:
        raise AssertionError("the busy process was not found in /proc")
    busy.wait(30)
    time.sleep(0.1)
    assert all(pid != busy.pid for pid, _start in machine.servers_cpu())  # gone before the sum
    summary = sampler.summary()
    assert summary["servers_cores"] > 0.1, summary
