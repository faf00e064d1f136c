"""The segment condition kind ``score``: exact over every contact (a contact without a score
has 0 points and the grade of 0), kept current when a score moves, read as a sentence, checked
(bad model, grade, operator or value: 422 by path), refused to a role that may not see scores,
and built in the segment builder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.core.errors import InvalidInput
from danhba.scoring.models import ContactScore, ScoreModel
from danhba.scoring.services.compute import scores_update
from danhba.segments import conditions as C
from danhba.segments.compiler import matching
from danhba.segments.models import SegmentMember
from danhba.segments.services import segment_create

pytestmark = pytest.mark.django_db

HANOI = {
    "kind": "fit",
    "name": "Hà Nội",
    "points": 40,
    "condition": {
        "op": "all",
        "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}],
    },
}
STUDENT = {
    "kind": "fit",
    "name": "Student",
    "points": -10,
    "condition": {
        "op": "all",
        "conditions": [{"kind": "field", "field": "job_title", "operator": "eq", "value": "Sinh viên"}],
    },
}
DEMO = {"kind": "engagement", "name": "Demo", "trigger": {"on": "event", "name": "Demo Requested"}, "points": 30}


def _leaf(model: ScoreModel, operator: str, value: Any) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "score", "model": model.pk, "operator": operator, "value": value}]}


def _reference(model: ScoreModel, keep: Any) -> set[int]:
    """Every contact, by its stored score (0 and the grade of 0 without one)."""
    rows = {r.contact_id: r for r in ContactScore.objects.filter(model=model)}
    zero = ContactScore(total=Decimal(0), grade="cold")
    return {c for c in Contact.objects.values_list("pk", flat=True) if keep(rows.get(c, zero))}


@pytest.fixture
def world(make_contact: Any, make_model: Any) -> ScoreModel:
    model = make_model("B2B fit", rules=[HANOI, STUDENT, DEMO])
    make_contact(full_name="An", province="ha-noi")
    make_contact(full_name="Bình", province="ha-noi", job_title="Sinh viên")
    make_contact(full_name="Chi", job_title="Sinh viên")
    make_contact(full_name="Dũng")
    scores_update(contact_ids=list(Contact.objects.values_list("pk", flat=True)))
    return model


@pytest.mark.parametrize(
    ("operator", "value", "keep"),
    [
        ("gte", 30, lambda s: s.total >= 30),
        ("lt", 10, lambda s: s.total < 10),
        ("lte", 0, lambda s: s.total <= 0),
        ("eq", "-10", lambda s: s.total == -10),
        ("gt", -10.5, lambda s: s.total > Decimal("-10.5")),
        ("between", [0, 35], lambda s: 0 <= s.total <= 35),
        ("grade_is", "cold", lambda s: s.grade == "cold"),
        ("grade_is", "warm", lambda s: s.grade == "warm"),
        ("grade_at_least", "warm", lambda s: s.grade in ("warm", "hot")),
    ],
)
def test_score_condition_is_exact(world: ScoreModel, operator: str, value: Any, keep: Any) -> None:
    tree = C.clean(_leaf(world, operator, value))
    assert set(matching(tree).values_list("pk", flat=True)) == _reference(world, keep)
    # The same among a few contacts (live re-evaluation), and negated.
    some = list(Contact.objects.values_list("pk", flat=True)[:2])
    assert set(matching(tree, among=some).values_list("pk", flat=True)) == _reference(world, keep) & set(some)
    none = C.clean({"op": "none", "conditions": tree["conditions"]})
    assert set(matching(none).values_list("pk", flat=True)) == _reference(world, lambda s: not keep(s))


def test_a_segment_on_scores_follows_them(world: ScoreModel, admin: Any, settings: Any, send_events: Any) -> None:
    settings.SCORING_INLINE = True
    segment = segment_create(actor=actor_for(admin), name="Hot-ish", conditions=_leaf(world, "gte", 60))
    assert set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == set()
    assert segment.depends_on == {"reasons": [f"score:{world.pk}"]}
    an = Contact.objects.get(full_name="An")
    send_events(an, [("Demo Requested", timezone.now(), {})])
    assert ContactScore.objects.get(contact=an, model=world).total == Decimal("70.00")
    assert list(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True)) == [an.pk]
    assert C.describe(segment.conditions) == "score “B2B fit” ≥ 60"
    assert C.describe(_leaf(world, "grade_at_least", "warm")) == "score “B2B fit”: grade is at least Warm"


@pytest.mark.parametrize(
    ("node", "path"),
    [
        ({"model": 99999, "operator": "gte", "value": 1}, "conditions.0.model"),
        ({"model": None, "operator": "gte", "value": 1}, "conditions.0.model"),
        ("OK", "conditions.0.operator"),
        ({"operator": "gte", "value": "many"}, "conditions.0.value"),
        ({"operator": "between", "value": [5, 1]}, "conditions.0.value"),
        ({"operator": "between", "value": 5}, "conditions.0.value"),
        ({"operator": "grade_is", "value": "lukewarm"}, "conditions.0.value"),
    ],
)
def test_bad_score_conditions(world: ScoreModel, node: Any, path: str) -> None:
    leaf = {"kind": "score", "model": world.pk, **(node if isinstance(node, dict) else {"operator": node})}
    with pytest.raises(InvalidInput) as caught:
        C.clean({"op": "all", "conditions": [leaf]})
    assert path in caught.value.details


def test_roles_and_the_builder(world: ScoreModel, client_for: Any, users: Any) -> None:
    from danhba.accounts.models import Role

    tree = _leaf(world, "grade_is", "warm")
    client = client_for(users["marketing"])
    page = client.get("/segments/new")
    assert '<option value="score">Lead score</option>' in page.content.decode()
    data = {"name": "Warm", "kind": "dynamic", "n__op": "all", "n-0__kind": "score", "n-0__model": str(world.pk)}
    data |= {"n-0__operator": "grade_is", "n-0__grade": "warm"}
    response = client.post("/segments/builder/preview", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "score “B2B fit”: grade is Warm" in response.content.decode()
    segment = segment_create(actor=actor_for(users["marketing"]), name="Warm", conditions=tree)
    edit = client.get(f"/segments/{segment.pk}/edit").content.decode()
    assert 'name="n-0__grade"' in edit and 'value="warm" selected' in edit
    Role.objects.filter(key="marketing").update(
        permissions={**Role.objects.get(key="marketing").permissions, "score": []}
    )
    marketer = type(users["marketing"]).objects.get(pk=users["marketing"].pk)
    with pytest.raises(InvalidInput):
        C.clean(tree, user=marketer)
    assert C.hidden_from(tree, marketer)
