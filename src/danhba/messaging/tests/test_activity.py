"""Email activity as the contact's events and in segments: sends, opens, clicks, bounces and
unsubscribes are events of the internal "email" source, once each (a repeat stores nothing);
the timeline and the explorer name them in English and Vietnamese; a segment with the ``email``
condition matches exactly the clickers, follows new clicks at once, leaves out machines; the
opens and clicks of a campaign are readable through the API by roles that view email."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from danhba.accounts.models import Role
from danhba.contacts.models import Contact
from danhba.messaging.bounces import HARD, Bounce, Failure
from danhba.messaging.links import Recipient
from danhba.messaging.models import Campaign, Send
from danhba.messaging.services import campaigns
from danhba.messaging.services.activity import BOUNCED, SENT, UNSUBSCRIBED
from danhba.messaging.services.bounces import bounce_apply
from danhba.messaging.tests.conftest import Mailbox
from danhba.messaging.tests.test_tracking import HUMAN, _path, _send, _to, _tracked_links, later  # noqa: F401
from danhba.segments import conditions
from danhba.segments.models import Segment, SegmentMember
from danhba.segments.services import segment_create
from danhba.tracking.models import Event
from danhba.tracking.selectors import event_line

pytestmark = pytest.mark.django_db


def _members(segment: Segment) -> set[int]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def _segment(setup: dict[str, Any], name: str, **leaf: Any) -> Segment:
    tree = {"op": "all", "conditions": [{"kind": "email", "period": {"last_days": 30}, **leaf}]}
    return segment_create(actor=setup["actor"], name=name, kind=Segment.Kind.DYNAMIC, conditions=tree)


def test_segments_on_email_activity_follow_the_clicks(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,  # noqa: F811
) -> None:
    campaign = _send(setup)
    lan, minh = setup["people"]["lan"], setup["people"]["minh"]
    received = _segment(setup, "Nhận thư", action="received", campaign=campaign.pk)
    clicked = _segment(setup, "Đã nhấp", action="clicked", campaign=campaign.pk)
    not_clicked = _segment(setup, "Nhận mà chưa nhấp", action="clicked", campaign=campaign.pk, negate=True)
    other = _segment(setup, "Chiến dịch khác", action="received", campaign=campaign.pk + 1)
    assert _members(received) == {lan.pk, minh.pk} and _members(clicked) == set() and _members(other) == set()
    sale = _path(_tracked_links(_to(smtp, "lan@example.vn").part("text/html"))[1])
    client.get(sale, HTTP_USER_AGENT=HUMAN)
    # The click's event changed Lan's membership at once (the dirty-contact path).
    assert _members(clicked) == {lan.pk} and lan.pk not in _members(not_clicked) and minh.pk in _members(not_clicked)
    # A scanner's click on Minh's email: not a click for segments.
    minh_sale = _path(_tracked_links(_to(smtp, "minh@example.vn").part("text/html"))[1])
    client.get(minh_sale, HTTP_USER_AGENT="Mimecast Safe Links")
    assert _members(clicked) == {lan.pk}
    # Every link at once with a browser's agent: flagged after the fact, the event too.
    minh_blog = _path(_tracked_links(_to(smtp, "minh@example.vn").part("text/html"))[2])
    client.get(minh_sale, HTTP_USER_AGENT=HUMAN)
    client.get(minh_blog, HTTP_USER_AGENT=HUMAN)
    assert _members(clicked) == {lan.pk}
    opened = _segment(setup, "Đã mở", action="opened")
    assert _members(opened) == {lan.pk}  # a click is an open; no pixel was loaded


def test_sends_bounces_and_unsubscribes_are_events_once(smtp: Mailbox, setup: dict[str, Any]) -> None:
    campaign = _send(setup)
    lan = setup["people"]["lan"]
    send = Send.objects.get(campaign=campaign, contact=lan)
    bounce = Bounce(send_id=send.pk, failures=(Failure("lan@example.vn", HARD, "5.1.1", "no such user"),))
    bounce_apply(bounce)
    bounce_apply(bounce)
    campaigns.unsubscribe(recipient=Recipient(lan.pk, campaign.pk))
    campaigns.unsubscribe(recipient=Recipient(lan.pk, campaign.pk))
    names = list(Event.objects.filter(contact=lan).order_by("id").values_list("name", flat=True))
    assert names == [SENT, BOUNCED, UNSUBSCRIBED]
    event = Event.objects.get(contact=lan, name=BOUNCED)
    assert event.properties["bounce_type"] == "hard" and event.properties["campaign_id"] == campaign.pk
    assert event.source.kind == "internal"
    bounced = _segment(setup, "Bị trả về", action="bounced")
    unsubscribed = _segment(setup, "Huỷ đăng ký", action="unsubscribed", campaign=campaign.pk)
    assert _members(bounced) == {lan.pk} == _members(unsubscribed)


def test_the_timeline_names_email_events(smtp: Mailbox, setup: dict[str, Any], client_for: Any, users: Any) -> None:
    campaign = _send(setup)
    lan = setup["people"]["lan"]
    event = Event.objects.get(contact=lan, name=SENT)
    with translation.override("en"):
        assert event_line(event).title == f"Email sent: “{campaign.name}”"
    with translation.override("vi"):
        assert event_line(event).title == f"Đã gửi email: “{campaign.name}”"
    client = client_for(users["marketing"])
    page = client.get(f"/contacts/{lan.pk}/", HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Đã gửi email" in page and campaign.name in page


def test_the_condition_is_checked_and_read_out(setup: dict[str, Any]) -> None:
    campaign = Campaign.objects.create(name="Tháng 12", template=setup["template"], status=Campaign.Status.SENT)
    tree = {"op": "all", "conditions": [
        {"kind": "email", "action": "opened", "campaign": campaign.pk, "negate": True, "period": {"last_days": 30}},
    ]}  # fmt: skip
    cleaned = conditions.clean(tree)
    with translation.override("en"):
        assert conditions.describe(cleaned) == "did not open campaign “Tháng 12” in the last 30 days"
    with translation.override("vi"):
        assert "Tháng 12" in conditions.describe(cleaned)
    assert conditions.dependencies(cleaned) == (["event:Email Link Clicked", "event:Email Opened"], True)
    bad = {"op": "all", "conditions": [{"kind": "email", "action": "read", "campaign": "x", "negate": "no"}]}
    with pytest.raises(conditions.InvalidInput) as caught:
        conditions.clean(bad)
    assert set(caught.value.details) >= {"conditions.0.action", "conditions.0.campaign", "conditions.0.negate"}


def test_opens_and_clicks_through_the_api(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    client_for: Any,
    users: Any,
    make_user: Any,
    later: Any,  # noqa: F811
) -> None:
    campaign = _send(setup)
    html = _to(smtp, "lan@example.vn").part("text/html")
    client.get(_path(_tracked_links(html)[1]), HTTP_USER_AGENT=HUMAN)
    api = client_for(users["marketing"])
    clicks = api.get(f"/api/email/campaigns/{campaign.pk}/clicks").json()["items"]
    assert [(c["contact_id"], c["url"], c["machine"]) for c in clicks] == [
        (setup["people"]["lan"].pk, "https://shop.example.vn/sale?utm_source=email&x=1", False)
    ]
    opens = api.get(f"/api/email/campaigns/{campaign.pk}/opens?machine=false").json()["items"]
    assert [o["implied"] for o in opens] == [True]
    assert api.get(f"/api/email/campaigns/{campaign.pk}/opens?machine=true").json()["items"] == []
    links = api.get(f"/api/email/campaigns/{campaign.pk}/links").json()["items"]
    assert [link["position"] for link in links] == [1, 2]
    assert api.get(f"/api/email/campaigns/{campaign.pk}/clicks?machine=maybe").status_code == 422
    # A sales rep sees only the clicks of contacts they may open; a role without email gets 403.
    Contact.objects.filter(pk=setup["people"]["lan"].pk).update(owner=users["marketing"])
    assert client_for(users["sales"]).get(f"/api/email/campaigns/{campaign.pk}/clicks").json()["items"] == []
    nobody = Role.objects.create(key="nobody", name="Nobody", permissions={})
    assert client_for(make_user("nobody")).get(f"/api/email/campaigns/{campaign.pk}/clicks").status_code == 403
    assert nobody.pk


def test_the_builder_offers_email_activity(smtp: Mailbox, setup: dict[str, Any], client_for: Any, users: Any) -> None:
    campaign = _send(setup)
    client = client_for(users["marketing"])
    base = {"name": "Đã nhận", "kind": "dynamic", "n__op": "all", "n-0__kind": "email"}
    # A new email condition: "did open an email of any campaign in the last 30 days", the
    # started campaign offered.
    html = client.post(
        "/segments/builder/tree", base, HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER_NAME="n-0__kind"
    ).content.decode()
    assert 'name="n-0__action"' in html and 'value="opened" selected' in html
    assert f'<option value="{campaign.pk}">{campaign.name}</option>' in html and 'name="n-0__period_days"' in html
    data = {**base, "n-0__action": "received", "n-0__campaign": str(campaign.pk), "n-0__negate": "0",
            "n-0__period": "last", "n-0__period_days": "7"}  # fmt: skip
    preview = client.post("/segments/builder/preview", data, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-count="2"' in preview and f"received campaign “{campaign.name}” in the last 7 days" in preview
    response = client.post("/segments/new", data)
    assert response.status_code == 302
    segment = Segment.objects.get(name="Đã nhận")
    assert segment.conditions["conditions"][0] == {
        "kind": "email", "action": "received", "campaign": campaign.pk, "negate": False, "period": {"last_days": 7},
    }  # fmt: skip
    assert _members(segment) == {setup["people"]["lan"].pk, setup["people"]["minh"].pk}


def test_a_run_stopped_by_an_error_still_records_what_it_sent(
    smtp: Mailbox,
    setup: dict[str, Any],
    monkeypatch: Any,
) -> None:
    """An error mid-run (not a kill): the messages recorded as sent before it still become
    "Email Sent" events (no run takes over from one that gave its claim back)."""
    from danhba.messaging.services import sending
    from danhba.messaging.tests.conftest import make_campaign

    campaign = make_campaign(setup)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    real_round = sending._Run._round

    def round_then_fail(self: Any, done: Any) -> None:
        real_round(self, done)
        if self.sent:
            raise RuntimeError("the disk is full")

    monkeypatch.setattr(sending._Run, "_round", round_then_fail)
    with pytest.raises(RuntimeError):
        sending.campaign_run(campaign_id=campaign.pk)
    sent = set(Send.objects.filter(campaign=campaign, state=Send.State.SENT).values_list("contact_id", flat=True))
    recorded = set(Event.objects.filter(name=SENT).values_list("contact_id", flat=True))
    assert sent and recorded == sent
