"""Enrolments when contacts are merged (the quality app's merge; added to
``contacts.extensions.MERGE_TABLES`` in ``apps.py``): a contact is enrolled at most once at a
time per workflow, so where the survivor and a merged-away contact are both in progress in one
workflow, the survivor's enrolment goes on and the other exits (its history moves to the
survivor with the rest). Undo puts the exited ones back in progress, if they still are as the
merge left them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from danhba.automation.models import Enrolment

MERGE_EXIT = "merged into another contact"


def enrolments_merge(survivor_id: int, other_ids: list[int]) -> list[int]:
    active = Enrolment.Status.ACTIVE
    taken = set(Enrolment.objects.filter(contact_id=survivor_id, status=active).values_list("workflow_id", flat=True))
    exit_ids = []
    for pk, workflow_id in (
        Enrolment.objects.filter(contact_id__in=other_ids, status=active)
        .order_by("id")
        .values_list("pk", "workflow_id")
    ):
        if workflow_id in taken:
            exit_ids.append(pk)
        taken.add(workflow_id)
    Enrolment.objects.filter(pk__in=exit_ids).update(
        status=Enrolment.Status.EXITED, finished_at=timezone.now(), error=MERGE_EXIT
    )
    return exit_ids


def enrolments_unmerge(survivor_id: int, other_ids: list[int], exited: Any) -> None:
    """Back in progress, due when they were (a wait keeps its deadline)."""
    rows = Enrolment.objects.filter(pk__in=exited or [], status=Enrolment.Status.EXITED, error=MERGE_EXIT)
    rows.update(status=Enrolment.Status.ACTIVE, finished_at=None, error="")
