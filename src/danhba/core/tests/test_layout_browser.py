"""Layout in a real browser: the phone menu, the contact list as cards and thumb-sized controls
on a phone, the contact list fitting a 1366 px screen, and the CSS defects a new user met
(invisible category chips, a misaligned checkbox column, truncated dropdowns)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from danhba.core.tests.browser import DESKTOP, PHONE, chromium, log_in, settle
from danhba.core.tests.pages import load_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Visible controls in the page's content that are shorter than a thumb.
SMALL_CONTROLS_JS = """
() => [...document.querySelectorAll("main button, main .btn, main select, main textarea, main input")]
  .filter((el) => el.type !== "hidden" && el.offsetParent !== null && getComputedStyle(el).visibility !== "hidden")
  .map((el) => {
    const r = el.getBoundingClientRect();
    const box = el.type === "checkbox" || el.type === "radio";
    const label = el.name || el.getAttribute("aria-label") || el.textContent.trim().slice(0, 30);
    return {label: `${el.tagName.toLowerCase()} ${label}`, height: r.height, width: r.width, box};
  })
  .filter((c) => c.height < (c.box ? 20 : 40))
"""

# Options that do not fit in their closed select: the text is cut ("Only fill fields that are empt…").
CUT_OPTIONS_JS = """
() => {
  const canvas = document.createElement("canvas").getContext("2d");
  const cut = [];
  for (const select of document.querySelectorAll("main select")) {
    if (select.offsetParent === null || select.multiple) continue;
    const s = getComputedStyle(select);
    canvas.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    // Room for the text: the box less its padding and the arrow (about 20 px in Chromium).
    const room = select.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
    for (const option of select.options) {
      if (canvas.measureText(option.text).width > room) cut.push(`${select.name}: ${option.text}`);
    }
  }
  return cut;
}
"""


def test_phone_menu_is_a_button_that_opens_and_closes_by_keyboard(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    with chromium(monkeypatch, viewport=PHONE, has_touch=True) as ctx:
        page = ctx.new_page()
        log_in(page, live_server.url, admin.email)
        page.goto(live_server.url + reverse("contacts:list"))
        toggle = page.get_by_role("button", name="Menu")
        nav = page.get_by_role("navigation", name="Main menu")
        # The page itself starts on the first screen, not below a screenful of menu.
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(nav).to_be_hidden()
        assert page.locator("main h1").bounding_box()["y"] < PHONE["height"] / 3
        assert toggle.bounding_box()["height"] >= 40
        # Keyboard: Enter opens, Escape closes and gives the focus back, Space opens again.
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Segments")).to_be_visible()
        page.keyboard.press("Tab")
        expect(nav.get_by_role("link", name="Home")).to_be_focused()  # the first entry
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(nav).to_be_hidden()
        expect(toggle).to_be_focused()
        page.keyboard.press(" ")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        nav.get_by_role("link", name="Segments").click()
        page.wait_for_url("**/segments/")
        # On a desktop screen the menu is simply there.
        page.set_viewport_size(DESKTOP)
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("navigation", name="Main menu")).to_be_visible()


def test_phone_contact_list_is_cards_and_controls_fit_a_thumb(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = load_demo(admin, contacts=30)
    base = live_server.url
    with chromium(monkeypatch, viewport=PHONE, has_touch=True) as ctx:
        page = ctx.new_page()
        log_in(page, base, admin.email)
        page.goto(base + reverse("contacts:list"))
        settle(page)
        # Each contact is a card as wide as the screen, its values labelled by their column.
        assert page.locator(".contacts-table thead").is_hidden()
        first = page.locator(".contacts-table tbody tr").first
        box = first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert first.locator("td[data-label='Phone']").count() == 1
        assert page.evaluate("getComputedStyle(document.querySelector('.contacts-table tbody tr')).display") == "block"
        # Thumb-sized controls and full-width inputs on the list, a form and the segment builder.
        for url in (reverse("contacts:list"), reverse("contacts:create"), reverse("segments:create"),
                    reverse("segments:edit", args=[demo["segment"].pk])):  # fmt: skip
            page.goto(base + url)
            settle(page)
            assert page.evaluate(SMALL_CONTROLS_JS) == [], url
        page.goto(base + reverse("contacts:create"))
        field = page.locator("input[name=full_name]")
        assert field.bounding_box()["width"] >= page.locator("main .panel").first.bounding_box()["width"] * 0.8


@pytest.mark.parametrize("language", ["en", "vi"])
def test_contact_list_fits_a_1366_screen(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    load_demo(admin, contacts=60)
    admin.language = language
    admin.save(update_fields=["language"])
    with chromium(monkeypatch, viewport=DESKTOP) as ctx:
        page = ctx.new_page()
        log_in(page, live_server.url, admin.email)
        page.goto(live_server.url + reverse("contacts:list"))
        settle(page)
        assert page.locator(".contacts-table tbody tr").count() == 50
        # No column hides behind a horizontal scrollbar (at the bottom, after 50 rows).
        wrap = page.evaluate(
            "(() => { const w = document.querySelector('#results .table-wrap');"
            " return [w.scrollWidth, w.clientWidth]; })()"
        )
        assert wrap[0] <= wrap[1], wrap
        last = page.locator(".contacts-table thead th").last.bounding_box()
        assert last["x"] + last["width"] <= DESKTOP["width"]
        # Tags stay on one line each: "Khách sỉ", not "Khách" over "sỉ".
        heights = page.eval_on_selector_all(".contacts-table .tag", "els => els.map(e => e.getClientRects().length)")
        assert heights and set(heights) == {1}


def test_purchases_chips_show_and_checkbox_columns_align(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from danhba.orders.models import PurchaseStats

    demo = load_demo(admin, contacts=30)
    buyer = PurchaseStats.objects.filter(order_count__gt=0).order_by("contact_id").first()
    assert buyer is not None
    base = live_server.url
    with chromium(monkeypatch, viewport=DESKTOP) as ctx:
        page = ctx.new_page()
        log_in(page, base, admin.email)
        page.goto(base + reverse("contacts:detail", args=[buyer.contact_id]))
        chip = page.locator("#purchases .tag").first
        colours = chip.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
        assert colours[0] != colours[1] and colours[1] not in ("rgba(0, 0, 0, 0)", "transparent"), colours
        # The checkbox column lines up with its rows on the contact list and a list's members.
        for url in (reverse("contacts:list"), reverse("segments:detail", args=[demo["list"].pk])):
            page.goto(base + url)
            settle(page)
            cells = page.eval_on_selector_all(
                "tbody td.check",
                "els => els.map(td => [getComputedStyle(td).display,"
                " td.getBoundingClientRect().height - td.parentElement.getBoundingClientRect().height])",
            )
            assert cells and all(display == "table-cell" and abs(diff) < 1 for display, diff in cells), (url, cells)


def test_import_wizard_dropdowns_show_their_options_whole(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from danhba.conftest import actor_for
    from danhba.core.tests.pages import FIXTURES
    from danhba.ingest import services as imports

    draft = imports.import_create(actor=actor_for(admin), file=FIXTURES / "excel_cp1258.csv")
    with chromium(monkeypatch, viewport=DESKTOP) as ctx:
        page = ctx.new_page()
        log_in(page, live_server.url, admin.email)
        page.goto(live_server.url + reverse("ingest:detail", args=[draft.pk]))
        settle(page)
        assert page.locator("main select").count() > 3
        assert page.evaluate(CUT_OPTIONS_JS) == []


@pytest.mark.parametrize("language", ["en", "vi"])
def test_a_contact_page_fits_a_1366_screen_with_every_section_open(
    live_server: Any, admin: Any, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    """The consent ledger's table ran out of its panel in Vietnamese (the proof column cut off)."""
    from danhba.core.tests.browser import overflow
    from danhba.privacy.models import ConsentRecord

    load_demo(admin, contacts=30)
    consenting = ConsentRecord.objects.exclude(proof="").order_by("contact_id").first()
    assert consenting is not None
    admin.language = language
    admin.save(update_fields=["language"])
    with chromium(monkeypatch, viewport=DESKTOP) as ctx:
        page = ctx.new_page()
        log_in(page, live_server.url, admin.email)
        page.goto(live_server.url + reverse("contacts:detail", args=[consenting.contact_id]))
        settle(page)
        page.evaluate("() => document.querySelectorAll('main details').forEach((d) => { d.open = true; })")
        assert overflow(page) == []
