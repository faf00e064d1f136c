"""The data-quality dashboard: figures from a snapshot, every number linking to the contacts
behind it, the same cards in the API, refused to roles that may not count every contact."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from danhba.contacts.models import Contact, ContactPhone
from danhba.quality.models import QualitySnapshot
from danhba.quality.services import freshness

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(make_contact: Any) -> dict[str, Any]:
    fresh = make_contact(full_name="Mới", emails=[{"email": "moi@gmail.com"}], source="form")
    old = make_contact(full_name="Cũ", phones=[{"phone": "0912345678"}], source="import", job_title="Kế toán")
    ContactPhone.objects.create(contact=old, e164="+841662345678")
    Contact.objects.filter(pk=old.pk).update(last_activity_at=timezone.now() - dt.timedelta(days=800))
    freshness.dirty_process()
    return {"fresh": fresh, "old": old}


def test_the_page_shows_each_card_with_links_to_the_contacts(data: dict[str, Any], admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    page = client.get("/quality/")
    assert page.status_code == 200
    html = page.content.decode()
    for section in ("quality-completeness", "quality-validity", "quality-freshness", "quality-sources"):
        assert f'id="{section}"' in html
    assert "<svg" in html  # charts
    assert 'href="/contacts/?quality=old_phone"' in html
    assert 'href="/contacts/?missing=job_title"' in html
    # The links open the contacts they count.
    listed = client.get("/contacts/?quality=dead").content.decode()
    assert "Cũ" in listed and "Mới<" not in listed
    missing = client.get("/contacts/?missing=job_title").content.decode()
    assert "Mới" in missing


def test_the_api_answers_every_card(data: dict[str, Any], admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    body = client.get("/api/quality/dashboard").json()
    assert body["overview"]["contacts"]["count"] == 2
    assert body["overview"]["needs_verification"]["count"] == 1
    freshness_card = {r["bucket"]: r["count"] for r in body["freshness"]}
    assert freshness_card == {"fresh": 1, "ageing": 0, "stale": 0, "dead": 1}
    validity = {r["kind"]: r["count"] for r in body["validity"]}
    assert validity["old_phone"] == 1 and validity["inactive"] == 1 and validity["bounced"] == 0
    completeness = {r["field"]: r["filled"] for r in body["completeness"]}
    assert completeness["email"] == 1 and completeness["phone"] == 1 and completeness["job_title"] == 1
    sources = {r["source"]: r for r in body["sources"]}
    assert sources["import"]["flagged"] == 1 and sources["form"]["flagged"] == 0
    assert sources["import"]["flagged_url"] == "/contacts/?source=import&quality=needs_verification"
    one = client.get("/api/quality/dashboard/freshness").json()
    assert one["card"] == "freshness" and len(one["value"]) == 4
    assert client.get("/api/quality/dashboard/nonsense").status_code == 404
    # Figures are a snapshot: a new contact shows after a refresh.
    Contact.objects.create(full_name="Thêm", lifecycle_stage_id=data["fresh"].lifecycle_stage_id)
    assert client.get("/api/quality/dashboard").json()["overview"]["contacts"]["count"] == 2
    assert client.post("/api/quality/dashboard/refresh").json()["status"] == "done"
    assert client.get("/api/quality/dashboard").json()["overview"]["not_computed"]["count"] == 1
    assert QualitySnapshot.objects.count() == 1


def test_roles(data: dict[str, Any], users: dict[str, Any], client_for: Any) -> None:
    for role in ("marketing", "analyst"):
        assert client_for(users[role]).get("/quality/").status_code == 200
    for role in ("sales", "support"):
        client = client_for(users[role])
        assert client.get("/quality/").status_code == 403
        assert client.get("/api/quality/dashboard").status_code == 403


def test_the_vietnamese_page(data: dict[str, Any], admin: Any, client_for: Any) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    html = client_for(admin).get("/quality/").content.decode()
    assert "Chất lượng dữ liệu" in html and "Độ mới" in html
    assert "50,0%" in html  # half the contacts have an email


def test_a_merge_keeps_freshness_consistent_and_counts_on_the_dashboard(
    data: dict[str, Any], admin: Any, client_for: Any
) -> None:
    from danhba.conftest import actor_for
    from danhba.quality.models import DecaySignal, Freshness
    from danhba.quality.services.merge import merge_contacts, undo_merge

    merge = merge_contacts(actor_for(admin), data["fresh"], [data["old"]])
    freshness.dirty_process()
    assert not Freshness.objects.filter(contact_id=data["old"].pk).exists()
    # The survivor took the old contact's legacy phone: its signals follow.
    assert set(DecaySignal.objects.filter(contact=data["fresh"]).values_list("kind", flat=True)) == {"old_phone"}
    client = client_for(admin)
    client.post("/api/quality/dashboard/refresh")
    months = client.get("/api/quality/dashboard/duplicates").json()["value"]["months"]
    assert sum(m["merged"] for m in months) == 1
    undo_merge(actor_for(admin), merge)
    freshness.dirty_process()
    assert Freshness.objects.filter(contact_id=data["old"].pk).exists()


def test_the_duplicates_card_links_to_the_review_queue(
    data: dict[str, Any], users: dict[str, Any], client_for: Any
) -> None:
    from danhba.quality.models import DuplicatePair

    a, b = sorted([data["fresh"].pk, data["old"].pk])
    DuplicatePair.objects.create(contact_a_id=a, contact_b_id=b, probability=0.97)
    client = client_for(users["admin"])
    client.post("/api/quality/dashboard/refresh")
    card = client.get("/api/quality/dashboard/duplicates").json()["value"]
    status = {r["status"]: r for r in card["status"]}
    assert status["open"]["count"] == 1 and status["open"]["url"] == "/quality/duplicates/?status=open"
    assert sum(m["found"] for m in card["months"]) == 1
    assert 'href="/quality/duplicates/?status=open"' in client.get("/quality/").content.decode()
    assert client.get(status["open"]["url"]).status_code == 200
