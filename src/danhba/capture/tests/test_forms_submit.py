"""A visitor fills a form: the contact, its source, consent with the wording, the Form Submitted
event, field errors in the form's language, spam rules, CORS, progressive profiling."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core import mail

from danhba.capture.forms import tokens
from danhba.capture.forms.services import wording_version
from danhba.capture.models import FormDay, FormSubmission
from danhba.capture.tests.conftest import CONSENT_TEXT
from danhba.contacts.models import Contact, ContactEmail, CustomField, Source
from danhba.privacy.models import ConsentRecord, ConsentState
from danhba.tracking.models import AnonymousIdentity, Event

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.vn"


def _post(client: Any, slug: str, data: dict[str, Any], origin: str | None = ORIGIN) -> Any:
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(f"/f/{slug}/submit", json.dumps(data), content_type="application/json", **headers)


def _schema(client: Any, slug: str, origin: str | None = ORIGIN, **params: str) -> Any:
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.get(f"/f/{slug}/schema", params, **headers)


def test_a_submission_creates_the_contact_with_consent_and_event(client: Any, newsletter: Any, admin: Any) -> None:
    schema = _schema(client, "ban-tin").json()
    assert [f["name"] for f in schema["fields"]] == ["full_name", "email", "phone"]
    response = _post(client, "ban-tin", {
        "full_name": "nguyen van duc", "email": " Duc.Nguyen@Gmail.com ", "phone": "0912 345 678",
        "consent": ["email_marketing"], "_t": schema["token"], "utm_source": "facebook", "utm_campaign": "tet",
        "page_url": f"{ORIGIN}/khuyen-mai", "referrer": "https://facebook.com/",
    })  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and body["message"] == "Cảm ơn bạn đã đăng ký!" and body["visitor"]
    assert response["Access-Control-Allow-Origin"] == ORIGIN

    contact = Contact.objects.get(email="duc.nguyen@gmail.com")
    assert contact.full_name == "Nguyen Van Duc" and contact.phone == "+84912345678"
    assert contact.source == Source.FORM
    record = ConsentRecord.objects.get(contact=contact)
    assert record.purpose.key == "email_marketing" and record.status == "granted" and record.source == "form"
    assert CONSENT_TEXT in record.proof and record.text_version == wording_version(newsletter, CONSENT_TEXT)
    event = Event.objects.get(contact=contact, name="Form Submitted")
    assert event.properties["form_id"] == newsletter.pk and event.properties["form_name"] == newsletter.name
    assert event.properties["utm_source"] == "facebook" and event.properties["utm_campaign"] == "tet"
    submission = FormSubmission.objects.get()
    assert submission.status == "done" and submission.contact == contact and submission.created_contact
    assert submission.payload["email"] == " Duc.Nguyen@Gmail.com "  # stored as it came
    assert FormDay.objects.get(form=newsletter).submissions == 1
    client.force_login(admin)  # on the contact's timeline
    assert "Form Submitted" in client.get(f"/contacts/{contact.pk}/").content.decode()


def test_the_same_person_again_updates_the_contact_found_by_phone(client: Any, quote: Any, make_contact: Any) -> None:
    known = make_contact(full_name="Trần Thị Mai", phones=[{"phone": "+84 912 345 678"}])
    response = _post(client, "bao-gia", {"full_name": "Mai", "phone": "0912.345.678", "company": "Công ty An Phát",
                                          "message": "Báo giá 20 máy lọc nước"}, origin=None)  # fmt: skip
    assert response.status_code == 200, response.content
    known.refresh_from_db()
    assert known.full_name == "Trần Thị Mai"  # a short name never replaces a full one
    assert known.source != Source.FORM  # the source says where the contact came from first
    assert Contact.objects.count() == 1
    event = Event.objects.get(contact=known, name="Form Submitted")
    assert event.properties["message"] == "Báo giá 20 máy lọc nước"
    assert known.company_links.get().company.name == "Công ty An Phát"


def test_bad_input_gets_field_errors_in_the_forms_language(client: Any, newsletter: Any, quote: Any) -> None:
    vi = _post(client, "ban-tin", {"full_name": "", "email": "khong-phai-email", "phone": "12"})
    assert vi.status_code == 422
    errors = vi.json()["errors"]
    assert set(errors) == {"full_name", "email", "phone", "consent.email_marketing"}
    assert errors["full_name"] == ["Trường này là bắt buộc."]
    en = _post(client, "bao-gia", {"full_name": "An", "phone": "abc", "message": ""}, origin=None)
    assert en.status_code == 422
    assert en.json()["errors"]["message"] == ["This field is required."]
    assert not FormSubmission.objects.exists() and not Contact.objects.exists()
    # Garbage bodies are field errors too, never a 500.
    for raw in (b"not json", b"[1, 2]", b'{"email": {"a": 1}, "full_name": [1]}'):
        response = client.post("/f/ban-tin/submit", raw, content_type="application/json")
        assert response.status_code == 422


def test_the_honeypot_and_the_time_to_fill_block_silently(client: Any, newsletter: Any, admin: Any) -> None:
    good = {"full_name": "Lê Văn Bình", "email": "binh@example.vn", "consent": ["email_marketing"]}
    trapped = _post(client, "ban-tin", {**good, "website": "http://spam.example"})
    assert trapped.status_code == 200 and trapped.json()["ok"]  # the bot learns nothing
    newsletter.min_fill_seconds = 5
    newsletter.save()
    fresh = tokens.render_token(newsletter.pk, ["full_name", "email"], None)
    too_fast = _post(client, "ban-tin", {**good, "_t": fresh})
    no_token = _post(client, "ban-tin", good)
    assert too_fast.json()["ok"] and no_token.json()["ok"]
    assert not FormSubmission.objects.exists() and not Contact.objects.exists()
    day = FormDay.objects.get(form=newsletter)
    assert (day.blocked_honeypot, day.blocked_too_fast) == (1, 2)
    old = tokens.render_token(newsletter.pk, ["full_name", "email"], None, now=time.time() - 30)
    assert _post(client, "ban-tin", {**good, "_t": old}).json()["ok"]
    assert FormSubmission.objects.get().status == "done"
    client.force_login(admin)  # the owner sees what was blocked, by rule
    figures = client.get(f"/api/capture/forms/{newsletter.pk}").json()["figures"]
    assert (figures["blocked"], figures["blocked_honeypot"], figures["blocked_too_fast"]) == (3, 1, 2)
    assert "honeypot 1, too fast 2" in client.get(f"/forms/{newsletter.pk}/").content.decode()


def test_a_client_network_is_rate_limited(client: Any, quote: Any) -> None:
    data = {"full_name": "An", "phone": "0987 654 321", "message": "Hỏi giá"}
    answers = [_post(client, "bao-gia", data, origin=None).status_code for _ in range(12)]
    assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]
    assert FormDay.objects.get(form=quote).blocked_rate == 2


def test_cors_answers_only_the_forms_origins(client: Any, newsletter: Any) -> None:
    preflight = client.options("/f/ban-tin/submit", HTTP_ORIGIN=ORIGIN,
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")  # fmt: skip
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]
    evil = client.options("/f/ban-tin/submit", HTTP_ORIGIN="https://evil.example")
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil
    assert _schema(client, "ban-tin", origin="https://evil.example").status_code == 403
    refused = _post(client, "ban-tin", {"full_name": "A", "email": "a@b.vn", "consent": ["email_marketing"]},
                    origin="https://evil.example")  # fmt: skip
    assert refused.status_code == 403 and not FormSubmission.objects.exists()
    assert client.get("/f/embed.js")["Content-Type"].startswith("text/javascript")


def test_the_hosted_page_may_be_framed_by_the_forms_sites_only(client: Any, newsletter: Any) -> None:
    page = client.get("/f/ban-tin", {"utm_source": "zalo"})
    assert page.status_code == 200
    csp = page["Content-Security-Policy"]
    assert f"frame-ancestors 'self' {ORIGIN}" in csp and "script-src 'self'" in csp
    assert "X-Frame-Options" not in page
    html = page.content.decode()
    assert 'name="website"' in html and 'value="zalo"' in html and "checked" not in html  # never pre-ticked
    assert CONSENT_TEXT in html
    assert client.get("/f/no-such-form").status_code == 404


def test_the_hosted_page_submits_and_shows_errors(client: Any, newsletter: Any) -> None:
    page = client.get("/f/ban-tin")
    token = page.content.decode().split('name="_t" value="')[1].split('"')[0]
    bad = client.post("/f/ban-tin", {"full_name": "Hoa", "email": "hoa@", "_t": token})
    assert bad.status_code == 422
    assert "Vui lòng sửa các trường được đánh dấu" in bad.content.decode()
    good = client.post("/f/ban-tin", {"full_name": "Phạm Thu Hoa", "email": "hoa@example.vn",
                                      "consent": "email_marketing", "_t": token})  # fmt: skip
    assert good.status_code == 200 and "Cảm ơn bạn đã đăng ký!" in good.content.decode()
    assert good.cookies[tokens.VISITOR_COOKIE].value
    assert ContactEmail.objects.filter(email="hoa@example.vn").exists()


def test_progressive_profiling_asks_the_queued_questions(client: Any, newsletter: Any) -> None:
    schema = _schema(client, "ban-tin").json()
    first = _post(client, "ban-tin", {"full_name": "Đỗ Minh Châu", "email": "chau@example.vn",
                                      "consent": ["email_marketing"], "_t": schema["token"]})  # fmt: skip
    visitor = first.json()["visitor"]
    again = _schema(client, "ban-tin", visitor=visitor).json()
    # name answered → province asked instead; email stays (it says who writes); phone still empty.
    assert [f["name"] for f in again["fields"]] == ["province", "email", "phone"]
    second = _post(client, "ban-tin", {"province": "Hà Nội", "email": "chau@example.vn",
                                       "consent": ["email_marketing"], "_t": again["token"]})  # fmt: skip
    assert second.status_code == 200, second.content
    contact = Contact.objects.get()
    assert contact.province and contact.full_name == "Đỗ Minh Châu"
    # A browser the tracker knows (its anonymous id joined the contact) gets them too.
    AnonymousIdentity.objects.create(anonymous_id="dev-123", contact=contact)
    third = _schema(client, "ban-tin", aid="dev-123").json()
    assert [f["name"] for f in third["fields"]] == ["job_title", "email", "phone"]


def test_a_submission_that_fails_mapping_stays_and_can_be_retried(client: Any, quote: Any, admin: Any) -> None:
    field = CustomField.objects.create(key="nganh", label="Ngành", type="text", required=True)
    response = _post(client, "bao-gia", {"full_name": "Vũ An", "phone": "0903 123 456", "message": "Giá?"}, origin=None)
    assert response.status_code == 200 and response.json()["ok"]  # stored: the visitor is done
    submission = FormSubmission.objects.get()
    assert submission.status == "failed" and "nganh" in submission.error and submission.contact is None
    client.force_login(admin)
    listed = client.get(f"/forms/submissions/?form={quote.pk}&status=failed")
    assert f"/forms/submissions/{submission.pk}/" in listed.content.decode()
    field.required = False
    field.save()
    retried = client.post(f"/forms/submissions/{submission.pk}/retry/")
    assert retried.status_code == 302
    submission.refresh_from_db()
    assert submission.status == "done" and submission.attempts == 2 and submission.contact is not None


def test_double_opt_in_records_consent_only_when_confirmed(
    client: Any, newsletter: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_URL = "locmem://"
    newsletter.double_opt_in = True
    newsletter.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, "ban-tin", {"full_name": "Ngô Lan", "email": "lan@example.vn",
                                             "consent": ["email_marketing"]})  # fmt: skip
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert not ConsentRecord.objects.exists()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["lan@example.vn"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/f/confirm/" in line)
    path = link[link.index("/f/confirm/") :]
    shown = client.get(path)
    assert shown.status_code == 200 and not ConsentRecord.objects.exists()  # a mail scanner's GET confirms nothing
    client.post(path)
    record = ConsentRecord.objects.get(contact=contact)
    assert CONSENT_TEXT in record.proof and ConsentState.objects.get(contact=contact).status == "granted"
    client.post(path)
    assert ConsentRecord.objects.count() == 1
    assert client.get("/f/confirm/forged-token/").status_code == 404


def test_a_submission_left_unprocessed_is_picked_up_by_the_sweep(quote: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from danhba.capture.forms.services import submission_store, submissions_sweep

    payload = {"full_name": "Lý Hải", "phone": "0903 555 777", "message": "Giá sỉ?"}
    stored = submission_store(form=quote, payload=payload, shown=["full_name", "phone", "message"], consents=[],
                              context={})  # fmt: skip
    assert submissions_sweep() == 0  # too fresh: its own request may still be on it
    assert submissions_sweep(now=timezone.now() + dt.timedelta(minutes=3)) == 1
    stored.refresh_from_db()
    assert stored.status == "done" and stored.contact.phone == "+84903555777"
    assert submissions_sweep(now=timezone.now() + dt.timedelta(minutes=3)) == 0


def test_knowing_an_email_does_not_let_a_stranger_attach_theirs_to_that_contact(client: Any, newsletter: Any) -> None:
    ok = {"consent": ["email_marketing"]}
    mine = _post(client, "ban-tin", {"full_name": "Lê Thu", "email": "victim@example.vn", **ok}).json()["visitor"]
    victim = Contact.objects.get(email="victim@example.vn")
    # A stranger types the victim's email: the contact is matched, but no token for it comes back.
    first = _post(client, "ban-tin", {"full_name": "X", "email": "victim@example.vn", **ok})
    assert first.status_code == 200 and first.json()["ok"] and first.json()["visitor"] == ""
    # Even with the victim's own token, a new email makes a new contact (its consent with it).
    consents = ConsentRecord.objects.filter(contact=victim).count()
    second = _post(client, "ban-tin", {"full_name": "Kẻ Lạ", "email": "attacker@evil.vn", "visitor": mine, **ok})
    assert second.status_code == 200 and second.json()["ok"]
    assert list(victim.emails.values_list("email", flat=True)) == ["victim@example.vn"]
    assert ConsentRecord.objects.filter(contact=victim).count() == consents
    stranger = Contact.objects.get(email="attacker@evil.vn")
    assert stranger.pk != victim.pk and tokens.read_visitor_token(second.json()["visitor"]) == stranger.pk
    # The victim's own browser still fills in their profile.
    again = _schema(client, "ban-tin", visitor=mine).json()
    third = _post(client, "ban-tin", {"province": "Huế", "email": "victim@example.vn", "_t": again["token"], **ok})
    assert tokens.read_visitor_token(third.json()["visitor"]) == victim.pk
    victim.refresh_from_db()
    assert victim.province and Contact.objects.count() == 2
