"""The demo command, in a module of its own: test_demo.py's tests share one demo load for the
module, which this test, counting what two runs of the command make, must not see."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact


def test_command_prints_a_summary_and_can_run_twice(db: Any) -> None:
    out = io.StringIO()
    call_command("demo", contacts=30, stdout=out)
    text = out.getvalue()
    assert "30" in text and "sales1@example.com" in text and "password" in text
    out = io.StringIO()
    call_command("demo", contacts=30, stdout=out)  # same seed again: emails stay unique
    assert Contact.objects.count() == 60
    assert "already existed" in out.getvalue()
    assert AuditEvent.objects.filter(object_type="demo").count() == 2
