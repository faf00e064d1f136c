"""The file transport's ``.eml`` files (``EMAIL_URL=file://``): kept ``EMAIL_FILE_RETENTION_DAYS``
(the nightly job deletes older ones), and deleted with the last contact whose address they were
sent to (a contact erased), not when the address lives on (a merge)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import EmailMessage

from danhba.messaging import transport

pytestmark = pytest.mark.django_db


def _send(to: str) -> None:
    with transport.connection() as backend:
        backend.send_messages([EmailMessage("Chào", "Nội dung", "shop@example.vn", [to])])


def test_the_nightly_job_deletes_the_files_older_than_the_retention(tmp_path: Path, settings: Any) -> None:
    from danhba.messaging.tasks import mail_files_purge_job

    settings.EMAIL_URL = f"file://{tmp_path}"
    settings.EMAIL_FILE_RETENTION_DAYS = 30
    _send("lan@example.vn")
    _send("minh@example.vn")
    old, new = sorted(tmp_path.glob("*.eml"))
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    (tmp_path / "notes.txt").write_text("not mail")
    assert mail_files_purge_job.call_local() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([new.name, "notes.txt"])


def test_an_erased_contact_takes_the_files_sent_to_it(
    tmp_path: Path, settings: Any, make_contact: Any, admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from danhba.conftest import actor_for
    from danhba.contacts.services.contacts import contact_delete

    settings.EMAIL_URL = f"file://{tmp_path}"
    lan = make_contact(full_name="Lan", emails=["lan@example.vn"])
    make_contact(full_name="Minh", emails=["minh@example.vn"])
    _send("Lan <LAN@example.vn>")
    _send("minh@example.vn")
    assert len(list(tmp_path.glob("*.eml"))) == 2
    with django_capture_on_commit_callbacks(execute=True):
        contact_delete(actor=actor_for(admin), contact=lan)
    left = [p.read_bytes() for p in tmp_path.glob("*.eml")]
    assert len(left) == 1 and b"minh@example.vn" in left[0]


def test_deleting_more_contacts_than_sqlite_takes_variables_at_once(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A bulk delete can name hundreds of thousands of contacts in one change: the listener reads
    their addresses a chunk at a time (one ``IN`` of 260,000 ids was "too many SQL variables" on
    SQLite, whose limit is 250,000 here, and 65,535 on PostgreSQL)."""
    from danhba.contacts.changes import ContactsChange

    settings.EMAIL_URL = f"file://{tmp_path}"
    _send("lan@example.vn")
    change = ContactsChange(deleted=tuple(range(1, 260_001)))
    with django_capture_on_commit_callbacks(execute=True):
        transport.mail_files_on_contacts_changed(change)
    assert len(list(tmp_path.glob("*.eml"))) == 1
