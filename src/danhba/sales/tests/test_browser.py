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


def test_board_and_my_day_fit_a_phone_in_vietnamese(
    live_server: Any, users: Any, stages: Any, make_deal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from django.utils import timezone

    from danhba.conftest import actor_for
    from danhba.core.tests.browser import PHONE, Problems, chromium, overflow, settle
    from danhba.sales.services.tasks import task_create

    admin = users["admin"]
    admin.language = "vi"
    admin.save(update_fields=["language"])
    for i in range(6):
        make_deal(title=f"Cơ hội số {i} với tên khá dài để xuống dòng", value=1_234_567 * (i + 1))
    task_create(actor=actor_for(admin), data={"title": "Gọi lại", "due_at": timezone.now() - dt.timedelta(hours=1)})
    with chromium(monkeypatch, viewport=PHONE, has_touch=True) as ctx:
        page = ctx.new_page()
        problems = Problems(page)
        log_in(page, live_server.url, admin.email)
        for path in ("/sales/", "/sales/deals/", "/sales/reports/", "/sales/today/"):
            page.goto(live_server.url + path)
            settle(page)
            assert overflow(page) == [], path
            assert problems.take() == [], path
        page.goto(live_server.url + "/sales/")
        assert "1.234.567 ₫" in page.content()
