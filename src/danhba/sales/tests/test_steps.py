"""The workflow steps sales adds, through the engine with a moved clock: assign an owner (a
named rep, or the rules' round robin that skips an absent rep), create a task for the owner,
notify the owner in-app and by email. A step run again for the same pass writes nothing new."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from danhba.automation.models import Enrolment, StepRun
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.tests.conftest import T0
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput
from danhba.sales.models import Absence, Assignment, AssignmentRule, Notification, Task

pytestmark = pytest.mark.django_db

HOT_LEAD = {
    "start": "assign",
    "steps": {
        "assign": {"kind": "assign_owner", "params": {}, "next": "call"},
        "call": {
            "kind": "create_task",
            "params": {"title": "Gọi {{ contact.name }}", "type": "call", "priority": "high", "due_in": 2},
            "next": "tell",
        },
        "tell": {"kind": "notify_user", "params": {"message": "Khách nóng: {{ contact.name }} ({{ contact.email }})"}},
    },
}


@pytest.fixture
def team(make_user: Any) -> dict[str, Any]:
    from danhba.accounts.models import Team

    team = Team.objects.create(name="Bán hàng miền Nam")
    reps = [make_user("sales", full_name=name, team=team) for name in ("Hà", "Bình", "Châu")]
    rule = AssignmentRule.objects.create(name="Miền Nam", team=team)
    return {"team": team, "reps": reps, "rule": rule}


def test_hot_lead_steps_assign_in_turn_skipping_the_absent_rep_task_and_notice(
    team: Any, make_workflow: Any, make_contact: Any, admin: Any, smtp: Any, django_capture_on_commit_callbacks: Any
) -> None:
    ha, binh, chau = team["reps"]
    Absence.objects.create(user=binh, starts_at=T0 - dt.timedelta(days=1), ends_at=T0 + dt.timedelta(days=1))
    leads = [make_contact(full_name=f"Khách {i}", emails=[f"k{i}@example.vn"]) for i in range(4)]
    # New contacts took owners from the rule when they were created; start them unowned.
    from danhba.contacts.models import Contact

    Contact.objects.update(owner=None)
    Assignment.objects.all().delete()
    Notification.objects.all().delete()
    AssignmentRule.objects.filter(pk=team["rule"].pk).update(last_user=None)
    wf = make_workflow(graph=HOT_LEAD, name="Khách nóng")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[c.pk for c in leads], now=T0)
    with django_capture_on_commit_callbacks(execute=True):
        engine.run_due(now=T0)
    owners = [Contact.objects.get(pk=c.pk).owner_id for c in leads]
    assert owners == [ha.pk, chau.pk, ha.pk, chau.pk]  # Bình is away
    tasks = {t.contact_id: t for t in Task.objects.all()}
    assert {t.owner_id for t in tasks.values()} == {ha.pk, chau.pk} and len(tasks) == 4
    first = tasks[leads[0].pk]
    assert first.title == "Gọi Khách 0" and first.kind == "call" and first.priority == "high"
    assert first.due_at == T0 + dt.timedelta(hours=2)
    notices = Notification.objects.filter(user=ha).order_by("id")
    assert [n.text for n in notices] == ["Khách nóng: Khách 0 (k0@example.vn)", "Khách nóng: Khách 2 (k2@example.vn)"]
    assert sorted(m.rcpt_to[0] for m in smtp.received) == sorted([ha.email, ha.email, chau.email, chau.email])
    assert Enrolment.objects.filter(status=Enrolment.Status.COMPLETED).count() == 4
    assert Assignment.objects.filter(via="workflow", rule=team["rule"]).count() == 4
    # The pointer is kept: the next lead goes to Hà (after Châu), and Bình is back.
    Absence.objects.all().delete()
    rule = AssignmentRule.objects.get(pk=team["rule"].pk)
    assert rule.last_user_id == chau.pk


def test_a_step_run_again_for_the_same_pass_writes_nothing_new(
    team: Any, make_workflow: Any, make_contact: Any, admin: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lead = make_contact(full_name="Trần Thị Mai", emails=["mai@example.vn"])
    wf = make_workflow(graph=HOT_LEAD, name="Khách nóng")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[lead.pk], now=T0)
    engine.run_due(now=T0)
    owner = type(lead).objects.get(pk=lead.pk).owner_id
    assert Task.objects.count() == 1 and Notification.objects.filter(key__startswith="wf").count() == 1
    # A repeated job: the enrolment is back at the first step with the same seq (its runs forgotten).
    enrolment = Enrolment.objects.get()
    StepRun.objects.all().delete()
    Enrolment.objects.filter(pk=enrolment.pk).update(
        step="assign", seq=0, status=Enrolment.Status.ACTIVE, due_at=T0, finished_at=None
    )
    AssignmentRule.objects.update(last_user=None)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        engine.run_due(now=T0 + dt.timedelta(minutes=1))
    assert type(lead).objects.get(pk=lead.pk).owner_id == owner
    assert Task.objects.count() == 1 and Notification.objects.filter(key__startswith="wf").count() == 1
    from danhba.sales.services.assignment import send_email

    assert not [c for c in callbacks if getattr(c, "func", None) is send_email]  # no second email
    runs = {r.step: r.detail for r in StepRun.objects.all()}
    assert runs["call"]["again"] is True and runs["tell"]["again"] is True


def test_assign_keeps_an_owner_unless_reassign_and_takes_a_named_user(
    team: Any, make_workflow: Any, make_contact: Any, admin: Any, users: Any
) -> None:
    ha, binh, _chau = team["reps"]
    kept = make_contact(full_name="Có chủ", owner=ha.pk)
    moved = make_contact(full_name="Đổi chủ", owner=ha.pk)
    keep = {"start": "a", "steps": {"a": {"kind": "assign_owner", "params": {"user": binh.pk}}}}
    change = {"start": "a", "steps": {"a": {"kind": "assign_owner", "params": {"user": binh.pk, "reassign": True}}}}
    wf1, wf2 = make_workflow(graph=keep, name="Giữ"), make_workflow(graph=change, name="Đổi")
    enrol_manual(actor=actor_for(admin), workflow=wf1, contact_ids=[kept.pk], now=T0)
    enrol_manual(actor=actor_for(admin), workflow=wf2, contact_ids=[moved.pk], now=T0)
    engine.run_due(now=T0)
    assert type(kept).objects.get(pk=kept.pk).owner_id == ha.pk
    assert type(moved).objects.get(pk=moved.pk).owner_id == binh.pk
    row = Assignment.objects.get(contact=moved)
    assert (row.previous_id, row.user_id, row.via) == (ha.pk, binh.pk, "workflow")


def test_a_task_for_a_named_user_due_in_days_and_bad_settings_are_refused(
    make_workflow: Any, make_contact: Any, admin: Any, users: Any
) -> None:
    rep = users["sales"]
    lead = make_contact(full_name="Lê Văn Phúc")
    params = {"title": "Gửi báo giá", "type": "email", "due_in": 3, "due_unit": "days", "user": rep.pk}
    wf = make_workflow(graph={"start": "t", "steps": {"t": {"kind": "create_task", "params": params}}}, name="Báo giá")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[lead.pk], now=T0)
    engine.run_due(now=T0)
    task = Task.objects.get()
    assert (task.owner_id, task.kind, task.due_at) == (rep.pk, "email", T0 + dt.timedelta(days=3))
    for bad in (
        {"kind": "create_task", "params": {"title": "x", "user": 999999}},
        {"kind": "notify_user", "params": {"message": "{% if %}"}},
        {"kind": "assign_owner", "params": {"rule": 999999}},
        {"kind": "create_task", "params": {"title": "x", "due_unit": "weeks"}},
    ):
        with pytest.raises(InvalidInput):
            make_workflow(graph={"start": "s", "steps": {"s": bad}}, name="Sai", active=False)


def test_no_owner_no_task_and_the_path_goes_on(make_workflow: Any, make_contact: Any, admin: Any) -> None:
    lead = make_contact(full_name="Không chủ")
    graph = {"start": "t", "steps": {"t": {"kind": "create_task", "params": {"title": "Gọi"}}}}
    wf = make_workflow(graph=graph, name="Gọi")
    enrol_manual(actor=actor_for(admin), workflow=wf, contact_ids=[lead.pk], now=T0)
    engine.run_due(now=T0)
    assert not Task.objects.exists()
    assert StepRun.objects.get().detail == {"task": None, "reason": "no_owner"}


def test_new_leads_get_owners_by_the_rules_as_they_are_created(team: Any, make_contact: Any) -> None:
    ha, binh, chau = team["reps"]
    leads = [make_contact(full_name=f"Mới {i}") for i in range(4)]
    from danhba.contacts.models import Contact

    owners = [Contact.objects.get(pk=c.pk).owner_id for c in leads]
    assert owners == [ha.pk, binh.pk, chau.pk, ha.pk]
    assert Assignment.objects.filter(via="new_lead").count() == 4
    assert Notification.objects.filter(user=ha).count() == 2
    # A lead created with an owner keeps it.
    given = make_contact(full_name="Đã có chủ", owner=chau.pk)
    assert Contact.objects.get(pk=given.pk).owner_id == chau.pk
