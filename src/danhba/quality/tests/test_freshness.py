"""Freshness and decay signals: what a user of segments, the contact page and the API sees
after contacts are written, events arrive, imports change a job title and domains are looked up."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact, ContactPhone
from danhba.ingest.models import Import, ImportChange
from danhba.quality.models import DecaySignal, Freshness, FreshnessDirty, MailDomain
from danhba.quality.services import domains, freshness
from danhba.quality.services.verify import contact_verify
from danhba.segments.models import SegmentMember
from danhba.segments.services import segment_create
from danhba.tracking.services.server import ServerEvent, server_events_store

pytestmark = pytest.mark.django_db


def _signals(contact: Any) -> set[str]:
    return set(DecaySignal.objects.filter(contact=contact).values_list("kind", flat=True))


def _process() -> None:
    freshness.dirty_process()


def test_a_new_contact_is_marked_and_computed_fresh(make_contact: Any) -> None:
    contact = make_contact(full_name="Trần Thị Lan", emails=[{"email": "lan@gmail.com"}])
    assert FreshnessDirty.objects.filter(contact_id=contact.pk).exists()
    _process()
    row = Freshness.objects.get(contact=contact)
    assert not row.needs_verification and row.reasons == []
    assert not FreshnessDirty.objects.exists()
    # gmail.com was never looked up: it waits for the MX job, no signal yet.
    assert MailDomain.objects.get(domain="gmail.com").has_mail is None


def test_old_eleven_digit_and_impossible_phones_are_signals(make_contact: Any) -> None:
    old = make_contact(full_name="Lê Văn Cũ")
    ContactPhone.objects.create(contact=old, e164="+841662345678")  # 0166… never converted to 036…
    bad = make_contact(full_name="Phạm Sai Số")
    ContactPhone.objects.create(contact=bad, e164="+8400012")
    ok = make_contact(full_name="Đúng Số", phones=[{"phone": "0912 345 678"}])
    freshness.freshness_update(contact_ids=[old.pk, bad.pk, ok.pk])
    assert _signals(old) == {"old_phone"}
    assert _signals(bad) == {"bad_phone"}
    assert _signals(ok) == set()
    assert Freshness.objects.get(contact=old).needs_verification


def test_a_hard_bounce_flags_until_the_contact_is_verified(make_contact: Any, admin: Any) -> None:
    contact = make_contact(emails=[{"email": "an@congty.vn"}])
    server_events_store(
        source="email",
        events=[
            ServerEvent(contact.pk, "Email Bounced", "b-soft", {"bounce_type": "soft"}),
        ],
    )
    _process()
    assert _signals(contact) == set()
    server_events_store(
        source="email", events=[ServerEvent(contact.pk, "Email Bounced", "b-1", {"bounce_type": "hard"})]
    )
    _process()
    assert _signals(contact) == {"bounced"}
    contact_verify(actor=actor_for(admin), contact=contact)
    row = Freshness.objects.get(contact=contact)
    assert row.verified_at is not None and not row.needs_verification
    assert _signals(contact) == set()


def test_a_domain_without_mail_server_flags_its_contacts(make_contact: Any) -> None:
    dead = make_contact(emails=[{"email": "a@congty-da-dong.vn"}])
    alive = make_contact(full_name="Sống", emails=[{"email": "b@song.vn"}])
    _process()
    answers = {"congty-da-dong.vn": False, "song.vn": True}
    assert domains.mail_domains_check(lookup=answers.__getitem__) == 2
    _process()
    assert _signals(dead) == {"no_mx"}
    assert _signals(alive) == set()
    # Cached: nothing is looked up again before the TTL.
    assert domains.mail_domains_check(lookup=answers.__getitem__) == 0
    later = timezone.now() + dt.timedelta(days=31)
    answers["congty-da-dong.vn"] = True
    assert domains.mail_domains_check(lookup=answers.__getitem__, now=later) == 2
    _process()
    assert _signals(dead) == set()


def test_inactive_contacts_age_into_stale_and_are_flagged(make_contact: Any) -> None:
    contact = make_contact()
    Contact.objects.filter(pk=contact.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=430))
    freshness.freshness_update(contact_ids=[contact.pk])
    assert _signals(contact) == {"inactive"}
    # An event is activity: the contact is fresh again.
    server_events_store(source="web", events=[ServerEvent(contact.pk, "Product Viewed", "pv-1")])
    _process()
    assert _signals(contact) == set()


def test_a_job_title_changed_by_an_import_is_a_signal(make_contact: Any) -> None:
    contact = make_contact(job_title="Trưởng phòng")
    run = Import.objects.create(file_name="crm.csv")
    ImportChange.objects.create(
        run=run, contact_id=contact.pk, action="updated",
        before={"job_title": "Trưởng phòng"}, after={"job_title": "Giám đốc"},
    )  # fmt: skip
    assert freshness.import_signals_scan() == 1
    _process()
    signal = DecaySignal.objects.get(contact=contact)
    assert signal.kind == "job_change"
    assert signal.detail == {"before": "Trưởng phòng", "after": "Giám đốc", "import": run.pk}
    assert freshness.import_signals_scan() == 0  # the cursor moved on


def test_segments_and_the_contact_list_use_the_flag(make_contact: Any, admin: Any, client_for: Any) -> None:
    flagged = make_contact(full_name="Cần Xác Minh")
    ContactPhone.objects.create(contact=flagged, e164="+841662345678")
    make_contact(full_name="Ổn")
    _process()
    segment = segment_create(
        actor=actor_for(admin),
        name="Cần xác minh",
        conditions={"op": "all", "conditions": [{"kind": "quality", "is": "needs_verification"}]},
    )
    assert list(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == [flagged.pk]
    client = client_for(admin)
    body = client.get("/api/contacts", {"quality": "old_phone"}).json()
    assert [c["id"] for c in body["items"]] == [flagged.pk]
    assert client.get("/api/contacts", {"quality": "nonsense"}).status_code == 422
    page = client.get("/contacts/", {"quality": "needs_verification"})
    assert page.status_code == 200 and "Cần Xác Minh" in page.content.decode() and "Ổn<" not in page.content.decode()


def test_the_api_shows_and_verifies(make_contact: Any, users: dict[str, Any], client_for: Any) -> None:
    contact = make_contact()
    ContactPhone.objects.create(contact=contact, e164="+8400012")
    _process()
    client = client_for(users["analyst"])
    body = client.get(f"/api/quality/contacts/{contact.pk}").json()
    assert body["needs_verification"] and [s["kind"] for s in body["signals"]] == ["bad_phone"]
    assert client.post(f"/api/quality/contacts/{contact.pk}/verify").status_code == 403
    client = client_for(users["admin"])
    body = client.post(f"/api/quality/contacts/{contact.pk}/verify").json()
    assert body["verified_at"] is not None
    # A fact about the data as it is stays after verification.
    assert [s["kind"] for s in body["signals"]] == ["bad_phone"]
    assert client.get("/api/quality/contacts/999999").status_code == 404


def test_the_contact_page_shows_the_panel_and_the_button_verifies(
    make_contact: Any, admin: Any, client_for: Any
) -> None:
    contact = make_contact()
    ContactPhone.objects.create(contact=contact, e164="+841662345678")
    _process()
    client = client_for(admin)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Needs verification" in page and "+841662345678" in page
    response = client.post(f"/quality/contacts/{contact.pk}/verify")
    assert response.status_code == 302
    assert Freshness.objects.get(contact=contact).verified_at is not None


def test_a_workflow_branch_takes_the_needs_verification_arm(make_contact: Any) -> None:
    from danhba.automation.graph import graph_clean
    from danhba.core.errors import InvalidInput
    from danhba.segments.compiler import matching

    flagged = make_contact(full_name="Cần Xác Minh")
    ContactPhone.objects.create(contact=flagged, e164="+8400012")
    ok = make_contact(full_name="Ổn")
    _process()

    def workflow(tree: dict[str, Any]) -> dict[str, Any]:
        return {"start": "s1", "steps": {
            "s1": {"kind": "branch", "params": {"branches": [{"condition": tree, "next": "s2"}], "otherwise": "s2"}},
            "s2": {"kind": "wait", "params": {"seconds": 60}},
        }}  # fmt: skip

    tree = {"op": "all", "conditions": [{"kind": "quality", "is": "signal", "signal": "bad_phone"}]}
    assert graph_clean(workflow(tree))["steps"]["s1"]["params"]["branches"][0]["condition"]
    met = set(matching(tree, among=[flagged.pk, ok.pk]).values_list("pk", flat=True))
    assert met == {flagged.pk}
    bad = {"op": "all", "conditions": [{"kind": "quality", "is": "signal", "signal": "nope"}]}
    with pytest.raises(InvalidInput) as refused:
        graph_clean(workflow(bad))
    assert "steps.s1.params.branches.0.condition" in refused.value.details


def test_a_logged_call_is_activity(make_contact: Any, admin: Any) -> None:
    from danhba.contacts.services.timeline import timeline_entry_save

    contact = make_contact()
    Contact.objects.filter(pk=contact.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=500))
    freshness.freshness_update(contact_ids=[contact.pk])
    assert _signals(contact) == {"inactive"}
    contact.refresh_from_db()
    timeline_entry_save(actor=actor_for(admin), contact=contact, entry=None, data={"kind": "call", "body": "Đã gọi"})
    _process()
    assert _signals(contact) == set()
