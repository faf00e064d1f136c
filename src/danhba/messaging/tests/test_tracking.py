"""Open and click tracking, end to end through a real SMTP server (aiosmtpd on loopback): the
received HTML's links go through signed redirects to the stored addresses, the pixel is there,
the plain text keeps the real addresses; following a link lands on the original page and
records a click, an implied open and an event on the contact's timeline; forged tokens are a
bare 404 and the query string never chooses where a redirect goes; machines (Apple Mail
Privacy Protection, scanners, loads seconds after sending, the trap link, every link at once)
are flagged; a campaign can send without tracking."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from danhba.messaging import machines, tracked
from danhba.messaging.models import Campaign, CampaignLink, Click, Open, Send
from danhba.messaging.services import campaigns, sending
from danhba.messaging.services.activity import CLICKED, OPENED, SENT
from danhba.messaging.tests.conftest import Mailbox, Received, make_campaign
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db

BODY = (
    "<html><body><p>Chào {{ contact.given_name }},</p>"
    '<p><a href="https://shop.example.vn/sale?utm_source=email&amp;x=1">Xem ưu đãi</a></p>'
    '<p><a href="https://shop.example.vn/blog">Blog</a> · <a href="mailto:hotro@example.vn">Hỏi</a> · '
    '<a href="https://shop.example.vn/u/{{ contact.id }}">Của bạn</a></p></body></html>'
)
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
APPLE_PROXY = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def _send(setup: dict[str, Any], **data: Any) -> Campaign:
    setup["template"].body = BODY
    setup["template"].save()
    campaign = make_campaign(setup, **data)
    campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    sending.campaign_run(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    return campaign


def _to(smtp: Mailbox, address: str) -> Received:
    return next(r for r in smtp.received if r.rcpt_to == [address])


def _tracked_links(html: str) -> list[str]:
    return re.findall(r'href="(http://127\.0\.0\.1:8000/email/c/[^"]+)"', html)


def _path(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


@pytest.fixture
def later() -> Iterator[None]:
    """Reads the links as a person would, a minute after the messages left."""
    with mock.patch("danhba.messaging.views.tracked.clock", lambda: time.time() + 60):
        yield


def test_the_received_link_redirects_and_is_recorded(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,
) -> None:
    campaign = _send(setup)
    lan = setup["people"]["lan"]
    html, text = _to(smtp, "lan@example.vn").part("text/html"), _to(smtp, "lan@example.vn").part("text/plain")
    links = _tracked_links(html)
    stored = list(CampaignLink.objects.filter(campaign=campaign).values_list("position", "url"))
    # Two links tracked; mailto and the personalised link left as they are; the trap link first.
    assert stored == [(1, "https://shop.example.vn/sale?utm_source=email&x=1"), (2, "https://shop.example.vn/blog")]
    assert len(links) == 3, html
    assert 'href="mailto:hotro@example.vn"' in html
    assert f'href="https://shop.example.vn/u/{lan.pk}"' in html and "https://shop.example.vn/blog" not in html
    assert re.search(r'<img src="http://127\.0\.0\.1:8000/email/o/[^"]+\.gif" width="1" height="1"', html)
    assert "https://shop.example.vn/blog" in text  # the plain text shows where links go
    assert "/email/unsubscribe/" in html  # the footer's links are danhba's own, never redirected

    response = client.get(_path(links[1]), HTTP_USER_AGENT=HUMAN, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302 and response["Location"] == "https://shop.example.vn/sale?utm_source=email&x=1"
    assert response["Cache-Control"] == "no-store"
    [click] = Click.objects.all()
    send = Send.objects.get(campaign=campaign, contact=lan)
    assert (click.send_id, click.contact_id, click.link.position, click.machine) == (send.pk, lan.pk, 1, False)
    assert click.ip_network == "203.0.113.0/24" and click.user_agent == HUMAN
    [opened] = Open.objects.all()  # a person's click is an open, even with images blocked
    assert opened.implied and not opened.machine and opened.send_id == send.pk
    [event] = Event.objects.filter(contact=lan, name=CLICKED)
    assert event.properties["url"] == "https://shop.example.vn/sale?utm_source=email&x=1"
    assert event.properties["campaign_id"] == campaign.pk and event.properties["campaign"] == campaign.name
    assert event.properties["machine"] is False
    # "Email Sent" for each recipient, once, even when the events are recorded again.
    assert sorted(Event.objects.filter(name=SENT).values_list("contact_id", flat=True)) == sorted(
        [lan.pk, setup["people"]["minh"].pk]
    )
    from danhba.messaging.services.activity import sends_recorded

    assert sends_recorded(campaign=campaign, send_ids=[send.pk]) == 0
    assert Event.objects.filter(name=SENT).count() == 2


def test_forged_tokens_are_404_and_the_query_string_is_ignored(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,
) -> None:
    _send(setup)
    html = _to(smtp, "lan@example.vn").part("text/html")
    link = _path(_tracked_links(html)[1])
    token = link.split("/")[3]
    body, _dot, sig = token.rpartition(".")
    parts = body.split(".")
    parts[1] = "2"  # another link of the same send, the signature kept
    for forged in (".".join(parts) + "." + sig, body + "." + ("0" * 16), "abc", token + "x"):
        response = client.get(f"/email/c/{forged}/", HTTP_USER_AGENT=HUMAN)
        assert response.status_code == 404 and response.content == b"Not found"
        assert client.get(f"/email/o/{forged}.gif").status_code == 404
    response = client.get(link + "?url=https://evil.example/&next=https://evil.example/", HTTP_USER_AGENT=HUMAN)
    assert response["Location"] == "https://shop.example.vn/sale?utm_source=email&x=1"
    # An open token is not a click token.
    open_token = re.search(r"/email/o/([^\"]+)\.gif", html).group(1)  # type: ignore[union-attr]
    assert client.get(f"/email/c/{open_token}/").status_code == 404
    assert Click.objects.count() == 1


def test_pixel_opens_people_and_apple_privacy_protection(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,
) -> None:
    _send(setup)
    pixel = _path(
        re.search(r'src="([^"]+/email/o/[^"]+\.gif)"', _to(smtp, "lan@example.vn").part("text/html")).group(1)
    )  # type: ignore[union-attr]
    response = client.get(pixel, HTTP_USER_AGENT=APPLE_PROXY, REMOTE_ADDR="17.58.100.4")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif" and len(response.content) < 100
    assert "no-store" in response["Cache-Control"]
    client.get(pixel, HTTP_USER_AGENT=HUMAN, REMOTE_ADDR="17.1.2.3")  # an Apple network, any agent
    client.get(pixel, HTTP_USER_AGENT=HUMAN, REMOTE_ADDR="198.51.100.7")
    opens = list(Open.objects.order_by("id").values_list("machine", "machine_reason"))
    assert opens == [(True, "apple_privacy"), (True, "apple_privacy"), (False, "")]
    events = Event.objects.filter(name=OPENED, contact=setup["people"]["lan"]).order_by("id")
    assert [e.properties["machine"] for e in events] == [True, True, False]


def test_scanners_the_trap_and_every_link_at_once_are_machines(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,
) -> None:
    _send(setup)
    trap, sale, blog = (_path(u) for u in _tracked_links(_to(smtp, "lan@example.vn").part("text/html")))
    assert client.get(sale, HTTP_USER_AGENT="Barracuda Sentinel (EE)").status_code == 302
    assert Click.objects.get().machine_reason == "scanner"
    assert not Open.objects.exists()  # a machine's click implies no open
    # Minh's gateway follows every link within a second, with a browser's user agent.
    _m_trap, m_sale, m_blog = (_path(u) for u in _tracked_links(_to(smtp, "minh@example.vn").part("text/html")))
    client.get(m_sale, HTTP_USER_AGENT=HUMAN)
    client.get(m_blog, HTTP_USER_AGENT=HUMAN)
    minh = Click.objects.filter(contact=setup["people"]["minh"])
    assert sorted(minh.values_list("machine_reason", flat=True)) == ["all_links", "all_links"]
    # The hidden trap link: no page, and the clicks around it are a machine's (the first reason
    # found stays: Lan's two links within a second were every link at once).
    client.get(blog, HTTP_USER_AGENT=HUMAN)
    response = client.get(trap, HTTP_USER_AGENT=HUMAN)
    assert response.status_code == 204
    lan = Click.objects.filter(contact=setup["people"]["lan"]).order_by("id")
    assert [c.machine_reason for c in lan] == ["scanner", "all_links", "trap"]
    assert not Open.objects.exists()
    Click.objects.update(machine=False, machine_reason="")
    client.get(trap, HTTP_USER_AGENT=HUMAN)
    assert set(Click.objects.filter(contact=setup["people"]["lan"]).values_list("machine_reason", flat=True)) == {
        "trap"
    }


def test_a_click_seconds_after_sending_is_a_scanner(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
) -> None:
    _send(setup)
    sale = _path(_tracked_links(_to(smtp, "lan@example.vn").part("text/html"))[1])
    assert client.get(sale, HTTP_USER_AGENT=HUMAN).status_code == 302
    assert Click.objects.get().machine_reason == "too_soon"


def test_a_campaign_without_tracking(smtp: Mailbox, setup: dict[str, Any], client_for: Any, users: Any) -> None:
    campaign = _send(setup, tracking=False)
    html = _to(smtp, "lan@example.vn").part("text/html")
    assert "/email/c/" not in html and "/email/o/" not in html and 'href="https://shop.example.vn/blog"' in html
    assert not CampaignLink.objects.filter(campaign=campaign).exists()
    page = client_for(users["marketing"]).get(f"/email/campaigns/{campaign.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="campaign-tracking">not tracked (privacy)<' in page.content.decode()


def test_machine_rules() -> None:
    assert machines.from_apple("17.0.0.1", HUMAN) and machines.from_apple("", APPLE_PROXY)
    assert not machines.from_apple("198.51.100.1", HUMAN)
    assert machines.is_scanner("") and machines.is_scanner("python-requests/2.32")
    assert not machines.is_scanner(HUMAN)
    assert machines.network_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert machines.network_of("::ffff:203.0.113.5") == "203.0.113.0/24"


def test_tokens_round_trip_and_refuse_changes() -> None:
    t = tracked.Tracked(send_id=123456789, contact_id=42, campaign_id=7, rendered_at=1_780_000_000, link_id=3)
    token = tracked.click_token(t)
    assert tracked.read_click(token) == t and tracked.read_open(token) is None and len(token) < 60
    assert tracked.read_click(token.replace(".3.", ".4.")) is None


def test_a_click_answers_from_the_inbox_and_the_worker_records_it(
    smtp: Mailbox,
    setup: dict[str, Any],
    client: Any,
    later: Any,
    settings: Any,
    monkeypatch: Any,
) -> None:
    """The request writes only the inbox row (its own file on SQLite): the Click and its event
    come when the worker stores the row, together."""
    from danhba.tracking import inbox, tasks
    from danhba.tracking.models import EventInbox

    _send(setup)
    settings.EVENTS_PROCESS_INLINE = False
    monkeypatch.setattr(tasks, "process_event_inbox", lambda: None)
    sale = _path(_tracked_links(_to(smtp, "lan@example.vn").part("text/html"))[1])
    assert client.get(sale, HTTP_USER_AGENT=HUMAN).status_code == 302
    assert EventInbox.objects.using(inbox.inbox_database()).count() == 1
    assert not Click.objects.exists() and not Event.objects.filter(name=CLICKED).exists()
    assert inbox.inbox_process() == 1
    assert Click.objects.count() == 1 and Event.objects.filter(name=CLICKED).count() == 1


def test_a_mail_proxy_opening_for_many_readers_is_limited_per_send(monkeypatch: Any) -> None:
    """Gmail's and Outlook's image proxies fetch for thousands of readers from a few addresses:
    the signed token proves the send, so the limit is per network and send, and one busy send
    does not silence the opens of the others."""
    from danhba.core.ratelimit import PublicLimit
    from danhba.messaging.models import EmailTemplate
    from danhba.messaging.views import tracked as views

    template = EmailTemplate.objects.create(name="t", subject="s", body="b")
    campaign = Campaign.objects.create(name="KM", template=template)
    recorded: list[int] = []
    monkeypatch.setattr(views, "open_rate", PublicLimit("email-open", 2))
    monkeypatch.setattr(views, "_record", lambda request, name, t, campaign: recorded.append(t.send_id))
    proxy = {"REMOTE_ADDR": "66.249.84.10"}
    for send_id in (1, 1, 1, 2, 3):
        token = tracked.open_token(tracked.Tracked(send_id, send_id, campaign.pk, int(time.time())))
        assert Client().get(f"/email/o/{token}.gif", **proxy).status_code == 200
    assert recorded == [1, 1, 2, 3]
