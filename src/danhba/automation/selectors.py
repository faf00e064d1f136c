"""Reads of automation that span models: per-step counts, a contact's enrolments and path."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet

from danhba.automation.models import Enrolment, StepRun, WorkflowVersion


def contact_enrolments(contact_id: int) -> QuerySet[Enrolment]:
    return (
        Enrolment.objects.filter(contact_id=contact_id)
        .select_related("workflow", "version")
        .order_by("-enrolled_at", "-id")
    )


def enrolment_path(enrolment: Enrolment) -> list[StepRun]:
    return list(enrolment.runs.order_by("seq"))


def step_counts(version: WorkflowVersion) -> dict[str, dict[str, int]]:
    """Per step of a version: how many runs ended in each outcome, and how many enrolments are
    at it now ("at"): the editor's entered / waiting / completed / errored."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in StepRun.objects.filter(enrolment__version=version).values("step", "outcome").annotate(n=Count("id")):
        counts[row["step"]][row["outcome"]] += row["n"]
    for row in (
        Enrolment.objects.filter(version=version, status=Enrolment.Status.ACTIVE).values("step").annotate(n=Count("id"))
    ):
        counts[row["step"]]["at"] += row["n"]
    return {step: dict(c) for step, c in counts.items()}


def status_counts(workflow_id: int) -> dict[str, int]:
    rows = Enrolment.objects.filter(workflow_id=workflow_id).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def describe_step(step: dict[str, Any]) -> str:
    from danhba.automation.kinds import STEP_KINDS

    kind = STEP_KINDS.get(step.get("kind", ""))
    return str(kind.label) if kind else step.get("kind", "")
