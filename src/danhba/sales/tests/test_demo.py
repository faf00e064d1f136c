"""The demo shows sales at work: a pipeline with deals at every stage, some won, some lost with a
reason and a note, and the reps' tasks; the board lists them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from danhba.sales.models import Deal, Pipeline, Stage, Task

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_pipeline_with_deals_won_lost_and_tasks(client_for: Any, users: Any) -> None:
    call_command("demo", contacts=300, stdout=io.StringIO())
    pipeline = Pipeline.objects.get()
    deals = Deal.objects.filter(pipeline=pipeline)
    kinds = set(deals.values_list("stage__kind", flat=True))
    assert kinds == {Stage.Kind.OPEN, Stage.Kind.WON, Stage.Kind.LOST}
    assert deals.filter(stage__kind=Stage.Kind.OPEN).values("stage").distinct().count() >= 3
    lost = deals.filter(stage__kind=Stage.Kind.LOST)
    assert all(d.lost_reason_id and d.lost_note for d in lost)
    assert all(d.owner_id for d in deals) and Task.objects.filter(deal__in=deals).exists()
    board = client_for(users["admin"]).get("/sales/").content.decode()
    assert deals.filter(stage__kind=Stage.Kind.OPEN).first().title in board
    # The sales team shares new leads by a round-robin rule: a lead created now gets a rep.
    from danhba.conftest import actor_for
    from danhba.contacts.services.contacts import contact_create
    from danhba.sales.models import AssignmentRule

    rule = AssignmentRule.objects.get()
    assert rule.team.name == "Kinh doanh" and rule.method == "round_robin"
    lead = contact_create(actor=actor_for(users["admin"]), data={"full_name": "Khách mới từ web"})
    lead.refresh_from_db()
    assert lead.owner is not None and lead.owner.team_id == rule.team_id
    assert "Khách mới chia lần lượt" in client_for(users["admin"]).get("/sales/assignment/").content.decode()
    # Loading again on a site that has deals adds none.
    call_command("demo", contacts=300, if_empty=True, stdout=io.StringIO())
    assert Deal.objects.count() == deals.count()
