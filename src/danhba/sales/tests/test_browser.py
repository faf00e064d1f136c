"""The board in a real browser: a deal dragged onto another stage's column moves there (HTML5
drag events and the board's script, under the Content-Security-Policy), and the keyboard path
(the card's stage menu and Move) moves it on."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.core.tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_drag_a_deal_to_another_stage(live_server: Any, users: Any, stages: Any, make_deal: Any, page: Any) -> None:
    from playwright.sync_api import expect

    from danhba.sales.models import Deal

    deal = make_deal(title="Kéo thả", value=5_000_000)
    base = live_server.url
    log_in(page, base, users["admin"].email)
    page.goto(f"{base}/sales/")
    card = page.locator(f".board-card[data-deal='{deal.pk}']")
    target = page.locator(f".board-column[data-stage='{stages['Proposal'].pk}']")
    expect(card).to_be_visible()
    card.drag_to(target)
    page.wait_for_url(f"{base}/sales/")
    expect(target.locator(f".board-card[data-deal='{deal.pk}']")).to_be_visible()
    assert Deal.objects.get(pk=deal.pk).stage_id == stages["Proposal"].pk

    # By keyboard: focus the card's stage menu, choose a stage, press Move.
    menu = page.locator(f"#move-{deal.pk}")
    menu.focus()
    menu.select_option(str(stages["Negotiation"].pk))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/sales/")
    expect(page.locator(f".board-column[data-stage='{stages['Negotiation'].pk}'] .board-card")).to_have_count(1)
    assert page.evaluate("() => window.__csp || []") == []
