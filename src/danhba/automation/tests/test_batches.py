"""A step run for a whole batch of enrolments gives each contact the same outcome as running it
one enrolment at a time: random workflows (tags, fields, waits, branches, goals) walked by twin
contacts, one twin of each pair in big batches, the other alone; and bulk enrolment keeps the
enrolment rules (once only, again, never twice at once, only contacts that exist)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from danhba.automation.models import Enrolment, StepRun, Workflow
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_many
from danhba.automation.tests.conftest import HOUR, T0, tag_is
from danhba.contacts.models import Contact

pytestmark = pytest.mark.django_db

TAGS = ["a", "b", "c", "goal"]
TITLES = ["CEO", "Kỹ sư", ""]


def random_graph(rng: random.Random) -> dict[str, Any]:
    """Steps s0…sN, each going only to later ones (a path always ends)."""
    n = rng.randint(3, 7)
    ids = [f"s{i}" for i in range(n)]
    steps: dict[str, Any] = {}
    for i, sid in enumerate(ids):
        later = [*ids[i + 1 :], ""]
        kind = rng.choice(["tag", "untag", "field", "wait", "branch", "branch"])
        if kind == "tag":
            step = {"kind": "tag", "params": {"add": [rng.choice(TAGS)]}}
        elif kind == "untag":
            step = {"kind": "tag", "params": {"remove": [rng.choice(TAGS[:3])]}}
        elif kind == "field":
            step = {"kind": "update_field", "params": {"field": "job_title", "value": rng.choice(TITLES[:2])}}
        elif kind == "wait":
            step = {"kind": "wait", "params": {"seconds": rng.choice([0, 600, 3600, 7200])}}
        else:
            field = {"kind": "field", "field": "job_title", "operator": "eq", "value": rng.choice(TITLES[:2])}
            arms = [{"condition": tag_is(rng.choice(TAGS[:3])), "next": rng.choice(later)}]
            if rng.random() < 0.5:
                arms.append({"condition": {"op": "all", "conditions": [field]}, "next": rng.choice(later)})
            step = {"kind": "branch", "params": {"branches": arms, "otherwise": rng.choice(later)}}
        step["next"] = rng.choice(later[:2]) if step["kind"] != "branch" else ""
        steps[sid] = step
    reached: set[str] = set()
    todo = ["s0"]
    while todo:  # a step no path leads to is refused: keep the ones reached
        sid = todo.pop()
        if sid and sid not in reached:
            reached.add(sid)
            params = steps[sid]["params"]
            arms = [arm["next"] for arm in params.get("branches", [])] + [params.get("otherwise", "")]
            todo += [steps[sid]["next"], *arms]
    kept = {sid: step for sid, step in steps.items() if sid in reached}
    return {"start": "s0", "steps": kept, "goal": tag_is("goal") if rng.random() < 0.5 else None}


def drain(workflow: Workflow, batch: int) -> None:
    now = T0
    for _turn in range(60):
        engine.run_due(now=now, batch=batch)
        due = (
            Enrolment.objects.filter(workflow=workflow, status="active")
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        if due is None:
            return
        now = max(now, due)
    raise AssertionError("the workflow never finished")


def outcome(contact: Contact, workflow: Workflow) -> tuple[Any, ...]:
    enrolment = Enrolment.objects.get(workflow=workflow, contact=contact)
    runs = list(
        StepRun.objects.filter(enrolment=enrolment)
        .order_by("seq")
        .values_list("step", "outcome", "next_step", "detail")
    )
    contact.refresh_from_db()
    return (sorted(contact.tags.values_list("name", flat=True)), contact.job_title, enrolment.status, runs)


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_gives_each_contact_what_running_alone_gives(seed: int, make_workflow: Any, make_contact: Any) -> None:
    rng = random.Random(seed)
    graph = random_graph(rng)
    people = []
    for i in range(14):
        tags, title = rng.sample(TAGS[:3], rng.randint(0, 2)), rng.choice(TITLES)
        twins = [make_contact(full_name=f"Khách {seed}-{i}-{t}", tags=tags, job_title=title) for t in "AB"]
        people.append(twins)
    batched = make_workflow(graph=graph, name="Theo lô")
    alone = make_workflow(graph=graph, name="Từng người")
    assert enrol_many(workflow=batched, contact_ids=[a.pk for a, _b in people], via="test", now=T0) == 14
    drain(batched, batch=500)
    assert enrol_many(workflow=alone, contact_ids=[b.pk for _a, b in people], via="test", now=T0) == 14
    drain(alone, batch=1)
    for a, b in people:
        assert outcome(a, batched) == outcome(b, alone), graph
    assert (
        StepRun.objects.filter(enrolment__workflow=batched).count()
        == StepRun.objects.filter(enrolment__workflow=alone).count()
    )


def test_bulk_enrolment_keeps_the_rules(make_workflow: Any, make_contact: Any) -> None:
    graph = {"start": "w", "steps": {"w": {"kind": "wait", "params": {"seconds": 3600}}}}
    once = make_workflow(graph=graph, name="Một lần")
    again = make_workflow(graph=graph, name="Nhiều lần", reenrol="again")
    people = [make_contact(full_name=f"Người {i}").pk for i in range(5)]
    gone = max(people) + 1000  # no such contact: skipped, not an error
    for wf in (once, again):
        assert enrol_many(workflow=wf, contact_ids=[*people, people[0], gone], via="test", now=T0) == 5
        assert enrol_many(workflow=wf, contact_ids=people, via="test", now=T0) == 0  # never twice at once
    rows = Enrolment.objects.filter(workflow=once)
    assert {(r.step, r.status, r.due_at, r.enrolled_at, r.via, r.seq, r.claim) for r in rows} == {
        ("w", "active", T0, T0, "test", 0, "")
    }
    assert all(r.state == {} and r.version_id == once.current_version_id for r in rows)
    engine.run_due(now=T0)
    engine.run_due(now=T0 + HOUR)
    assert Enrolment.objects.filter(status="completed").count() == 10
    assert enrol_many(workflow=once, contact_ids=people, via="test", now=T0 + HOUR) == 0
    assert enrol_many(workflow=again, contact_ids=people[:3], via="test", now=T0 + HOUR) == 3
    paused = make_workflow(graph=graph, name="Nháp", active=False)
    assert enrol_many(workflow=paused, contact_ids=people, via="test", now=T0) == 0
