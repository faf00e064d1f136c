"""Huey jobs of the messaging app: a campaign's send job (a long job: one at a time, yielding
between batches); the minutely sweep that starts scheduled campaigns, sends the winners of A/B
tests whose wait is over and wakes the job of a campaign whose run died; and the bounce mailbox
read every 5 minutes. The Send rows are the source of truth: a lost or repeated job loses or
duplicates nothing."""

from __future__ import annotations

import logging
from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.messaging.services import abtests, campaigns, sending

log = logging.getLogger(__name__)


@db_task(priority=jobs.LONG, context=True)
def campaign_send_job(campaign_id: int, task: Any = None) -> int | None:
    jobs.woken(f"campaign-send-{campaign_id}")  # a write after this wakes the next one
    with jobs.long_job() as mine:
        if not mine and task is not None:
            campaign_send_job.schedule((campaign_id,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return None
        result = sending.campaign_run(campaign_id=campaign_id)
    if result.again_in is not None and task is not None:
        campaign_send_job.schedule((campaign_id,), delay=result.again_in, priority=jobs.LONG)
    return result.sent


@db_periodic_task(crontab(minute="*"))
def campaigns_sweep() -> None:
    campaigns.campaigns_start_due()
    abtests.abtests_decide_due()  # A/B tests whose wait is over: the winner goes to the rest
    for campaign_id in sending.campaigns_stalled():
        campaign_send_job(campaign_id)


@db_periodic_task(crontab(minute="*/5"))
def bounces_fetch_job() -> None:
    """Read the bounce mailbox every 5 minutes when BOUNCE_IMAP_URL is set (as `danhba
    bounces_fetch` does); a mailbox that cannot be read is logged and tried at the next run."""
    from django.conf import settings

    from danhba.messaging import mailbox

    if not settings.BOUNCE_IMAP_URL:
        return
    try:
        mailbox.fetch(mailbox.parse_url(settings.BOUNCE_IMAP_URL))
    except mailbox.MailboxError:
        log.warning("bounce mailbox not read", exc_info=True)


@db_periodic_task(crontab(hour="4", minute="23"))
def mail_files_purge_job() -> int:
    """The file transport's .eml files older than EMAIL_FILE_RETENTION_DAYS go."""
    from danhba.messaging.transport import mail_files_purge

    return mail_files_purge()
