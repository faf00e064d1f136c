"""Reads of automation that span models: per-step counts, a contact's enrolments and path."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
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
    """Per step of a version: how many runs ended in each outcome and how many enrolments
    entered it (the counters the writes keep, ``services/counts.py``), how many are at it now
    ("at") and how many are being tried again after an error ("retrying"), from the active
    enrolments: the editor's entered / waiting / completed / errored."""
    from danhba.automation.services.counts import counts_of

    counts: dict[str, dict[str, int]] = defaultdict(dict, counts_of(version.pk))
    active = Enrolment.objects.filter(version=version, status=Enrolment.Status.ACTIVE).values("step")
    for row in active.annotate(n=Count("id")):
        counts[row["step"]]["at"] = row["n"]
    for row in active.filter(attempt__gt=0).annotate(n=Count("id")):
        counts[row["step"]]["retrying"] = row["n"]
    return dict(counts)


def step_counts_kept(version: WorkflowVersion) -> dict[str, dict[str, int]]:
    """The counters only (``step_counts`` without the live "at" and "retrying"), zeros left out."""
    out = {s: {k: v for k, v in c.items() if k not in ("at", "retrying")} for s, c in step_counts(version).items()}
    return {s: c for s, c in out.items() if c}


def step_counts_recount(version: WorkflowVersion) -> dict[str, dict[str, int]]:
    """What the counters should hold, counted from every row as the diagram did before them
    (for checks: the tests, the benchmark): the runs by outcome; entered = the enrolments with
    a run at the step (a path visits a step once) and those at it without one yet."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    runs = StepRun.objects.filter(enrolment__version=version).values("step")
    for row in runs.values("step", "outcome").annotate(n=Count("id")):
        counts[row["step"]][row["outcome"]] += row["n"]
    for row in runs.annotate(n=Count("enrolment_id", distinct=True)):
        counts[row["step"]]["entered"] += row["n"]
    ran_here = StepRun.objects.filter(enrolment=OuterRef("pk"), step=OuterRef("step"))
    active = Enrolment.objects.filter(version=version, status=Enrolment.Status.ACTIVE).values("step")
    for row in active.filter(~Exists(ran_here)).annotate(n=Count("id")):
        counts[row["step"]]["entered"] += row["n"]
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


def diagram(
    version: WorkflowVersion, walked: Enrolment | None = None, walked_steps: set[str] | None = None
) -> list[dict[str, Any]]:
    """The boxes of the flow diagram, the first step first and each step after the ones that
    lead to it (the graph has no loops), with their arrows, counts and — for one enrolment, or
    the steps of a test run — whether the path went through them."""
    from danhba.automation.graph import exits_of
    from danhba.automation.kinds import STEP_KINDS

    steps: dict[str, Any] = version.graph.get("steps", {})
    counts = step_counts(version)
    seen = set(walked.runs.values_list("step", flat=True)) if walked else set(walked_steps or ())
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
            ctx.cold_grade = str(model.grades[0]["key"])  # grades are kept lowest first
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


# --- a test run, told step by step ---------------------------------------------------------------


def _when(moment: Any) -> str:
    from django.utils import formats, timezone

    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _branch_why(params: dict[str, Any], detail: dict[str, Any]) -> str:
    from danhba.segments.conditions import describe

    arms = params.get("branches") or []
    taken = detail.get("branch")
    if isinstance(taken, int) and 0 <= taken < len(arms):
        arm = arms[taken]
        return _("Took “%(label)s”: the contact meets %(condition)s.") % {
            "label": arm.get("label") or str(taken + 1), "condition": describe(arm["condition"]),
        }  # fmt: skip
    if not arms:
        return _("Took “otherwise”.")
    return _("Took “otherwise”: the contact meets none of %(conditions)s.") % {
        "conditions": "; ".join(describe(a["condition"]) for a in arms)
    }


def _email_why(detail: dict[str, Any]) -> str:
    state, reason = str(detail.get("email", "")), str(detail.get("reason", ""))
    if state in ("queued", "sent", "already_sent"):
        return _("The email would be sent (not in a test).")
    from danhba.messaging.models import Send

    label = Send.Reason(reason).label if reason in Send.Reason.values else reason or state or "?"
    return _("The email would not be sent: %(reason)s.") % {"reason": label}


def _wait_why(kind: str, params: dict[str, Any], run: Any) -> str:
    if kind == "window":
        return _("Outside the sending window: waits until %(when)s.") % {"when": _when(run.until)}
    if kind == "wait_event":
        if run.until is not None:
            return _("Waits for “%(event)s” until %(when)s.") % {"event": params.get("event"), "when": _when(run.until)}
        if run.detail.get("timed_out"):
            return _("“%(event)s” did not happen in time: the time-out path.") % {"event": params.get("event")}
        return _("“%(event)s” happened.") % {"event": params.get("event")}
    if run.until is not None:
        return _("Waits until %(when)s.") % {"when": _when(run.until)}
    return _("The wait is over.")


def _step_why(step: dict[str, Any], run: Any, kind: Any) -> str:
    """What a step of a test run did (or would do), and why the path went where it did."""
    params = step.get("params") or {}
    if run.outcome == StepRun.Outcome.GOAL:
        return _("Reached the goal: the path ends here.")
    if run.outcome == StepRun.Outcome.EXITED:
        return _("Meets the exit condition: the path ends here.")
    if run.outcome == StepRun.Outcome.ERROR:
        return _("The step failed: %(error)s") % {"error": run.detail.get("error", "")}
    if run.kind in ("window", "wait", "wait_event"):
        return _wait_why(run.kind, params, run)
    if run.kind == "branch":
        return _branch_why(params, run.detail)
    if run.kind == "email":
        return _email_why(run.detail)
    if run.detail.get("not_called"):
        return _("Would call %(url)s (not called in a test).") % {"url": params.get("url", "")}
    if run.kind == "update_field":
        return _("Sets %(field)s to “%(value)s”.") % {"field": params.get("field"), "value": params.get("value")}
    if run.kind == "tag":
        return _("Tags: adds %(add)s; removes %(remove)s.") % {
            "add": ", ".join(params.get("add") or []) or "—", "remove": ", ".join(params.get("remove") or []) or "—",
        }  # fmt: skip
    described = kind.describe(kind.params.model_validate(params)) if kind else ""
    return f"{kind.label if kind else run.kind}: {described}" if described else str(kind.label if kind else run.kind)


def dry_run_steps(sim: Any, version: WorkflowVersion) -> list[dict[str, Any]]:
    """The steps of a test run (``engine.simulate``) with a sentence each: what the step does,
    which branch and why, until when it waits."""
    from danhba.automation.kinds import STEP_KINDS

    steps: dict[str, Any] = version.graph.get("steps", {})
    rows = []
    for run in sim.steps:
        step = steps.get(run.step, {})
        kind = STEP_KINDS.get(step.get("kind", ""))
        rows.append(
            {
                "seq": run.seq, "at": run.at, "step": run.step, "kind": run.kind,
                "label": str(kind.label) if kind and run.kind != "window" else _("Sending window"),
                "outcome": run.outcome, "next_step": run.next_step, "detail": run.detail, "until": run.until,
                "summary": _step_why(step, run, kind),
            }
        )  # fmt: skip
    return rows


def dry_run_status(status: str) -> str:
    if status == "waiting":
        return _("still waiting a year on")
    if status == "too_long":
        from danhba.automation.services.engine import SIM_MAX_STEPS

        return _("stopped after %d steps") % SIM_MAX_STEPS
    return str(Enrolment.Status(status).label) if status in Enrolment.Status.values else status


# --- the editor's conditions, read out ------------------------------------------------------------


def branch_arms(graph: dict[str, Any] | None, step_id: str) -> list[dict[str, Any]] | None:
    """A branch step's arms as the editor lists them (each condition in words, and where the
    builder edits it), or None when the step is not a saved branch."""
    from danhba.segments.conditions import describe

    step = (graph or {}).get("steps", {}).get(step_id)
    if not step or step.get("kind") != "branch":
        return None
    return [
        {"at": f"{step_id}.{n}", "label": arm.get("label") or str(n + 1), "next": arm.get("next", ""),
         "text": describe(arm["condition"])}
        for n, arm in enumerate(step.get("params", {}).get("branches", []))
    ]  # fmt: skip


def goal_and_exit(graph: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The goal and exit conditions in words (the editor's links to the builder)."""
    from danhba.segments.conditions import describe

    if not graph:
        return []
    return [
        {"at": "goal", "label": _("Goal"), "text": describe(graph["goal"]) if graph.get("goal") else ""},
        {"at": "exit", "label": _("Exit condition"), "text": describe(graph["exit"]) if graph.get("exit") else ""},
    ]
