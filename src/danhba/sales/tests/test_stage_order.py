"""Reordering a pipeline's stages: by the up / down buttons (keyboard, no script), by the API
(a whole order, or one step), and by drag and drop in a real browser. Deals stay in their
stages; a wrong order is a 422 with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.audit.models import AuditEvent
from danhba.sales.models import Deal, Stage

pytestmark = pytest.mark.django_db


def names(pipeline: Any) -> list[str]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id").values_list("name", flat=True))


def test_up_and_down_buttons_move_a_stage(client_for: Any, admin: Any, pipeline: Any, stages: Any) -> None:
    web = client_for(admin)
    page = web.get("/sales/settings/").content.decode()
    assert "Move Qualified up" in page
    answer = web.post(f"/sales/settings/stages/{stages['Qualified'].pk}/move/", {"step": "-1"})
    assert answer.status_code == 302 and answer["Location"].endswith(f"#pipeline-{pipeline.pk}")
    assert names(pipeline)[:3] == ["Qualified", "New", "Proposal"]
    web.post(f"/sales/settings/stages/{stages['Qualified'].pk}/move/", {"step": "1"})
    assert names(pipeline)[:3] == ["New", "Qualified", "Proposal"]
    assert AuditEvent.objects.filter(object_type="pipeline", changes__has_key="stage_order").count() == 2


def test_the_api_puts_stages_in_order_and_refuses_a_wrong_list(
    client_for: Any, admin: Any, users: Any, pipeline: Any, stages: Any, make_deal: Any
) -> None:
    deal = make_deal(title="Ở lại", stage_id=stages["Proposal"].pk)
    api = client_for(admin)
    order = [stages[n].pk for n in ("Proposal", "New", "Qualified", "Negotiation", "Won", "Lost")]
    answer = api.post(f"/api/sales/pipelines/{pipeline.pk}/stages/order", {"stage_ids": order},
                      content_type="application/json")  # fmt: skip
    assert answer.status_code == 200
    assert [s["name"] for s in answer.json()["stages"]] == [
        "Proposal",
        "New",
        "Qualified",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert Deal.objects.get(pk=deal.pk).stage_id == stages["Proposal"].pk
    for bad in (order[:-1], [*order, order[0]], [*order[:-1], 999999]):
        wrong = api.post(f"/api/sales/pipelines/{pipeline.pk}/stages/order", {"stage_ids": bad},
                         content_type="application/json")  # fmt: skip
        assert wrong.status_code == 422 and "stage_ids" in wrong.json()["details"]
    step = api.post(f"/api/sales/stages/{stages['Won'].pk}/move", {"step": 1}, content_type="application/json")
    assert [s["name"] for s in step.json()["stages"]][-2:] == ["Lost", "Won"]
    assert api.post("/api/sales/stages/999999/move", {"step": 1}, content_type="application/json").status_code == 404
    rep = client_for(users["sales"])
    assert rep.post(f"/api/sales/stages/{stages['Won'].pk}/move", {"step": -1},
                    content_type="application/json").status_code == 403  # fmt: skip
    assert rep.post(f"/sales/settings/stages/{stages['Won'].pk}/move/", {"step": "-1"}).status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_drag_a_stage_above_another(live_server: Any, users: Any, pipeline: Any, stages: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from danhba.core.tests.browser import log_in

    base = live_server.url
    log_in(page, base, users["admin"].email)
    page.goto(f"{base}/sales/settings/")
    item = page.locator(f".stage-item[data-stage='{stages['Negotiation'].pk}']")
    target = page.locator(f".stage-item[data-stage='{stages['New'].pk}']")
    expect(item).to_be_visible()
    item.drag_to(target, target_position={"x": 10, "y": 2})
    page.wait_for_load_state("load")
    expect(page.locator(".stage-item").first).to_contain_text("Negotiation")
    assert names(pipeline)[:2] == ["Negotiation", "New"]
    assert page.evaluate("() => window.__csp || []") == []
