"""The engine with a controllable clock: steps, waits, windows, branches, goals, re-enrolment,
duplicate jobs, a crash between claim and finish, and versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from danhba.automation.models import Enrolment, StepRun, Workflow
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.services.workflows import workflow_update
from danhba.automation.tests.conftest import HOUR, T0, tag_is, three_steps
from danhba.conftest import actor_for
from danhba.contacts.models import Contact

pytestmark = pytest.mark.django_db


def tags(contact: Contact) -> set[str]:
    return set(contact.tags.values_list("name", flat=True))


def path(enrolment: Enrolment) -> list[tuple[str, str, str]]:
    return list(enrolment.runs.order_by("seq").values_list("step", "outcome", "next_step"))


def test_a_contact_walks_the_three_steps_as_the_clock_moves(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    wf = make_workflow()
    vip, plain = make_contact(full_name="Trần Thị Bích", tags=["vip"]), make_contact(full_name="Lê Văn Cường")
    assert enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[vip.pk, plain.pk], now=T0) == 2
    engine.run_due(now=T0)
    # The field is set and both wait an hour: nothing more runs before it is over.
    assert set(Contact.objects.filter(pk__in=[vip.pk, plain.pk]).values_list("job_title", flat=True)) == {"Khách quen"}
    engine.run_due(now=T0 + dt.timedelta(minutes=59))
    assert Enrolment.objects.filter(status="active", step="pause").count() == 2
    engine.run_due(now=T0 + HOUR)
    assert "vip-nurtured" in tags(vip) and "nurtured" not in tags(vip)
    assert "nurtured" in tags(plain) and "vip-nurtured" not in tags(plain)
    done = Enrolment.objects.get(contact=vip)
    assert done.status == "completed" and done.due_at is None
    assert path(done) == [
        ("title", "done", "pause"),
        ("pause", "waiting", "pause"),
        ("pause", "done", "vip"),
        ("vip", "done", "tag_vip"),
        ("tag_vip", "done", ""),
    ]
    assert done.runs.get(step="vip").detail == {"branch": 0}


def test_a_step_due_outside_the_sending_window_moves_to_the_next_one(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    window = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}
    wf = make_workflow(window=window)
    contact = make_contact()
    # Saturday 12 December 2026, 21:00 in Hồ Chí Minh City.
    saturday = dt.datetime(2026, 12, 12, 14, 0, tzinfo=dt.UTC)
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=saturday)
    engine.run_due(now=saturday)
    enrolment = Enrolment.objects.get(contact=contact)
    # Monday 14 December, 08:00 local = 01:00 UTC; nothing ran.
    assert enrolment.due_at == dt.datetime(2026, 12, 14, 1, 0, tzinfo=dt.UTC)
    assert enrolment.step == "title" and not enrolment.runs.exists()
    engine.run_due(now=enrolment.due_at)
    assert Enrolment.objects.get(pk=enrolment.pk).step == "pause"


def test_reaching_the_goal_ends_the_path(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    wf = make_workflow(graph={**three_steps(), "goal": tag_is("won")})
    contact = make_contact()
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=T0)
    engine.run_due(now=T0)
    from danhba.contacts.services.contacts import contacts_bulk_update

    contacts_bulk_update(actor=actor_for(admin), contact_ids=[contact.pk], add_tags=["won"])
    # The change wakes the waiting enrolment: it leaves now, not when its hour is over.
    engine.run_due()
    enrolment = Enrolment.objects.get(contact=contact)
    assert enrolment.status == "goal"
    assert path(enrolment)[-1] == ("pause", "goal", "")
    assert "nurtured" not in tags(contact)


def test_once_only_and_re_enrolment(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    graph = {"start": "t", "steps": {"t": {"kind": "tag", "params": {"add": ["x"]}}}}
    once = make_workflow(graph=graph, name="Một lần")
    again = make_workflow(graph=graph, name="Nhiều lần", reenrol="again")
    contact = make_contact()
    me = actor_for(admin)
    for wf in (once, again):
        assert enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk], now=T0) == 1
        # Never twice at once.
        assert enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk], now=T0) == 0
    engine.run_due(now=T0)
    assert Enrolment.objects.filter(contact=contact, status="completed").count() == 2
    assert enrol_manual(actor=me, workflow=once, contact_ids=[contact.pk], now=T0 + HOUR) == 0
    assert enrol_manual(actor=me, workflow=again, contact_ids=[contact.pk], now=T0 + HOUR) == 1


def test_a_repeated_job_never_runs_a_step_twice(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    wf = make_workflow()
    people = [make_contact(full_name=f"Người {i}") for i in range(5)]
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[c.pk for c in people], now=T0)
    # Another worker holds two of them.
    held = engine._claim(token="a" * 32, now=T0, limit=2)
    assert len(held) == 2
    first, second = engine.run_due(now=T0), engine.run_due(now=T0)
    assert (first.steps, second.steps) == (6, 0)  # 3 × (field, wait started)
    # The holder finishes its claim later: exactly once each.
    engine._run_claimed(held, token="a" * 32, now=T0, stats=engine.RunStats())
    engine._run_claimed(held, token="a" * 32, now=T0, stats=engine.RunStats())
    assert engine.run_due(now=T0).steps == 2  # their wait starts
    assert StepRun.objects.filter(step="title").count() == 5
    assert StepRun.objects.filter(step="pause").count() == 5


def test_a_crash_between_claim_and_finish_neither_skips_nor_doubles(
    admin: Any, make_workflow: Any, make_contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = make_workflow()
    contact = make_contact()
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=T0)
    # A worker claims and dies before running anything.
    assert engine._claim(token="d" * 32, now=T0, limit=10)
    assert engine.run_due(now=T0 + dt.timedelta(seconds=60)).claimed == 0  # its lease still holds
    after = T0 + engine.LEASE + dt.timedelta(seconds=1)
    # The next worker dies in the middle of the step, after the field was written: rolled back.

    from danhba.contacts.services import contacts as contact_services

    original = contact_services.contacts_bulk_update

    def dies(**kwargs: Any) -> int:
        original(**kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(contact_services, "contacts_bulk_update", dies)
    with pytest.raises(SystemExit):
        engine.run_due(now=after)
    assert Contact.objects.get(pk=contact.pk).job_title == ""
    assert not StepRun.objects.exists()
    monkeypatch.setattr(contact_services, "contacts_bulk_update", original)
    # Its claim runs out too; the step then runs once.
    engine.run_due(now=after + engine.LEASE + dt.timedelta(seconds=1))
    assert Contact.objects.get(pk=contact.pk).job_title == "Khách quen"
    assert list(StepRun.objects.values_list("step", "seq")) == [("title", 0), ("pause", 1)]


def test_a_failing_step_is_tried_again_then_fails(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.segments.services import segment_create

    me = actor_for(admin)
    gone = segment_create(actor=me, name="Danh sách", kind="static")
    graph = {"start": "f", "steps": {"f": {"kind": "list", "params": {"list": gone.pk}}}}
    wf = make_workflow(graph=graph)
    contact = make_contact()
    gone.delete()  # the list is deleted after the workflow was published
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=T0)
    now = T0
    for attempt in range(1, engine.MAX_ATTEMPTS):
        engine.run_due(now=now)
        enrolment = Enrolment.objects.get(contact=contact)
        assert (enrolment.status, enrolment.attempt) == ("active", attempt)
        assert "list" in enrolment.error
        now = enrolment.due_at
    engine.run_due(now=now)
    enrolment = Enrolment.objects.get(contact=contact)
    assert enrolment.status == "failed"
    assert path(enrolment) == [("f", "error", "")]


def test_an_edit_makes_a_new_version_and_contacts_finish_theirs(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    wf = make_workflow()
    early, late = make_contact(full_name="Sớm"), make_contact(full_name="Muộn")
    me = actor_for(admin)
    enrol_manual(actor=me, workflow=wf, contact_ids=[early.pk], now=T0)
    engine.run_due(now=T0)
    changed = three_steps()
    changed["steps"]["tag_rest"]["params"] = {"add": ["v2"]}
    wf = workflow_update(actor=me, workflow=wf, data={"graph": changed})
    assert wf.current_version.number == 2
    # Saving the same steps again makes no version.
    assert workflow_update(actor=me, workflow=wf, data={"graph": changed}).current_version.number == 2
    enrol_manual(actor=me, workflow=wf, contact_ids=[late.pk], now=T0)
    engine.run_due(now=T0)
    engine.run_due(now=T0 + HOUR)
    assert "nurtured" in tags(early) and "v2" not in tags(early)
    assert "v2" in tags(late)


def test_a_paused_workflow_holds_its_steps(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.automation.services.workflows import workflow_set_status

    wf = make_workflow()
    contact = make_contact()
    me = actor_for(admin)
    enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk], now=T0)
    workflow_set_status(actor=me, workflow=wf, status=Workflow.Status.PAUSED)
    engine.run_due(now=T0)
    assert not StepRun.objects.exists()
    workflow_set_status(actor=me, workflow=wf, status=Workflow.Status.ACTIVE)
    engine.run_due(now=T0 + dt.timedelta(seconds=1))
    assert StepRun.objects.filter(step="title").count() == 1


def test_a_batch_failing_outside_the_step_backs_off_then_fails(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    from danhba.automation.models import WorkflowVersion

    wf = make_workflow()
    contact = make_contact()
    # A goal the segment compiler cannot read (written past the checks): the goal check before
    # the step raises for the whole batch, outside the per-contact guard.
    graph = {**wf.current_version.graph, "goal": {"op": "all", "conditions": [{"kind": "no-such-kind"}]}}
    WorkflowVersion.objects.filter(pk=wf.current_version_id).update(graph=graph)
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk], now=T0)
    now = T0
    for attempt in range(1, engine.MAX_ATTEMPTS):
        engine.run_due(now=now)
        enrolment = Enrolment.objects.get(contact=contact)
        assert (enrolment.status, enrolment.attempt) == ("active", attempt)
        assert enrolment.due_at == now + engine.retry_delay(attempt)
        assert enrolment.error
        now = enrolment.due_at
    engine.run_due(now=now)
    enrolment = Enrolment.objects.get(contact=contact)
    assert enrolment.status == "failed" and enrolment.due_at is None and enrolment.error


def test_a_rolled_back_enrolment_does_not_eat_the_next_wake_up(
    admin: Any, make_workflow: Any, make_contact: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    from django.db import transaction

    from danhba.automation.models import Enrolment
    from danhba.automation.services.enrolments import enrol_many
    from danhba.core import jobs

    graph = {"start": "t", "steps": {"t": {"kind": "tag", "params": {"add": ["x"]}}}}
    wf = make_workflow(graph=graph)
    first, second = make_contact(full_name="Lê Văn Cường"), make_contact(full_name="Trần Thị Bích")
    jobs._last_wake.pop("automation", None)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                enrol_many(workflow=wf, contact_ids=[first.pk], via="api")
                raise RuntimeError("the caller's write failed")
        except RuntimeError:
            pass
    with django_capture_on_commit_callbacks(execute=True):
        enrol_many(workflow=wf, contact_ids=[second.pk], via="api")
    # The committed enrolment woke the job at once (it ran the step), within the same 0.25 s.
    assert Enrolment.objects.get(contact=second).status == "completed"
    assert not Enrolment.objects.filter(contact=first).exists()


def test_goal_wake_ups_keep_the_wait_without_new_runs(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.automation import triggers
    from danhba.contacts.services.contacts import contacts_bulk_update

    triggers.cache_clear()
    wf = make_workflow(graph={**three_steps(), "goal": tag_is("won")})
    contact = make_contact()
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[contact.pk])
    engine.run_due()
    until = Enrolment.objects.get(contact=contact).due_at
    for i in range(4):
        # Each change wakes the enrolment to check the goal; it keeps waiting, same time.
        contacts_bulk_update(actor=actor_for(admin), contact_ids=[contact.pk], add_tags=[f"t{i}"])
        engine.run_due()
    enrolment = Enrolment.objects.get(contact=contact)
    assert (enrolment.status, enrolment.step, enrolment.seq, enrolment.due_at) == ("active", "pause", 2, until)
    assert path(enrolment) == [("title", "done", "pause"), ("pause", "waiting", "pause")]


def test_goal_wake_ups_leave_the_retry_back_off_alone(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    from danhba.automation import triggers
    from danhba.contacts.services.contacts import contacts_bulk_update
    from danhba.segments.services import segment_create

    triggers.cache_clear()
    me = actor_for(admin)
    gone = segment_create(actor=me, name="Danh sách", kind="static")
    graph = {"start": "f", "steps": {"f": {"kind": "list", "params": {"list": gone.pk}}}, "goal": tag_is("won")}
    wf = make_workflow(graph=graph)
    contact = make_contact()
    gone.delete()  # the step fails until it has used its attempts
    enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk])
    engine.run_due()
    backoff = Enrolment.objects.get(contact=contact).due_at
    for i in range(engine.MAX_ATTEMPTS):
        contacts_bulk_update(actor=me, contact_ids=[contact.pk], add_tags=[f"t{i}"])
        engine.run_due()
    enrolment = Enrolment.objects.get(contact=contact)
    assert (enrolment.status, enrolment.attempt, enrolment.due_at) == ("active", 1, backoff)


def test_per_step_counts_say_entered_waiting_completed_and_errored(
    admin: Any, make_workflow: Any, make_contact: Any, client_for: Any
) -> None:
    from danhba.automation.selectors import step_counts
    from danhba.segments.services import segment_create

    me = actor_for(admin)
    gone = segment_create(actor=me, name="Danh sách", kind="static")
    graph = three_steps()
    graph["steps"]["tag_rest"]["next"] = "listed"
    graph["steps"]["listed"] = {"kind": "list", "params": {"list": gone.pk}}
    wf = make_workflow(graph=graph)
    people = [make_contact(full_name=f"Người {i}").pk for i in range(3)]
    enrol_manual(actor=me, workflow=wf, contact_ids=people, now=T0)
    version = wf.current_version
    # Enrolled, nothing run yet: they have entered the first step and are at it.
    assert step_counts(version)["title"] == {"entered": 3, "at": 3}
    engine.run_due(now=T0)
    counts = step_counts(version)
    assert counts["title"] == {"entered": 3, "done": 3}
    assert counts["pause"] == {"entered": 3, "at": 3, "waiting": 3}
    gone.delete()  # the list step will fail
    engine.run_due(now=T0 + HOUR)
    counts = step_counts(version)
    assert counts["pause"] == {"entered": 3, "waiting": 3, "done": 3}
    assert counts["tag_rest"] == {"entered": 3, "done": 3}
    assert counts["listed"] == {"entered": 3, "at": 3, "retrying": 3}
    page = client_for(admin).get(f"/automation/{wf.pk}/").content.decode()
    listed = page.split('id="step-listed"')[1].split("</div>\n  </div>")[0]
    assert "entered: 3" in listed and "waiting now: 3" in listed and "(3 retrying)" in listed
