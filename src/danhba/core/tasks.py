"""Background jobs of no particular app."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from danhba.core.maintenance import database_statistics_refresh


@db_periodic_task(crontab(hour="4", minute="47"))
def database_statistics_job() -> bool:
    """Nightly, after the purge and the segment refresh changed the tables most."""
    return database_statistics_refresh()
