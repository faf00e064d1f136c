from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from danhba.automation.models import Workflow
from danhba.automation.services.workflows import workflow_create, workflow_set_status
from danhba.conftest import actor_for

# A Tuesday, 10:00 in Hồ Chí Minh City (03:00 UTC): inside a weekday 08:00–20:00 window.
T0 = dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def tag_is(name: str) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "tag", "operator": "any", "tags": [name]}]}


def three_steps(wait: int = 3600) -> dict[str, Any]:
    """Update a field, wait, then tag by a branch (the benchmark's workflow)."""
    return {
        "start": "title",
        "steps": {
            "title": {"kind": "update_field", "params": {"field": "job_title", "value": "Khách quen"}, "next": "pause"},
            "pause": {"kind": "wait", "params": {"seconds": wait}, "next": "vip"},
            "vip": {
                "kind": "branch",
                "params": {"branches": [{"condition": tag_is("vip"), "next": "tag_vip"}], "otherwise": "tag_rest"},
            },
            "tag_vip": {"kind": "tag", "params": {"add": ["vip-nurtured"]}},
            "tag_rest": {"kind": "tag", "params": {"add": ["nurtured"]}},
        },
    }


@pytest.fixture
def make_workflow(admin: Any) -> Callable[..., Workflow]:
    def make(graph: dict[str, Any] | None = None, active: bool = True, **data: Any) -> Workflow:
        data.setdefault("name", "Chăm sóc khách")
        wf = workflow_create(actor=actor_for(admin), data={"graph": graph or three_steps(), **data})
        if active:
            wf = workflow_set_status(actor=actor_for(admin), workflow=wf, status=Workflow.Status.ACTIVE)
        return wf

    return make
