"""A workflow version's steps as a checked graph (pure: no writes).

The JSON::

    {"start": "s1",
     "steps": {"s1": {"kind": "update_field", "params": {...}, "next": "s2"},
               "s2": {"kind": "wait", "params": {"seconds": 3600}, "next": "s3"},
               "s3": {"kind": "branch", "params": {"branches": [{"condition": TREE, "next": "s4"}],
                                                   "otherwise": "s5"}}, ...},
     "goal": TREE | null, "exit": TREE | null}

``TREE`` is a segment condition tree (``segments/conditions.py``). Checked here: the shape (a
pydantic schema), each step's params by its kind (``kinds.STEP_KINDS``), every arrow points at a
step, no cycles (a path always ends), every step reachable, and the conditions as segments
check them. Errors come back by path, as the API and the editor show them."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from danhba.automation.kinds import STEP_KINDS, StepKind
from danhba.core.errors import InvalidInput

MAX_STEPS = 100
STEP_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=30)
    params: dict[str, Any] = Field(default_factory=dict)
    next: str = Field(default="", max_length=40)
    # Where the editor draws the box (optional).
    label: str = Field(default="", max_length=200)


class GraphIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(max_length=40)
    steps: dict[str, StepIn]
    goal: dict[str, Any] | None = None
    exit: dict[str, Any] | None = None


def _pydantic_errors(exc: ValidationError, prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        errors.setdefault(where or prefix, []).append(str(err["msg"]))
    return errors


def params_of(kind: StepKind, params: dict[str, Any]) -> Any:
    """A step's params as its kind's model (already checked when the version was published)."""
    return kind.params.model_validate(params)


def exits_of(kind: StepKind, step: dict[str, Any]) -> list[tuple[str, str]]:
    """Every arrow out of a step: (label, target)."""
    out = [("", step["next"])] if step.get("next") else []
    return out + [(label, target) for label, target in kind.exits(params_of(kind, step.get("params", {}))) if target]


def _check_steps(graph: GraphIn, errors: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    for step_id, step in graph.steps.items():
        where = f"steps.{step_id}"
        if not STEP_ID.match(step_id):
            errors.setdefault(where, []).append(_("A step id is 1–40 letters, digits, '-' or '_'."))
            continue
        kind = STEP_KINDS.get(step.kind)
        if kind is None:
            errors.setdefault(f"{where}.kind", []).append(_("Unknown kind of step: %s") % step.kind)
            continue
        try:
            params = kind.params.model_validate(step.params)
        except ValidationError as exc:
            for key, messages in _pydantic_errors(exc, f"{where}.params").items():
                errors.setdefault(key, []).extend(messages)
            continue
        problems = kind.check(params)
        if problems:
            errors.setdefault(f"{where}.params", []).extend(problems)
            continue
        params = kind.stored(params)
        steps[step_id] = {**step.model_dump(), "params": params.model_dump(mode="json")}
    return steps


def _check_arrows(graph: GraphIn, steps: dict[str, dict[str, Any]], errors: dict[str, list[str]]) -> None:
    if graph.start not in graph.steps:
        errors.setdefault("start", []).append(_("The first step must be one of the steps."))
        return
    arrows: dict[str, list[str]] = {}
    for step_id, step in steps.items():
        kind = STEP_KINDS.get(step["kind"])
        assert kind is not None
        targets = [target for _label, target in exits_of(kind, step)]
        for target in targets:
            if target not in graph.steps:
                missing = _("No step called %(value)s.") % {"value": target}
                errors.setdefault(f"steps.{step_id}.next", []).append(missing)
        arrows[step_id] = [t for t in targets if t in graph.steps]
    if errors:
        return
    _check_cycles_and_reach(graph.start, arrows, errors)


def _check_cycles_and_reach(start: str, arrows: dict[str, list[str]], errors: dict[str, list[str]]) -> None:
    # Depth-first from the start: a step met again on the current path is a cycle.
    seen: set[str] = set()
    on_path: set[str] = set()
    stack: list[tuple[str, int]] = [(start, 0)]
    while stack:
        node, i = stack.pop()
        if i == 0:
            if node in on_path:
                continue
            seen.add(node)
            on_path.add(node)
        targets = arrows.get(node, [])
        if i < len(targets):
            stack.append((node, i + 1))
            target = targets[i]
            if target in on_path:
                errors.setdefault(f"steps.{node}.next", []).append(_("This arrow makes a loop: a path must end."))
                return
            if target not in seen:
                stack.append((target, 0))
        else:
            on_path.discard(node)
    for step_id in arrows:
        if step_id not in seen:
            errors.setdefault(f"steps.{step_id}", []).append(_("No path leads to this step."))


def _check_condition(tree: dict[str, Any] | None, where: str, user: Any, errors: dict[str, list[str]]) -> Any:
    if tree is None:
        return None
    from danhba.segments.conditions import clean

    try:
        return clean(tree, user=user)
    except InvalidInput as exc:
        errors.setdefault(where, []).extend(_flat(exc.details))
        return None


def _check_branches(steps: dict[str, dict[str, Any]], user: Any, errors: dict[str, list[str]]) -> None:
    """Each branch's condition as segments check it for the author: a field, event or order
    their role may not read is refused (the branch would tell them what it holds). The cleaned
    tree (values typed) is what the version keeps."""
    for step_id, step in steps.items():
        for n, arm in enumerate(step["params"].get("branches") or []):
            if isinstance(arm, dict) and isinstance(arm.get("condition"), dict):
                where = f"steps.{step_id}.params.branches.{n}.condition"
                cleaned = _check_condition(arm["condition"], where, user, errors)
                if cleaned is not None:
                    arm["condition"] = cleaned


def _flat(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [f"{k}: {m}" for k, v in errors.items() for m in _flat(v)]
    if isinstance(errors, list):
        return [str(m) for m in errors]
    return [str(errors)]


def graph_clean(raw: Any, *, user: Any = None) -> dict[str, Any]:
    """The checked graph, or InvalidInput with the errors by path."""
    if not isinstance(raw, dict):
        raise InvalidInput({"graph": [_("The steps must be a JSON object.")]})
    try:
        graph = GraphIn.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_pydantic_errors(exc, "")) from None
    errors: dict[str, list[str]] = {}
    if not graph.steps:
        errors["steps"] = [_("A workflow needs at least one step.")]
    elif len(graph.steps) > MAX_STEPS:
        errors["steps"] = [_("A workflow has at most %d steps.") % MAX_STEPS]
    if errors:
        raise InvalidInput(errors)
    steps = _check_steps(graph, errors)
    if not errors:
        _check_arrows(graph, steps, errors)
    _check_branches(steps, user, errors)
    goal = _check_condition(graph.goal, "goal", user, errors)
    exit_ = _check_condition(graph.exit, "exit", user, errors)
    if errors:
        raise InvalidInput(errors)
    return {"start": graph.start, "steps": steps, "goal": goal, "exit": exit_}


def step_label(step_id: str, step: dict[str, Any] | None) -> str:
    """How the editor names a step in a "go to" choice: its label, else its kind, then its id
    (the diagram's box says the same)."""
    step = step or {}
    kind = STEP_KINDS.get(str(step.get("kind", "")))
    name = str(step.get("label") or (kind.label if kind else step.get("kind")) or "").strip()
    return f"{name} ({step_id})" if name else step_id


def step_choices(steps: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The steps a "go to" may name, as (id, label) pairs, in the order given."""
    return [(step_id, step_label(step_id, step)) for step_id, step in steps.items()]


def conditions_in(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Every condition tree a graph uses (goal, exit, branches): what a reader must be allowed
    to see to read the workflow."""
    trees = [t for t in (graph.get("goal"), graph.get("exit")) if t]
    for step in graph.get("steps", {}).values():
        for arm in step.get("params", {}).get("branches", []) or []:
            if isinstance(arm, dict) and arm.get("condition"):
                trees.append(arm["condition"])
    return trees


def arm_at(graph: dict[str, Any], at: str) -> tuple[dict[str, Any] | None, str, str, bool]:
    """The condition a place of the graph holds, with its branch's label and next step, and
    whether it is a branch: ``goal``, ``exit``, ``<step>.<n>`` (a branch's arm n) or
    ``<step>.new`` (an arm to add). None when there is no such place."""
    if at in ("goal", "exit"):
        return graph.get(at), "", "", False
    step_id, _sep, arm = at.rpartition(".")
    step = graph.get("steps", {}).get(step_id)
    if not step or step.get("kind") != "branch":
        raise LookupError(at)
    arms = step.get("params", {}).get("branches") or []
    if arm == "new":
        return None, "", "", True
    if not arm.isascii() or not arm.isdigit() or int(arm) >= len(arms):
        raise LookupError(at)
    chosen = arms[int(arm)]
    return chosen.get("condition"), str(chosen.get("label", "")), str(chosen.get("next", "")), True


def with_arm(
    graph: dict[str, Any], at: str, tree: dict[str, Any] | None, *, label: str = "", next_step: str = ""
) -> dict[str, Any]:
    """A copy of the graph with the condition at ``at`` (see :func:`arm_at`) set, or removed when
    ``tree`` is None (a branch's arm; the goal or exit condition)."""
    import copy

    arm_at(graph, at)  # raises LookupError for a place that is not there
    out = copy.deepcopy(graph)
    if at in ("goal", "exit"):
        out[at] = tree
        return out
    step_id, _sep, arm = at.rpartition(".")
    arms = out["steps"][step_id]["params"]["branches"]
    if tree is None:
        if arm != "new":
            arms.pop(int(arm))
        return out
    new = {"condition": tree, "next": next_step, "label": label}
    if arm == "new":
        arms.append(new)
    else:
        arms[int(arm)] = new
    return out
