"""Background jobs of imports. Each job only names an import; what to do next is read from the
database (``line_done``, the remaining undo records), so a job lost or run twice does no harm."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from danhba.ingest import services


@db_task()
def import_job(pk: int) -> str:
    return services.import_execute(pk, via="job").status


@db_task()
def undo_job(pk: int) -> str:
    return services.undo_execute(pk, via="job").status


@db_periodic_task(crontab(minute="*"))
def imports_resume_stale_job() -> list[int]:
    return services.imports_resume_stale()


@db_periodic_task(crontab(hour="3", minute="17"))
def imports_purge_job() -> tuple[int, int]:
    return services.imports_purge()


@HUEY.on_startup()
def _resume_on_startup() -> None:
    # A worker that starts after a crash picks up what the dead one was doing.
    from django.db import close_old_connections

    close_old_connections()
    try:
        services.imports_resume_stale()
    finally:
        close_old_connections()
