"""The Huey jobs run the engine: the woken job drains what is due and lingers briefly, the
minutely sweep and the daily job run alone."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation import tasks
from danhba.automation.models import StepRun
from danhba.automation.services.enrolments import enrol_manual
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db

TWO = {
    "start": "a",
    "steps": {
        "a": {"kind": "tag", "params": {"add": ["một"]}, "next": "b"},
        "b": {"kind": "tag", "params": {"add": ["hai"]}},
    },
}


def test_the_jobs_run_what_is_due(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    wf = make_workflow(graph=TWO)
    people = [make_contact(full_name=f"Khách {i}") for i in range(3)]
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[c.pk for c in people])
    assert tasks.automation_run_job.call_local(max_seconds=10) == 6
    assert StepRun.objects.count() == 6
    assert tasks.automation_sweep.call_local() == 0
    assert tasks.automation_daily_job.call_local() == 0
    assert set(people[0].tags.values_list("name", flat=True)) == {"một", "hai"}
