"""/api/scoring: models and rules CRUD (audited), roles (marketing edits, sales reads, a role
without "score" gets 403), bad payloads are 4xx JSON with the problem by field, a contact's
scores with a breakdown that adds up to the total, and the recompute's progress."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from danhba.accounts.models import Role
from danhba.audit.models import AuditEvent
from danhba.scoring.models import ScoreModel

pytestmark = pytest.mark.django_db

FIT = {
    "kind": "fit",
    "name": "Hà Nội",
    "points": 15,
    "condition": {
        "op": "all",
        "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}],
    },
}
VISIT = {"kind": "engagement", "name": "Pricing", "points": 10, "trigger": {"on": "page", "url": "*/pricing*"}}


def call(client: Any, method: str, path: str, data: Any = None) -> Any:
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(f"/api/scoring{path}", body, content_type="application/json")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


@pytest.fixture(autouse=True)
def _inline(settings: Any) -> None:
    settings.SCORING_INLINE = True


def test_crud_scores_and_audit(client_for: Any, users: Any, make_contact: Any, send_events: Any) -> None:
    hanoi = make_contact(full_name="Lan", province="ha-noi")
    client = client_for(users["marketing"])
    created = call(client, "post", "/models", {"name": "B2B fit", "decay": "half_life", "decay_days": 14})
    assert created.status_code == 201, created.content
    model_id = created.json()["id"]
    assert [g["key"] for g in created.json()["grades"]] == ["cold", "warm", "hot"]
    rule = call(client, "post", f"/models/{model_id}/rules", FIT)
    assert rule.status_code == 201, rule.content
    assert rule.json()["text"].startswith("Province / city is")
    visit = call(client, "post", f"/models/{model_id}/rules", VISIT).json()
    send_events(hanoi, [("https://shop.vn/pricing", timezone.now(), {})], "page")
    scores = call(client, "get", f"/contacts/{hanoi.pk}").json()["items"]
    [score] = scores
    assert Decimal(score["total"]) == Decimal("25.00") and score["grade"] == "cold"
    assert sum(Decimal(part["points"]) for part in score["breakdown"]) == Decimal(score["total"])
    [pricing] = [part for part in score["breakdown"] if part["rule_id"] == visit["id"]]
    assert pricing["events"][0]["current"] == "10.00" and pricing["events"][0]["id"]
    # Rule changed: every score recomputed (inline here) and the audit log has each write.
    changed = call(client, "patch", f"/rules/{rule.json()['id']}", {"points": 40})
    assert changed.status_code == 200 and changed.json()["points"] == 40
    again = call(client, "get", f"/contacts/{hanoi.pk}").json()["items"][0]
    assert Decimal(again["total"]) == Decimal("50.00") and again["grade"] == "warm"
    recompute = call(client, "post", f"/models/{model_id}/recompute")
    assert recompute.status_code == 202 and recompute.json()["recompute"]["running"] is False
    assert recompute.json()["recompute"]["done"] == recompute.json()["recompute"]["total"] >= 1
    assert call(client, "delete", f"/rules/{visit['id']}").status_code == 204
    assert call(client, "delete", f"/models/{model_id}").status_code == 204
    kinds = list(AuditEvent.objects.filter(object_type__startswith="score").values_list("object_type", "action"))
    assert (
        ("score_model", "create") in kinds and ("score_rule", "update") in kinds and ("score_model", "delete") in kinds
    )


def test_roles(client_for: Any, users: Any, make_contact: Any) -> None:
    model = ScoreModel.objects.create(name="Engagement")
    contact = make_contact(full_name="Minh")
    sales = client_for(users["sales"])
    assert call(sales, "get", "/models").status_code == 200
    assert call(sales, "get", f"/contacts/{contact.pk}").status_code in (200, 404)  # own records only
    error(call(sales, "post", "/models", {"name": "X"}), 403)
    error(call(sales, "patch", f"/models/{model.pk}", {"name": "Y"}), 403)
    error(call(sales, "post", f"/models/{model.pk}/rules", FIT), 403)
    error(call(sales, "post", f"/models/{model.pk}/recompute"), 403)
    error(call(sales, "delete", f"/models/{model.pk}"), 403)
    Role.objects.filter(key="support").update(permissions={"contact": ["view"]})
    support = client_for(users["support"])
    error(call(support, "get", "/models"), 403)
    error(call(support, "get", f"/contacts/{contact.pk}"), 403)
    admin = client_for(users["admin"])
    error(call(admin, "get", "/contacts/999999"), 404)
    error(call(admin, "get", "/models/999999"), 404)


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/models", {"name": ""}, "name"),
        ("/models", {"name": "A", "decay": "sometimes"}, None),
        ("/models", {"name": "A", "decay_days": 0}, "decay_days"),
        ("/models", {"name": "A", "grades": [{"key": "Hot!", "label": "", "min": 1}]}, "grades.0.key"),
        (
            "/models",
            {"name": "A", "grades": [{"key": "a", "label": "A", "min": 0}, {"key": "a", "label": "B", "min": 0}]},
            "grades",
        ),
        ("/models", {"name": "A", "grades": []}, "grades"),
        ("/models", {"name": "A", "surprise": 1}, None),
        ("RULE", {"kind": "fit", "name": "x", "points": 5}, "condition"),
        (
            "RULE",
            {
                "kind": "fit",
                "name": "x",
                "condition": {"op": "all", "conditions": [{"kind": "field", "field": "nope"}]},
            },
            "condition.conditions.0.field",
        ),
        ("RULE", {"kind": "fit", "name": "x", "points": 5000, "condition": {"op": "all", "conditions": []}}, "points"),
        ("RULE", {"kind": "engagement", "name": "x", "points": 5}, "trigger.on"),
        ("RULE", {"kind": "engagement", "name": "x", "trigger": {"on": "event"}}, "trigger.name"),
        (
            "RULE",
            {
                "kind": "engagement",
                "name": "x",
                "trigger": {"on": "page", "where": [{"property": "a", "operator": "gt", "value": "b"}]},
            },
            "trigger.where.0.value",
        ),
        ("RULE", {"kind": "engagement", "name": "x", "trigger": {"on": "form"}, "period_days": 7}, "period_max"),
        ("RULE", {"kind": "engagement", "name": "x", "trigger": {"on": "form"}, "max_points": -1}, "max_points"),
        (
            "RULE",
            {"kind": "engagement", "name": "x", "trigger": {"on": "email_opened", "campaign": "abc"}},
            "trigger.campaign",
        ),
        ("RULE", {"kind": "wrong", "name": "x"}, None),
        ("RULE", ["not", "an", "object"], None),
    ],
)
def test_bad_payloads_are_4xx_json(client_for: Any, users: Any, path: str, payload: Any, field: str | None) -> None:
    model = ScoreModel.objects.create(name="Engagement")
    client = client_for(users["admin"])
    response = call(client, "post", f"/models/{model.pk}/rules" if path == "RULE" else path, payload)
    body = error(response, 422)
    if field is not None:
        assert field in body["details"], body


def test_bad_rule_change_is_422(client_for: Any, users: Any) -> None:
    client = client_for(users["admin"])
    model_id = call(client, "post", "/models", {"name": "Fit"}).json()["id"]
    rule_id = call(client, "post", f"/models/{model_id}/rules", FIT).json()["id"]
    error(call(client, "patch", f"/rules/{rule_id}", {"condition": "not a tree"}), 422)
    error(call(client, "patch", f"/rules/{rule_id}", {"points": "many"}), 422)
    error(call(client, "patch", "/rules/0", {"points": 1}), 422)
    error(call(client, "patch", "/rules/98765", {"points": 1}), 404)


def test_a_manual_adjustment_by_api(client_for: Any, users: Any, make_contact: Any) -> None:
    lan = make_contact(full_name="Lan")
    marketing = client_for(users["marketing"])
    model_id = call(marketing, "post", "/models", {"name": "Engagement"}).json()["id"]
    made = call(
        marketing,
        "post",
        f"/contacts/{lan.pk}/adjustments",
        {"model": model_id, "points": 45, "reason": "Gặp tại hội chợ"},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["adjustment"]["points"] == "45.00"
    score = body["scores"][0]
    assert (score["total"], score["grade"], score["adjusted"]) == ("45.00", "warm", "45.00")
    part = score["breakdown"][0]
    assert part["kind"] == "adjustment" and part["rule"] == "By hand (Marketing): Gặp tại hội chợ"
    assert AuditEvent.objects.filter(object_type="score_adjustment", contact_id=lan.pk).count() == 1
    # Set the grade: the points that bring 45 to cold's 0.
    cold = call(marketing, "post", f"/contacts/{lan.pk}/adjustments", {"model": model_id, "grade": "cold"}).json()
    assert cold["adjustment"]["points"] == "-45.00" and cold["scores"][0]["total"] == "0.00"
    # Bad input is 422 by field, an unknown contact 404; sales may read scores but not adjust them.
    bad = error(call(marketing, "post", f"/contacts/{lan.pk}/adjustments", {"model": model_id, "points": 5000}), 422)
    assert "points" in bad["details"]
    both = error(
        call(marketing, "post", f"/contacts/{lan.pk}/adjustments", {"model": model_id, "points": 5, "grade": "hot"}),
        422,
    )
    assert "points" in both["details"]
    assert (
        "model"
        in error(call(marketing, "post", f"/contacts/{lan.pk}/adjustments", {"model": 10**9, "points": 5}), 422)[
            "details"
        ]
    )
    error(call(marketing, "post", "/contacts/999999/adjustments", {"model": model_id, "points": 5}), 404)
    error(
        call(client_for(users["sales"]), "post", f"/contacts/{lan.pk}/adjustments", {"model": model_id, "points": 5}),
        403,
    )
