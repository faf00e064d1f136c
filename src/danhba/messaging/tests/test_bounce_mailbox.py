"""The bounce mailbox: `danhba bounces_fetch` reads unseen IMAP messages (a fake IMAP client
here), a signed hard bounce suppresses its send's address, a soft one, an unsigned or forged one
and a message that is no bounce suppress nothing; handled messages are marked seen or deleted,
one whose handling raised stays unseen."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from danhba.messaging import bounces, mailbox
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.tests.conftest import make_campaign

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).parent / "bounces"


class FakeImap:
    """The part of imaplib.IMAP4 the reader uses, over a dict of uid → raw message."""

    def __init__(self, messages: dict[bytes, bytes]) -> None:
        self.messages = messages
        self.flags: dict[bytes, set[str]] = {uid: set() for uid in messages}
        self.logged_in: tuple[str, str] | None = None
        self.selected = ""
        self.expunged = False

    def login(self, user: str, password: str) -> tuple[str, list[bytes]]:
        self.logged_in = (user, password)
        return "OK", [b"logged in"]

    def select(self, mailbox: str = "INBOX") -> tuple[str, list[bytes]]:
        self.selected = mailbox
        return ("OK", [str(len(self.messages)).encode()]) if mailbox == "Bounces" else ("NO", [b"no such folder"])

    def uid(self, command: str, *args: Any) -> tuple[str, list[Any]]:
        if command == "SEARCH":
            unseen = [uid for uid in sorted(self.messages) if "\\Seen" not in self.flags[uid]]
            return "OK", [b" ".join(unseen)]
        if command == "FETCH":
            uid = args[0]
            return "OK", [(uid + b" (UID " + uid + b" BODY[] {n}", self.messages[uid]), b")"]
        if command == "STORE":
            uid, _op, flags = args
            self.flags[uid].add(flags.strip("()"))
            return "OK", []
        raise AssertionError(command)

    def expunge(self) -> tuple[str, list[bytes]]:
        self.expunged = True
        for uid in [u for u, f in self.flags.items() if "\\Deleted" in f]:
            del self.messages[uid]
        return "OK", []

    def logout(self) -> tuple[str, list[bytes]]:
        return "BYE", []


@pytest.fixture
def sends(admin: Any, make_contact: Any, settings: Any) -> dict[str, Send]:
    settings.BOUNCE_ADDRESS = "bounces@mail.anhduong.example.vn"
    template = EmailTemplate.objects.create(name="t", subject="s", body="<p>x</p>")
    campaign = Campaign.objects.create(name="Tháng 12", template=template)
    out = {}
    for key, address in (("gone", "khong.ton.tai@vnpt.example.vn"), ("full", "day.hop.thu@fpt.example.vn")):
        contact = make_contact(full_name=key, emails=[address])
        out[key] = Send.objects.create(campaign=campaign, contact=contact, email=address, state=Send.State.SENT)
    return out


def sample(name: str, verp: str) -> bytes:
    return (SAMPLES / name).read_text().replace("{VERP}", verp).replace("\n", "\r\n").encode()


def test_fetch_suppresses_hard_bounces_of_signed_sends_only(sends: dict[str, Send], settings: Any) -> None:
    gone, full = sends["gone"], sends["full"]
    forged = bounces.return_path(gone.pk).replace(f"+{gone.pk}-", f"+{full.pk}-")  # another send, gone's signature
    imap = FakeImap(
        {
            b"1": sample("postfix-5.1.1.eml", bounces.return_path(gone.pk)),
            b"2": sample("mailbox-full-4.2.2.eml", bounces.return_path(full.pk)),
            b"3": sample("gmail-5.1.1.eml", forged),
            b"4": sample("gmail-5.1.1.eml", "bounces@mail.anhduong.example.vn"),
            b"5": b"From: khach@example.vn\r\nSubject: Cam on\r\n\r\nCam on shop!\r\n",
        }
    )
    box = mailbox.parse_url("imaps://bounces%40anhduong.example.vn:p%40ss@imap.example.vn/Bounces")
    result = mailbox.fetch(box, connect_to=lambda m: imap)
    assert imap.logged_in == ("bounces@anhduong.example.vn", "p@ss") and imap.selected == "Bounces"
    assert (result.read, result.hard, result.soft, result.not_bounces, result.errors) == (5, 3, 1, 1, 0)
    [entry] = Suppression.objects.all()
    assert (entry.email, entry.reason) == ("khong.ton.tai@vnpt.example.vn", Suppression.Reason.HARD_BOUNCE)
    assert "5.1.1" in entry.note and f"campaign {gone.campaign_id}" in entry.note
    assert all("\\Seen" in flags for flags in imap.flags.values())
    again = mailbox.fetch(box, connect_to=lambda m: imap)  # nothing unseen is left
    assert again.read == 0


def test_delete_and_a_failing_listener(sends: dict[str, Send], monkeypatch: pytest.MonkeyPatch) -> None:
    imap = FakeImap(
        {
            b"7": sample("postfix-5.1.1.eml", bounces.return_path(sends["gone"].pk)),
            b"8": sample("exchange-online-5.1.10.eml", bounces.return_path(sends["full"].pk)),
        }
    )
    box = mailbox.parse_url("imap://u:p@imap.example.vn/Bounces?starttls=1")
    assert (box.port, box.ssl, box.starttls) == (143, False, True)
    real = bounces.parse_bounce

    def flaky(raw: bytes) -> bounces.Bounce | None:
        if b"RESOLVER.ADR" in raw:
            raise RuntimeError("database went away")
        return real(raw)

    monkeypatch.setattr(bounces, "parse_bounce", flaky)
    result = mailbox.fetch(box, delete=True, connect_to=lambda m: imap)
    assert (result.read, result.hard, result.errors) == (2, 1, 1)
    assert imap.expunged and list(imap.messages) == [b"8"] and imap.flags[b"8"] == set()  # left for the next run
    assert list(Suppression.objects.values_list("email", flat=True)) == ["khong.ton.tai@vnpt.example.vn"]


def test_bad_urls_and_folders(settings: Any) -> None:
    for bad in ("", "pop3://u:p@h/INBOX", "imaps:///INBOX"):
        with pytest.raises(mailbox.MailboxError):
            mailbox.parse_url(bad)
    assert mailbox.parse_url("imaps://u:p@h").folder == "INBOX"
    with pytest.raises(mailbox.MailboxError):
        mailbox.fetch(mailbox.parse_url("imaps://u:p@h/Missing"), connect_to=lambda m: FakeImap({}))
    settings.BOUNCE_IMAP_URL = ""
    with pytest.raises(CommandError):
        call_command("bounces_fetch")


def test_command(sends: dict[str, Send], settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    imap = FakeImap({b"1": sample("postfix-5.1.1.eml", bounces.return_path(sends["gone"].pk))})
    monkeypatch.setattr(mailbox, "connect", lambda m: imap)
    settings.BOUNCE_IMAP_URL = "imaps://u:p@imap.example.vn/Bounces"
    out = StringIO()
    call_command("bounces_fetch", stdout=out)
    assert out.getvalue().strip() == "1 read: 1 hard bounces, 0 soft, 0 not bounces, 0 left for the next run"
    assert Suppression.objects.filter(email="khong.ton.tai@vnpt.example.vn").exists()


def test_the_periodic_job_reads_the_mailbox_when_set(
    sends: dict[str, Send], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from danhba.messaging.tasks import bounces_fetch_job

    imap = FakeImap({b"1": sample("postfix-5.1.1.eml", bounces.return_path(sends["gone"].pk))})
    monkeypatch.setattr(mailbox, "connect", lambda m: imap)
    settings.BOUNCE_IMAP_URL = ""
    bounces_fetch_job.call_local()
    assert imap.logged_in is None
    settings.BOUNCE_IMAP_URL = "imaps://u:p@imap.example.vn/Bounces"
    bounces_fetch_job.call_local()
    assert Suppression.objects.filter(email="khong.ton.tai@vnpt.example.vn").exists()
    settings.BOUNCE_IMAP_URL = "imaps://u:p@imap.example.vn/Missing"
    bounces_fetch_job.call_local()  # logged, not raised


def test_a_campaign_bounce_comes_back_to_its_send(
    smtp: Any,
    setup: dict[str, Any],
    settings: Any,
    huey_immediate: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """End to end: the campaign leaves with VERP return paths; the DSN the receiving server
    writes back to one of them suppresses that recipient, and the next campaign skips it."""
    from danhba.messaging.services import campaigns

    settings.BOUNCE_ADDRESS = "bounces@mail.anhduong.example.vn"
    campaign = make_campaign(setup)
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    lan = next(r for r in smtp.received if r.rcpt_to == ["lan@example.vn"])
    send = Send.objects.get(campaign=campaign, email="lan@example.vn")
    assert lan.mail_from == bounces.return_path(send.pk)
    dsn = sample("gmail-5.1.1.eml", lan.mail_from).replace(b"nguoi.da.nghi@gmail.com", b"lan@example.vn")
    imap = FakeImap({b"1": dsn})
    result = mailbox.fetch(mailbox.parse_url("imaps://u:p@imap.example.vn/Bounces"), connect_to=lambda m: imap)
    assert result.hard == 1
    assert Suppression.objects.get(email="lan@example.vn").reason == Suppression.Reason.HARD_BOUNCE
    again = make_campaign(setup, name="Tháng 1")
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=again)
    assert Send.objects.get(campaign=again, email="lan@example.vn").reason == Send.Reason.SUPPRESSED


def test_soft_bounces_suppress_after_the_limit_counting_each_send_once(
    sends: dict[str, Send], settings: Any, make_contact: Any
) -> None:
    settings.MESSAGING_SOFT_BOUNCE_LIMIT = 3
    full = sends["full"]
    others = [
        Send.objects.create(campaign=Campaign.objects.create(name=f"c{n}", template=full.campaign.template),
                            contact=full.contact, email=full.email, state=Send.State.SENT)
        for n in range(2)
    ]  # fmt: skip
    # The same delayed-delivery notice three times about one message: one soft bounce.
    for _ in range(3):
        bounces.receive(sample("mailbox-full-4.2.2.eml", bounces.return_path(full.pk)))
    assert not Suppression.objects.exists()
    bounces.receive(sample("mailbox-full-4.2.2.eml", bounces.return_path(others[0].pk)))
    assert not Suppression.objects.exists()
    bounces.receive(sample("mailbox-full-4.2.2.eml", bounces.return_path(others[1].pk)))
    entry = Suppression.objects.get()
    assert (entry.email, entry.reason) == ("day.hop.thu@fpt.example.vn", Suppression.Reason.SOFT_BOUNCES)
    assert entry.note.startswith("3 soft bounces, the last 4.2.2")
