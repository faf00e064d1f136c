"""The demo part: "Engagement" and "B2B fit" with every demo contact scored, each score the sum
of its items."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from danhba.core.demo import demo_run
from danhba.scoring.models import ContactScore, ScoreItem, ScoreModel

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_demo_models_score_the_demo_contacts() -> None:
    counts = demo_run(contacts=80, seed=7)
    assert counts["score_models"] == 2 and counts["scores"] == ContactScore.objects.count() > 0
    models = {m.name: m for m in ScoreModel.objects.all()}
    assert set(models) == {"Engagement", "B2B fit"}
    sums: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for contact_id, model_id, current in ScoreItem.objects.values_list("contact_id", "model_id", "current"):
        sums[contact_id, model_id] += current
    for score in ContactScore.objects.all():
        assert score.total == sums[score.contact_id, score.model_id]
    fit_grades = set(ContactScore.objects.filter(model=models["B2B fit"]).values_list("grade", flat=True))
    assert len(fit_grades) >= 2, fit_grades
    assert ContactScore.objects.filter(model=models["Engagement"], engagement__gt=0).exists()
