"""The "update score" step: points (or a grade) in a score model as an adjustment scoring keeps,
explained in the contact's breakdown, given once per enrolment pass even when the step runs again,
and a grade it crosses starting the workflows that wait for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from danhba.automation.kinds import STEP_KINDS, Item, StepContext
from danhba.automation.models import Enrolment
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.tests.conftest import T0
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput
from danhba.scoring.models import ContactScore, ScoreAdjustment
from danhba.scoring.selectors import contact_scores
from danhba.scoring.services.models import score_model_create

pytestmark = pytest.mark.django_db


def bump(model_id: int, **params: Any) -> dict[str, Any]:
    return {
        "start": "bump",
        "steps": {
            "bump": {"kind": "score", "params": {"model": model_id, **params}, "next": "done"},
            "done": {"kind": "tag", "params": {"add": ["scored"]}},
        },
    }


def test_the_step_gives_points_explained_in_the_breakdown(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    model = score_model_create(actor=actor_for(admin), data={"name": "Engagement"})
    wf = make_workflow(graph=bump(model.pk, points=35, reason="Hội thảo"), name="Hội thảo tháng 12")
    lan = make_contact(full_name="Lan")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[lan.pk], now=T0)
    engine.run_due(now=T0)
    score = ContactScore.objects.get(contact=lan, model=model)
    assert (score.total, score.grade) == (Decimal("35.00"), "warm")
    breakdown = contact_scores(lan, admin)[0]["breakdown"]
    assert [(p["rule"], p["points"]) for p in breakdown] == [
        ("Workflow “Hội thảo tháng 12”, step “bump”: Hội thảo", Decimal("35.00"))
    ]
    run = Enrolment.objects.get(contact=lan).runs.get(step="bump")
    assert run.detail == {"model": model.pk, "points": "35.00"}


def test_the_step_run_again_for_the_same_pass_adds_nothing(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    model = score_model_create(actor=actor_for(admin), data={"name": "Engagement"})
    wf = make_workflow(graph=bump(model.pk, points=10))
    lan = make_contact(full_name="Lan")
    kind = STEP_KINDS.get("score")
    assert kind is not None
    step = wf.current_version.graph["steps"]["bump"]
    ctx = StepContext(T0, wf.pk, wf.current_version_id, "bump", step, kind.params.model_validate(step["params"]))
    item = Item(enrolment_id=99, contact_id=lan.pk, seq=0, state={})
    # A crash after the step's writes were sent but before the engine saw its commit: the job runs
    # the same enrolment pass again.
    for _ in range(2):
        kind.run(ctx, [item])
    assert ContactScore.objects.get(contact=lan, model=model).total == Decimal("10.00")
    # The next pass (seq 1, e.g. a loop or a re-enrolment) gives again.
    kind.run(ctx, [Item(enrolment_id=99, contact_id=lan.pk, seq=1, state={})])
    assert ScoreAdjustment.objects.filter(contact=lan).count() == 2


def test_marking_cold_starts_the_workflow_that_waits_for_it_and_bad_params_are_refused(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    model = score_model_create(actor=actor_for(admin), data={"name": "Engagement"})
    lan = make_contact(full_name="Lan")
    hot = make_workflow(graph=bump(model.pk, points=80), name="Nóng")
    cold = make_workflow(graph=bump(model.pk, grade="cold"), name="Nguội")
    watcher = make_workflow(
        graph={"start": "t", "steps": {"t": {"kind": "tag", "params": {"add": ["hot-lead"]}}}},
        trigger={"kind": "score_reached", "model": model.pk, "grade": "hot"}, name="Báo sales",
    )  # fmt: skip
    enrol_manual(actor=actor_for(admin), workflow=hot, contact_ids=[lan.pk], now=T0)
    engine.run_due(now=T0)
    assert Enrolment.objects.filter(workflow=watcher, contact=lan).exists()
    enrol_manual(actor=actor_for(admin), workflow=cold, contact_ids=[lan.pk], now=T0)
    engine.run_due(now=T0)
    score = ContactScore.objects.get(contact=lan, model=model)
    assert (score.total, score.grade) == (Decimal("0.00"), "cold")
    for params in ({"points": 0}, {"points": 5, "grade": "hot"}, {"grade": "tepid"}, {"grade": "hot", "decays": True}):
        with pytest.raises(InvalidInput):
            make_workflow(graph=bump(model.pk, **params))
    with pytest.raises(InvalidInput):
        make_workflow(graph=bump(model.pk + 1000, points=5))


def test_only_a_role_that_may_edit_scores_puts_a_score_step_into_a_workflow(
    admin: Any, make_user: Any, make_workflow: Any
) -> None:
    from danhba.accounts.models import Role
    from danhba.automation.services.workflows import workflow_create, workflow_update
    from danhba.core.errors import PermissionDenied

    Role.objects.create(
        key="flows", name="Workflow editor", record_scope="all", sensitive_fields=[],
        permissions={"workflow": ["view", "create", "edit"], "score": ["view"], "contact": ["view"]},
    )  # fmt: skip
    editor = actor_for(make_user("flows"))
    model = score_model_create(actor=actor_for(admin), data={"name": "Engagement"})
    with pytest.raises(PermissionDenied):
        workflow_create(actor=editor, data={"name": "Cộng điểm", "graph": bump(model.pk, points=50)})
    kept = make_workflow(graph=bump(model.pk, points=50), name="Có sẵn")
    with pytest.raises(PermissionDenied):
        workflow_update(actor=editor, workflow=kept, data={"graph": bump(model.pk, points=500)})
    # The score step kept as it was: the rest of the workflow is theirs to change.
    graph = bump(model.pk, points=50)
    graph["steps"]["done"]["params"]["add"] = ["scored", "seen"]
    changed = workflow_update(actor=editor, workflow=kept, data={"graph": graph})
    assert changed.current_version.graph["steps"]["done"]["params"]["add"] == ["scored", "seen"]
