"""The duplicates pages: the queue lists a pair with its probability, the pair's page shows the
fields side by side with the waterfall, "not a duplicate" and merge work from the page (merge
through the merge service, undoable), settings change the thresholds and start runs; roles
without the permission get 403; Vietnamese pages are whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.contacts.models import Contact
from danhba.quality.models import DuplicatePair, DuplicateRun
from danhba.quality.services import duplicates

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_contact: Any) -> DuplicatePair:
    make_contact(full_name="Lê Thị Hồng", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    b = make_contact(full_name="Hồng Lê Thị", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    duplicates.pairs_check([b.pk])
    return DuplicatePair.objects.get()


def test_the_queue_and_the_pair_page(client_for: Any, users: Any, pair: DuplicatePair) -> None:
    client = client_for(users["marketing"])
    page = client.get("/quality/duplicates/").content.decode()
    assert f"/quality/duplicates/{pair.pk}/" in page and "Hồng Lê Thị" in page
    detail = client.get(f"/quality/duplicates/{pair.pk}/").content.decode()
    assert '<svg class="waterfall"' in detail and "same words in another order" in detail
    assert "Not a duplicate" in detail
    assert client.get("/quality/duplicates/?cursor=garbage").status_code == 200
    assert client.get("/quality/duplicates/?min_probability=7").status_code == 200
    assert client.get("/quality/duplicates/999999/").status_code == 404


def test_not_a_duplicate_from_the_page(client_for: Any, users: Any, pair: DuplicatePair) -> None:
    assert client_for(users["support"]).post(f"/quality/duplicates/{pair.pk}/not-duplicate").status_code == 403
    response = client_for(users["marketing"]).post(f"/quality/duplicates/{pair.pk}/not-duplicate")
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.NOT_DUPLICATE


def test_merge_from_the_page_and_the_api(client_for: Any, users: Any, pair: DuplicatePair) -> None:
    from danhba.quality.models import Merge

    admin = client_for(users["admin"])
    assert "Merge into" in admin.get(f"/quality/duplicates/{pair.pk}/").content.decode()
    response = admin.post(
        f"/api/quality/duplicates/{pair.pk}/merge",
        json.dumps({"survivor": pair.contact_b_id}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["survivor"] == pair.contact_b_id
    assert list(Contact.objects.values_list("id", flat=True)) == [pair.contact_b_id]
    assert Merge.objects.get().merged_ids == [pair.contact_a_id]
    assert not DuplicatePair.objects.exists()  # the pair went with the merged-away contact


def _merged_shown(client: Any, pair_id: int) -> tuple[list[int], str, int]:
    """The API's merged pairs, the queue page's "merged" view, the dashboard card's count."""
    api = client.get("/api/quality/duplicates?status=merged")
    assert api.status_code == 200, api.content
    page = client.get("/quality/duplicates/?status=merged").content.decode()
    client.post("/api/quality/dashboard/refresh")
    card = client.get("/api/quality/dashboard/duplicates").json()["value"]
    merged = {r["status"]: r for r in card["status"]}["merged"]
    assert merged["url"] == "/quality/duplicates/?status=merged"
    return [item["id"] for item in api.json()["items"]], page, merged["count"]


def test_a_merged_pair_is_listed_as_merged_and_undo_puts_it_back(
    client_for: Any, users: Any, pair: DuplicatePair
) -> None:
    """The API's merge, then the auto-merge: each time ?status=merged lists the pair and the
    dashboard counts it; undo gives the pair back as it was (open) and it leaves "merged"."""
    from danhba.conftest import actor_for
    from danhba.quality.models import Merge
    from danhba.quality.services.merge import undo_merge

    admin = client_for(users["admin"])
    names = {Contact.objects.get(pk=pair.contact_a_id).full_name, Contact.objects.get(pk=pair.contact_b_id).full_name}
    assert _merged_shown(admin, pair.pk)[2] == 0
    response = admin.post(f"/api/quality/duplicates/{pair.pk}/merge", "{}", content_type="application/json")
    assert response.status_code == 200, response.content
    ids, page, count = _merged_shown(admin, pair.pk)
    assert ids == [pair.pk] and count == 1
    assert all(name in page for name in names)
    item = admin.get("/api/quality/duplicates?status=merged").json()["items"][0]
    assert item["status"] == "merged" and {item["contact_a"]["id"], item["contact_b"]["id"]} == set(pair.as_key())
    assert admin.get("/api/quality/duplicates?status=open").json()["items"] == []

    undo_merge(actor_for(users["admin"]), Merge.objects.get())
    back = DuplicatePair.objects.get(pk=pair.pk)
    assert back.status == DuplicatePair.Status.OPEN and back.probability == pair.probability
    ids, page, count = _merged_shown(admin, pair.pk)
    assert ids == [] and count == 0

    duplicates.settings_update(actor=actor_for(users["admin"]), review_threshold=0.8, auto_merge_threshold=0.9)
    assert duplicates.auto_merge() == 1
    ids, page, count = _merged_shown(admin, pair.pk)
    assert ids == [pair.pk] and count == 1
    undo_merge(actor_for(users["admin"]), Merge.objects.filter(status=Merge.Status.DONE).get())
    assert DuplicatePair.objects.get(pk=pair.pk).status == DuplicatePair.Status.OPEN
    assert _merged_shown(admin, pair.pk)[0] == []


def test_settings_and_runs(client_for: Any, users: Any) -> None:
    admin = client_for(users["admin"])
    assert (
        admin.post("/quality/duplicates/settings/", {"review_percent": 90, "auto_merge_percent": 80}).status_code == 422
    )
    assert (
        admin.post("/quality/duplicates/settings/", {"review_percent": 85, "auto_merge_percent": ""}).status_code == 302
    )
    assert duplicates.settings_get().review_threshold == 0.85
    assert admin.post("/quality/duplicates/runs", {"kind": "predict"}).status_code == 302
    assert DuplicateRun.objects.get().kind == "predict"
    page = admin.get("/quality/duplicates/settings/").content.decode()
    assert "every 3s" in page  # the page follows the run's progress
    assert client_for(users["sales"]).get("/quality/duplicates/settings/").status_code == 403
    assert client_for(users["analyst"]).post("/quality/duplicates/runs", {"kind": "train"}).status_code == 403


def test_vietnamese_pages(client_for: Any, users: Any, pair: DuplicatePair) -> None:
    client = client_for(users["admin"])
    for url in ("/quality/duplicates/", f"/quality/duplicates/{pair.pk}/", "/quality/duplicates/settings/"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="vi").content.decode()
        for english in ("Not a duplicate", "Match probability", "Settings and runs", "same words in another order"):
            assert english not in page, (url, english)
    detail = client.get(f"/quality/duplicates/{pair.pk}/", HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Không trùng" in detail and "15/08/1992" in detail


def test_identity_evidence_is_told_in_the_queue(client_for: Any, users: Any, make_contact: Any) -> None:
    from danhba.tracking.models import SuspectedDuplicate

    a = make_contact(full_name="Phạm Minh Tuấn", emails=["tuan@example.vn"])
    b = make_contact(full_name="Phạm Minh Tuấn", phones=["0933 444 555"])
    SuspectedDuplicate.objects.create(contact_a=a, contact_b=b, reason="email", details={"email": "tuan@example.vn"})
    duplicates.suspected_absorb()
    page = client_for(users["admin"]).get("/quality/duplicates/").content.decode()
    assert "An event gave the email of another contact" in page
