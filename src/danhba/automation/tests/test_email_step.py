"""The email step sends through messaging: the campaign's send rules (consent, suppression,
frequency cap) apply, the message reaches a real SMTP server (aiosmtpd), and a step run again
queues nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.automation.models import StepRun
from danhba.automation.services import engine
from danhba.automation.services.enrolments import enrol_manual
from danhba.automation.services.workflows import workflow_update
from danhba.automation.tests.conftest import T0
from danhba.conftest import actor_for
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.services.sending import campaign_run
from danhba.messaging.tests.conftest import Mailbox, smtp  # noqa: F401  (the real SMTP server fixture)
from danhba.privacy.services import consent_record

pytestmark = pytest.mark.django_db


def test_a_welcome_email_reaches_only_those_who_may_get_it(
    smtp: Mailbox,  # noqa: F811
    admin: Any,
    make_workflow: Any,
    make_contact: Any,
    settings: Any,
) -> None:
    settings.MESSAGING_SENDER_IDENTITY = "Công ty TNHH Ánh Dương"
    settings.MESSAGING_POSTAL_ADDRESS = "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
    me = actor_for(admin)
    template = EmailTemplate.objects.create(
        name="Chào mừng", subject="Chào {{ contact.given_name }}", body="<p>Cảm ơn bạn đã đăng ký!</p>",
        sender_name="Ánh Dương", sender_email="news@anhduong.example.vn",
    )  # fmt: skip
    graph = {"start": "mail", "steps": {"mail": {"kind": "email", "params": {"template": template.pk}}}}
    wf = make_workflow(graph=graph, name="Chào khách mới")
    campaign_id = wf.current_version.graph["steps"]["mail"]["params"]["campaign"]
    assert Campaign.objects.get(pk=campaign_id).template_id == template.pk
    yes = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    no_consent = make_contact(full_name="Trần Văn Minh", emails=["minh@example.vn"])
    suppressed = make_contact(full_name="Lê Thị Chặn", emails=["chan@example.vn"])
    for contact in (yes, suppressed):
        consent_record(actor=me, contact=contact, purpose="email_marketing", status="granted", source="ui")
    Suppression.objects.create(email="chan@example.vn", reason=Suppression.Reason.HARD_BOUNCE)
    enrol_manual(actor=me, workflow=wf, contact_ids=[yes.pk, no_consent.pk, suppressed.pk], now=T0)
    engine.run_due(now=T0)
    details = {r.enrolment.contact_id: r.detail for r in StepRun.objects.select_related("enrolment")}
    assert details[yes.pk]["email"] == "queued"
    assert details[no_consent.pk]["reason"] == "no_consent"
    assert details[suppressed.pk]["reason"] == "suppressed"
    campaign_run(campaign_id=campaign_id)
    assert [m.rcpt_to for m in smtp.received] == [["lan@example.vn"]]
    assert smtp.received[0].message["Subject"].endswith("Chào Lan")
    # The same step for the same contact again (a repeated run) queues nothing more.
    from danhba.messaging.services.campaigns import automated_queue

    run = StepRun.objects.get(enrolment__contact=yes)
    again = automated_queue(campaign_id=campaign_id, contact_ids=[yes.pk], keys={yes.pk: f"{run.enrolment_id}-0"})
    assert again == {yes.pk: ("already_sent", "")}
    assert Send.objects.filter(campaign_id=campaign_id, contact=yes).count() == 1
    # Saving the same steps keeps the version and its campaign.
    same = {"start": "mail", "steps": {"mail": {"kind": "email", "params": {"template": template.pk}}}}
    assert workflow_update(actor=me, workflow=wf, data={"graph": same}).current_version.number == 1


def test_an_email_step_never_sends_through_a_campaign_the_client_names(admin: Any, make_workflow: Any) -> None:
    template = EmailTemplate.objects.create(
        name="W", subject="Hi", body="<p>x</p>", sender_name="A", sender_email="news@anhduong.example.vn"
    )
    regular = Campaign.objects.create(name="Black Friday", template=template, status=Campaign.Status.SENT)
    params = {"template": template.pk, "campaign": regular.pk}
    wf = make_workflow(graph={"start": "mail", "steps": {"mail": {"kind": "email", "params": params}}}, name="Welcome")
    used = wf.current_version.graph["steps"]["mail"]["params"]["campaign"]
    assert used != regular.pk and Campaign.objects.get(pk=used).content["automated"] is True
    # An edit naming it again keeps the step's own automated campaign.
    changed = {"start": "mail", "steps": {"mail": {"kind": "email", "params": {**params, "topic": ""}}}}
    wf = workflow_update(actor=actor_for(admin), workflow=wf, data={"graph": changed})
    assert wf.current_version.graph["steps"]["mail"]["params"]["campaign"] == used
    assert Campaign.objects.get(pk=regular.pk).status == Campaign.Status.SENT


def test_a_re_enrolled_contact_gets_the_email_again_and_a_repeated_pass_never_twice(
    admin: Any, make_workflow: Any, make_contact: Any
) -> None:
    import datetime as dt

    from danhba.automation.models import Enrolment
    from danhba.messaging.services.campaigns import automated_queue

    me = actor_for(admin)
    template = EmailTemplate.objects.create(
        name="W", subject="Hi", body="<p>x</p>", sender_name="A", sender_email="news@anhduong.example.vn"
    )
    graph = {"start": "mail", "steps": {"mail": {"kind": "email", "params": {"template": template.pk}}}}
    wf = make_workflow(graph=graph, name="Welcome", reenrol="again")
    contact = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    consent_record(actor=me, contact=contact, purpose="email_marketing", status="granted", source="ui")
    later = T0 + dt.timedelta(days=30)
    assert enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk], now=T0) == 1
    engine.run_due(now=T0)
    assert enrol_manual(actor=me, workflow=wf, contact_ids=[contact.pk], now=later) == 1
    engine.run_due(now=later)
    sends = Send.objects.filter(contact=contact).order_by("pk")
    assert [s.state for s in sends] == ["queued", "queued"]
    first, second = Enrolment.objects.filter(contact=contact).order_by("pk")
    assert [s.key for s in sends] == [f"{first.pk}-0", f"{second.pk}-0"]
    assert StepRun.objects.get(enrolment=second).detail["email"] == "queued"
    # The same pass queued again (a repeated job): nothing new, and it says so.
    campaign = sends[0].campaign_id
    again = automated_queue(campaign_id=campaign, contact_ids=[contact.pk], keys={contact.pk: f"{second.pk}-0"})
    assert again == {contact.pk: ("already_sent", "")}
    assert Send.objects.filter(contact=contact).count() == 2
