"""``make run`` must not flood the terminal: the worker logs WARNING and above unless
``WORKER_LOG_LEVEL`` asks for more, and the request log has one line per request (the access
log), not a second "Not Found: …" line for each 4xx."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from danhba.core.tests.live import DANHBA, danhba, site_env, site_migrate, stop

ENQUEUE_AND_WAIT = (
    "from danhba.segments.tasks import process_dirty_contacts as job; "
    "print('job returned', job(linger=0, max_seconds=1).get(blocking=True, timeout=60))"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("worker-site")
    site_migrate(site_env(var, f"sqlite:///{var / 'db.sqlite3'}"))
    return var


def worker_output(site: Path, extra_env: dict[str, str]) -> str:
    """Start `danhba worker`, have it run one job, stop it; what it printed."""
    env = site_env(site, f"sqlite:///{site / 'db.sqlite3'}", extra_env)
    log = site / f"worker-{len(extra_env)}.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([*DANHBA, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert "job returned 0" in danhba(["shell", "-c", ENQUEUE_AND_WAIT], env)
    finally:
        stop(worker)
    return log.read_text(errors="replace")


@pytest.mark.slow
def test_the_worker_is_quiet_by_default_and_says_more_when_asked(site: Path) -> None:
    quiet = worker_output(site, {})
    assert "INFO" not in quiet and "Executing" not in quiet, quiet
    chatty = worker_output(site, {"WORKER_LOG_LEVEL": "INFO"})
    assert "process_dirty_contacts" in chatty and "INFO" in chatty, chatty


@pytest.mark.django_db
def test_a_4xx_is_not_logged_twice_but_a_403_is_logged(
    client: Any, users: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(users["analyst"])
    with caplog.at_level(logging.INFO):
        assert client.get("/contacts/999999/").status_code == 404
        assert client.get("/api/nope").status_code == 404
        assert client.get("/contacts/new/").status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("django.")]
    assert len(lines) == 1 and lines[0].startswith("Forbidden: GET /contacts/new/"), lines
