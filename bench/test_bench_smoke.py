"""The search benchmark runs end to end on tiny data: generates, serves, measures, writes its JSON.

Not a performance test: it proves the harness works, so ``make bench`` does not fail after an hour.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import REPO_DIR


@pytest.mark.slow
def test_search_benchmark_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "bench.sqlite3"
    cmd = [
        sys.executable, "-m", "bench", "search", "--contacts", "2000", "--requests", "10", "--warmup", "2",
        "--database-url", f"sqlite:///{db}", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=REPO_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "search.json").read_text())
    assert result["benchmark"] == "search"
    assert result["method"]["transport"] == "http"
    assert result["dataset"]["contacts"] == 2000 and result["dataset"]["search_keys"] > 2000
    assert result["dataset"]["generation_seconds"] > 0
    assert result["database"]["vendor"] == "sqlite" and result["database"]["size_bytes"] > 0
    assert result["machine"]["cpu_count"] >= 1 and result["machine"]["django"]
    assert len(result["kinds"]) >= 10
    for name, kind in result["kinds"].items():
        assert kind["danhba_ms"]["n"] > 0, name
        assert kind["baseline_ms"]["n"] == kind["danhba_ms"]["n"], name
        assert 0 < kind["danhba_ms"]["p50"] <= kind["danhba_ms"]["p95"] <= kind["danhba_ms"]["p99"], name
        # danhba and the baseline answered each request with the same rows.
        assert kind["rows"]["danhba"] == kind["rows"]["baseline"] > 0, name
    assert result["overall"]["ratio_p95"] > 0
    assert not db.exists(), "without --keep the generated database is removed"
