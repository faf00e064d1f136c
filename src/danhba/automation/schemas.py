"""Pydantic schemas of the automation API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import Field


class WorkflowIn(Schema):
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=5000)
    trigger: dict[str, Any] = Field(default_factory=lambda: {"kind": "manual"})
    reenrol: str = Field(default="once", max_length=5)
    window: dict[str, Any] = Field(default_factory=dict)
    graph: dict[str, Any] | None = None


class WorkflowMoveIn(Schema):
    rule: Literal["keep", "same_step", "to_step"] = Field(
        default="keep",
        description="keep: contacts under way finish the version they started; same_step: they move to the step "
        "of the same id in the new version (those at a step it no longer has finish theirs); to_step: all move "
        "to `step`, which runs for them now.",
    )
    step: str = Field(default="", max_length=40, description="to_step: a step id of the new version.")


class WorkflowPatch(Schema):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    trigger: dict[str, Any] | None = None
    reenrol: str | None = Field(default=None, max_length=5)
    window: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    base_version: int | None = Field(
        default=None, ge=1, le=2**31,
        description="The version `graph` was made from: refused (409) when a newer one was published since.",
    )  # fmt: skip
    move: WorkflowMoveIn | None = Field(default=None, description="What becomes of the contacts under way.")


class WorkflowStatusIn(Schema):
    status: str = Field(max_length=10)


class WorkflowOut(Schema):
    id: int
    name: str
    description: str
    status: str
    trigger: dict[str, Any]
    reenrol: str
    window: dict[str, Any]
    version: int | None
    graph: dict[str, Any] | None
    enrolments: dict[str, int]
    created_at: dt.datetime
    updated_at: dt.datetime


class WorkflowPage(Schema):
    items: list[WorkflowOut]
    next_cursor: str | None


class WorkflowVersionOut(Schema):
    number: int
    graph: dict[str, Any]
    created_at: dt.datetime
    step_counts: dict[str, dict[str, int]]


class WorkflowVersionList(Schema):
    items: list[WorkflowVersionOut]


class EnrolIn(Schema):
    contact_ids: list[Any] = Field(min_length=1, max_length=100_000)


class EnrolOut(Schema):
    enrolled: int


class StepRunOut(Schema):
    seq: int
    step: str
    kind: str
    outcome: str
    next_step: str
    detail: dict[str, Any]
    due_at: dt.datetime | None
    at: dt.datetime


class EnrolmentOut(Schema):
    id: int
    workflow_id: int
    workflow_name: str
    version: int
    contact_id: int
    status: str
    step: str
    due_at: dt.datetime | None
    attempt: int
    error: str
    enrolled_at: dt.datetime
    finished_at: dt.datetime | None
    path: list[StepRunOut] | None = None


class EnrolmentPage(Schema):
    items: list[EnrolmentOut]
    next_cursor: str | None


class KindOut(Schema):
    key: str
    label: str
    params_schema: dict[str, Any]


class KindsOut(Schema):
    steps: list[KindOut]
    triggers: list[KindOut]


class PlaybookEmailOut(Schema):
    key: str
    title: str
    subject: str


class PlaybookOut(Schema):
    key: str
    name: str
    description: str
    outline: list[str]
    trigger: dict[str, Any]
    steps: int
    emails: list[PlaybookEmailOut]
    tags: list[str]
    # Why it cannot be installed on this site ("" when it can).
    missing: str


class PlaybookList(Schema):
    items: list[PlaybookOut]


class PlaybookInstallIn(Schema):
    # The score model whose "hot" grade starts the hot-lead playbook (default: the first that has one).
    score_model: int | None = Field(default=None, ge=1, le=2**62)


class PlaybookInstalledOut(Schema):
    workflow: WorkflowOut
    templates: list[int]
    tags: list[str]


class WorkflowTestIn(Schema):
    contact_id: int = Field(ge=1, le=2**62)
    # The simulated clock starts here (default: now); waits move it forward.
    start: dt.datetime | None = None
    # Events the contact performs while a step waits for them (else the wait times out).
    events: list[str] = Field(default_factory=list, max_length=20)
    # A version number (default: the current one).
    version: int | None = Field(default=None, ge=1, le=2**31)


class WorkflowTestStepOut(Schema):
    seq: int
    at: dt.datetime
    step: str
    kind: str
    label: str
    outcome: str
    next_step: str
    detail: dict[str, Any]
    until: dt.datetime | None
    summary: str


class WorkflowTestOut(Schema):
    workflow_id: int
    version: int
    contact_id: int
    start: dt.datetime
    # completed, goal, exited, failed; "waiting" (still waiting past a year), "too_long".
    status: str
    status_label: str
    steps: list[WorkflowTestStepOut]
