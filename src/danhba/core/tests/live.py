"""danhba as it runs on a machine, in subprocesses, for tests that need the real thing: a
freshly migrated database under a folder of its own, ``danhba serve`` on a free port, or
``danhba worker``."""

from __future__ import annotations

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

from danhba.core.tests import template_db

ADMIN_EMAIL = "fuzz@example.vn"
ADMIN_PASSWORD = "correct-horse-battery-9"
DANHBA = [sys.executable, "-m", "danhba.cli"]


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


def site_env(var_dir: Path, database_url: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a site of its own: its files under ``var_dir``, its database, no
    demo data, jobs in its own SQLite queue."""
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "danhba.settings",
        "DANHBA_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "live-test-not-secret",
        "DANHBA_DEMO": "0",
        "REDIS_URL": "",
        **(extra_env or {}),
    }
    for name in ("DANHBA_MEDIA_ROOT", "EVENT_INBOX_PATH", "LOG_LEVEL", "WORKER_LOG_LEVEL", "DANHBA_WORKER_PROCESS"):
        if name not in (extra_env or {}):
            env.pop(name, None)
    return env


def danhba(args: list[str], env: dict[str, str], timeout: int = 180) -> str:
    """Run a ``danhba`` command to its end; its output, or an error with what it said."""
    done = subprocess.run([*DANHBA, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise RuntimeError(f"danhba {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def site_migrate(env: dict[str, str], timeout: int = 300) -> None:
    """``danhba migrate`` of a new site on ``env``. On SQLite its database files are copies of
    those the first site's real ``danhba migrate`` made (``template_db``; migrating costs 25-50
    CPU s); PostgreSQL and ``DANHBA_TEST_MIGRATE=1`` migrate."""
    url = env["DATABASE_URL"]

    def migrate() -> None:
        danhba(["migrate", "-v", "0"], env, timeout=timeout)

    if not url.startswith("sqlite:///") or not template_db.enabled() or env.get("EVENT_INBOX_SEPARATE") == "0":
        migrate()
        return
    inbox = env.get("EVENT_INBOX_PATH") or str(Path(env["DANHBA_VAR_DIR"]) / "event-inbox.sqlite3")
    template_db.sqlite_site({"main": Path(url.removeprefix("sqlite:///")), "inbox": Path(inbox)}, migrate)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    inline = {"SEGMENTS_REFRESH_INLINE": "1", "EVENTS_PROCESS_INLINE": "1"}
    env = site_env(var_dir, database_url, {**inline, **(extra_env or {})})
    site_migrate(env)
    danhba(["createadmin", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD], env)
    api_key = danhba(["apikey", "create", "--user", ADMIN_EMAIL, "--name", "fuzz"], env).split()[-1]
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
        stop(server)
