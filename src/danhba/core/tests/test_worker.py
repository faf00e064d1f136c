"""The real worker process, fed through Redis, does the jobs the app queues."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from danhba.conftest import skip_or_fail
from danhba.core.tests.live import site_migrate

pytestmark = [pytest.mark.redis, pytest.mark.slow]
REDIS = ("127.0.0.1", 6379)


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


def run(env: dict[str, str], *args: str, code: str | None = None) -> str:
    cmd = [sys.executable, "-m", "danhba.cli", *args] + (["-c", code] if code else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def test_redis_worker_runs_a_queued_job_after_commit(tmp_path: Path) -> None:
    if not redis_up():
        skip_or_fail("Redis is not running on 127.0.0.1:6379")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "DANHBA_VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "HUEY_NAME": f"danhba-test-{uuid.uuid4().hex[:8]}",
        "SEARCH_REINDEX_INLINE_MAX": "0",  # every reindex goes to the worker
        "WORKER_LOG_LEVEL": "INFO",  # the worker says which jobs it ran (quiet by default)
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    site_migrate(env)
    setup = """
from danhba.accounts.services import first_admin_ensure
from danhba.contacts.services.companies import company_save
from danhba.contacts.services.contacts import contact_create
from danhba.core.actor import Actor
user, _ = first_admin_ensure("admin@example.vn", "correct-horse-battery-9")
actor = Actor.system("cli", user)
for name in ("Nguyễn Văn Một", "Trần Thị Hai", "Lê Văn Ba"):
    contact_create(actor=actor, data={"full_name": name, "companies": [{"name": "Công ty Cũ"}]})
from danhba.contacts.models import Company
company_save(actor=actor, company=Company.objects.get(), data={"name": "Tập đoàn Mới"})
"""
    run(env, "shell", code=setup)
    check = """
from danhba.contacts.models import SearchEntry
new = SearchEntry.objects.filter(company="tap doan moi").count()
old = SearchEntry.objects.filter(company="cong ty cu").count()
print(new, old)
"""
    assert run(env, "shell", code=check) == "0 3", "the rename must wait for the worker"
    worker = subprocess.Popen(
        [sys.executable, "-m", "danhba.cli", "worker", "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        result = ""
        while time.monotonic() < deadline:
            result = run(env, "shell", code=check)
            if result == "3 0":
                break
            time.sleep(0.5)
        assert result == "3 0", "the worker did not rebuild the search keys"
    finally:
        worker.terminate()
        output = worker.communicate(timeout=20)[0]
    assert "search_keys_rebuild_job" in output
