"""The scoring pages through HTTP: a model and its rules made and changed through the forms
(bad input: the form again with the reason, 422), who may do what, and the contact page's score
panel with the total, grade, breakdown and chart — in English and Vietnamese."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from danhba.accounts.models import Role
from danhba.scoring.models import ScoreModel, ScoreRule
from danhba.scoring.services.compute import scores_update

pytestmark = pytest.mark.django_db

MODEL_POST = {
    "name": "Engagement",
    "description": "",
    "is_active": "on",
    "decay": "half_life",
    "decay_days": "14",
    "decay_percent": "25",
    "grades": "cold | Cold | 0\nwarm | Warm | 30\nhot | Hot | 60",
}
FIT_POST = {
    "kind": "fit",
    "name": "Hà Nội",
    "points": "35",
    "condition": json.dumps(
        {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}
    ),
    "is_active": "on",
}


@pytest.fixture(autouse=True)
def _inline(settings: Any) -> None:
    settings.SCORING_INLINE = True


def test_a_model_and_its_rules_through_the_forms(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    assert client.get("/scoring/").status_code == 200
    response = client.post("/scoring/new", MODEL_POST)
    model = ScoreModel.objects.get(name="Engagement")
    assert response.status_code == 302 and response["Location"] == f"/scoring/{model.pk}/"
    assert [g["key"] for g in model.grades] == ["cold", "warm", "hot"] and model.decay_days == 14
    bad = client.post("/scoring/new", {**MODEL_POST, "name": "Other", "grades": "hot | Hot | many"})
    assert bad.status_code == 422 and "grades.0.min" in bad.content.decode()
    assert client.post(f"/scoring/{model.pk}/rules/new", FIT_POST).status_code == 302
    visit = {
        "kind": "engagement", "name": "Pricing", "points": "10", "trigger_on": "page", "trigger_url": "*/pricing*",
        "max_points": "30", "is_active": "on",
    }  # fmt: skip
    assert client.post(f"/scoring/{model.pk}/rules/new", visit).status_code == 302
    broken = client.post(f"/scoring/{model.pk}/rules/new", {**FIT_POST, "condition": "{not json"})
    assert broken.status_code == 422 and "Not valid JSON." in broken.content.decode()
    unknown = client.post(f"/scoring/{model.pk}/rules/new", {**visit, "trigger_on": "event", "trigger_name": ""})
    assert unknown.status_code == 422 and "must name an event" in unknown.content.decode()
    page = client.get(f"/scoring/{model.pk}/").content.decode()
    assert "Province / city is Hà Nội" in page and "Page viewed: */pricing*" in page
    rule = ScoreRule.objects.get(name="Pricing")
    edit = client.post(f"/scoring/rules/{rule.pk}/", {**visit, "points": "12"})
    assert edit.status_code == 302 and ScoreRule.objects.get(pk=rule.pk).points == 12
    assert client.post(f"/scoring/{model.pk}/recompute").status_code == 302
    assert client.post(f"/scoring/rules/{rule.pk}/delete").status_code == 302
    assert client.post(f"/scoring/{model.pk}/delete").status_code == 302
    assert not ScoreModel.objects.exists()


def test_who_may_do_what(client_for: Any, users: Any) -> None:
    model = ScoreModel.objects.create(name="Engagement")
    sales = client_for(users["sales"])
    page = sales.get(f"/scoring/{model.pk}/")
    assert page.status_code == 200 and "Recompute every score" not in page.content.decode()
    assert sales.post(f"/scoring/{model.pk}/", MODEL_POST).status_code == 403
    assert sales.get(f"/scoring/{model.pk}/rules/new").status_code == 403
    assert sales.post(f"/scoring/{model.pk}/recompute").status_code == 403
    assert sales.post(f"/scoring/{model.pk}/delete").status_code == 403
    Role.objects.filter(key="support").update(permissions={"contact": ["view"]})
    support = client_for(users["support"])
    assert support.get("/scoring/").status_code == 403
    assert 'href="/scoring/"' not in support.get("/contacts/").content.decode()


def test_the_contact_page_shows_scores_explained(
    client_for: Any, users: Any, make_contact: Any, make_model: Any, send_events: Any
) -> None:
    visit = {"kind": "engagement", "name": "Pricing", "trigger": {"on": "page", "url": "*/pricing*"}, "points": 10}
    fit = {"kind": "fit", "name": "Hà Nội", "points": 35, "condition": json.loads(FIT_POST["condition"])}
    model = make_model(rules=[fit, visit], decay="half_life", decay_days=30)
    lan = make_contact(full_name="Lan", province="ha-noi")
    now = timezone.now()
    send_events(lan, [("https://shop.vn/pricing", now - dt.timedelta(days=2), {})], "page")
    scores_update(contact_ids=[lan.pk], now=now - dt.timedelta(days=1))
    scores_update(contact_ids=[lan.pk], now=now)
    client = client_for(users["admin"])
    html = client.get(f"/contacts/{lan.pk}/").content.decode()
    # 35 + 10 halved over 2 days of a 30-day half-life: 35 + 9.55.
    assert 'id="scores"' in html and model.name in html and "44.55" in html
    assert '<span class="grade rank-1">Warm</span>' in html
    assert "Pricing: <strong>9.55</strong>" in html and "<svg" in html
    users["admin"].language = "vi"
    users["admin"].save(update_fields=["language"])
    html = client_for(users["admin"]).get(f"/contacts/{lan.pk}/").content.decode()
    assert "Điểm khách hàng tiềm năng" in html and '<span class="grade rank-1">Ấm</span>' in html


def test_a_fit_rule_from_rows_of_field_operator_and_value(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    client.post("/scoring/new", MODEL_POST)
    model = ScoreModel.objects.get()
    rows = {
        "kind": "fit", "name": "Sếp ở miền Bắc", "points": "40", "is_active": "on", "condition": "", "match": "all",
        "fit_field_0": "job_title", "fit_operator_0": "contains", "fit_value_0": "giám đốc",
        "fit_field_1": "province", "fit_operator_1": "in", "fit_value_1": "ha-noi, hai-phong",
    }  # fmt: skip
    assert client.post(f"/scoring/{model.pk}/rules/new", rows).status_code == 302
    rule = ScoreRule.objects.get()
    assert rule.condition == {"op": "all", "conditions": [
        {"kind": "field", "field": "job_title", "operator": "contains", "value": "giám đốc"},
        {"kind": "field", "field": "province", "operator": "in", "value": ["ha-noi", "hai-phong"]},
    ]}  # fmt: skip
    # The edit page shows the rows again, not JSON; a bad value comes back beside the form.
    page = client.get(f"/scoring/rules/{rule.pk}/").content.decode()
    import re

    assert 'name="fit_value_1" value="ha-noi, hai-phong"' in page
    assert re.search(r'<textarea name="condition"[^>]*>\s*</textarea>', page)
    bad = client.post(f"/scoring/rules/{rule.pk}/", {**rows, "fit_value_1": "Atlantis"})
    assert bad.status_code == 422
    assert ScoreRule.objects.get().condition["conditions"][1]["value"] == ["ha-noi", "hai-phong"]


def test_a_score_adjusted_by_hand_on_the_contact_page(
    client_for: Any, users: Any, make_contact: Any, make_model: Any
) -> None:
    model = make_model(name="Engagement")
    lan = make_contact(full_name="Lan")
    client = client_for(users["marketing"])
    page = client.get(f"/contacts/{lan.pk}/").content.decode()
    assert f'href="/scoring/contacts/{lan.pk}/adjust"' in page
    form = {"model": model.pk, "points": "", "grade": "", "reason": "", "expires_days": ""}
    # Neither points nor a grade: the form again, 422, with the reason.
    bad = client.post(f"/scoring/contacts/{lan.pk}/adjust", form)
    assert bad.status_code == 422 and "not 0" in bad.content.decode()
    done = client.post(
        f"/scoring/contacts/{lan.pk}/adjust", {**form, "points": "25", "reason": "Gọi điện", "expires_days": "30"}
    )
    assert done.status_code == 302 and done["Location"] == f"/contacts/{lan.pk}/#scores"
    users["marketing"].language = "vi"
    users["marketing"].save(update_fields=["language"])
    html = client_for(users["marketing"]).get(f"/contacts/{lan.pk}/").content.decode()
    until = (timezone.localdate() + dt.timedelta(days=30)).strftime("%d/%m/%Y")
    assert "Thủ công (Marketing): Gọi điện: <strong>25</strong>" in html and f"đến {until}" in html
    # Sales reads scores but may not adjust them: no link, and the page is refused.
    sales = client_for(users["sales"])
    assert "/adjust" not in sales.get(f"/contacts/{lan.pk}/").content.decode()
    assert sales.get(f"/scoring/contacts/{lan.pk}/adjust").status_code == 403
