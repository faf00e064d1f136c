"""Huey jobs of the privacy app: pauses of email that are over become consent again."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from danhba.privacy.services import consent_pauses_end


@db_periodic_task(crontab(minute="*/5"))
def consent_pauses_end_job() -> None:
    """Every 5 minutes; idempotent (a pause ended once has a newer statement)."""
    consent_pauses_end()
