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


def test_stage_history_says_how_long_in_vietnamese(client_for: Any, users: Any, make_deal: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from danhba.sales.models import DealStageChange

    deal = make_deal(title="Lâu")
    DealStageChange.objects.filter(deal=deal).update(entered_at=timezone.now() - timedelta(days=3, hours=2))
    users["admin"].language = "vi"
    users["admin"].save()
    client = client_for(users["admin"])
    client.cookies["django_language"] = "vi"
    with translation.override("vi"):
        page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "3 ngày" in page and "days" not in page


def test_notices_link_to_their_page_and_my_day_shows_the_unread_count(client_for: Any, users: Any) -> None:
    from danhba.sales.models import Notification

    rep = users["sales"]
    Notification.objects.create(user=rep, text="Lead mới: An", url="/contacts/7/")
    Notification.objects.create(user=rep, text="Evil", url="javascript:alert(1)")
    Notification.objects.create(user=users["admin"], text="Not the rep's", url="/x/")
    client = client_for(rep)
    page = client.get("/sales/today/").content.decode()
    assert '<a href="/contacts/7/">Lead mới: An</a>' in page
    assert "javascript:" not in page and "Not the rep" not in page
    assert 'id="unread-notices"' in page and ">2</span>" in page
    client.post("/sales/notices/read/")
    assert 'id="unread-notices"' not in client.get("/sales/today/").content.decode()


def test_a_deal_made_and_edited_on_pages_links_a_contact_company_owner_and_currency(
    client_for: Any, users: Any, pipeline: Any, make_contact: Any
) -> None:
    from danhba.contacts.models import Company

    an = make_contact(full_name="Trần Thị An", emails=["an@example.vn"])
    acme = Company.objects.create(name="Công ty Acme", name_key="cong ty acme")
    client = client_for(users["admin"])
    contact_page = client.get(f"/contacts/{an.pk}/").content.decode()
    assert f"/sales/deals/new/?contact={an.pk}" in contact_page
    form = client.get(f"/sales/deals/new/?contact={an.pk}").content.decode()
    assert f'value="#{an.pk} Trần Thị An · an@example.vn"' in form
    assert f"#{an.pk} Trần Thị An" in client.get("/sales/picks/contact/?contact=Tran").content.decode()
    assert f"#{acme.pk} Công ty Acme" in client.get("/sales/picks/company/?company=acme").content.decode()
    made = client.post("/sales/deals/new/", {
        "title": "Kế toán", "pipeline_id": pipeline.pk, "contact": f"#{an.pk} Trần Thị An", "company": f"#{acme.pk}",
        "value": "1000", "currency": "usd", "rate": "25000",
    })  # fmt: skip
    deal = Deal.objects.get(title="Kế toán")
    assert made.status_code == 302 and deal.primary_contact_id == an.pk and deal.company_id == acme.pk
    assert deal.value_vnd == 25_000_000 and deal.owner_id == users["admin"].pk
    assert "Trần Thị An" in client.get(f"/sales/deals/{deal.pk}/").content.decode()
    edited = client.post(f"/sales/deals/{deal.pk}/edit/", {
        "title": "Kế toán 2", "contact": "", "company": "", "owner_id": users["sales"].pk, "value": "10",
        "currency": "VND", "expected_close": "01/03/2027",
    })  # fmt: skip
    deal.refresh_from_db()
    assert edited.status_code == 302 and deal.title == "Kế toán 2" and deal.owner_id == users["sales"].pk
    assert deal.value_vnd == 10 and deal.company_id is None and str(deal.expected_close) == "2027-03-01"


def test_a_rep_cannot_link_a_contact_they_cannot_see(
    client_for: Any, users: Any, pipeline: Any, make_contact: Any, make_deal: Any
) -> None:
    hidden = make_contact(full_name="Người Khác", owner=users["admin"].pk)
    rep = client_for(users["sales"])
    assert "Người Khác" not in rep.get("/sales/picks/contact/?contact=Khac").content.decode()
    bad = rep.post("/sales/deals/new/", {"title": "X", "pipeline_id": pipeline.pk, "contact": f"#{hidden.pk}",
                                         "value": "0", "currency": "VND"})  # fmt: skip
    assert bad.status_code == 422 and "No such contact." in bad.content.decode()
    mine = make_deal(user=users["sales"], title="Của tôi")
    again = rep.post(f"/sales/deals/{mine.pk}/edit/", {"title": "Y", "contact": f"#{hidden.pk}", "value": "0",
                                                      "currency": "VND", "owner_id": users["sales"].pk})  # fmt: skip
    mine.refresh_from_db()
    assert again.status_code == 422 and mine.primary_contact_id is None and mine.title == "Của tôi"
    assert rep.get("/sales/picks/other/?q=x").status_code == 404


def test_a_task_added_from_a_deal_page_is_linked_and_listed(
    client_for: Any, users: Any, make_deal: Any, make_contact: Any
) -> None:
    from danhba.sales.models import Task

    an = make_contact(full_name="Lê Văn An")
    deal = make_deal(title="Máy lọc", primary_contact_id=an.pk)
    client = client_for(users["admin"])
    page = client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert f"/sales/today/?deal={deal.pk}" in page
    form = client.get(f"/sales/today/?deal={deal.pk}").content.decode()
    assert f'value="#{an.pk} Lê Văn An"' in form and f'name="deal_id" value="{deal.pk}"' in form
    added = client.post(f"/sales/today/?deal={deal.pk}&next=/sales/deals/{deal.pk}/", {
        "title": "Gọi lại", "kind": "call", "priority": "normal", "due_at": "2027-01-05T09:00",
        "duration_minutes": 0, "contact": f"#{an.pk}", "deal_id": deal.pk,
    })  # fmt: skip
    task = Task.objects.get(title="Gọi lại")
    assert added.status_code == 302 and added["Location"] == f"/sales/deals/{deal.pk}/"
    assert task.deal_id == deal.pk and task.contact_id == an.pk
    assert "Gọi lại" in client.get(f"/sales/deals/{deal.pk}/").content.decode()
    assert "Gọi lại" in client.get(f"/contacts/{an.pk}/").content.decode()
