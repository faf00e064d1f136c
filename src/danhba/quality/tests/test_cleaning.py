"""Scheduled cleaning: a preview that changes nothing, a run that changes what it previewed and
reports it per contact, a reversible archive, runs that resume, schedules, the API and pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, TimelineEntry
from danhba.quality.models import CleaningChange, CleaningJob, CleaningRun, ContactArchive
from danhba.quality.services import cleaning, freshness

pytestmark = pytest.mark.django_db
ALL = ["normalise", "email_typos", "flag_decayed", "archive_dead"]


@pytest.fixture
def messy(make_contact: Any) -> dict[str, Any]:
    typo = make_contact(full_name="Trần Thị Lan", emails=[{"email": "lan@gmial.com", "is_primary": True}])
    legacy = make_contact(full_name="Lê Văn Cũ")
    ContactPhone.objects.create(contact=legacy, e164="+841662345678", is_primary=True)
    lower = make_contact(full_name="Phạm Minh")
    Contact.objects.filter(pk=lower.pk).update(full_name="phạm  minh")
    dead = make_contact(full_name="Vũ Đã Lâu", emails=[{"email": "vu@congty.vn"}])
    Contact.objects.filter(pk=dead.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=1000))
    clean = make_contact(full_name="Sạch Sẽ", emails=[{"email": "sach@gmail.com"}])
    freshness.dirty_process()
    return {"typo": typo, "legacy": legacy, "lower": lower, "dead": dead, "clean": clean}


def _job(admin: Any, **extra: Any) -> CleaningJob:
    data = {"name": "Quý", "actions": ALL, "frequency": "quarterly", **extra}
    return cleaning.cleaning_job_create(actor=actor_for(admin), data=data)


def _run_to_end(run: CleaningRun) -> CleaningRun:
    for _ in range(50):
        if cleaning.cleaning_run_execute(run_id=run.pk) not in CleaningRun.ACTIVE:
            break
    run.refresh_from_db()
    return run


def test_preview_changes_nothing_then_the_run_applies_it(messy: dict[str, Any], admin: Any) -> None:
    job = _job(admin)
    run = _run_to_end(cleaning.cleaning_run_start(actor=actor_for(admin), job=job))
    assert run.status == "preview" and run.done == run.total == 5
    assert run.preview_counts == {"normalise": 2, "email_typos": 1, "flag_decayed": 2, "archive_dead": 1}
    sample = run.preview_sample["email_typos"][0]
    assert sample["before"] == {"emails": ["lan@gmial.com"]} and sample["after"] == {"emails": ["lan@gmail.com"]}
    # Nothing changed by the preview.
    assert ContactEmail.objects.filter(email="lan@gmial.com").exists()
    assert not ContactArchive.objects.exists() and not CleaningChange.objects.exists()

    entries_before = TimelineEntry.objects.filter(contact=messy["dead"]).count()
    run = cleaning.cleaning_run_apply(actor=actor_for(admin), run=run)
    run = _run_to_end(run)
    assert run.status == "done"
    assert ContactEmail.objects.get(contact=messy["typo"]).email == "lan@gmail.com"
    assert Contact.objects.get(pk=messy["typo"].pk).email == "lan@gmail.com"
    assert list(ContactPhone.objects.filter(contact=messy["legacy"]).values_list("e164", flat=True)) == ["+84362345678"]
    assert Contact.objects.get(pk=messy["lower"].pk).full_name == "Phạm Minh"
    # Archived, not deleted: the contact and its history stay.
    assert ContactArchive.objects.filter(contact=messy["dead"]).exists()
    assert Contact.objects.get(pk=messy["dead"].pk).tags.filter(name=cleaning.ARCHIVE_TAG).exists()
    assert TimelineEntry.objects.filter(contact=messy["dead"]).count() >= entries_before
    assert Contact.objects.get(pk=messy["legacy"].pk).tags.filter(name=cleaning.FLAG_TAG).exists()
    # The report links every change to its contact; the clean contact is untouched.
    changed = set(CleaningChange.objects.filter(run=run).values_list("contact_id", "action"))
    assert (messy["typo"].pk, "email_typos") in changed and (messy["dead"].pk, "archive_dead") in changed
    assert not any(cid == messy["clean"].pk for cid, _a in changed)
    assert run.counts["email_typos"] == 1 and run.counts["archive_dead"] == 1
    assert AuditEvent.objects.filter(object_type="contact", contact_id=messy["typo"].pk, action="update").exists()


def test_the_archive_is_reversible(messy: dict[str, Any], admin: Any) -> None:
    job = _job(admin, actions=["archive_dead"])
    run = _run_to_end(cleaning.cleaning_run_start(actor=actor_for(admin), job=job))
    _run_to_end(cleaning.cleaning_run_apply(actor=actor_for(admin), run=run))
    dead = Contact.objects.get(pk=messy["dead"].pk)
    cleaning.contact_restore(actor=actor_for(admin), contact=dead)
    assert not ContactArchive.objects.exists()
    assert not dead.tags.filter(name=cleaning.ARCHIVE_TAG).exists()


def test_a_run_resumes_from_its_cursor(messy: dict[str, Any], admin: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(cleaning, "BATCH", 2)
    run = cleaning.cleaning_run_start(actor=actor_for(admin), job=_job(admin))
    assert cleaning.cleaning_run_execute(run_id=run.pk, seconds=0.000001) == "previewing"
    run.refresh_from_db()
    assert run.done == 2 and run.run_token == ""  # left: another worker may take it over
    run = _run_to_end(run)
    assert run.status == "preview" and run.done == 5
    assert run.preview_counts["normalise"] == 2  # nothing counted twice


def test_a_second_run_waits_and_cancel_stops(messy: dict[str, Any], admin: Any) -> None:
    job = _job(admin)
    run = cleaning.cleaning_run_start(actor=actor_for(admin), job=job)
    with pytest.raises(cleaning.Conflict):
        cleaning.cleaning_run_start(actor=actor_for(admin), job=job)
    cleaning.cleaning_run_cancel(actor=actor_for(admin), run=run)
    assert cleaning.cleaning_run_execute(run_id=run.pk) == "taken"
    with pytest.raises(cleaning.Conflict):
        cleaning.cleaning_run_apply(actor=actor_for(admin), run=run)


def test_a_due_scheduled_job_previews_and_auto_applies(messy: dict[str, Any], admin: Any) -> None:
    job = _job(admin, actions=["email_typos"], auto_apply=True)
    assert job.next_run_at is not None and job.next_run_at > timezone.now()
    CleaningJob.objects.filter(pk=job.pk).update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    [run_id] = cleaning.cleaning_due()
    run = _run_to_end(CleaningRun.objects.get(pk=run_id))
    assert run.scheduled and run.status == "done"
    assert ContactEmail.objects.get(contact=messy["typo"]).email == "lan@gmail.com"
    job.refresh_from_db()
    assert job.next_run_at > timezone.now()
    assert cleaning.cleaning_due() == []


def test_the_api(messy: dict[str, Any], users: dict[str, Any], client_for: Any) -> None:
    client = client_for(users["admin"])
    bad = client.post("/api/quality/cleaning", {"name": "", "actions": ["nope"]}, content_type="application/json")
    assert bad.status_code == 422 and {"name", "actions"} <= set(bad.json()["details"])
    job = client.post(
        "/api/quality/cleaning", {"name": "Năm", "actions": ["email_typos"], "frequency": "yearly"},
        content_type="application/json",
    ).json()  # fmt: skip
    started = client.post(f"/api/quality/cleaning/{job['id']}/runs")
    assert started.status_code == 202 and started.json()["status"] == "previewing"
    run_id = started.json()["id"]
    assert client.post(f"/api/quality/cleaning/runs/{run_id}/apply").status_code == 409
    _run_to_end(CleaningRun.objects.get(pk=run_id))
    body = client.get(f"/api/quality/cleaning/runs/{run_id}").json()
    assert body["status"] == "preview" and body["preview"][0]["contacts"] == 1
    assert client.post(f"/api/quality/cleaning/runs/{run_id}/apply").status_code == 202
    _run_to_end(CleaningRun.objects.get(pk=run_id))
    changes = client.get(f"/api/quality/cleaning/runs/{run_id}/changes").json()
    assert [c["contact_id"] for c in changes["items"]] == [messy["typo"].pk]
    assert client.get(f"/api/quality/cleaning/runs/{run_id}/changes?cursor=x").status_code == 422
    assert client.get(f"/api/quality/cleaning/runs/{run_id}/changes?cursor={'9' * 30}").status_code == 422
    assert client.get(f"/quality/cleaning/runs/{run_id}/?after={'9' * 30}").status_code == 200
    patched = client.patch(
        f"/api/quality/cleaning/{job['id']}", {"frequency": "monthly"}, content_type="application/json"
    )
    assert patched.json()["frequency"] == "monthly"
    assert client.get("/api/quality/cleaning/999999").status_code == 404
    sales = client_for(users["sales"])
    assert sales.get("/api/quality/cleaning").status_code == 403
    analyst = client_for(users["analyst"])
    assert analyst.get("/api/quality/cleaning").status_code == 200
    assert analyst.post(f"/api/quality/cleaning/{job['id']}/runs").status_code == 403


def test_the_pages_in_vietnamese(messy: dict[str, Any], admin: Any, client_for: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    client = client_for(admin)
    assert client.get("/quality/cleaning/").status_code == 200
    form = {"name": "Hằng quý", "actions": ["normalise", "archive_dead"], "frequency": "quarterly",
            "archive_after_months": "24", "is_active": "on"}  # fmt: skip
    response = client.post("/quality/cleaning/new", form)
    job = CleaningJob.objects.get(name="Hằng quý")
    assert response.status_code == 302
    assert "Xem trước" in client.get(f"/quality/cleaning/{job.pk}/").content.decode()
    response = client.post(f"/quality/cleaning/{job.pk}/start")
    run = CleaningRun.objects.get(job=job)
    _run_to_end(run)
    page = client.get(f"/quality/cleaning/runs/{run.pk}/").content.decode()
    assert "Áp dụng" in page and "Phạm  minh" not in page
    assert f"/contacts/{messy['dead'].pk}/" in page  # the sample links to the contact
    assert client.post("/quality/cleaning/new", {**form, "actions": []}).status_code == 422
