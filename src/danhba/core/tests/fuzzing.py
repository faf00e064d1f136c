"""What the schemathesis runs share: the check every API answer must pass beyond "not a 5xx",
and a real danhba served in a subprocess for the run over HTTP.

Used by ``test_api_schemathesis.py`` (in-process, every operation) and
``test_api_schemathesis_live.py`` (schemathesis' command line against the live server, with
stateful links). The command line loads this module by ``SCHEMATHESIS_HOOKS`` to get the check.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis

ERROR_KEYS = {"code", "message", "details"}
ADMIN_EMAIL = "fuzz@example.vn"
ADMIN_PASSWORD = "correct-horse-battery-9"
DANHBA = [sys.executable, "-m", "danhba.cli"]


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


@dataclass
class LiveServer:
    url: str
    api_key: str
    log: Path

    def problems(self, limit: int = 60) -> str:
        """The server's tracebacks and error lines, for a failure message."""
        lines = self.log.read_text(errors="replace").splitlines()
        keep = [i for i, line in enumerate(lines) if re.search(r"Traceback|Error|ERROR|Internal Server", line)]
        wanted = sorted({j for i in keep for j in range(i, min(i + 12, len(lines)))})
        return "\n".join(lines[j] for j in wanted[:limit])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([*DANHBA, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    if done.returncode:
        raise RuntimeError(f"danhba {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"danhba serve exited with {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/api/", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    raise RuntimeError(f"danhba serve did not answer within {timeout} s:\n{log.read_text(errors='replace')}")


@contextmanager
def live_server(var_dir: Path, database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """``danhba serve`` (gunicorn, no worker) on a free port, on a freshly migrated database with
    an admin and an API key, its files under ``var_dir``. Writes re-evaluate segments and events
    inline, as a site without a worker does."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "DANHBA_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "live-fuzz-not-secret",
        "DANHBA_DEMO": "0",
        "SEGMENTS_REFRESH_INLINE": "1",
        "EVENTS_PROCESS_INLINE": "1",
        "REDIS_URL": "",
        **(extra_env or {}),
    }
    env.pop("DANHBA_MEDIA_ROOT", None)
    env.pop("EVENT_INBOX_PATH", None)
    _run(["migrate", "-v", "0"], env)
    _run(["createadmin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD], env)
    api_key = _run(["apikey", "create", "--user", ADMIN_EMAIL, "--name", "fuzz"], env).split()[-1]
    port = free_port()
    log = var_dir / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*DANHBA, "serve", "--port", str(port), "--workers", "2", "--no-worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log)
        yield LiveServer(url=url, api_key=api_key, log=log)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
