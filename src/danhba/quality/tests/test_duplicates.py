"""Duplicate detection: the real-time check flags a duplicate created through the API, the
reviewer's "not a duplicate" is remembered, the queue is sorted, filtered, paged and guarded by
role and record visibility, identity resolution's suspicions enter it, and a batch run finds
pairs with the stored model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.quality.models import DuplicatePair, DuplicateRun
from danhba.quality.services import duplicates

pytestmark = pytest.mark.django_db


def call(client: Any, method: str, path: str, data: Any = None) -> Any:
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(f"/api/quality{path}", body, content_type="application/json")


def create(client: Any, capture: Any, **data: Any) -> int:
    with capture(execute=True):
        response = client.post("/api/contacts", json.dumps(data), content_type="application/json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_a_duplicate_created_through_the_api_is_flagged_at_once(
    client_for: Any, users: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(users["admin"])
    first = create(
        client, django_capture_on_commit_callbacks, full_name="Nguyễn Văn Đức", phones=["0912 345 678"],
        emails=["duc.nguyen@gmail.com"], birthday="1990-04-03", province="Hà Nội",
    )  # fmt: skip
    create(client, django_capture_on_commit_callbacks, full_name="Trần Thị Hoa", phones=["0987 654 321"])
    second = create(
        client, django_capture_on_commit_callbacks, full_name="Duc Nguyen Van", phones=["+84 912.345.678"],
        emails=["duc.nguyen@gmial.com"], birthday="1990-03-04", province="Hà Nội",
    )  # fmt: skip
    pair = DuplicatePair.objects.get()
    assert (pair.contact_a_id, pair.contact_b_id) == (first, second)
    assert pair.found_by == DuplicatePair.FoundBy.REALTIME and pair.probability > 0.99
    body = call(client, "get", "/duplicates").json()
    assert [item["id"] for item in body["items"]] == [pair.pk]
    parts = {p["field"]: p for p in body["items"][0]["explanation"]["parts"]}
    assert parts["name"]["level_label"] == "same words in another order"
    assert parts["birthday"]["level_label"] == "day and month swapped"
    assert parts["email"]["level_label"] == "one or two characters differ"
    assert parts["phone"]["weight"] > 0 and parts["province"]["weight"] > 0
    # The waterfall ends at the pair's weight.
    assert body["items"][0]["explanation"]["parts"][-1]["end"] == pytest.approx(pair.match_weight, abs=1e-3)


def test_someone_else_with_the_same_name_is_not_flagged(
    client_for: Any, users: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(users["admin"])
    create(client, django_capture_on_commit_callbacks, full_name="Nguyễn Văn An", phones=["0912 000 111"],
           birthday="1985-01-20", province="Hà Nội")  # fmt: skip
    create(client, django_capture_on_commit_callbacks, full_name="Nguyễn Văn An", phones=["0977 222 333"],
           birthday="1999-11-02", province="Cần Thơ")  # fmt: skip
    assert not DuplicatePair.objects.filter(probability__gte=0.8).exists()


def _pair(make_contact: Any) -> tuple[Contact, Contact]:
    a = make_contact(full_name="Lê Thị Hồng", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    b = make_contact(full_name="Le Thi Hong", phones=["0903 111 222"], birthday="1992-08-15", province="Đà Nẵng")
    assert duplicates.pairs_check([b.pk]) == 1
    return a, b


def test_not_a_duplicate_is_remembered_and_never_suggested_again(
    client_for: Any, users: Any, make_contact: Any
) -> None:
    _a, b = _pair(make_contact)
    pair = DuplicatePair.objects.get()
    client = client_for(users["marketing"])
    response = call(client, "post", f"/duplicates/{pair.pk}/not-duplicate")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "not_duplicate"
    duplicates.pairs_check([b.pk])
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.NOT_DUPLICATE
    assert call(client, "get", "/duplicates").json()["items"] == []
    assert call(client, "post", f"/duplicates/{pair.pk}/not-duplicate").status_code == 409


def test_the_queue_answers_by_role_and_bad_input_is_4xx(client_for: Any, users: Any, make_contact: Any) -> None:
    _pair(make_contact)
    pair = DuplicatePair.objects.get()
    assert call(client_for(users["sales"]), "get", "/duplicates").status_code == 403
    support = client_for(users["support"])
    assert call(support, "get", "/duplicates").status_code == 200
    assert call(support, "post", f"/duplicates/{pair.pk}/not-duplicate").status_code == 403
    assert call(support, "get", "/duplicates?min_probability=2").status_code == 422
    assert call(support, "get", "/duplicates?status=maybe").status_code == 422
    assert call(support, "get", "/duplicates/999999").status_code == 404
    admin = client_for(users["admin"])
    bad = call(admin, "put", "/duplicates/settings", {"review_threshold": 0.9, "auto_merge_threshold": 0.6})
    assert bad.status_code == 422 and "auto_merge_threshold" in bad.json()["details"]
    good = call(admin, "put", "/duplicates/settings", {"review_threshold": 0.9, "auto_merge_threshold": None})
    assert good.status_code == 200 and good.json()["review_threshold"] == 0.9


def test_pairs_of_contacts_a_rep_may_not_open_are_hidden(users: Any, make_contact: Any) -> None:
    from danhba.quality.selectors import pair_get, queue

    _pair(make_contact)
    pair = DuplicatePair.objects.get()
    Contact.objects.filter(pk=pair.contact_b_id).update(owner=users["admin"])
    rep = users["sales"]
    assert pair_get(rep, pair.pk) is None and not queue(rep).exists()


def test_identity_resolutions_suspicions_enter_the_queue(make_contact: Any) -> None:
    from danhba.tracking.models import SuspectedDuplicate

    a = make_contact(full_name="Phạm Minh Tuấn", emails=["tuan@example.vn"])
    b = make_contact(full_name="Phạm Minh Tuấn", phones=["0933 444 555"])
    SuspectedDuplicate.objects.create(contact_a=a, contact_b=b, reason="email", details={"email": "tuan@example.vn"})
    assert duplicates.suspected_absorb() == 1
    pair = DuplicatePair.objects.get()
    assert pair.found_by == DuplicatePair.FoundBy.IDENTITY and set(pair.evidence) == {"email"}
    SuspectedDuplicate.objects.update(created_at=timezone.now() - duplicates.ABSORB_SETTLE)
    assert duplicates.suspected_absorb() == 1  # young: read again, the same one pair
    assert duplicates.suspected_absorb() == 0  # settled: the cursor passed it
    assert DuplicatePair.objects.count() == 1


def test_a_suspicion_committed_late_with_a_lower_id_is_not_skipped(make_contact: Any) -> None:
    """On PostgreSQL a writer holding id 5 can commit before one holding id 3: a cursor at 5
    would skip 3 for good. The cursor passes only rows old enough that no late commit is left."""
    from danhba.tracking.models import SuspectedDuplicate

    a, b, c = (make_contact(full_name="Lê Văn Hùng", phones=[f"0903 000 00{i}"]) for i in range(3))
    SuspectedDuplicate.objects.create(id=5, contact_a=a, contact_b=b, reason="phone")
    assert duplicates.suspected_absorb() == 1
    SuspectedDuplicate.objects.create(id=3, contact_a=a, contact_b=c, reason="phone")  # committed late
    duplicates.suspected_absorb()
    assert {(p.contact_a_id, p.contact_b_id) for p in DuplicatePair.objects.all()} == {(a.pk, b.pk), (a.pk, c.pk)}


def test_a_batch_run_finds_pairs_with_the_stored_model(users: Any, make_contact: Any) -> None:
    a = make_contact(full_name="Võ Thanh Tâm", phones=["0905 123 456"], birthday="1988-02-11", province="Huế")
    b = make_contact(
        full_name="Vo Thanh Tam", phones=["0905 123 457"], birthday="1988-02-11", province="Thừa Thiên Huế"
    )
    make_contact(full_name="Đặng Quốc Bảo", phones=["0916 765 432"])
    run = duplicates.run_start(actor=actor_for(users["admin"]), kind="predict")
    done = duplicates.run_execute(run.pk)
    assert done is not None and done.status == DuplicateRun.Status.DONE and done.progress == 1.0
    assert done.contacts == 3 and done.pairs_found == 1
    assert list(DuplicatePair.objects.values_list("contact_a_id", "contact_b_id", "cluster")) == [(a.pk, b.pk, a.pk)]
    assert duplicates.run_execute(run.pk) is None  # a repeated job does nothing
    with pytest.raises(Exception, match="at least"):
        duplicates.run_start(actor=actor_for(users["admin"]), kind="train")


@pytest.mark.django_db
def test_clusters_join_pairs_that_share_a_contact_and_follow_a_pair_closed(make_contact: Any) -> None:
    a, b, c, d, e = (make_contact(full_name=f"P{i}") for i in range(5))

    def pair(x: Any, y: Any) -> DuplicatePair:
        return DuplicatePair.objects.create(contact_a=x, contact_b=y, probability=0.9, match_weight=5.0, cluster=999)

    bc, ab, de, ce = pair(b, c), pair(a, b), pair(d, e), pair(c, e)
    assert duplicates.clusters_refresh() == 1
    assert set(DuplicatePair.objects.values_list("cluster", flat=True)) == {a.pk}
    DuplicatePair.objects.filter(pk=ce.pk).update(status=DuplicatePair.Status.NOT_DUPLICATE, cluster=None)
    assert duplicates.clusters_refresh() == 2
    clusters = dict(DuplicatePair.objects.filter(status="open").values_list("pk", "cluster"))
    assert clusters == {bc.pk: a.pk, ab.pk: a.pk, de.pk: d.pk}


def test_new_contacts_are_compared_with_the_newest_of_each_name_in_a_few_queries(
    make_contact: Any, monkeypatch: Any, django_assert_max_num_queries: Any
) -> None:
    from danhba.quality import selectors

    monkeypatch.setattr(selectors, "MAX_CANDIDATES", 2)
    older = [make_contact(full_name="Nguyễn Văn An").pk for _ in range(3)]
    swapped = make_contact(full_name="An Nguyễn Văn").pk
    others = [make_contact(full_name=f"Phạm Thị Hoa {i}").pk for i in range(40)]
    new = make_contact(full_name="Nguyen Van An").pk
    with django_assert_max_num_queries(4):
        found = selectors.candidates_of([new, *others])
    # The two newest with the same folded name (itself aside), and the one with the given name first.
    assert found[new] == {older[2], swapped}
    assert all(found[o] == set() for o in others)
