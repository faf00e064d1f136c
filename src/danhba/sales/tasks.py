"""Background jobs of sales: the task reminders, every minute (a job that runs twice reminds
nobody twice: each task is claimed by a conditional UPDATE)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from danhba.sales.services.tasks import tasks_remind


@db_periodic_task(crontab(minute="*"))
def task_reminders() -> int:
    return tasks_remind()
