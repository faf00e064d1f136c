"""The six playbooks: each installs as a draft checked like any workflow, with its emails as
automated campaigns and its tags; activated, its trigger enrols a contact who walks the path as
the engine's clock moves, and gets the right emails and tasks."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.utils import timezone

from danhba.automation.models import Enrolment, Workflow
from danhba.automation.playbooks import all_playbooks
from danhba.automation.services import engine
from danhba.automation.services.playbooks import playbook_install
from danhba.automation.services.workflows import workflow_set_status
from danhba.conftest import actor_for
from danhba.core.errors import Conflict, PermissionDenied
from danhba.messaging.models import Campaign, EmailTemplate, Send
from danhba.messaging.tests.conftest import Mailbox, smtp  # noqa: F401  (the real SMTP server fixture)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
FIT = {"op": "all", "conditions": [{"kind": "field", "field": "job_title", "operator": "eq", "value": "CEO"}]}


@pytest.fixture
def start() -> dt.datetime:
    """Tomorrow 10:00 in Hồ Chí Minh City: after every real-time enrolment, inside the
    playbooks' 08:00–20:00 sending window."""
    tz = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
    day = timezone.localdate() + DAY
    return dt.datetime.combine(day, dt.time(10, 0), tzinfo=tz).astimezone(dt.UTC)


@pytest.fixture
def hot_model(admin: Any) -> Any:
    from danhba.scoring.services.models import score_model_create, score_rule_create

    me = actor_for(admin)
    model = score_model_create(actor=me, data={"name": "Độ phù hợp"})
    score_rule_create(actor=me, model=model, data={"kind": "fit", "name": "CEO", "points": 70, "condition": FIT})
    return model


def install(user: Any, key: str, active: bool = True) -> Workflow:
    workflow = playbook_install(actor=actor_for(user), key=key).workflow
    assert workflow.status == Workflow.Status.DRAFT
    if active:
        workflow = workflow_set_status(actor=actor_for(user), workflow=workflow, status=Workflow.Status.ACTIVE)
    return workflow


def emailed(workflow: Workflow, contact: Any) -> set[str]:
    """The email steps of the workflow that queued (or sent) a message to the contact."""
    steps = workflow.current_version.graph["steps"]  # type: ignore[union-attr]
    by_campaign = {s["params"]["campaign"]: sid for sid, s in steps.items() if s["kind"] == "email"}
    sends = Send.objects.filter(contact=contact, campaign_id__in=by_campaign, state__in=["queued", "sent"])
    return {by_campaign[c] for c in sends.values_list("campaign_id", flat=True)}


def tags(contact: Any) -> set[str]:
    return set(contact.tags.values_list("name", flat=True))


def subscriber(make_contact: Any, admin: Any, name: str, email: str, **data: Any) -> Any:
    from danhba.privacy.services import consent_record

    contact = make_contact(full_name=name, emails=[email], **data)
    consent_record(actor=actor_for(admin), contact=contact, purpose="email_marketing", status="granted", source="ui")
    return contact


def test_every_playbook_installs_as_a_draft_and_twice_as_a_second_copy(admin: Any, hot_model: Any) -> None:
    for book in all_playbooks():
        first = install(admin, book.key, active=False)
        graph = first.current_version.graph  # type: ignore[union-attr]
        mails = [s for s in graph["steps"].values() if s["kind"] == "email"]
        assert len({m["params"]["template"] for m in mails}) == len(book.emails)
        for mail in mails:
            campaign = Campaign.objects.get(pk=mail["params"]["campaign"])
            assert campaign.content["automated"] and campaign.template_id == mail["params"]["template"]
            assert "Chào" in campaign.template.body and "Hi " in campaign.template.body  # Vietnamese, then English
        second = install(admin, book.key, active=False)
        assert first.name == str(book.name) and second.name == f"{book.name} (2)"
        assert EmailTemplate.objects.filter(name__endswith=f"· {second.name}").count() == len(book.emails)
    assert Workflow.objects.filter(status="draft").count() == 12


def test_installing_needs_the_roles_rights_and_a_hot_grade(users: Any) -> None:
    with pytest.raises(PermissionDenied):
        playbook_install(actor=actor_for(users["sales"]), key="welcome")
    with pytest.raises(Conflict):
        playbook_install(actor=actor_for(users["marketing"]), key="hot_lead")  # no score model yet
    assert install(users["marketing"], "welcome", active=False).created_by == users["marketing"]


def test_hot_lead_assigns_creates_a_call_task_and_notifies_the_owner(
    admin: Any, users: Any, hot_model: Any, make_contact: Any, start: dt.datetime
) -> None:
    from danhba.sales.models import Notification, Task
    from danhba.scoring.services.compute import scores_update

    rep = users["sales"]
    wf = install(admin, "hot_lead")
    boss = make_contact(full_name="Phạm Minh Tuấn", job_title="CEO", owner=rep.pk)
    clerk = make_contact(full_name="Lê Thu", owner=rep.pk)
    scores_update(contact_ids=[boss.pk, clerk.pk], now=start)
    assert set(Enrolment.objects.filter(workflow=wf).values_list("contact_id", flat=True)) == {boss.pk}
    engine.run_due(now=start)
    task = Task.objects.get(contact=boss)
    assert (task.owner, task.kind, task.priority) == (rep, "call", "high")
    assert task.due_at == start + dt.timedelta(hours=2) and "Phạm Minh Tuấn" in task.title
    notice = Notification.objects.get(user=rep)
    assert "Phạm Minh Tuấn" in notice.text
    assert "khách nóng" in tags(boss) and not Task.objects.filter(contact=clerk).exists()
    assert Enrolment.objects.get(workflow=wf).status == "completed"


def test_lost_deal_nurtures_by_the_lost_reason_after_the_wait(
    smtp: Mailbox,  # noqa: F811
    admin: Any,
    make_contact: Any,
    start: dt.datetime,
    settings: Any,
) -> None:
    from danhba.messaging.services.sending import campaign_run
    from danhba.sales.models import LostReason
    from danhba.sales.services.deals import deal_create, deal_lose
    from danhba.sales.services.pipelines import pipeline_create
    from danhba.sales.tests.conftest import STAGES

    settings.MESSAGING_SENDER_IDENTITY = "Công ty TNHH Ánh Dương"
    settings.MESSAGING_POSTAL_ADDRESS = "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
    me = actor_for(admin)
    wf = install(admin, "lost_deal")
    pipeline = pipeline_create(actor=me, data={"name": "B2B", "stages": STAGES})
    price = subscriber(make_contact, admin, "Trần Thị Giá", "gia@example.vn")
    silent = subscriber(make_contact, admin, "Lê Văn Im", "im@example.vn")
    rival = subscriber(make_contact, admin, "Ngô Đối Thủ", "doithu@example.vn")
    no_consent = make_contact(full_name="Vũ Không Đồng Ý", emails=["khong@example.vn"])
    for contact, reason in ((price, "budget"), (silent, "no-response"), (rival, "competitor"), (no_consent, "budget")):
        deal = deal_create(actor=me, data={"title": f"CRM {contact.pk}", "pipeline_id": pipeline.pk,
                                           "primary_contact_id": contact.pk})  # fmt: skip
        deal_lose(actor=me, deal=deal, lost_reason_id=LostReason.objects.get(key=reason).pk, note="Ghi chú")
    assert Enrolment.objects.filter(workflow=wf).count() == 4
    engine.run_due(now=start)
    engine.run_due(now=start + 2 * DAY)
    assert not Send.objects.exists()  # still cooling off
    engine.run_due(now=start + 3 * DAY)
    assert emailed(wf, price) == {"price_offer"}
    assert emailed(wf, silent) == {"reengage"}
    assert emailed(wf, rival) == {"stories"}
    assert emailed(wf, no_consent) == set()
    assert Enrolment.objects.get(contact=no_consent).status == "completed"
    engine.run_due(now=start + 10 * DAY)
    assert emailed(wf, price) == {"price_offer", "price_reminder"}
    # The offer reaches the real SMTP server, in Vietnamese first.
    offer = wf.current_version.graph["steps"]["price_offer"]["params"]["campaign"]  # type: ignore[union-attr]
    campaign_run(campaign_id=offer)
    assert [m.rcpt_to for m in smtp.received] == [["gia@example.vn"]]
    message = smtp.received[0].message
    assert "Giá" in message["Subject"]
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    assert html.index("giảm 15%") < html.index("15% off the first year")


def test_stuck_lead_follow_up_when_they_click_cold_when_they_do_not(
    admin: Any, users: Any, make_contact: Any, start: dt.datetime, hot_model: Any
) -> None:
    from danhba.automation.triggers import daily_enrol
    from danhba.contacts.models import Contact
    from danhba.sales.models import Task
    from danhba.tracking.services.server import ServerEvent, server_events_store

    rep = users["sales"]
    wf = install(admin, "stuck_lead")
    back = subscriber(make_contact, admin, "Hoàng Quay Lại", "quaylai@example.vn", owner=rep.pk)
    cold = subscriber(make_contact, admin, "Đỗ Im Lặng", "imlang@example.vn", owner=rep.pk, job_title="CEO")
    month_ago = timezone.now() - dt.timedelta(days=30)
    Contact.objects.filter(pk__in=[back.pk, cold.pk]).update(last_activity_at=month_ago)
    assert daily_enrol(today=timezone.localdate()) == 2
    engine.run_due(now=start)
    assert emailed(wf, back) == emailed(wf, cold) == {"first_try"}
    server_events_store(source="email", events=[ServerEvent(contact_id=back.pk, name="Email Link Clicked",
                                                            message_id="click-1")])  # fmt: skip
    engine.run_due(now=start + DAY)
    task = Task.objects.get(contact=back)
    assert (task.owner, task.kind) == (rep, "follow_up") and "đã quay lại" in tags(back)
    engine.run_due(now=start + 7 * DAY)
    assert emailed(wf, cold) == {"first_try", "second_try"}
    engine.run_due(now=start + 14 * DAY)
    assert "khách lạnh" in tags(cold) and not Task.objects.filter(contact=cold).exists()
    # With a score model the silent CEO's 70 points (hot) are set to the lowest grade: cold, 0.
    from danhba.scoring.models import ContactScore

    score = ContactScore.objects.get(contact=cold, model=hot_model)
    assert (score.grade, score.total, score.fit, score.adjusted) == ("cold", 0, 70, -70)
    assert emailed(wf, back) == {"first_try"} and "khách lạnh" not in tags(back)


def test_welcome_series_then_a_tag_for_each_topic_kept(admin: Any, make_contact: Any, start: dt.datetime) -> None:
    from danhba.privacy.models import ConsentPurpose
    from danhba.privacy.services import consent_record

    ConsentPurpose.objects.create(key="khuyen-mai", name="Offers", name_vi="Khuyến mãi", email_topic=True)
    ConsentPurpose.objects.create(key="tin-tuc", name="News", name_vi="Tin tức", email_topic=True)
    wf = install(admin, "welcome")
    mai = subscriber(make_contact, admin, "Nguyễn Thị Mai", "mai@example.vn")  # the grant enrols her
    assert Enrolment.objects.get(workflow=wf).contact_id == mai.pk
    engine.run_due(now=start)
    assert emailed(wf, mai) == {"thanks"}
    engine.run_due(now=start + 2 * DAY)
    assert emailed(wf, mai) == {"thanks", "guide"}
    engine.run_due(now=start + 5 * DAY)
    assert emailed(wf, mai) == {"thanks", "guide", "topics"}
    consent_record(actor=actor_for(admin), contact=mai, purpose="khuyen-mai", status="granted", source="ui")
    consent_record(actor=actor_for(admin), contact=mai, purpose="tin-tuc", status="withdrawn", source="ui")
    engine.run_due(now=start + 8 * DAY)
    assert {"chủ đề: Khuyến mãi", "đã chào mừng"} <= tags(mai) and "chủ đề: Tin tức" not in tags(mai)
    assert Enrolment.objects.get(workflow=wf).status == "completed"


def test_role_nurture_sends_each_role_its_track(admin: Any, make_contact: Any, start: dt.datetime) -> None:
    from danhba.contacts.services.contacts import contact_update

    wf = install(admin, "role_nurture")
    people = {
        role: subscriber(make_contact, admin, f"Người {role}", f"{role}@example.vn")
        for role in ("decision_maker", "influencer", "user", "gatekeeper")
    }
    for role, contact in people.items():
        contact_update(actor=actor_for(admin), contact=contact, data={"buyer_role": role})
    assert Enrolment.objects.filter(workflow=wf).count() == 4
    engine.run_due(now=start)
    assert {r: emailed(wf, c) for r, c in people.items()} == {
        "decision_maker": {"dm_case"}, "influencer": {"inf_compare"}, "user": {"user_tips"},
        "gatekeeper": {"general"},
    }  # fmt: skip
    engine.run_due(now=start + 5 * DAY)
    assert emailed(wf, people["decision_maker"]) == {"dm_case", "dm_meeting"}
    assert emailed(wf, people["user"]) == {"user_tips", "user_training"}


def test_retention_onboards_cross_sells_asks_for_a_review_then_wins_back(
    admin: Any, make_contact: Any, start: dt.datetime
) -> None:
    from danhba.contacts.services.contacts import contact_update

    wf = install(admin, "retention")
    lan = subscriber(make_contact, admin, "Phan Thị Lan", "lan@example.vn")
    contact_update(actor=actor_for(admin), contact=lan, data={"lifecycle_stage": "customer"})
    engine.run_due(now=start)
    assert emailed(wf, lan) == {"onboard"}
    engine.run_due(now=start + 14 * DAY)
    assert emailed(wf, lan) == {"onboard", "cross_sell"}
    engine.run_due(now=start + 28 * DAY)
    assert emailed(wf, lan) == {"onboard", "cross_sell", "review"}
    engine.run_due(now=start + 117 * DAY)
    assert "cần giữ chân" not in tags(lan)
    engine.run_due(now=start + 118 * DAY)
    assert emailed(wf, lan) == {"onboard", "cross_sell", "review", "win_back"}
    assert "cần giữ chân" in tags(lan) and "khách trung thành" not in tags(lan)
