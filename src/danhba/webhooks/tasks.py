"""Background jobs of webhooks. The delivery rows are the queue: a job only wakes the sender,
which claims what is due, so a lost job delays nothing beyond the next minute and a repeated
one sends nothing twice."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.webhooks import services


@db_task()
def deliveries_send_job() -> int:
    """Queued after a commit that created deliveries."""
    return services.deliveries_send_due()


@db_periodic_task(crontab(minute="*"))
def deliveries_retry_job() -> int:
    """Every minute: retries that came due, and anything a lost wake-up left behind."""
    return services.deliveries_send_due()


@db_periodic_task(crontab(hour="3", minute="41"))
def deliveries_purge_job() -> int:
    """Nightly: the delivery log older than WEBHOOKS_RETENTION_DAYS."""
    return services.deliveries_purge()
