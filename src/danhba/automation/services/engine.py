"""The engine: run the steps that are due.

A worker **claims** due enrolments (a token and a lease through ``core.claims``: PostgreSQL
``FOR UPDATE SKIP LOCKED``, SQLite one IMMEDIATE transaction), groups
them by version and step, and runs each group as a batch. For a step that changes danhba's own
data the effects, the :class:`StepRun` rows (unique per enrolment and ``seq``) and the move to
the next step are **one transaction**, which first locks the enrolments that are still this
worker's: a crash rolls everything back and the step runs again when the lease ends; a worker
that lost its claim (lease over, taken over) writes nothing. A step that calls out (a webhook)
runs before that transaction and carries the idempotency key ``enrolment-seq``: a crash between
the call and the commit repeats the call with the same key, never a different one.

The clock is an argument (``now``) everywhere, so tests move time forward."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from danhba.automation.graph import params_of
from danhba.automation.kinds import STEP_KINDS, Item, Outcome, StepContext, StepKind
from danhba.automation.models import Enrolment, StepRun, Workflow, WorkflowVersion
from danhba.automation.services.counts import counts_add, new_deltas, shard_of
from danhba.automation.windows import next_open
from danhba.core import claims
from danhba.core.bulk import Table
from danhba.core.deferred import writes_at_end

log = logging.getLogger(__name__)

BATCH = 500
LEASE = dt.timedelta(seconds=120)
MAX_ATTEMPTS = 5
# A paused workflow's due enrolments look again this much later.
PAUSED_RECHECK = dt.timedelta(minutes=5)
Status = Enrolment.Status


@dataclass
class RunStats:
    claimed: int = 0
    steps: int = 0
    errors: int = 0


def retry_delay(attempt: int) -> dt.timedelta:
    return dt.timedelta(seconds=30 * 2 ** max(0, attempt - 1))


def _claim(*, token: str, now: dt.datetime, limit: int) -> list[tuple[int, int, str]]:
    """Take up to ``limit`` due enrolments nobody holds (or whose holder's lease ran out), the
    earliest due first (``core.claims``: the one owner of claims by token and lease): their
    ids, versions and steps (a step moves only under a claim, so these stay true)."""
    due = Enrolment.objects.filter(status=Status.ACTIVE, due_at__lte=now)
    fields = ("pk", "version_id", "step")
    rows = claims.claim(due, token=token, lease=LEASE, limit=limit, fields=fields, order_by=("due_at",), now=now)
    return [(int(pk), int(version_id), str(step)) for pk, version_id, step in rows]


def _release(ids: Sequence[int], token: str, **fields: Any) -> None:
    Enrolment.objects.filter(pk__in=list(ids), claim=token).update(claim="", claimed_until=None, **fields)


def _mine(ids: Sequence[int], token: str) -> list[dict[str, Any]]:
    """Inside the writing transaction: the enrolments still held by this worker, locked."""
    rows = (
        Enrolment.objects.select_for_update()
        .filter(pk__in=list(ids), claim=token, status=Status.ACTIVE)
        .order_by("pk")
        .values("pk", "contact_id", "seq", "state", "due_at", "attempt", "step", "version_id", "workflow_id")
    )
    return [dict(row) for row in rows]


def run_due(*, now: dt.datetime | None = None, max_batches: int | None = None, batch: int = BATCH) -> RunStats:
    """Run what is due, batch after batch, until nothing is (or ``max_batches``)."""
    stats = RunStats()
    token = secrets.token_hex(16)
    batches = 0
    while max_batches is None or batches < max_batches:
        moment = now or timezone.now()
        claimed = _claim(token=token, now=moment, limit=batch)
        if not claimed:
            break
        batches += 1
        stats.claimed += len(claimed)
        _run_claimed(claimed, token=token, now=moment, stats=stats)
    return stats


def _run_claimed(claimed: list[tuple[int, int, str]], *, token: str, now: dt.datetime, stats: RunStats) -> None:
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for pk, version_id, step in claimed:
        groups[(version_id, step)].append(pk)
    versions = {v.pk: v for v in WorkflowVersion.objects.filter(pk__in={k[0] for k in groups})}
    workflows = {w.pk: w for w in Workflow.objects.filter(pk__in={v.workflow_id for v in versions.values()})}
    for (version_id, step_id), members in groups.items():
        version = versions[version_id]
        workflow = workflows[version.workflow_id]
        try:
            _run_group(workflow, version, step_id, members, token=token, now=now, stats=stats)
        except Exception:
            # The group's transaction rolled back; its enrolments are tried again later.
            log.exception("workflow %s step %s: the batch failed", workflow.pk, step_id)
            stats.errors += len(members)
            _group_failed(members, token, now, _exc_text())


def _group_failed(ids: list[int], token: str, now: dt.datetime, text: str) -> None:
    """A batch failed outside the per-contact guard: each enrolment counts an attempt, waits
    its back-off (``retry_delay`` of that attempt) and fails at ``MAX_ATTEMPTS``, the error kept."""
    rows = Enrolment.objects.filter(pk__in=ids, claim=token).values_list("pk", "attempt")
    by_attempt: dict[int, list[int]] = defaultdict(list)
    for pk, attempt in rows:
        by_attempt[attempt + 1].append(pk)
    for attempt, pks in by_attempt.items():
        if attempt >= MAX_ATTEMPTS:
            _fail_all(pks, token, now, text)
        else:
            _release(pks, token, due_at=now + retry_delay(attempt), attempt=attempt, error=text)


def _run_group(
    workflow: Workflow, version: WorkflowVersion, step_id: str, ids: list[int], *, token: str, now: dt.datetime,
    stats: RunStats,
) -> None:  # fmt: skip
    step = version.step(step_id)
    kind = STEP_KINDS.get(step["kind"]) if step else None
    if step is None or kind is None:
        _fail_all(ids, token, now, f"unknown step {step_id!r}")
        stats.errors += len(ids)
        return
    if workflow.status == Workflow.Status.PAUSED:
        _release(ids, token, due_at=now + PAUSED_RECHECK)
        return
    if kind.windowed and workflow.window:
        opens = next_open(now, workflow.window)
        if opens > now:
            _release(ids, token, due_at=opens)
            return
    ctx = StepContext(
        now=now, workflow_id=workflow.pk, version_id=version.pk, step_id=step_id, step=step,
        params=params_of(kind, step.get("params", {})),
    )  # fmt: skip
    # Each transaction writes its counters last (core.deferred.writes_at_end): after the contacts its step
    # and the triggers the step fires lock.
    if kind.external:
        with transaction.atomic(), writes_at_end():
            items = _stopped(version, _mine(ids, token), ctx, token)
        outcomes = _outcomes(kind, ctx, items)
        with transaction.atomic(), writes_at_end():
            still = {row["pk"] for row in _mine([i.enrolment_id for i in items], token)}
            stats.steps += _apply(ctx, kind, [i for i in items if i.enrolment_id in still], outcomes, token)
        return
    with transaction.atomic(), writes_at_end():
        held = _mine(ids, token)
        items = _stopped(version, held, ctx, token)
        outcomes = _outcomes(kind, ctx, items)
        stats.steps += _apply(ctx, kind, items, outcomes, token)
    stats.errors += sum(1 for o in outcomes.values() if o.outcome == StepRun.Outcome.ERROR)


def _items(rows: list[dict[str, Any]]) -> list[Item]:
    return [
        Item(enrolment_id=r["pk"], contact_id=r["contact_id"], seq=r["seq"], state=r["state"] or {},
             due_at=r["due_at"], attempt=r["attempt"])
        for r in rows
    ]  # fmt: skip


def _stopped(version: WorkflowVersion, rows: list[dict[str, Any]], ctx: StepContext, token: str) -> list[Item]:
    """Goals and exit conditions, checked before each step: who meets one ends there (a
    StepRun says which); the others are returned to run the step."""
    items = _items(rows)
    ends = _ends(version, items, ctx.now)
    if not ends:
        return items
    stopping = [i for i in items if i.enrolment_id in ends]
    outcomes = {i.enrolment_id: _end_outcome(ends[i.enrolment_id]) for i in stopping}
    _apply(ctx, None, stopping, outcomes, token)
    return [i for i in items if i.enrolment_id not in ends]


def _ends(version: WorkflowVersion, items: list[Item], now: dt.datetime) -> dict[int, str]:
    """Enrolment id → the status it ends with: the goal met first, else the exit condition."""
    ends: dict[int, str] = {}
    for key, status in (("goal", Status.GOAL), ("exit", Status.EXITED)):
        tree = version.graph.get(key)
        if not tree or not items:
            continue
        from danhba.segments.compiler import matching

        left = [i.contact_id for i in items if i.enrolment_id not in ends]
        met = set(matching(tree, now=now, among=left).values_list("pk", flat=True)) if left else set()
        for item in items:
            if item.contact_id in met and item.enrolment_id not in ends:
                ends[item.enrolment_id] = status
    return ends


def _end_outcome(status: str) -> Outcome:
    return Outcome(end=status, outcome=StepRun.Outcome.GOAL if status == Status.GOAL else StepRun.Outcome.EXITED)


def _outcomes(kind: StepKind, ctx: StepContext, items: list[Item]) -> dict[int, Outcome]:
    """The step for the whole batch; if it raises, each enrolment alone (in a savepoint when
    inside the writing transaction), so one bad contact does not hold the others back."""
    if not items:
        return {}
    try:
        with _savepoint(kind):
            return kind.run(ctx, items)
    except Exception:
        if len(items) == 1:
            return {items[0].enrolment_id: _error(items[0], _exc_text())}
    out: dict[int, Outcome] = {}
    for item in items:
        try:
            with _savepoint(kind):
                out.update(kind.run(ctx, [item]))
        except Exception:
            out[item.enrolment_id] = _error(item, _exc_text())
    return out


def _savepoint(kind: StepKind) -> Any:
    from contextlib import nullcontext

    return nullcontext() if kind.external else transaction.atomic()


def _exc_text() -> str:
    import sys

    from danhba.core.errors import ServiceError

    exc = sys.exc_info()[1]
    log.warning("workflow step failed", exc_info=True)
    if isinstance(exc, ServiceError):
        return f"{exc.message} {json.dumps(exc.details, ensure_ascii=False, default=str)}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _error(item: Item, text: str) -> Outcome:
    return Outcome(outcome=StepRun.Outcome.ERROR, detail={"error": text, "attempt": item.attempt + 1})


def _fail_all(ids: Sequence[int], token: str, now: dt.datetime, text: str) -> None:
    _release(ids, token, status=Status.FAILED, due_at=None, finished_at=now, error=text[:500])


def _apply(ctx: StepContext, kind: StepKind | None, items: list[Item], outcomes: dict[int, Outcome], token: str) -> int:
    """Write the StepRun rows and move each enrolment on, in few statements: enrolments with
    the same move share one UPDATE. Returns the number of steps recorded."""
    runs: list[list[Any]] = []
    moves: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    move_of: dict[tuple[Any, ...], dict[str, Any]] = {}
    deltas = new_deltas()
    for item in items:
        outcome = outcomes.get(item.enrolment_id)
        if outcome is None:
            continue
        fields, run = _move(ctx, kind, item, outcome)
        if run is not None:
            runs.append([getattr(run, c) for c in _RUN_COLUMNS])
            deltas[run.step][run.outcome] += 1
        if "step" in fields:
            deltas[fields["step"]]["entered"] += 1
        key = _move_key(fields)
        moves[key].append(item.enrolment_id)
        move_of[key] = fields
    _insert_runs(runs)
    counts_add(version_id=ctx.version_id, deltas=deltas, shard=shard_of(token))
    for key, ids in moves.items():
        fields = dict(move_of[key])
        if fields.pop("_advance", False):
            fields["seq"] = F("seq") + 1
        if fields.pop("_retry", False):
            fields["attempt"] = F("attempt") + 1
        Enrolment.objects.filter(pk__in=ids, claim=token).update(claim="", claimed_until=None, **fields)
    return len(runs)


def _move_key(fields: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two moves the same UPDATE (a wait's state is a small dict: compared as JSON)."""
    return tuple(
        (k, (json.dumps(v, sort_keys=True, default=str) if v else "{}") if isinstance(v, dict) else v)
        for k, v in sorted(fields.items())
    )


_RUN_COLUMNS = ("enrolment_id", "seq", "step", "kind", "outcome", "next_step", "detail", "due_at", "at")


def _insert_runs(runs: list[list[Any]]) -> None:
    """Raw bulk insert (``core.bulk.Table``): the ORM's bulk_create spent more time building
    the statement than the database inserting (a profile of the benchmark). A duplicate
    (enrolment, seq) still fails on the unique constraint and rolls the group back."""
    if runs:
        Table(StepRun, _RUN_COLUMNS).insert(runs)


@dataclass(slots=True)
class _Run:
    """A StepRun row to insert (a plain object: a model instance per step cost more than the
    step itself in the benchmark's profile)."""

    enrolment_id: int
    seq: int
    step: str
    kind: str
    outcome: str
    detail: dict[str, Any]
    due_at: dt.datetime | None
    at: dt.datetime
    next_step: str = ""


def _move(ctx: StepContext, kind: StepKind | None, item: Item, outcome: Outcome) -> tuple[dict[str, Any], _Run | None]:
    now = ctx.now
    if outcome.outcome == StepRun.Outcome.ERROR:
        if item.attempt + 1 < MAX_ATTEMPTS:
            return {
                "_retry": True,
                "due_at": now + retry_delay(item.attempt + 1),
                "error": outcome.detail["error"],
            }, None
        outcome = Outcome(end=Status.FAILED, outcome=StepRun.Outcome.ERROR, detail=outcome.detail)
    run = _Run(
        enrolment_id=item.enrolment_id, seq=item.seq, step=ctx.step_id, kind=kind.key if kind else "",
        outcome=outcome.outcome, detail=outcome.detail, due_at=item.due_at, at=now,
    )  # fmt: skip
    base: dict[str, Any] = {"_advance": True, "attempt": 0, "error": ""}
    if outcome.end:
        run.next_step = ""
        error = str(outcome.detail.get("error", ""))[:500]
        return {
            **base,
            "status": outcome.end,
            "due_at": None,
            "finished_at": now,
            "waiting_for": "",
            "error": error,
        }, run
    if outcome.stay_until is not None and _same_wait(item, outcome):
        # Woken early (a goal check) and still waiting for the same time: no new run, same seq.
        return {"due_at": outcome.stay_until, "waiting_for": outcome.waiting_for}, None
    if outcome.stay_until is not None:
        run.outcome = outcome.outcome if outcome.outcome != StepRun.Outcome.DONE else StepRun.Outcome.WAITING
        run.next_step = ctx.step_id
        state = outcome.state or {}
        return {**base, "due_at": outcome.stay_until, "state": state, "waiting_for": outcome.waiting_for}, run
    target = outcome.next if outcome.next is not None else str(ctx.step.get("next") or "")
    run.next_step = target
    if not target:
        return {
            **base,
            "status": Status.COMPLETED,
            "due_at": None,
            "finished_at": now,
            "state": {},
            "waiting_for": "",
        }, run
    return {**base, "step": target, "due_at": now, "state": {}, "waiting_for": ""}, run


def _same_wait(item: Item, outcome: Outcome) -> bool:
    """A wait that had begun before (its state kept as it was) and goes on unchanged."""
    return bool(item.state) and outcome.state == item.state and outcome.outcome == StepRun.Outcome.DONE


def next_due(*, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the earliest active enrolment is due (the index on due_at answers it)."""
    return (
        Enrolment.objects.filter(status=Status.ACTIVE, due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


# --- a test run: one contact, the clock moved forward, nothing kept ------------------------------

SIM_MAX_STEPS = 100
SIM_HORIZON = dt.timedelta(days=400)


@dataclass
class SimStep:
    """One step of a test run, as the engine would record it, and when."""

    seq: int
    at: dt.datetime
    step: str
    kind: str
    outcome: str
    next_step: str
    detail: dict[str, Any]
    # Until when the path stays at this step (a wait, a sending window), or None.
    until: dt.datetime | None = None


@dataclass
class Simulation:
    workflow_id: int
    version: int
    contact_id: int
    start: dt.datetime
    # How the path ended: an enrolment status, or "waiting" when it would still wait past the
    # horizon, "too_long" past SIM_MAX_STEPS.
    status: str = Status.ACTIVE
    steps: list[SimStep] = field(default_factory=list)


def simulate(
    *, workflow: Workflow, contact_id: int, start: dt.datetime, version: WorkflowVersion | None = None,
    events: Sequence[str] = (),
) -> Simulation:  # fmt: skip
    """Walk one contact through a workflow version as the engine would, moving the clock to each
    wait's end and each sending window's opening. The steps run for real inside one transaction
    that is always rolled back, so a branch sees what the steps before it changed, while nothing
    is kept and nothing leaves: queued emails and notices go only after a commit, and a step
    that calls out (a webhook) is not run but said. ``events``: the events the contact performs
    while a step waits for them (else that wait times out). Runs whether the workflow is a
    draft, active or paused."""
    version = version or workflow.current_version
    assert version is not None
    sim = Simulation(workflow_id=workflow.pk, version=version.number, contact_id=contact_id, start=start)
    with transaction.atomic():
        try:
            _walk(sim, workflow, version, set(events))
        finally:
            transaction.set_rollback(True)
    return sim


def _walk(sim: Simulation, workflow: Workflow, version: WorkflowVersion, events: set[str]) -> None:
    now, step_id = sim.start, str(version.graph["start"])
    item = Item(enrolment_id=0, contact_id=sim.contact_id, seq=0, state={}, due_at=now)
    while sim.status == Status.ACTIVE:
        if len(sim.steps) >= SIM_MAX_STEPS or now > sim.start + SIM_HORIZON:
            sim.status = "too_long" if len(sim.steps) >= SIM_MAX_STEPS else "waiting"
            return
        step = version.step(step_id)
        kind = STEP_KINDS.get(step["kind"]) if step else None
        if step is None or kind is None:
            sim.status = Status.FAILED
            return
        opens = next_open(now, workflow.window) if kind.windowed and workflow.window else now
        if opens > now:
            sim.steps.append(SimStep(item.seq, now, step_id, "window", StepRun.Outcome.WAITING, step_id, {}, opens))
            now = opens
        ctx = StepContext(
            now=now, workflow_id=workflow.pk, version_id=version.pk, step_id=step_id, step=step,
            params=params_of(kind, step.get("params", {})), dry_run=True,
        )  # fmt: skip
        item.due_at = now
        ends = _ends(version, [item], now)
        if ends:
            outcome = _end_outcome(ends[item.enrolment_id])
        elif kind.external:
            outcome = Outcome(detail={"not_called": True})
        else:
            outcome = _outcomes(kind, ctx, [item])[item.enrolment_id]
        fields, run = _move(ctx, None if ends else kind, item, outcome)
        if outcome.outcome == StepRun.Outcome.ERROR:
            sim.steps.append(SimStep(item.seq, now, step_id, kind.key, outcome.outcome, "", outcome.detail))
            sim.status = Status.FAILED
            return
        assert run is not None
        due = fields.get("due_at")
        until = due if run.outcome == StepRun.Outcome.WAITING else None
        sim.steps.append(SimStep(item.seq, now, step_id, run.kind, run.outcome, run.next_step, run.detail, until))
        item.seq += 1
        sim.status = fields.get("status", Status.ACTIVE)
        step_id = fields.get("step", step_id)
        item.state = fields.get("state", item.state)
        if fields.get("waiting_for") and fields["waiting_for"] in events:
            item.state, due = {**item.state, "seen": True}, now  # as triggers._events_seen wakes it
        now = max(now, due or now)
