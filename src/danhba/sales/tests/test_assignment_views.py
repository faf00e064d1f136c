"""The lead assignment page: a manager adds rules and orders them with the up / down buttons
(no JavaScript), anyone marks themself away and back, a leaving rep's work is previewed then
handed over; a rep sees no manager's controls; the Vietnamese page is whole."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.accounts.models import Team
from danhba.contacts.models import Contact
from danhba.sales.models import Absence, AssignmentRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(make_user: Any) -> dict[str, Any]:
    team = Team.objects.create(name="Kinh doanh")
    return {"team": team, "reps": [make_user("sales", full_name=n, team=team) for n in ("Lan", "Minh")]}


def test_a_manager_adds_orders_and_switches_rules(client_for: Any, admin: Any, team: Any) -> None:
    web = client_for(admin)
    assert web.get("/sales/assignment/").status_code == 200
    for name in ("Khách web", "Khách hội chợ"):
        form = {"add_rule": "1", "name": name, "team_id": team["team"].pk, "method": "round_robin", "load": "leads",
                "is_active": "on"}  # fmt: skip
        answer = web.post("/sales/assignment/", form)
        assert answer.status_code == 302
    second = AssignmentRule.objects.get(name="Khách hội chợ")
    web.post(f"/sales/assignment/rules/{second.pk}/action/", {"action": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Khách hội chợ", "Khách web"]
    web.post(f"/sales/assignment/rules/{second.pk}/action/", {"action": "toggle"})
    assert AssignmentRule.objects.get(pk=second.pk).is_active is False
    bad = web.post("/sales/assignment/", {"add_rule": "1", "name": "Sai", "team_id": team["team"].pk,
                                          "method": "round_robin", "load": "leads", "condition": "{nope"})  # fmt: skip
    assert bad.status_code == 422 and "Not valid JSON." in bad.content.decode()
    form = {"name": "Hội chợ", "team_id": team["team"].pk, "method": "workload", "load": "deals", "capacity": 30}
    edit = web.post(f"/sales/assignment/rules/{second.pk}/", form)
    assert edit.status_code == 302
    rule = AssignmentRule.objects.get(pk=second.pk)
    assert (rule.name, rule.method, rule.load, rule.capacity) == ("Hội chợ", "workload", "deals", 30)


def test_a_rep_marks_themself_away_and_back_and_sees_no_manager_controls(client_for: Any, team: Any) -> None:
    lan = team["reps"][0]
    web = client_for(lan)
    page = web.get("/sales/assignment/").content.decode()
    assert "I am away now" in page and "Add a rule" not in page and "A rep leaves" not in page
    web.post("/sales/assignment/away/", {"action": "away"})
    assert Absence.objects.filter(user=lan, ends_at__isnull=True).exists()
    assert "I am back" in web.get("/sales/assignment/").content.decode()
    web.post("/sales/assignment/away/", {"action": "back"})
    assert not Absence.objects.filter(user=lan, ends_at__isnull=True).exists()
    # Not for someone else, and no rule changes.
    other = team["reps"][1]
    assert web.post("/sales/assignment/away/", {"action": "away", "user_id": other.pk}).status_code == 404
    assert web.post("/sales/assignment/rules/1/action/", {"action": "delete"}).status_code == 403
    assert web.get(f"/sales/assignment/handover/{other.pk}/").status_code == 403


def test_handover_preview_then_apply(client_for: Any, admin: Any, team: Any, make_contact: Any) -> None:
    lan, minh = team["reps"]
    lead = make_contact(full_name="Khách của Lan", owner=lan.pk)
    web = client_for(admin)
    preview = web.get(f"/sales/assignment/handover/{lan.pk}/", {"fallback_user_id": minh.pk})
    assert preview.status_code == 200 and "Minh" in preview.content.decode()
    assert Contact.objects.get(pk=lead.pk).owner_id == lan.pk
    done = web.post(f"/sales/assignment/handover/{lan.pk}/", {"fallback_user_id": minh.pk})
    assert done.status_code == 302 and Contact.objects.get(pk=lead.pk).owner_id == minh.pk


def test_the_vietnamese_page(client_for: Any, admin: Any, team: Any) -> None:
    admin.language = "vi"
    admin.save()
    web = client_for(admin)
    AssignmentRule.objects.create(name="Miền Nam", team=team["team"], capacity=1500)
    page = web.get("/sales/assignment/", HTTP_ACCEPT_LANGUAGE="vi").content.decode()
    assert "Phân công khách hàng tiềm năng" in page and "1.500" in page
