"""Reads of automation that span models: per-step counts, a contact's enrolments and path."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from danhba.automation.models import Enrolment, StepRun, Workflow, WorkflowVersion
from danhba.automation.playbooks import Context, Playbook, all_playbooks
from danhba.core.errors import InvalidInput


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
    return status_counts_of([workflow_id]).get(workflow_id, {})


def status_counts_of(workflow_ids: list[int]) -> dict[int, dict[str, int]]:
    """Enrolments by status of each of these workflows (a page of a list): one grouped query."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Enrolment.objects.filter(workflow_id__in=workflow_ids).values("workflow_id", "status").annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["workflow_id"]][row["status"]] = row["n"]
    return dict(counts)


def kinds() -> list[dict[str, Any]]:
    """The step kinds with the JSON schema of their settings (the editor's help)."""
    import json

    from danhba.automation.kinds import STEP_KINDS

    return [
        {"key": k.key, "label": k.label, "schema": json.dumps(k.params.model_json_schema().get("properties", {}))}
        for k in STEP_KINDS
    ]


def describe_trigger(workflow: Workflow) -> str:
    from danhba.automation.kinds import TRIGGER_KINDS

    kind = TRIGGER_KINDS.get(workflow.trigger_kind or "manual")
    label = str(kind.label) if kind else workflow.trigger_kind
    rest = {k: v for k, v in (workflow.trigger or {}).items() if k != "kind"}
    return f"{label} {rest}" if rest else label


def diagram(version: WorkflowVersion, walked: Enrolment | None = None) -> list[dict[str, Any]]:
    """The boxes of the flow diagram, the first step first and each step after the ones that
    lead to it (the graph has no loops), with their arrows, counts and — for one enrolment —
    whether its path went through them."""
    from danhba.automation.graph import exits_of
    from danhba.automation.kinds import STEP_KINDS

    steps: dict[str, Any] = version.graph.get("steps", {})
    counts = step_counts(version)
    seen = set(walked.runs.values_list("step", flat=True)) if walked else set()
    order: list[str] = []
    queue = [version.graph["start"]]
    while queue:
        sid = queue.pop(0)
        if sid in order or sid not in steps:
            continue
        order.append(sid)
        kind = STEP_KINDS.get(steps[sid]["kind"])
        queue.extend(t for _l, t in (exits_of(kind, steps[sid]) if kind else []))
    boxes = []
    for sid in order:
        step = steps[sid]
        kind = STEP_KINDS.get(step["kind"])
        arrows = exits_of(kind, step) if kind else []
        boxes.append(
            {
                "id": sid,
                "kind": str(kind.label) if kind else step["kind"],
                "params": step.get("params", {}),
                "arrows": [{"label": label, "to": target} for label, target in arrows],
                "counts": counts.get(sid, {}),
                "walked": sid in seen,
                "here": walked is not None and walked.status == Enrolment.Status.ACTIVE and walked.step == sid,
            }
        )
    return boxes


def trigger_kinds() -> list[dict[str, Any]]:
    """The trigger kinds with an example of their settings (the editor's help)."""
    import json

    from danhba.automation.kinds import TRIGGER_KINDS

    return [
        {"key": k.key, "label": k.label, "example": json.dumps(k.example, ensure_ascii=False) if k.example else ""}
        for k in TRIGGER_KINDS
    ]


# --- playbooks ----------------------------------------------------------------------------------


def playbook_context(*, score_model: Any = None) -> Context:
    """What the site holds that a playbook may use: a score model with a "hot" grade (the one
    named, else the first active one that has it), and the active email topics."""
    from danhba.privacy.models import ConsentPurpose
    from danhba.scoring.models import ScoreModel

    ctx = Context()
    models = ScoreModel.objects.filter(is_active=True).order_by("pk")
    if score_model not in (None, ""):
        models = models.filter(pk=_int(score_model, "score_model"))
    for model in models:
        hot = [g["key"] for g in model.grades or [] if str(g.get("key", "")).lower() == "hot"]
        if hot:
            ctx.score_model, ctx.hot_grade = model.pk, hot[0]
            break
    ctx.topics = [
        (key, name_vi or name)
        for key, name, name_vi in ConsentPurpose.objects.filter(email_topic=True, is_active=True)
        .order_by("position", "key")
        .values_list("key", "name", "name_vi")
    ]
    return ctx


def _int(value: Any, name: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidInput({name: [_("must be a whole number")]}) from None
    if number < 1:
        raise InvalidInput({name: [_("must be a whole number")]})
    return number


def playbooks_available(ctx: Context | None = None) -> list[tuple[Playbook, str]]:
    """Every playbook with why it cannot be installed here ("" when it can)."""
    ctx = ctx or playbook_context()
    return [(book, book.missing(ctx)) for book in all_playbooks()]
