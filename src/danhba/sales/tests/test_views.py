"""The sales pages: the board with a column per stage and a move menu per card (the keyboard
path), moving to the lost stage asks for the reason on the deal page, the deal page's history,
the list's filters, the reports' charts, the contact page's panel, Vietnamese money and dates,
and a role without deals turned away."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from danhba.accounts.models import Role
from danhba.sales.models import Deal, LostReason

pytestmark = pytest.mark.django_db


def test_board_move_by_menu_and_lost_asks_for_a_reason(
    client_for: Any, users: Any, stages: Any, make_deal: Any, make_contact: Any
) -> None:
    lan = make_contact(full_name="Trần Thị Lan")
    deal = make_deal(user=users["sales"], value=1_234_567, expected_close="2027-02-05", primary_contact_id=lan.pk)
    client = client_for(users["sales"])
    board = client.get("/sales/")
    assert board.status_code == 200
    html = board.content.decode()
    assert f'data-stage="{stages["Proposal"].pk}"' in html and 'draggable="true"' in html
    assert "1,234,567 ₫" in html and "sales/board.js" in html
    moved = client.post(f"/sales/deals/{deal.pk}/move/", {"stage_id": stages["Proposal"].pk, "next": "/sales/"})
    assert moved.status_code == 302 and moved["Location"] == "/sales/"
    assert Deal.objects.get(pk=deal.pk).stage == stages["Proposal"]
    to_lost = client.post(f"/sales/deals/{deal.pk}/move/", {"stage_id": stages["Lost"].pk})
    assert to_lost.status_code == 302 and to_lost["Location"].endswith(f"/sales/deals/{deal.pk}/#lost")
    timing = LostReason.objects.get(key="timing").pk
    no_note = client.post(f"/sales/deals/{deal.pk}/move/", {"stage_id": stages["Lost"].pk, "lost_reason_id": timing})
    assert no_note.status_code == 422 and "Say in a note what happened." in no_note.content.decode()
    lost = {"stage_id": stages["Lost"].pk, "note": "Q3", "lost_reason_id": timing}
    done = client.post(f"/sales/deals/{deal.pk}/move/", lost)
    assert done.status_code == 302 and Deal.objects.get(pk=deal.pk).status == "lost"
    page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert page.count("<li><strong>") == 3 and "Timing — Q3" in page
    contact_page = client.get(f"/contacts/{lan.pk}/").content.decode()
    assert 'id="deals-panel"' in contact_page and deal.title in contact_page


def test_a_full_column_counts_all_its_deals_and_links_to_the_rest(
    client_for: Any, admin: Any, stages: Any, make_deal: Any, monkeypatch: Any
) -> None:
    """The board shows the newest cards of a column; its count and value are of every deal in
    the stage (they were of the shown cards only), and a link opens the list at that stage."""
    from danhba.sales import views

    monkeypatch.setattr(views, "BOARD_CARDS", 3)
    for i in range(5):
        make_deal(title=f"Đơn {i}", value=1_000_000)
    make_deal(title="Đề xuất", value=7_000_000, stage_id=stages["Proposal"].pk)
    client = client_for(admin)
    html = client.get("/sales/").content.decode()
    first = stages["Proposal"].pipeline.stages.order_by("position").first()
    assert "· 5 · 5,000,000 ₫" in html and "· 1 · 7,000,000 ₫" in html
    assert html.count('class="board-card"') == 4
    link = f"/sales/deals/?pipeline_id={first.pipeline_id}&amp;stage_id={first.pk}"
    assert link in html and "2 more deals in the list" in html
    listed = client.get(link.replace("&amp;", "&")).content.decode()
    assert all(f"Đơn {i}" in listed for i in range(5)) and "Đề xuất" not in listed


def test_list_reports_vietnamese_and_roles(client_for: Any, users: Any, stages: Any, make_deal: Any) -> None:
    make_deal(title="Web deal", value=2_500_000, source="web", expected_close="2027-03-01",
              stage_id=stages["Negotiation"].pk)  # fmt: skip
    make_deal(title="Fair deal", value=1, source="fair")
    client = client_for(users["admin"])
    listed = client.get("/sales/deals/?source=web").content.decode()
    assert "Web deal" in listed and "Fair deal" not in listed
    assert client.get("/sales/deals/?cursor=garbage").status_code == 200
    reports = client.get("/sales/reports/").content.decode()
    assert "<svg" in reports and "1,875,000 ₫" in reports  # 2,500,000 × 75 %
    with translation.override("vi"):
        client.cookies["django_language"] = "vi"
        users["admin"].language = "vi"
        users["admin"].save()
        vi = client.get("/sales/deals/").content.decode()
    assert "2.500.000 ₫" in vi and "01/03/2027" in vi and "Cơ hội bán hàng" in vi
    role = Role.objects.get(key="support")
    role.permissions = {k: v for k, v in role.permissions.items() if k != "deal"}
    role.save()
    support = client_for(users["support"])
    assert support.get("/sales/").status_code == 403
    assert support.post(f"/sales/deals/{Deal.objects.first().pk}/move/", {"stage_id": 1}).status_code == 403


def test_admins_manage_pipelines_and_lost_reasons_on_a_page(client_for: Any, users: Any) -> None:
    from danhba.sales.models import Pipeline

    client = client_for(users["admin"])
    assert client.get("/sales/settings/").status_code == 200
    bad = client.post("/sales/settings/", {"add_pipeline": "1", "name": "Retail", "stages": "New | 150"})
    assert bad.status_code == 422 and "must be a whole number from 0 to 100" in bad.content.decode()
    made = client.post("/sales/settings/", {"add_pipeline": "1", "name": "Retail", "stages": "New | 10\nOffer | 60"})
    assert made.status_code == 302
    assert [(s.name, s.probability, s.kind) for s in Pipeline.objects.get(name="Retail").stages.all()] == [
        ("New", 10, "open"), ("Offer", 60, "open"), ("Won", 100, "won"), ("Lost", 0, "lost"),
    ]  # fmt: skip
    assert (
        client.post("/sales/settings/", {"add_reason": "1", "name": "Bad fit", "name_vi": "Không hợp"}).status_code
        == 302
    )
    reason = LostReason.objects.get(key="bad-fit")
    client.post(f"/sales/settings/reasons/{reason.pk}/toggle/")
    assert LostReason.objects.get(pk=reason.pk).is_active is False
    rep = client_for(users["sales"])
    assert rep.post(f"/sales/settings/reasons/{reason.pk}/toggle/").status_code == 403
    assert rep.post("/sales/settings/", {"add_reason": "1", "name": "Mine"}).status_code == 403
