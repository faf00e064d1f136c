"""The load a benchmark's JSON records (bench/machine.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench import write_results
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
    assert abs(summary["others_mean"] - max(0.0, summary["load1_mean"] - summary["own_cores"])) < 0.02
    assert summary["competed"] == (summary["others_mean"] > 0.5)
    assert ("slower" in summary["note"]) == summary["competed"]


def test_results_carry_the_machine_load(tmp_path: Path) -> None:
    path = write_results("probe", {"figure": 1}, tmp_path)
    data = json.loads(path.read_text())
    assert data["figure"] == 1 and len(data["machine_load"]["loadavg_at_end"]) == 3
