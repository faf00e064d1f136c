"""The sales world: a pipeline of four open stages and the two end stages, and a deal factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from danhba.automation.tests.conftest import make_workflow  # noqa: F401  (workflows with sales' steps)
from danhba.conftest import actor_for

# messaging's real SMTP server (aiosmtpd on a loopback port) receives the reminder emails.
from danhba.messaging.tests.conftest import smtp  # noqa: F401
from danhba.sales.models import Pipeline
from danhba.sales.services.deals import deal_create
from danhba.sales.services.pipelines import pipeline_create

STAGES = [
    {"name": "New", "probability": 10},
    {"name": "Qualified", "probability": 25},
    {"name": "Proposal", "probability": 50},
    {"name": "Negotiation", "probability": 75},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


@pytest.fixture
def pipeline(admin: Any) -> Pipeline:
    return pipeline_create(actor=actor_for(admin), data={"name": "B2B", "stages": STAGES})


@pytest.fixture
def stages(pipeline: Pipeline) -> dict[str, Any]:
    return {s.name: s for s in pipeline.stages.all()}


@pytest.fixture
def make_deal(admin: Any, pipeline: Pipeline) -> Callable[..., Any]:
    def make(user: Any = None, **data: Any) -> Any:
        data.setdefault("title", "Phần mềm kế toán")
        data.setdefault("pipeline_id", pipeline.pk)
        return deal_create(actor=actor_for(user or admin), data=data)

    return make
