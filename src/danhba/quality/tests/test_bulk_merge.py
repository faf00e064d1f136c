"""Bulk merge of a reviewed set: a background job with progress, resumable, by role."""

from __future__ import annotations

import re
from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.quality.models import BulkMerge, DuplicatePair, Merge
from danhba.quality.services.bulk import bulk_merge_run, bulk_merge_start, selection_groups

pytestmark = pytest.mark.django_db


def test_a_set_is_merged_by_the_job_and_a_failure_is_recorded(admin: Any, make_contact: Any) -> None:
    a, b, c, d = (make_contact(full_name=n) for n in "ABCD")
    job = bulk_merge_start(
        actor=actor_for(admin), groups=[{"survivor": a.pk, "others": [b.pk]}, {"survivor": c.pk, "others": [999_999]}]
    )
    bulk_merge_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.position, job.merged, job.failed) == ("done", 2, 1, 1)
    assert job.results[0]["survivor"] == c.pk and job.results[0]["error"]
    assert not Contact.objects.filter(pk=b.pk).exists()
    assert Contact.objects.filter(pk__in=[a.pk, c.pk, d.pk]).count() == 3
    assert Merge.objects.filter(survivor_id=a.pk).count() == 1


def test_a_job_stopped_midway_goes_on_from_where_it_stopped(admin: Any, make_contact: Any) -> None:
    people = [make_contact(full_name=f"P{i}") for i in range(6)]
    groups = [{"survivor": people[i].pk, "others": [people[i + 1].pk]} for i in (0, 2, 4)]
    job = bulk_merge_start(actor=actor_for(admin), groups=groups)
    BulkMerge.objects.filter(pk=job.pk).update(position=1, status="running")  # the first was done before a crash
    bulk_merge_run(job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.merged == 2
    assert Contact.objects.filter(pk=people[1].pk).exists()  # not redone: the position had passed it
    assert not Contact.objects.filter(pk__in=[people[3].pk, people[5].pk]).exists()


def test_bad_sets_and_roles_are_refused(users: dict[str, Any], make_contact: Any) -> None:
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    with pytest.raises(PermissionDenied):
        bulk_merge_start(actor=actor_for(users["support"]), groups=[{"survivor": a.pk, "others": [b.pk]}])
    for groups in ([], [{"survivor": a.pk}], [{"survivor": a.pk, "others": [a.pk]}], "x",
                   [{"survivor": a.pk, "others": [b.pk]}, {"survivor": b.pk, "others": [a.pk]}]):  # fmt: skip
        with pytest.raises(InvalidInput):
            bulk_merge_start(actor=actor_for(users["admin"]), groups=groups)


def test_api_and_progress_page(
    admin: Any, make_contact: Any, client_for: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(
            "/api/quality/bulk-merges",
            {"groups": [{"survivor": a.pk, "others": [b.pk]}]},
            content_type="application/json",
        )
    assert made.status_code == 202, made.content
    job_id = made.json()["id"]
    got = client.get(f"/api/quality/bulk-merges/{job_id}").json()
    assert (got["status"], got["done"], got["merged"]) == ("done", 1, 1)
    page = client.get(f"/quality/bulk-merges/{job_id}/")
    assert page.status_code == 200 and "1 of 1" in page.content.decode()
    assert f"/quality/bulk-merges/{job_id}/" in client.get("/quality/merges/").content.decode()
    bad = client.post("/api/quality/bulk-merges", {"groups": [{"survivor": a.pk}]}, content_type="application/json")
    assert bad.status_code == 422


def _pair(a: Any, b: Any, probability: float = 0.97) -> DuplicatePair:
    low, high = sorted((a.pk, b.pk))
    return DuplicatePair.objects.create(contact_a_id=low, contact_b_id=high, probability=probability, match_weight=9.0)


def test_selected_pairs_sharing_a_contact_are_one_merge_and_closed_pairs_are_left_out(
    admin: Any, make_contact: Any
) -> None:
    a, b, c, d, e = (make_contact(full_name=n) for n in ("An", "An N", "Nguyen An", "Binh", "Binh T"))
    ab, bc, de = _pair(a, b), _pair(b, c), _pair(d, e)
    closed = _pair(a, d, 0.81)
    DuplicatePair.objects.filter(pk=closed.pk).update(status=DuplicatePair.Status.NOT_DUPLICATE)
    selection = selection_groups(actor=actor_for(admin), pair_ids=[ab.pk, bc.pk, de.pk, closed.pk])
    assert selection.pairs == 3 and selection.merged_away == 3
    assert [(g["survivor"], g["others"]) for g in selection.groups] == [(a.pk, [b.pk, c.pk]), (d.pk, [e.pk])]
    assert [s["pair"] for s in selection.skipped] == [closed.pk]


def test_merge_selected_on_the_queue_previews_then_runs_as_a_bulk_merge(
    admin: Any, make_contact: Any, client_for: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    a, b, c, d = (make_contact(full_name=n) for n in ("Lê Văn Hùng", "Le Van Hung", "Phạm Thu", "Pham Thu"))
    first, second = _pair(a, b), _pair(c, d)
    client = client_for(admin)
    queue = client.get("/quality/duplicates/").content.decode()
    assert f'name="pair" value="{first.pk}"' in queue and "Merge selected" in queue

    preview = client.post("/quality/duplicates/bulk-merge", {"pair": [first.pk, second.pk]})
    text = preview.content.decode()
    counts = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text.split('id="bulk-merge-counts"')[1].split("</dl>")[0]))
    assert preview.status_code == 200
    assert "Pairs selected 2 Merges to run 2 Contacts merged into another 2" in counts
    assert "Le Van Hung" in text and Contact.objects.filter(pk__in=[b.pk, d.pk]).count() == 2  # nothing merged yet

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/quality/duplicates/bulk-merge", {"pair": [first.pk, second.pk], "confirm": "1"})
    job = BulkMerge.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/quality/bulk-merges/{job.pk}/"
    job.refresh_from_db()
    assert (job.status, job.merged) == ("done", 2)
    assert not Contact.objects.filter(pk__in=[b.pk, d.pk]).exists()
    assert Merge.objects.filter(survivor_id__in=[a.pk, c.pk]).count() == 2


def test_merge_selected_through_the_api_and_by_role(
    users: dict[str, Any], make_contact: Any, client_for: Any, huey_immediate: None,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    a, b = make_contact(full_name="A"), make_contact(full_name="B")
    pair = _pair(a, b)
    support = client_for(users["support"])
    refused = support.post("/api/quality/duplicates/bulk-merge", {"pairs": [pair.pk]}, content_type="application/json")
    assert refused.status_code == 403 and Contact.objects.filter(pk=b.pk).exists()
    admin = client_for(users["admin"])  # the same test client, logged in again
    preview = admin.post("/api/quality/duplicates/bulk-merge/preview", {"pairs": [pair.pk, 999_999]},
                         content_type="application/json").json()  # fmt: skip
    assert (preview["pairs"], preview["merges"], preview["merged_away"]) == (1, 1, 1)
    assert preview["groups"] == [{"survivor": a.pk, "others": [b.pk], "pairs": [pair.pk]}]
    assert [s["pair"] for s in preview["skipped"]] == [999_999]
    none = admin.post("/api/quality/duplicates/bulk-merge", {"pairs": [999_999]}, content_type="application/json")
    assert none.status_code == 409
    with django_capture_on_commit_callbacks(execute=True):
        made = admin.post("/api/quality/duplicates/bulk-merge", {"pairs": [pair.pk]}, content_type="application/json")
    assert made.status_code == 202, made.content
    assert admin.get(f"/api/quality/bulk-merges/{made.json()['id']}").json()["merged"] == 1
    assert not Contact.objects.filter(pk=b.pk).exists()
