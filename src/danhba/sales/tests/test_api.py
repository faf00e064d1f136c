"""/api/sales: pipelines and lost reasons (admins manage, reps read), deals with filters and
cursor pages, move / won / lost (lost without a reason or a note is a 422 by field), lines,
history, the forecast and the win / loss report; a role without "deal" gets 403, a rep never
sees another rep's deal (404), and bad payloads are 4xx JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.accounts.models import Role
from danhba.sales.models import LostReason
from danhba.sales.tests.conftest import STAGES
from danhba.tracking.models import Event

pytestmark = pytest.mark.django_db


def call(client: Any, method: str, path: str, data: Any = None) -> Any:
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(f"/api/sales{path}", body, content_type="application/json")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def test_pipelines_are_managed_by_admins_and_read_by_reps(client_for: Any, users: Any) -> None:
    admin = client_for(users["admin"])
    made = call(admin, "post", "/pipelines", {"name": "B2B", "stages": STAGES})
    assert made.status_code == 201, made.content
    body = made.json()
    assert [(s["name"], s["probability"], s["kind"]) for s in body["stages"]][-3:] == [
        ("Negotiation", 75, "open"), ("Won", 100, "won"), ("Lost", 0, "lost"),
    ]  # fmt: skip
    bad = error(call(admin, "post", "/pipelines", {"name": "B2B", "stages": [{"name": "A"}]}), 422)
    assert {"name", "stages"} <= set(bad["details"])
    error(call(admin, "post", "/pipelines", {"name": "X", "stages": STAGES, "extra": 1}), 422)
    rep = client_for(users["sales"])
    assert [p["name"] for p in call(rep, "get", "/pipelines").json()["items"]] == ["B2B"]
    error(call(rep, "patch", f"/pipelines/{body['id']}", {"name": "Mine"}), 403)
    error(call(rep, "get", "/pipelines/999999"), 404)
    reasons = call(rep, "get", "/lost-reasons").json()["items"]
    assert [r["key"] for r in reasons] == ["budget", "competitor", "missing-feature", "timing", "no-response"]
    error(call(rep, "post", "/lost-reasons", {"name": "Bad fit"}), 403)
    admin = client_for(users["admin"])  # one test client: logging in switches its user
    added = call(admin, "post", "/lost-reasons", {"name": "Bad fit", "name_vi": "Không phù hợp"})
    assert added.status_code == 201 and added.json()["key"] == "bad-fit"
    retired = call(admin, "patch", f"/lost-reasons/{added.json()['id']}", {"is_active": False})
    assert retired.json()["is_active"] is False


def test_a_deal_through_the_api(client_for: Any, users: Any, pipeline: Any, stages: Any, make_contact: Any) -> None:
    lan = make_contact(full_name="Trần Thị Lan")
    rep = client_for(users["sales"])
    created = call(rep, "post", "/deals", {"title": "ERP", "primary_contact_id": lan.pk, "value": "12500000",
                                           "expected_close": "2027-03-10", "source": "website"})  # fmt: skip
    assert created.status_code == 201, created.content
    deal = created.json()
    assert (deal["stage"], deal["owner"], deal["contact_ids"], deal["value_vnd"]) == (
        "New", "sales@example.vn", [lan.pk], "12500000.00",
    )  # fmt: skip
    did = deal["id"]
    line = call(rep, "post", f"/deals/{did}/lines", {"name": "Licence", "quantity": 3, "price": 5_000_000,
                                                     "discount": 1_000_000})  # fmt: skip
    assert line.status_code == 201 and line.json()["total"] == "14000000.00"
    assert call(rep, "get", f"/deals/{did}").json()["value"] == "14000000.00"
    error(call(rep, "patch", f"/deals/{did}/lines/{line.json()['id']}", {"quantity": 0}), 422)
    moved = call(rep, "post", f"/deals/{did}/move", {"stage_id": stages["Proposal"].pk})
    assert moved.json()["stage"] == "Proposal" and [h["stage"] for h in moved.json()["history"]] == ["New", "Proposal"]
    lost = error(call(rep, "post", f"/deals/{did}/move", {"stage_id": stages["Lost"].pk}), 422)
    assert set(lost["details"]) == {"lost_reason_id", "note"}
    error(call(rep, "post", f"/deals/{did}/lost", {"lost_reason_id": 1}), 422)  # no note: the schema refuses
    budget = LostReason.objects.get(key="budget").pk
    done = call(rep, "post", f"/deals/{did}/lost", {"lost_reason_id": budget, "note": "Hết ngân sách quý này"})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["lost_reason"]) == ("lost", "budget")
    assert Event.objects.get(name="Deal Lost", contact=lan).properties["lost_reason"] == "budget"
    error(call(rep, "patch", f"/deals/{did}", {"currency": "usd!"}), 422)
    error(call(rep, "patch", f"/deals/{did}", {"owner_id": users["admin"].pk}), 422)


def test_lists_filter_and_page_and_reps_see_their_own(
    client_for: Any, users: Any, make_user: Any, stages: Any, make_deal: Any, make_contact: Any
) -> None:
    rep, other = users["sales"], make_user("sales")
    lan = make_contact(full_name="Lan")
    mine = [make_deal(user=rep, title=f"Deal {i}", source="fair" if i % 2 else "web") for i in range(5)]
    with_lan = make_deal(user=rep, title="Lan's", contact_ids=[lan.pk])
    theirs = make_deal(user=other, title="Theirs")
    client = client_for(rep)
    first = call(client, "get", "/deals?limit=4").json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    rest = call(client, "get", f"/deals?limit=4&cursor={first['next_cursor']}").json()
    seen = [d["id"] for d in first["items"] + rest["items"]]
    assert sorted(seen) == sorted([d.pk for d in [*mine, with_lan]]) and theirs.pk not in seen
    assert [d["id"] for d in call(client, "get", f"/deals?contact_id={lan.pk}").json()["items"]] == [with_lan.pk]
    assert len(call(client, "get", "/deals?source=fair").json()["items"]) == 2
    error(call(client, "get", f"/deals/{theirs.pk}"), 404)
    error(call(client, "get", "/deals?cursor=nonsense"), 400)
    error(call(client, "get", "/deals?close_after=9999-12-31"), 422)
    error(call(client, "get", "/deals?status=maybe"), 422)


def test_reports_and_a_role_without_deals(client_for: Any, users: Any, stages: Any, make_deal: Any) -> None:
    make_deal(value=1_000_000, expected_close="2027-01-20", stage_id=stages["Proposal"].pk)
    won = make_deal(value=2_000_000, source="web")
    client = client_for(users["admin"])
    call(client, "post", f"/deals/{won.pk}/won")
    forecast = call(client, "get", "/forecast").json()
    assert forecast["months"] == [{"month": "2027-01-01", "deals": 1, "total": "1000000.00", "weighted": "500000.00"}]
    assert forecast["weighted"] == "500000.00"
    report = call(client, "get", "/win-loss?by=source").json()
    assert report["rows"] == [{"key": "web", "label": "web", "won": 1, "lost": 0, "won_value": "2000000.00",
                               "lost_value": "0.00", "win_rate": 1.0}]  # fmt: skip
    error(call(client, "get", "/win-loss?by=colour"), 422)
    error(call(client, "get", "/forecast?since=0001-01-01"), 422)
    role = Role.objects.get(key="support")
    role.permissions = {k: v for k, v in role.permissions.items() if k != "deal"}
    role.save()
    error(call(client_for(users["support"]), "get", "/forecast"), 403)
    error(call(client_for(users["support"]), "get", "/deals"), 403)
