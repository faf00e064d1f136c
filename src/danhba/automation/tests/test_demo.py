"""The demo has a workflow at work: the hot-lead playbook active on the "Engagement" model, the
hottest demo contacts enrolled, and their paths walked (owner, call task, notice, tag)."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import Enrolment, StepRun, Workflow
from danhba.core.demo import demo_run

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_the_demo_has_an_active_playbook_with_enrolments_and_paths(client_for: Any, users: Any) -> None:
    counts = demo_run(contacts=120, seed=7)
    workflow = Workflow.objects.get()
    assert workflow.status == "active" and workflow.trigger_kind == "score_reached"
    assert counts["workflows"] == 1 and counts["enrolments"] == Enrolment.objects.count() > 0
    enrolment = Enrolment.objects.filter(status="completed").first()
    assert enrolment is not None, list(Enrolment.objects.values_list("status", "step", "error"))
    steps = list(StepRun.objects.filter(enrolment=enrolment).order_by("seq").values_list("step", flat=True))
    assert steps == ["owner", "call", "notify", "tag"]
    assert enrolment.contact.tags.filter(name="khách nóng").exists()
    page = client_for(users["admin"]).get(f"/automation/enrolments/{enrolment.pk}/").content.decode()
    assert "notify" in page
