"""What the schemathesis runs share: the check every API answer must pass beyond "not a 5xx",
and the command line run over HTTP against a live server (``live.py``).

Used by ``test_api_schemathesis.py`` (in-process, every operation) and
``test_api_schemathesis_live.py`` (schemathesis' command line against the live server, with
stateful links). The command line loads this module by ``SCHEMATHESIS_HOOKS`` to get the check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import schemathesis

from danhba.core.tests.live import LiveServer

ERROR_KEYS = {"code", "message", "details"}


@schemathesis.check
def errors_are_json(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 4xx from danhba is JSON ``{"code", "message", "details"}``, so a client can read why."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.content[:200]!r}") from None
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        raise AssertionError(f"{response.status_code} body is not {{code, message, details}}: {body!r}"[:300])


def schemathesis_cli() -> list[str]:
    return [sys.executable, "-m", "schemathesis.cli"]


def run_schemathesis(
    server: LiveServer, report_dir: Path, *, phases: str, seconds: int, seed: int
) -> subprocess.CompletedProcess[str]:
    """Schemathesis' command line over HTTP, the given phases (examples, coverage, fuzzing,
    stateful: sequences over the schema's links and those it infers) within ``seconds``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    args = [
        *schemathesis_cli(),
        "run",
        f"{server.url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {server.api_key}",
        "--phases",
        phases,
        "--checks",
        "not_a_server_error,errors_are_json",
        "--max-time",
        str(seconds),
        "--workers",
        "1",
        "--seed",
        str(seed),
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-dir",
        str(report_dir),
        "--warnings",
        "off",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": __name__, "NO_COLOR": "1", "COLUMNS": "200"}
    # Run from the report folder: schemathesis keeps a cache folder in its working directory.
    return subprocess.run(
        args, env=env, cwd=report_dir, capture_output=True, text=True, timeout=seconds + 240, check=False
    )


def ndjson_events(report_dir: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in report_dir.glob("*.ndjson"):
        events.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return events
