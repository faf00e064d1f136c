"""A real SMTP server (aiosmtpd, in a thread of the test process, on a loopback port) that keeps
every message it receives, parsed; email goes to it through ``EMAIL_URL``."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.messaging.models import Campaign, EmailTemplate, Send, Suppression
from danhba.messaging.services import campaigns
from danhba.privacy.services import consent_record
from danhba.segments.models import Segment
from danhba.segments.services import list_add, segment_create


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    raw: bytes
    message: EmailMessage

    def part(self, content_type: str) -> str:
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None and found.get_content_type() == content_type, f"no {content_type} part"
        return str(found.get_content())


@dataclass
class Mailbox:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: str = ""  # an SMTP reply to give to DATA instead of taking the message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox(port=port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_URL = mailbox.url
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _fresh_domain_keys() -> Iterator[None]:
    """Sending domains' keys are cached per process; a test's rows are gone after it."""
    from danhba.messaging.transport import forget_domain_keys

    forget_domain_keys()
    yield
    forget_domain_keys()


# --- a campaign's world: people (with and without consent, suppressed, capped…), lists, a template

BODY = (
    '<html><body><p>Chào {{ xung_ho | default: "bạn" }} {{ contact.given_name }},</p>'
    '<p><a href="https://shop.example.vn/">Mua sắm</a></p></body></html>'
)


@pytest.fixture
def setup(admin: Any, make_contact: Any, settings: Any) -> dict[str, Any]:
    settings.MESSAGING_SENDER_IDENTITY = "Công ty TNHH Ánh Dương"
    settings.MESSAGING_POSTAL_ADDRESS = "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh"
    actor = actor_for(admin)
    people = {
        "lan": make_contact(full_name="Nguyễn Thị Lan", gender="female", emails=["lan@example.vn"]),
        "minh": make_contact(full_name="Trần Văn Minh", gender="male", emails=["minh@example.vn"]),
        "noconsent": make_contact(full_name="Lê Văn Không", emails=["khong@example.vn"]),
        "suppressed": make_contact(full_name="Phạm Thị Chặn", emails=["chan@example.vn"]),
        "capped": make_contact(full_name="Võ Văn Nhiều", emails=["nhieu@example.vn"]),
        "noemail": make_contact(full_name="Đỗ Văn Số", phones=["0912345678"]),
        "vip": make_contact(full_name="Hồ Thị Vip", emails=["vip@example.vn"]),
    }
    for key in ("lan", "minh", "suppressed", "capped", "vip", "noemail"):
        consent_record(actor=actor, contact=people[key], purpose="email_marketing", status="granted", source="ui")
    Suppression.objects.create(email="chan@example.vn", reason=Suppression.Reason.HARD_BOUNCE)
    audience = segment_create(actor=actor, name="Khách hàng", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=audience, contact_ids=[c.pk for c in people.values()])
    vips = segment_create(actor=actor, name="VIP", kind=Segment.Kind.STATIC)
    list_add(actor=actor, segment=vips, contact_ids=[people["vip"].pk])
    template = EmailTemplate.objects.create(
        name="Tháng 12", subject="Ưu đãi cho {{ contact.given_name }}", body=BODY,
        sender_name="Ánh Dương", sender_email="news@anhduong.example.vn",
    )  # fmt: skip
    # Three marketing emails in the last day already for "capped".
    for n in range(3):
        earlier = Campaign.objects.create(name=f"earlier {n}", template=template, status=Campaign.Status.SENT)
        Send.objects.create(
            campaign=earlier, contact=people["capped"], email="nhieu@example.vn", state="sent", sent_at=timezone.now()
        )
    return {"actor": actor, "people": people, "audience": audience, "vips": vips, "template": template}


def make_campaign(setup: dict[str, Any], **data: Any) -> Campaign:
    return campaigns.campaign_create(
        actor=setup["actor"],
        data={
            "name": "Ưu đãi tháng 12", "template_id": setup["template"].pk, "segment_ids": [setup["audience"].pk],
            "exclude_segment_ids": [setup["vips"].pk], **data,
        },
    )  # fmt: skip
