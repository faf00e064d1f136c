"""Background jobs of scoring. Each re-derives its work from the database (dirty rows, models
whose recompute was asked): running one twice does no harm, and the minutely sweep catches a
lost one. Computing marked contacts is a short job of high priority; a full recompute is a long
job (``core.jobs``)."""

from __future__ import annotations

from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from danhba.core import jobs
from danhba.scoring.services import adjustments, dirty, models

LINGER_SECONDS = 1.5
MAX_SECONDS = 30
SWEEP_BATCHES = 10


@db_task(priority=jobs.LIVE)
def process_score_dirty(linger: float = LINGER_SECONDS, max_seconds: float = MAX_SECONDS) -> int:
    """Compute the scores of marked contacts (woken after each writing commit)."""
    jobs.woken("score-dirty")
    return jobs.drain(lambda: dirty.dirty_process(max_batches=1), linger=linger, max_seconds=max_seconds)


@db_task(priority=jobs.LONG, context=True)
def score_model_recompute_job(model_id: int, task: Any = None) -> int | None:
    with jobs.long_job() as mine:
        if not mine and task is not None:
            score_model_recompute_job.schedule((model_id,), delay=jobs.LONG_JOB_RETRY_SECONDS, priority=jobs.LONG)
            return None
        return models.recompute_run(model_id=model_id)


@db_periodic_task(crontab(minute="*"), priority=jobs.LIVE)
def scoring_sweep() -> int:
    """Marked contacts and asked-for recomputes whose wake-up was lost."""
    for model_id in models.recomputes_stale():
        score_model_recompute_job(model_id)
    return dirty.dirty_process(max_batches=SWEEP_BATCHES)


@db_periodic_task(crontab(hour="3", minute="41"))
def scoring_nightly() -> int:
    """Points fade with time: the models with decay (or time-bound conditions) are recomputed, and
    the contacts whose adjustments expired."""
    adjustments.expired_adjustments_mark()
    return models.decaying_models_refresh()
