"""On PostgreSQL, where workers really run in parallel: two worker threads, each with its own
connection, drain 300 enrolments through a workflow without running any step twice, and the
per-step counters they keep equal a recount."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from danhba.automation.models import Enrolment, StepRun
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_many
from danhba.automation.tests.conftest import T0
from danhba.contacts.models import Contact


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_never_run_the_same_step_twice(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    graph = {
        "start": "a",
        "steps": {
            "a": {"kind": "tag", "params": {"add": ["một"]}, "next": "b"},
            "b": {"kind": "update_field", "params": {"field": "occupation", "value": "kỹ sư"}},
        },
    }
    wf = make_workflow(graph=graph)
    ids = [make_contact(full_name=f"Khách {i}").pk for i in range(300)]
    assert enrol_many(workflow=wf, contact_ids=ids, via="test", now=T0) == 300
    barrier = threading.Barrier(2)
    stats: dict[int, engine.RunStats] = {}

    def work(n: int) -> None:
        barrier.wait()
        try:
            stats[n] = engine.run_due(now=T0, batch=40)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats[0].steps and stats[1].steps, "both workers took part"
    assert stats[0].steps + stats[1].steps == 600
    assert StepRun.objects.count() == 600
    assert Enrolment.objects.filter(status="completed").count() == 300
    assert Contact.objects.filter(occupation="kỹ sư").count() == 300
    # The per-step counters, added to by both workers in their own shards, equal a recount.
    from danhba.automation.selectors import step_counts_kept as kept
    from danhba.automation.selectors import step_counts_recount as recount

    version = wf.current_version
    assert kept(version) == recount(version) == {"a": {"entered": 300, "done": 300}, "b": {"entered": 300, "done": 300}}
