"""The full recompute of a model: claimed by one worker at a time, resumed from its cursor after
a worker died, started again from the first contact when the rules change meanwhile, and its
progress counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.contacts.models import Contact
from danhba.scoring.models import ContactScore, ScoreModel
from danhba.scoring.services import models as services

pytestmark = pytest.mark.django_db

ALL = {"kind": "fit", "name": "Everyone", "points": 5, "condition": {"op": "all", "conditions": []}}


@pytest.fixture
def model(make_contact: Any, make_model: Any, monkeypatch: Any) -> ScoreModel:
    monkeypatch.setattr(services, "RECOMPUTE_BATCH", 2)
    for i in range(5):
        make_contact(full_name=f"Người {i}")
    made = make_model("Fit", rules=[ALL])
    ContactScore.objects.all().delete()
    return made


def test_one_worker_at_a_time_and_resume_after_a_crash(model: ScoreModel) -> None:
    # make_model asked for a recompute (its job runs after the commit): nothing is done yet.
    assert model.recompute_requested_at is not None and model.recompute_total == 5
    assert services.recompute_run(model_id=model.pk, max_batches=1) == 2
    model.refresh_from_db()
    assert model.recompute_done == 2 and model.recompute_cursor > 0 and model.recompute_claim == ""
    # Another worker holds it (its lease runs): this one does nothing.
    ScoreModel.objects.filter(pk=model.pk).update(
        recompute_claim="other", recompute_claimed_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert services.recompute_run(model_id=model.pk) == 0
    # That worker died: its lease ran out, the next run carries on from the cursor.
    assert services.recomputes_stale() == []
    ScoreModel.objects.filter(pk=model.pk).update(
        recompute_claimed_until=timezone.now() - dt.timedelta(seconds=1),
        recompute_requested_at=timezone.now() - dt.timedelta(minutes=3),
    )
    assert services.recomputes_stale() == [model.pk]  # the minutely sweep queues its job again
    assert services.recompute_run(model_id=model.pk) == 3
    model.refresh_from_db()
    assert model.recompute_requested_at is None and model.recompute_done == 5 and model.recomputed_at is not None
    assert ContactScore.objects.filter(model=model).count() == Contact.objects.count() == 5
    # Nothing asked: a repeated job does nothing.
    assert services.recompute_run(model_id=model.pk) == 0


def test_a_change_meanwhile_starts_again_from_the_first_contact(model: ScoreModel, monkeypatch: Any) -> None:
    real = services.scores_update
    calls: list[int] = []

    def rules_changed_during_the_first_batch(**kwargs: Any) -> Any:
        if not calls:  # what _recompute_request writes when a rule changes
            ScoreModel.objects.filter(pk=model.pk).update(
                recompute_requested_at=timezone.now() + dt.timedelta(seconds=1), recompute_cursor=0, recompute_done=0
            )
        calls.append(len(kwargs["contact_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(services, "scores_update", rules_changed_during_the_first_batch)
    # The old request's pass (2 + 3 contacts), then the new one's from the first contact (5).
    assert services.recompute_run(model_id=model.pk) == 10
    model.refresh_from_db()
    assert model.recompute_requested_at is None and model.recompute_done == 5 and model.recompute_claim == ""
