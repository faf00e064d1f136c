"""Background jobs of capture. A stored channel payload is the queue: the job only wakes its
processing, which checks the payload's status first, so a repeated job does nothing and a lost
one is caught by the minutely sweep."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.capture.channels import services as channels
from danhba.capture.forms import services as forms_services


@db_task(priority=50)
def channel_payload_job(payload_id: int) -> str:
    return channels.payload_process(payload_id=payload_id)


@db_periodic_task(crontab(minute="*"))
def channel_payloads_sweep_job() -> int:
    """Payloads whose wake-up was lost, and failed ones tried again a few times."""
    return channels.payloads_sweep()


@db_periodic_task(crontab(minute="*/5"))
def form_submissions_sweep_job() -> int:
    """Web form submissions stored but never processed (the request died in between)."""
    return forms_services.submissions_sweep()
