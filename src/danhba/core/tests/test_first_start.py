"""What a newcomer sees on the first `make run`: `danhba setup` loads the demo and ends with the
first admin's login, readable, not buried under the demo's email (kept as files in var/mail
until EMAIL_URL names a real transport), and the links in that email point at the port served."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from danhba.core.tests.live import danhba, site_env


@pytest.mark.slow  # loads the whole demo: about a minute
def test_setup_prints_the_login_and_keeps_the_demo_email_as_files(tmp_path: Path) -> None:
    var = tmp_path / "site"
    env = site_env(var, f"sqlite:///{var / 'db.sqlite3'}", {"DANHBA_DEMO": "1", "PORT": "8123"})
    env.pop("EMAIL_URL", None)
    env.pop("SITE_URL", None)
    output = danhba(["setup"], env, timeout=600)  # migrations and the whole demo: 1-2 min quiet, 3+ loaded
    assert "First admin created" in output and "password:" in output
    assert "Content-Type:" not in output and "MIME-Version" not in output
    assert len(output.splitlines()) < 120, output[-3000:]
    kept = sorted((var / "mail").glob("*.eml"))
    assert kept, "the demo's workflow and task reminders send email"
    texts = []
    for path in kept:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"] and message["Subject"]
        body = message.get_body(preferencelist=("plain", "html"))
        assert body is not None
        texts.append(body.get_content())
    assert not any("http://127.0.0.1:8000/" in t for t in texts)
    assert any("http://127.0.0.1:8123/" in t for t in texts)
