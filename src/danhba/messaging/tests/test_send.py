"""The test send reaches a real SMTP server (aiosmtpd on loopback): the parsed message has the
subject with the advertising label, From, Reply-To, a Message-ID, the personalisation and both
parts; a refusing server is a 502 with the server's answer; the page sends too; DKIM signs when a
key is configured; EMAIL_URL forms."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import dkim
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for, skip_or_fail
from danhba.messaging import transport
from danhba.messaging.compose import Rendered
from danhba.messaging.models import EmailTemplate
from danhba.messaging.selectors import contact_tokens
from danhba.messaging.services.templates import template_test_send
from danhba.messaging.tests.conftest import Mailbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def template() -> EmailTemplate:
    return EmailTemplate.objects.create(
        name="Khuyến mãi",
        subject="{{ xung_ho | capitalize | default: 'Bạn' }} {{ contact.given_name }} ơi, ưu đãi tháng 12",
        preheader="Chỉ tuần này",
        body="<html><head><style>p { color: #0f766e; }</style></head><body><p>Chào {{ contact.full_name }},</p>"
        '<p><a href="https://shop.example.vn/sale">Xem ưu đãi</a></p></body></html>',
        sender_name="Cửa hàng Ánh Dương",
        sender_email="news@anhduong.example.vn",
        reply_to="hotro@anhduong.example.vn",
    )


def test_api_test_send_reaches_the_smtp_server(
    smtp: Mailbox, template: EmailTemplate, client_for: Any, users: Any, make_contact: Any
) -> None:
    contact = make_contact(full_name="Phạm Thị Thu", gender="female", emails=["thu@example.vn"])
    client = client_for(users["marketing"])
    response = client.post(
        f"/api/email/templates/{template.pk}/test-send",
        json.dumps({"to": "Tester@Example.VN", "contact_id": contact.pk}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    [received] = smtp.received
    message = received.message
    assert received.rcpt_to == ["tester@example.vn"] and received.mail_from == "news@anhduong.example.vn"
    assert message["Subject"] == "[QC] Chị Thu ơi, ưu đãi tháng 12" == answer["subject"]
    assert message["From"].addresses[0].display_name == "Cửa hàng Ánh Dương"
    assert message["From"].addresses[0].addr_spec == "news@anhduong.example.vn"
    assert message["Reply-To"] == "hotro@anhduong.example.vn"
    assert message["Message-ID"] == answer["message_id"] and message["Message-ID"].endswith("@anhduong.example.vn>")
    html = received.part("text/html")
    assert "Chào Phạm Thị Thu," in html and '<p style="color: #0f766e;">' in html and "Chỉ tuần này" in html
    text = received.part("text/plain")
    assert "Chào Phạm Thị Thu," in text and "Xem ưu đãi (https://shop.example.vn/sale)" in text
    audit = AuditEvent.objects.get(object_type="email_template", action="export")
    assert audit.contact_id == contact.pk and audit.changes == {"test_sent_to": [None, "tester@example.vn"]}


def test_refusing_server_is_502_with_its_answer(
    smtp: Mailbox, template: EmailTemplate, client_for: Any, users: Any
) -> None:
    smtp.refuse = "554 5.7.1 Rejected: policy"
    client = client_for(users["marketing"])
    response = client.post(
        f"/api/email/templates/{template.pk}/test-send",
        json.dumps({"to": "a@example.vn"}),
        content_type="application/json",
    )
    assert response.status_code == 502 and "Rejected: policy" in response.json()["message"]
    bad = client.post(
        f"/api/email/templates/{template.pk}/test-send",
        json.dumps({"to": "not-an-address"}),
        content_type="application/json",
    )
    assert bad.status_code == 422 and "to" in bad.json()["details"]


def test_unreachable_server_is_502(settings: Any, template: EmailTemplate, admin: Any) -> None:
    from danhba.messaging.services.templates import SendFailed

    settings.EMAIL_URL = "smtp://127.0.0.1:9"
    with pytest.raises(SendFailed):
        template_test_send(actor=actor_for(admin), template=template, to="a@example.vn", tokens={})


def test_page_test_send(smtp: Mailbox, template: EmailTemplate, client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    response = client.post(f"/email/templates/{template.pk}/test/", {"to": "me@example.vn", "contact": ""}, follow=True)
    assert response.status_code == 200
    assert "Test sent to me@example.vn" in response.content.decode()
    [received] = smtp.received
    assert received.message["Subject"] == "[QC] Chị Mai ơi, ưu đãi tháng 12"  # the sample contact
    assert (
        client_for(users["analyst"]).post(f"/email/templates/{template.pk}/test/", {"to": "x@example.vn"}).status_code
        == 403
    )
    assert len(smtp.received) == 1


def test_dkim_signature_verifies(
    smtp: Mailbox, template: EmailTemplate, admin: Any, settings: Any, tmp_path: Path, make_contact: Any
) -> None:
    if not shutil.which("openssl"):
        skip_or_fail("openssl is needed to make a DKIM test key")
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
    public_der = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    settings.DKIM_PRIVATE_KEY_FILE = str(key)
    settings.DKIM_SELECTOR = "s1"
    contact = make_contact(full_name="Võ Văn Tâm", gender="male")
    template_test_send(actor=actor_for(admin), template=template, to="a@example.vn", tokens=contact_tokens(contact))
    [received] = smtp.received
    assert received.message["DKIM-Signature"] and "d=anhduong.example.vn" in received.message["DKIM-Signature"]
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"s1._domainkey.anhduong.example.vn."
        return record

    assert dkim.verify(received.raw, dnsfunc=dns)
    altered = received.raw.replace(b"Reply-To: hotro@", b"Reply-To: other@")
    assert altered != received.raw and not dkim.verify(altered, dnsfunc=dns)


def test_email_url_forms() -> None:
    smtp = transport.parse_email_url("smtp://user%40x:p%3Ass@mail.example.vn:2525?tls=1")
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.use_tls, smtp.use_ssl) == (
        "mail.example.vn", 2525, "user@x", "p:ss", True, False,
    )  # fmt: skip
    ssl = transport.parse_email_url("smtps://u:secretpw@mail.example.vn")
    assert (ssl.port, ssl.use_ssl, ssl.use_tls) == (465, True, False) and "secretpw" not in ssl.describe()
    assert transport.parse_email_url("console://").kind == "console"
    assert transport.parse_email_url("anymail://amazon-ses").esp == "amazon_ses"
    for bad in ("http://x", "smtp://", "anymail://", "anymail://../x"):
        with pytest.raises(ImproperlyConfigured):
            transport.parse_email_url(bad)


def test_file_transport_keeps_each_message_as_an_eml_and_says_so(settings: Any, tmp_path: Any, caplog: Any) -> None:
    assert transport.parse_email_url("file://").path == str(settings.VAR_DIR / "mail")
    assert transport.parse_email_url(f"file://{tmp_path}").path == str(tmp_path)
    settings.EMAIL_URL = f"file://{tmp_path}/outbox"
    transport.FileBackend.told = False
    with caplog.at_level("INFO", logger="danhba.messaging.transport"):
        for to in ("lan@example.vn", "minh@example.vn"):
            sent = transport.connection().send_messages(
                [EmailMessage("Chào bạn — ưu đãi tháng 12", "Nội dung thư", "shop@example.vn", [to])]
            )
            assert sent == 1
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert {m["To"] for m in parsed} == {"lan@example.vn", "minh@example.vn"}
    assert {str(m["Subject"]) for m in parsed} == {"Chào bạn — ưu đãi tháng 12"}
    assert parsed[0].get_content().strip() == "Nội dung thư"
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "not sent" in warnings[0].getMessage()


def test_anymail_backend_is_chosen(settings: Any) -> None:
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-test"}
    backend = transport.connection(transport.parse_email_url("anymail://mailgun"))
    assert type(backend).__module__ == "anymail.backends.mailgun"


def test_locmem_message_shape(settings: Any) -> None:
    from django.core import mail

    settings.EMAIL_URL = "locmem://"
    rendered = Rendered(subject="S", preheader="", html="<p>x</p>", text="x\n")
    message = transport.build_message(
        rendered, to="a@example.vn", from_address="n@example.vn", message_id="<1@example.vn>"
    )
    with transport.connection() as connection:
        connection.send_messages([message])
    assert mail.outbox[0].extra_headers["Message-ID"] == "<1@example.vn>"
    assert mail.outbox[0].alternatives[0][1] == "text/html"


def test_overlapping_runs_leave_the_thread_switch_interval_as_they_found_it() -> None:
    """Two campaign runs in two worker threads may overlap in any order; after both, the
    process switches threads as it did before (the short interval is for sending only)."""
    import sys

    from danhba.messaging.services import sending

    before = sys.getswitchinterval()
    first, second = sending._quick_switches(), sending._quick_switches()
    first.__enter__()
    second.__enter__()
    assert sys.getswitchinterval() == sending.SWITCH_SECONDS
    first.__exit__(None, None, None)  # the first run ends while the second still sends
    assert sys.getswitchinterval() == sending.SWITCH_SECONDS
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
