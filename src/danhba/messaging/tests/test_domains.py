"""Sending domains: a new domain gets an RSA-2048 DKIM key whose private half is sealed and
never shown; the records to publish; the SPF/DKIM/DMARC check through an injected resolver
(ok, missing, wrong, failed, with reasons in the reader's language); admins manage, marketing
looks, others see nothing; mail from the domain (or a subdomain) is DKIM-signed with its key
and verifies at a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import dkim
import pytest

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.messaging import domains, transport
from danhba.messaging.compose import Rendered
from danhba.messaging.domains import FAILED, MISSING, OK, WRONG, LookupFailed
from danhba.messaging.models import SendingDomain
from danhba.messaging.services.domains import domain_check, domain_create, domain_delete
from danhba.messaging.tests.conftest import Mailbox, make_campaign

pytestmark = pytest.mark.django_db
DOMAIN = "anhduong.example.vn"


def fake_dns(zone: dict[str, list[str]], failing: Sequence[str] = ()) -> Callable[[str], list[str]]:
    def lookup(name: str) -> list[str]:
        if name in failing:
            raise LookupFailed("Timeout")
        return zone.get(name, [])

    return lookup


def published(row: SendingDomain) -> dict[str, list[str]]:
    """A zone with every record danhba asks for."""
    return {r.name: [r.value] for r in domains.records(row.domain, row.selector, row.public_key)}


@pytest.fixture
def domain_row(admin: Any) -> SendingDomain:
    return domain_create(actor=actor_for(admin), domain=DOMAIN, selector="s2026")


def test_add_makes_a_sealed_key_and_the_records(domain_row: SendingDomain, admin: Any) -> None:
    assert (domain_row.domain, domain_row.selector, domain_row.created_by) == (DOMAIN, "s2026", admin)
    assert "PRIVATE KEY" not in domain_row.private_key_sealed  # sealed, not PEM
    private = domains.unseal(domain_row.private_key_sealed)
    assert private is not None and private.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    dkim_record, spf, dmarc = domains.records(DOMAIN, "s2026", domain_row.public_key)
    assert dkim_record.name == "s2026._domainkey.anhduong.example.vn"
    assert dkim_record.value == f"v=DKIM1; k=rsa; p={domain_row.public_key}" and len(domain_row.public_key) > 390
    assert dkim_record.zone_value.count('"') == 4  # a 2048-bit key needs two quoted strings
    assert (spf.name, spf.value) == (DOMAIN, "v=spf1 mx ~all")
    assert dmarc.name == "_dmarc.anhduong.example.vn" and dmarc.value.startswith("v=DMARC1; p=none")
    assert AuditEvent.objects.filter(object_type="sending_domain", action="create", object_label=DOMAIN).exists()


def test_the_key_survives_a_rotated_secret_only_through_the_fallbacks(domain_row: SendingDomain, settings: Any) -> None:
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-" + "k" * 50, [old]
    assert domains.unseal(domain_row.private_key_sealed) is not None
    settings.SECRET_KEY_FALLBACKS = []
    assert domains.unseal(domain_row.private_key_sealed) is None


def test_bad_and_duplicate_domains_are_refused(domain_row: SendingDomain, admin: Any) -> None:
    for bad in ("", "localhost", "anh duong.vn", "-x.vn", "x" * 64 + ".vn"):
        with pytest.raises(InvalidInput) as exc:
            domain_create(actor=actor_for(admin), domain=bad)
        assert "domain" in exc.value.details
    with pytest.raises(InvalidInput) as exc:
        domain_create(actor=actor_for(admin), domain="ANHDUONG.example.vn.")  # the same, spelled otherwise
    assert "already" in str(exc.value.details["domain"])
    with pytest.raises(InvalidInput):
        domain_create(actor=actor_for(admin), domain="tin.example.vn", selector="bad_selector")
    idn = domain_create(actor=actor_for(admin), domain="news@Ánh-Dương.vn")
    assert idn.domain == "xn--nh-dng-ota45m3d.vn" and idn.selector.startswith("danhba")
    assert idn.domain.encode().decode("idna") == "ánh-dương.vn"


def test_check_all_ok_then_each_kind_of_problem(domain_row: SendingDomain, admin: Any) -> None:
    zone = published(domain_row)
    row = domain_check(actor=actor_for(admin), domain=domain_row, lookup=fake_dns(zone))
    assert {k: v.status for k, v in row.verdicts().items()} == {"spf": OK, "dkim": OK, "dmarc": OK}
    assert row.ready and row.checked_at is not None
    assert SendingDomain.objects.get(pk=row.pk).ready  # kept

    key = "s2026._domainkey.anhduong.example.vn"
    other_key = zone[key][0][:-12] + "AAAAAAAAAAAA"
    cases: list[tuple[dict[str, list[str]], str, str, str]] = [
        ({**zone, DOMAIN: []}, "spf", MISSING, "No SPF record"),
        ({**zone, DOMAIN: ["v=spf1 mx ~all", "v=spf1 include:x.example ~all"]}, "spf", WRONG, "2 SPF records"),
        ({**zone, DOMAIN: ["google-site-verification=abc", "v=spf1 +all"]}, "spf", WRONG, "+all"),
        ({**zone, key: []}, "dkim", MISSING, "No DKIM record"),
        ({**zone, key: [other_key]}, "dkim", WRONG, "another key"),
        ({**zone, key: ["v=DKIM1; k=rsa; p="]}, "dkim", WRONG, "revoked"),
        ({**zone, "_dmarc.anhduong.example.vn": []}, "dmarc", MISSING, "No DMARC record"),
        ({**zone, "_dmarc.anhduong.example.vn": ["v=DMARC1; p=maybe"]}, "dmarc", WRONG, "no valid policy"),
    ]
    for case_zone, record, status, words in cases:
        verdict = domain_check(actor=actor_for(admin), domain=domain_row, lookup=fake_dns(case_zone)).verdicts()[record]
        assert (verdict.status, words in str(verdict.why)) == (status, True), (record, status, str(verdict.why))
        assert not domain_row.ready
    # A key split into 255-character strings, as DNS hosts store it, still matches (joined by the lookup).
    spaced = {**zone, key: [zone[key][0].replace("; p=", ";  p= ")]}
    assert (
        domain_check(actor=actor_for(admin), domain=domain_row, lookup=fake_dns(spaced)).verdicts()["dkim"].status == OK
    )
    failed = domain_check(actor=actor_for(admin), domain=domain_row, lookup=fake_dns(zone, failing=[DOMAIN]))
    assert failed.verdicts()["spf"].status == FAILED and "Timeout" in str(failed.verdicts()["spf"].why)


def test_spf_must_name_the_sending_service_when_configured(
    domain_row: SendingDomain, admin: Any, settings: Any
) -> None:
    settings.SENDING_SPF_INCLUDE = "include:_spf.esp.example"
    zone = published(domain_row)
    assert zone[DOMAIN] == ["v=spf1 include:_spf.esp.example ~all"]
    assert domains.check_spf(DOMAIN, fake_dns(zone)).status == OK
    verdict = domains.check_spf(DOMAIN, fake_dns({DOMAIN: ["v=spf1 mx -all"]}))
    assert verdict.status == WRONG and "include:_spf.esp.example" in str(verdict.why)


def test_roles(domain_row: SendingDomain, users: Any) -> None:
    for role in ("marketing", "sales"):
        with pytest.raises(PermissionDenied):
            domain_create(actor=actor_for(users[role]), domain="tin.example.vn")
        with pytest.raises(PermissionDenied):
            domain_check(actor=actor_for(users[role]), domain=domain_row, lookup=fake_dns({}))
        with pytest.raises(PermissionDenied):
            domain_delete(actor=actor_for(users[role]), domain=domain_row)
    assert SendingDomain.objects.count() == 1


def test_api(client_for: Any, users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = client_for(users["admin"])
    created = admin.post(
        "/api/email/domains", json.dumps({"domain": "Tin.Example.vn"}), content_type="application/json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["domain"] == "tin.example.vn" and body["checks"] == {} and not body["ready"]
    assert [r["check"] for r in body["records"]] == ["dkim", "spf", "dmarc"]
    row = SendingDomain.objects.get()
    assert row.private_key_sealed not in created.content.decode() and b"PRIVATE" not in created.content
    bad = admin.post("/api/email/domains", json.dumps({"domain": "not a domain"}), content_type="application/json")
    assert bad.status_code == 422 and "domain" in bad.content.decode()
    extra = admin.post(
        "/api/email/domains", json.dumps({"domain": "a.vn", "key": "x"}), content_type="application/json"
    )
    assert extra.status_code == 422

    monkeypatch.setattr(domains, "dns_lookup", fake_dns(published(row)))
    checked = admin.post(f"/api/email/domains/{row.pk}/check")
    assert checked.status_code == 200 and checked.json()["ready"]
    monkeypatch.setattr(domains, "dns_lookup", fake_dns({}))
    vi = admin.post(f"/api/email/domains/{row.pk}/check", HTTP_ACCEPT_LANGUAGE="vi")
    assert vi.json()["checks"]["dmarc"]["status"] == "missing"
    assert vi.json()["checks"]["dmarc"]["reason"].startswith("Không có bản ghi DMARC")
    en = admin.get(f"/api/email/domains/{row.pk}", HTTP_ACCEPT_LANGUAGE="en")  # stored untranslated
    assert en.json()["checks"]["dmarc"]["reason"].startswith("No DMARC record")
    assert admin.get("/api/email/domains/999999").status_code == 404

    marketing = client_for(users["marketing"])
    assert marketing.get("/api/email/domains").json()["items"][0]["domain"] == "tin.example.vn"
    assert marketing.post(f"/api/email/domains/{row.pk}/check").status_code == 403
    assert marketing.delete(f"/api/email/domains/{row.pk}").status_code == 403
    assert (
        marketing.post(
            "/api/email/domains", json.dumps({"domain": "b.vn"}), content_type="application/json"
        ).status_code
        == 403
    )
    assert client_for(users["sales"]).get("/api/email/domains").status_code == 403
    assert client_for(users["admin"]).delete(f"/api/email/domains/{row.pk}").status_code == 204
    assert not SendingDomain.objects.exists()


def test_pages(client_for: Any, users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = client_for(users["admin"])
    response = admin.post("/email/domains/", {"domain": "tin.example.vn", "selector": ""}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    row = SendingDomain.objects.get()
    assert f"{row.selector}._domainkey.tin.example.vn" in page and row.public_key in page
    assert "PRIVATE" not in page and "Check the DNS records" in page
    again = admin.post("/email/domains/", {"domain": "tin.example.vn"})
    assert again.status_code == 422 and "already a sending domain" in again.content.decode()

    monkeypatch.setattr(domains, "dns_lookup", fake_dns({"tin.example.vn": ["v=spf1 mx ~all"]}))
    checked = admin.post(f"/email/domains/{row.pk}/check/", follow=True).content.decode()
    assert "need attention" in checked and "No DKIM record" in checked and "One SPF record." in checked

    marketing = client_for(users["marketing"])
    listing = marketing.get("/email/domains/", HTTP_ACCEPT_LANGUAGE="vi")
    assert listing.status_code == 200 and "tin.example.vn" in listing.content.decode()
    assert "Add a domain" not in listing.content.decode()
    assert marketing.get(f"/email/domains/{row.pk}/").status_code == 200
    assert marketing.post("/email/domains/", {"domain": "x.example.vn"}).status_code == 403
    assert marketing.post(f"/email/domains/{row.pk}/check/").status_code == 403
    assert marketing.post(f"/email/domains/{row.pk}/delete/").status_code == 403
    assert client_for(users["sales"]).get("/email/domains/").status_code == 403
    deleted = client_for(users["admin"]).post(f"/email/domains/{row.pk}/delete/", follow=True)
    assert deleted.status_code == 200 and not SendingDomain.objects.exists()


def _send(from_address: str) -> None:
    rendered = Rendered(subject="Ưu đãi", preheader="", html="<p>Chào chị Thu</p>", text="Chào chị Thu\n")
    message = transport.build_message(rendered, to="thu@example.vn", from_address=from_address, reply_to="hotro@x.vn")
    with transport.connection() as connection:
        connection.send_messages([message])


@pytest.mark.parametrize("sender", [f"news@{DOMAIN}", f"news@tin.{DOMAIN}"])
def test_mail_is_signed_with_the_domains_key(smtp: Mailbox, domain_row: SendingDomain, sender: str) -> None:
    """A subdomain without a sending domain of its own signs as its parent (DMARC relaxed alignment)."""
    _send(sender)
    [received] = smtp.received
    signature = received.message["DKIM-Signature"]
    assert f"d={DOMAIN}" in signature and "s=s2026" in signature
    zone = published(domain_row)
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return zone.get(name.decode().rstrip("."), [""])[0].encode()

    assert dkim.verify(received.raw, dnsfunc=dns)
    assert asked == [b"s2026._domainkey.anhduong.example.vn."]
    assert not dkim.verify(received.raw.replace(b"Reply-To: hotro@", b"Reply-To: other@"), dnsfunc=dns)


def test_without_a_domain_mail_is_unsigned_and_a_deleted_domain_stops_signing(
    smtp: Mailbox, domain_row: SendingDomain, admin: Any
) -> None:
    _send("news@other.example.vn")
    domain_delete(actor=actor_for(admin), domain=domain_row)
    _send(f"news@{DOMAIN}")
    assert [r.message["DKIM-Signature"] for r in smtp.received] == [None, None]


def test_pages_speak_vietnamese(client_for: Any, users: Any, domain_row: SendingDomain) -> None:
    from danhba.core.tests.test_vietnamese_pages import english_messages, english_on, visible

    admin = users["admin"]
    admin.language = "vi"
    admin.full_name = "Nguyễn Quản Trị"  # the fixture names users after their roles, translated words now
    admin.save(update_fields=["language", "full_name"])
    domain_check(actor=actor_for(admin), domain=domain_row, lookup=fake_dns({DOMAIN: ["v=spf1 +all"]}))
    client = client_for(admin)
    words, phrases = english_messages()
    for url in ("/email/domains/", f"/email/domains/{domain_row.pk}/"):
        html = client.get(url).content.decode()
        assert '<html lang="vi">' in html
        assert english_on(visible(html), words, phrases) == [], url
    detail = client.get(f"/email/domains/{domain_row.pk}/").content.decode()
    assert "Không có bản ghi DKIM" in detail and "Bản ghi SPF kết thúc bằng +all" in detail


def test_a_campaign_sent_from_the_job_threads_is_signed(
    smtp: Mailbox,
    setup: dict[str, Any],
    admin: Any,
    huey_immediate: Any,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    """The send job sends from a thread pool; the key is chosen where the messages are built."""
    from danhba.messaging.services import campaigns

    settings.MESSAGING_SEND_CONNECTIONS = 2
    row = domain_create(actor=actor_for(admin), domain=DOMAIN, selector="s2026")
    campaign = make_campaign(setup)
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_schedule(actor=setup["actor"], campaign=campaign)
    zone = published(row)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return zone.get(name.decode().rstrip("."), [""])[0].encode()

    assert len(smtp.received) == 2
    for received in smtp.received:
        assert "s=s2026" in received.message["DKIM-Signature"] and dkim.verify(received.raw, dnsfunc=dns)
