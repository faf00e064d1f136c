"""Testing a workflow on one contact with the clock moved forward: the engine's own steps run
and are rolled back (nothing written, no email, no webhook call), the path says which branch and
why, and until when each wait holds; the page and the API; who may test what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.automation.models import Enrolment, StepRun
from danhba.automation.services.workflows import workflow_test
from danhba.automation.tests.conftest import T0, tag_is
from danhba.automation.tests.test_api import Api, api_for  # noqa: F401  (the API client fixture)
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.errors import NotFound, PermissionDenied
from danhba.messaging.models import EmailTemplate, Send
from danhba.privacy.services import consent_record

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def tag_then_branch() -> dict[str, Any]:
    """Tag, wait a day, then a branch on the tag the first step added."""
    return {
        "start": "mark",
        "steps": {
            "mark": {"kind": "tag", "params": {"add": ["vip"]}, "next": "pause"},
            "pause": {"kind": "wait", "params": {"seconds": 86400}, "next": "vip"},
            "vip": {
                "kind": "branch",
                "params": {
                    "branches": [{"condition": tag_is("vip"), "next": "title", "label": "VIP"}],
                    "otherwise": "",
                },
            },
            "title": {"kind": "update_field", "params": {"field": "job_title", "value": "Khách VIP"}},
        },
    }


def walked(sim: Any) -> list[tuple[str, str, str]]:
    return [(s.step, s.outcome, s.next_step) for s in sim.steps]


def test_the_path_is_walked_with_the_clock_moved_and_nothing_is_kept(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    wf = make_workflow(graph=tag_then_branch(), active=False)  # a draft can be tested
    lan = make_contact(full_name="Nguyễn Thị Lan", job_title="Kế toán")
    audit_before = AuditEvent.objects.count()
    sim = workflow_test(actor=actor_for(admin), workflow=wf, contact_id=lan.pk, start=T0)
    assert walked(sim) == [
        ("mark", "done", "pause"),
        ("pause", "waiting", "pause"),
        ("pause", "done", "vip"),
        # The branch sees the tag the first step added (inside the rolled-back transaction).
        ("vip", "done", "title"),
        ("title", "done", ""),
    ]
    assert sim.status == "completed"
    assert sim.steps[1].until == T0 + DAY and sim.steps[2].at == T0 + DAY and sim.steps[4].at == T0 + DAY
    lan.refresh_from_db()
    assert lan.job_title == "Kế toán" and not lan.tags.exists()
    assert not Enrolment.objects.exists() and not StepRun.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_which_branch_and_why_in_words(admin: Any, client_for: Any, make_workflow: Any, make_contact: Any) -> None:
    graph = tag_then_branch()
    graph["steps"]["mark"]["params"] = {"add": ["đã xem"]}
    wf = make_workflow(graph=graph)
    make_contact(full_name="Trần Văn Minh", emails=["minh@example.vn"])
    client = client_for(admin)
    page = client.post(f"/automation/{wf.pk}/test/", {"contact": "minh@example.vn", "start": "2026-12-08T10:00"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Took “otherwise”: the contact meets none of" in text and "vip" in text
    assert "Waits until 9 Dec 2026, 10:00." in text and "completed" in text
    assert 'class="box walked" id="step-vip"' in text and 'class="box" id="step-title"' in text
    admin.language = "vi"
    admin.save(update_fields=["language"])
    vi = client.post(f"/automation/{wf.pk}/test/", {"contact": "minh@example.vn", "start": "2026-12-08T10:00"})
    assert vi.status_code == 200 and "09/12/2026" in vi.content.decode()


def test_waits_for_an_event_time_out_unless_the_contact_performs_it(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    graph = {
        "start": "demo",
        "steps": {
            "demo": {
                "kind": "wait_event",
                "params": {"event": "Demo Requested", "timeout_seconds": 3 * 86400, "timeout_next": "cold"},
                "next": "hot",
            },
            "hot": {"kind": "tag", "params": {"add": ["hot"]}},
            "cold": {"kind": "tag", "params": {"add": ["cold"]}},
        },
    }
    wf = make_workflow(graph=graph)
    an = make_contact()
    me = actor_for(admin)
    quiet = workflow_test(actor=me, workflow=wf, contact_id=an.pk, start=T0)
    assert walked(quiet) == [("demo", "waiting", "demo"), ("demo", "done", "cold"), ("cold", "done", "")]
    assert quiet.steps[1].at == T0 + 3 * DAY
    keen = workflow_test(actor=me, workflow=wf, contact_id=an.pk, start=T0, events=["Demo Requested"])
    assert walked(keen) == [("demo", "waiting", "demo"), ("demo", "done", "hot"), ("hot", "done", "")]
    assert keen.steps[2].at == T0


def test_windows_goals_emails_and_webhooks_in_a_test(admin: Any, make_workflow: Any, make_contact: Any) -> None:
    template = EmailTemplate.objects.create(
        name="Chào", subject="Chào", body="<p>Xin chào</p>", sender_name="Ánh Dương",
        sender_email="news@anhduong.example.vn",
    )  # fmt: skip
    graph = {
        "start": "mail",
        "steps": {
            "mail": {"kind": "email", "params": {"template": template.pk}, "next": "call"},
            "call": {"kind": "webhook", "params": {"url": "https://hooks.example.vn/x"}, "next": "again"},
            "again": {"kind": "tag", "params": {"add": ["khách mua"]}},
        },
        "goal": tag_is("khách mua"),
    }
    window = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}
    wf = make_workflow(graph=graph, window=window)
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    consent_record(actor=actor_for(admin), contact=lan, purpose="email_marketing", status="granted", source="ui")
    saturday = dt.datetime(2026, 12, 12, 14, 0, tzinfo=dt.UTC)  # 21:00 in Hồ Chí Minh City
    sim = workflow_test(actor=actor_for(admin), workflow=wf, contact_id=lan.pk, start=saturday)
    assert [s.kind for s in sim.steps] == ["window", "email", "webhook", "tag"]
    monday_8 = dt.datetime(2026, 12, 14, 1, 0, tzinfo=dt.UTC)
    assert sim.steps[0].until == monday_8 and sim.steps[1].at == monday_8
    assert sim.steps[1].detail["email"] == "queued"
    assert sim.steps[2].detail == {"not_called": True}
    assert sim.status == "completed"
    assert not Send.objects.exists()
    # A contact who already meets the goal stops before the first step.
    make_tagged = make_contact(full_name="Lê Văn Cường", tags=["khách mua"])
    done = workflow_test(actor=actor_for(admin), workflow=wf, contact_id=make_tagged.pk, start=monday_8)
    assert walked(done) == [("mail", "goal", "")] and done.status == "goal"


def test_who_may_test_what(users: Any, make_workflow: Any, make_contact: Any) -> None:
    graph = tag_then_branch()
    graph["steps"]["vip"]["params"]["branches"][0]["condition"] = {
        "op": "all", "conditions": [{"kind": "field", "field": "gender", "operator": "eq", "value": "female"}]
    }  # fmt: skip
    wf = make_workflow(graph=graph)
    contact = make_contact()
    # Sales may read workflows but not the gender field the branch reads: no test.
    with pytest.raises(PermissionDenied):
        workflow_test(actor=actor_for(users["sales"]), workflow=wf, contact_id=contact.pk, start=T0)
    with pytest.raises(NotFound):
        workflow_test(actor=actor_for(users["marketing"]), workflow=wf, contact_id=10**9, start=T0)
    assert workflow_test(actor=actor_for(users["marketing"]), workflow=wf, contact_id=contact.pk).status


def test_the_api_tells_the_path(users: Any, api_for: Any, make_workflow: Any, make_contact: Any) -> None:  # noqa: F811
    wf = make_workflow(graph=tag_then_branch())
    contact = make_contact(full_name="Phạm Thu Hà")
    api: Api = api_for(users["marketing"])
    answer = api.send("POST", f"/workflows/{wf.pk}/test", {"contact_id": contact.pk, "start": T0.isoformat()})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "completed" and body["version"] == 1
    assert [s["step"] for s in body["steps"]] == ["mark", "pause", "pause", "vip", "title"]
    branch = body["steps"][3]
    assert branch["detail"] == {"branch": 0} and branch["summary"].startswith("Took “VIP”: the contact meets")
    assert body["steps"][1]["until"].startswith("2026-12-09T03:00")
    assert not Contact.objects.get(pk=contact.pk).tags.exists()
    assert api.send("POST", f"/workflows/{wf.pk}/test", {"contact_id": 10**9}).status_code == 404
    assert api.send("POST", f"/workflows/{wf.pk}/test", {"contact_id": "x"}).status_code == 422
    assert api.send("POST", "/workflows/999999/test", {"contact_id": contact.pk}).status_code == 404
