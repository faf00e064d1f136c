"""An automated campaign (a workflow's email step) is never left with mail that nobody sends."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.services.campaigns import automated_queue, campaign_automated
from danhba.messaging.services.sending import campaign_run
from danhba.messaging.tests.conftest import Mailbox, make_campaign, smtp  # noqa: F401  (the real SMTP server fixture)
from danhba.privacy.services import consent_record

pytestmark = pytest.mark.django_db


def test_mail_queued_while_the_send_job_finished_still_goes_out(
    smtp: Mailbox,  # noqa: F811
    admin: Any,
    make_contact: Any,
) -> None:
    template = EmailTemplate.objects.create(
        name="Chào mừng", subject="Chào {{ contact.given_name }}", body="<p>Cảm ơn bạn!</p>",
        sender_name="Ánh Dương", sender_email="news@anhduong.example.vn",
    )  # fmt: skip
    campaign = campaign_automated(template_id=template.pk, name="Chào khách mới")
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan@example.vn"])
    consent_record(actor=actor_for(admin), contact=lan, purpose="email_marketing", status="granted", source="ui")
    assert automated_queue(campaign_id=campaign.pk, contact_ids=[lan.pk], keys={lan.pk: "7-0"})[lan.pk][0] == "queued"
    # The send job's "nothing left: sent" committed after the workflow read the status and before
    # its row was visible: the campaign reads sent with a queued row.
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT)

    campaign_run(campaign_id=campaign.pk)

    assert [m.rcpt_to for m in smtp.received] == [["lan@example.vn"]]
    assert Send.objects.get(campaign=campaign).state == Send.State.SENT
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT  # and finished again


def test_a_sent_campaign_that_is_not_automated_stays_sent(
    smtp: Mailbox,  # noqa: F811
    setup: dict[str, Any],
) -> None:
    campaign = make_campaign(setup)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT)
    Send.objects.create(campaign=campaign, contact=setup["people"]["lan"], email="lan@example.vn")

    campaign_run(campaign_id=campaign.pk)

    assert smtp.received == []
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT


def test_unsubscribing_from_a_workflow_email_answers_for_the_last_message(admin: Any, make_contact: Any) -> None:
    from danhba.messaging.links import Recipient
    from danhba.messaging.services.campaigns import unsubscribe

    template = EmailTemplate.objects.create(
        name="Nhắc", subject="Nhắc", body="<p>x</p>", sender_name="A", sender_email="news@anhduong.example.vn"
    )
    campaign = campaign_automated(template_id=template.pk, name="Nhắc lại")
    lan = make_contact(full_name="Nguyễn Thị Lan", emails=["lan.moi@example.vn"])
    # Two passes of the workflow: the first went to the address she had then.
    first = Send.objects.create(campaign=campaign, contact=lan, email="lan.cu@example.vn", key="1-0", state="sent")
    last = Send.objects.create(campaign=campaign, contact=lan, email="lan.moi@example.vn", key="2-0", state="sent")

    assert unsubscribe(recipient=Recipient(contact_id=lan.pk, campaign_id=campaign.pk))

    assert list(Suppression.objects.values_list("email", flat=True)) == ["lan.moi@example.vn"]
    first.refresh_from_db()
    last.refresh_from_db()
    assert first.unsubscribed_at is None and last.unsubscribed_at is not None
