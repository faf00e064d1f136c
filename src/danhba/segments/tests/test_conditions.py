"""The condition language: checking (every kind, bad operators and values, permissions, limits,
cycles, errors by path), its readable form and what a tree depends on."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from danhba.contacts.models import CustomField
from danhba.core.errors import InvalidInput
from danhba.segments import conditions as C
from danhba.segments.conditions import clean, dependencies, describe
from danhba.segments.models import Segment

pytestmark = pytest.mark.django_db


def one(cond: dict[str, Any]) -> dict[str, Any]:
    return {"op": "all", "conditions": [cond]}


def fld(field: str, operator: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "field", "field": field, "operator": operator, **extra}


def errors(tree: Any, **kw: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as exc:
        clean(tree, **kw)
    assert exc.value.status == 422
    details: dict[str, list[str]] = exc.value.details
    return details


@pytest.fixture
def custom(db: Any) -> dict[str, CustomField]:
    defs = {
        "score": CustomField.Type.NUMBER,
        "vip": CustomField.Type.BOOLEAN,
        "likes": CustomField.Type.MULTI_CHOICE,
        "plan": CustomField.Type.CHOICE,
        "joined": CustomField.Type.DATE,
    }
    made = {
        key: CustomField.objects.create(key=key, label=key.title(), type=t, choices=["free", "pro"])
        for key, t in defs.items()
    }
    made["salary"] = CustomField.objects.create(
        key="salary", label="Salary", type=CustomField.Type.NUMBER, is_sensitive=True
    )
    return made


# --- every kind, cleaned ---------------------------------------------------------------------------


def test_every_kind_cleans_to_typed_values(custom: Any) -> None:
    segment = Segment.objects.create(name="Other")
    tree = {
        "op": "all",
        "conditions": [
            fld("province", "eq", value="ha-noi", junk="dropped"),
            fld("custom.score", "between", value=["1.50", 3]),
            fld("birthday", "anniversary_within", days="7"),
            fld("created_at", "before", value="2025-01-31"),
            fld("lifecycle_stage", "in", value=["lead", "customer"]),
            {"kind": "tag", "tags": [" VIP ", 2025]},
            {"kind": "consent", "purpose": "email_marketing", "status": "unknown"},
            {
                "op": "any",
                "conditions": [
                    {
                        "kind": "event",
                        "name": " Order Completed ",
                        "where": [{"property": "total", "operator": "gt", "value": "100.0"}],
                        "count": {"operator": "gte", "value": "3"},
                        "period": {"last_days": 90},
                    },
                    {"kind": "event_time", "name": "Login", "which": "last", "operator": "over_days_ago", "days": 30},
                    {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": 1e6},
                    {
                        "kind": "bought",
                        "category": "Tea",
                        "negate": 1,
                        "period": {"from": "2025-01-01", "to": "2025-01-31"},
                    },
                    {"kind": "segment", "segment": str(segment.pk)},
                ],
            },
        ],
    }
    cleaned = clean(tree)
    leaves = cleaned["conditions"]
    assert leaves[0] == {"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}
    assert leaves[1]["value"] == ["1.50", 3]
    assert leaves[2] == {"kind": "field", "field": "birthday", "operator": "anniversary_within", "days": 7}
    assert leaves[5] == {"kind": "tag", "operator": "any", "tags": ["VIP", "2025"]}
    event, event_time, purchase, bought, seg = leaves[7]["conditions"]
    assert event == {
        "kind": "event",
        "name": "Order Completed",
        "where": [{"property": "total", "operator": "gt", "value": 100}],
        "count": {"operator": "gte", "value": 3},
        "period": {"last_days": 90},
    }
    assert event_time["days"] == 30
    assert purchase["value"] == 1000000
    assert bought["negate"] is True
    assert seg == {"kind": "segment", "segment": segment.pk, "operator": "in"}
    # A cleaned tree is a fixed point.
    assert clean(cleaned) == cleaned


def test_event_defaults_to_did_at_least_once() -> None:
    cleaned = clean(one({"kind": "event", "name": "Signed Up"}))
    assert cleaned["conditions"][0]["count"] == {"operator": "gte", "value": 1}
    assert cleaned["conditions"][0]["period"] is None


# --- operators and values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "operator"),
    [
        ("province", "contains"),  # choice
        ("occupation", "gt"),  # text
        ("birthday", "contains"),  # date
        ("created_at", "eq"),  # datetime: days, not instants
        ("created_at", "anniversary_within"),
        ("custom.score", "contains"),  # number
        ("custom.score", "in"),
        ("custom.vip", "eq"),  # boolean
        ("custom.likes", "eq"),  # multiple choice
        ("custom.plan", "gt"),  # choice
        ("email", "is_true"),
        ("email", "bogus"),
    ],
)
def test_operator_must_suit_the_field_type(custom: Any, field: str, operator: str) -> None:
    found = errors(one(fld(field, operator, value="x", days=1)))
    assert list(found) == ["conditions.0.operator"]
    assert found["conditions.0.operator"][0].startswith("must be one of:")


@pytest.mark.parametrize(
    ("cond", "path"),
    [
        (fld("birthday", "eq", value="2024-02-30"), "value"),
        (fld("birthday", "eq", value="15/03/2025"), "value"),
        (fld("birthday", "eq", value=20250315), "value"),
        (fld("birthday", "eq"), "value"),
        (fld("custom.score", "gt", value="abc"), "value"),
        (fld("custom.score", "gt", value=True), "value"),
        (fld("custom.score", "gt", value="1e20"), "value"),
        (fld("custom.score", "gt", value="NaN"), "value"),
        (fld("custom.score", "gt", value=[1]), "value"),
        (fld("birthday", "within_last", days=-1), "days"),
        (fld("birthday", "within_last", days=C.MAX_DAYS + 1), "days"),
        (fld("birthday", "within_last", days="a week"), "days"),
        (fld("birthday", "within_last", days=1.5), "days"),
        (fld("birthday", "within_last"), "days"),
        (fld("province", "in", value=[]), "value"),
        (fld("province", "in", value="ha-noi"), "value"),
        (fld("province", "in", value=["ha-noi"] * (C.MAX_LIST + 1)), "value"),
        (fld("province", "in", value=["ha-noi", "atlantis"]), "value"),
        (fld("province", "eq", value="atlantis"), "value"),
        (fld("lifecycle_stage", "eq", value="nope"), "value"),
        (fld("custom.plan", "eq", value="gold"), "value"),
        (fld("occupation", "eq", value="   "), "value"),
        (fld("occupation", "eq", value={"a": 1}), "value"),
        (fld("custom.score", "between", value=[1]), "value"),
        (fld("custom.score", "between", value=[5, 1]), "value"),
        (fld("birthday", "between", value=["2025-02-01", "2025-01-31"]), "value"),
        (fld("birthday", "between", value="2025-01-01"), "value"),
    ],
)
def test_bad_values(custom: Any, cond: dict[str, Any], path: str) -> None:
    assert list(errors(one(cond))) == [f"conditions.0.{path}"]


def test_pair_may_be_one_value(custom: Any) -> None:
    cleaned = clean(one(fld("custom.score", "between", value=[2, "2.0"])))
    assert cleaned["conditions"][0]["value"] == [2, 2]


def test_unknown_field_and_kind() -> None:
    found = errors({"op": "all", "conditions": [fld("shoe_size", "eq", value="42"), {"kind": "mood"}, {"field": "x"}]})
    assert found == {
        "conditions.0.field": ["unknown field"],
        "conditions.1.kind": [found["conditions.1.kind"][0]],
        "conditions.2.kind": [found["conditions.2.kind"][0]],
    }
    assert "field, tag, consent" in found["conditions.1.kind"][0]


def test_inactive_custom_field_is_unknown(custom: Any) -> None:
    CustomField.objects.filter(key="score").update(is_active=False)
    assert list(errors(one(fld("custom.score", "gt", value=1)))) == ["conditions.0.field"]


@pytest.mark.parametrize(
    ("cond", "paths"),
    [
        ({"kind": "tag", "tags": []}, ["tags"]),
        ({"kind": "tag", "tags": "vip"}, ["tags"]),
        ({"kind": "tag", "operator": "some", "tags": ["vip"]}, ["operator"]),
        ({"kind": "tag", "tags": ["vip", {"x": 1}]}, ["tags"]),
        ({"kind": "consent", "purpose": "telepathy", "status": "granted"}, ["purpose"]),
        ({"kind": "consent", "purpose": "email_marketing", "status": "maybe"}, ["status"]),
        ({"kind": "event", "name": ""}, ["name"]),
        ({"kind": "event", "name": "x", "event_type": "click"}, ["event_type"]),
        ({"kind": "event", "name": "x", "count": {"operator": "gt", "value": 1}}, ["count.operator"]),
        ({"kind": "event", "name": "x", "count": {"operator": "gte", "value": -1}}, ["count.value"]),
        ({"kind": "event", "name": "x", "count": {"operator": "gte", "value": True}}, ["count.value"]),
        ({"kind": "event", "name": "x", "where": {"a": 1}}, ["where"]),
        ({"kind": "event", "name": "x", "where": [{"property": "p", "operator": "eq"}] * 21}, ["where"]),
        ({"kind": "event", "name": "x", "where": ["p"]}, ["where.0"]),
        ({"kind": "event", "name": "x", "where": [{"operator": "exists"}]}, ["where.0.property"]),
        (
            {"kind": "event", "name": "x", "where": [{"property": "p", "operator": "like"}]},
            ["where.0.operator", "where.0.value"],
        ),
        (
            {"kind": "event", "name": "x", "where": [{"property": "p", "operator": "gt", "value": "lots"}]},
            ["where.0.value"],
        ),
        (
            {"kind": "event", "name": "x", "where": [{"property": "p", "operator": "eq", "value": ""}]},
            ["where.0.value"],
        ),
        ({"kind": "event", "name": "x", "period": {"last_days": 0}}, ["period.last_days"]),
        ({"kind": "event", "name": "x", "period": {"from": "2025-02-01", "to": "2025-01-01"}}, ["period"]),
        ({"kind": "event", "name": "x", "period": {"from": "2025-02-01"}}, ["period"]),
        ({"kind": "event", "name": "x", "period": "ever"}, ["period"]),
        ({"kind": "event", "name": "x", "period": {}}, ["period"]),
        (
            {"kind": "event_time", "name": "x", "which": "middle", "operator": "before", "value": "2025-01-01"},
            ["which"],
        ),
        ({"kind": "event_time", "name": "x", "which": "last", "operator": "within_next", "days": 3}, ["operator"]),
        ({"kind": "purchase", "metric": "happiness", "operator": "gt", "value": 1}, ["metric"]),
        ({"kind": "purchase", "metric": "total_spent", "operator": "contains", "value": 1}, ["operator"]),
        ({"kind": "purchase", "metric": "total_spent", "operator": "empty"}, ["operator"]),
        ({"kind": "purchase", "metric": "first_order_at", "operator": "eq", "value": "2025-01-01"}, ["operator"]),
        (
            {
                "kind": "purchase",
                "metric": "average_order_value",
                "operator": "gt",
                "value": 1,
                "period": {"last_days": 9},
            },
            ["period"],
        ),
        ({"kind": "bought", "negate": True}, [""]),
        ({"kind": "bought", "product": "p", "period": {"last_days": "x"}}, ["period.last_days"]),
        ({"kind": "segment", "segment": 999999}, ["segment"]),
        ({"kind": "segment", "segment": "abc"}, ["segment"]),
    ],
)
def test_bad_conditions_of_each_kind(cond: dict[str, Any], paths: list[str]) -> None:
    found = errors({"op": "any", "conditions": [cond]})
    assert sorted(found) == sorted(f"conditions.0.{p}".rstrip(".") for p in paths)


def test_segment_operator(db: Any) -> None:
    seg = Segment.objects.create(name="S")
    assert list(errors(one({"kind": "segment", "segment": seg.pk, "operator": "within"}))) == ["conditions.0.operator"]


# --- structure ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", [None, [], "all", {"conditions": []}, {"kind": "tag", "tags": ["x"]}])
def test_top_must_be_a_group(tree: Any) -> None:
    assert list(errors(tree)) == ["conditions"]


def test_group_shape() -> None:
    found = errors(
        {
            "op": "and",
            "conditions": [
                "province = HN",
                {"op": "any", "conditions": "none"},
                {"op": "none", "conditions": [{"op": "xor", "conditions": []}]},
            ],
        }
    )
    assert sorted(found) == [
        "conditions.0",
        "conditions.1.conditions",
        "conditions.2.0.op",
        "conditions.op",
    ]


def test_errors_are_keyed_by_path_in_nested_trees() -> None:
    found = errors(
        {
            "op": "all",
            "conditions": [
                fld("province", "eq", value="ha-noi"),
                {
                    "op": "any",
                    "conditions": [
                        fld("birthday", "before", value="yesterday"),
                        {"kind": "tag", "tags": ["vip"]},
                        {"op": "none", "conditions": [{"kind": "event", "name": "x", "count": {"value": 2}}]},
                    ],
                },
                fld("province", "within_last", days=3),
            ],
        }
    )
    assert found == {
        "conditions.1.0.value": ["must be a date YYYY-MM-DD"],
        "conditions.1.2.0.count.operator": ["must be one of: gte, lte, eq"],
        "conditions.2.operator": [found["conditions.2.operator"][0]],
    }


def _nest(depth: int) -> dict[str, Any]:
    tree: dict[str, Any] = {"op": "all", "conditions": [fld("province", "eq", value="ha-noi")]}
    for _ in range(depth - 1):
        tree = {"op": "any", "conditions": [tree]}
    return tree


def test_depth_limit() -> None:
    assert clean(_nest(C.MAX_DEPTH))
    found = errors(_nest(C.MAX_DEPTH + 1))
    assert list(found) == ["conditions" + ".0" * C.MAX_DEPTH]
    assert "at most 12 deep" in found["conditions" + ".0" * C.MAX_DEPTH][0]


def test_size_limit() -> None:
    leaf = fld("province", "eq", value="ha-noi")
    assert clean({"op": "any", "conditions": [leaf] * C.MAX_CONDITIONS})
    split = {"op": "any", "conditions": [{"op": "all", "conditions": [leaf] * 150}] * 2}
    assert errors(split) == {"conditions": [f"at most {C.MAX_CONDITIONS} conditions"]}


# --- permissions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["birthday", "gender", "income_band", "family"])
def test_sensitive_fields_are_unknown_to_roles_without_them(users: dict[str, Any], field: str) -> None:
    op = {"birthday": "empty", "gender": "empty", "income_band": "empty", "family": "empty"}[field]
    tree = one(fld(field, op))
    assert list(errors(tree, user=users["sales"])) == ["conditions.0.field"]
    assert clean(tree, user=users["admin"])
    assert field not in C.fields(users["sales"])
    assert field in C.fields(users["admin"])


def test_marketing_sees_birthday_and_gender_only(users: dict[str, Any]) -> None:
    marketing = users["marketing"]
    assert clean(one(fld("birthday", "anniversary_within", days=7)), user=marketing)
    assert clean(one(fld("gender", "eq", value="female")), user=marketing)
    assert list(errors(one(fld("income_band", "empty")), user=marketing)) == ["conditions.0.field"]


def test_sensitive_custom_field(users: dict[str, Any], custom: Any) -> None:
    from danhba.accounts.models import Role

    tree = one(fld("custom.salary", "gt", value=1000))
    assert list(errors(tree, user=users["marketing"])) == ["conditions.0.field"]
    assert clean(tree, user=users["admin"])
    Role.objects.filter(key="marketing").update(sensitive_fields=["birthday", "custom.salary"])
    users["marketing"].role.refresh_from_db()
    assert clean(tree, user=users["marketing"])
    # Without a user (the system, jobs), every field is known.
    assert clean(tree)


def test_behaviour_needs_permission_to_see_it(make_user: Any) -> None:
    from danhba.accounts.models import Role

    Role.objects.create(key="fields-only", name="Fields only", permissions={"contact": ["view"], "segment": ["view"]})
    user = make_user("fields-only")
    tree = {
        "op": "any",
        "conditions": [
            {"kind": "event", "name": "x"},
            {"kind": "purchase", "metric": "order_count", "operator": "gt", "value": 0},
            {"kind": "bought", "product": "p"},
            {"kind": "consent", "purpose": "email_marketing", "status": "granted"},
            fld("province", "empty"),
        ],
    }
    found = errors(tree, user=user)
    assert sorted(found) == ["conditions.0", "conditions.1", "conditions.2", "conditions.3"]
    assert found["conditions.0"] == ["your role may not see Events"]


# --- segment references ----------------------------------------------------------------------------


def _ref(segment: Segment, operator: str = "in") -> dict[str, Any]:
    return one({"kind": "segment", "segment": segment.pk, "operator": operator})


def test_segment_may_not_refer_to_itself(db: Any) -> None:
    a = Segment.objects.create(name="A")
    assert errors(_ref(a), segment_id=a.pk) == {"conditions.0.segment": ["a segment cannot depend on itself"]}


def test_segment_cycles_are_refused(db: Any) -> None:
    a = Segment.objects.create(name="A")
    b = Segment.objects.create(name="B")
    c = Segment.objects.create(name="C")
    # B refers to A, C refers to B: fine.
    b.conditions = clean(_ref(a), segment_id=b.pk)
    b.save()
    c.conditions = clean(_ref(b, "not_in"), segment_id=c.pk)
    c.save()
    # A refers to C (→ B → A): refused when saving A, wherever the reference sits.
    nested = {"op": "all", "conditions": [fld("province", "empty"), {"op": "none", "conditions": [_ref(c)]}]}
    assert list(errors(nested, segment_id=a.pk)) == ["conditions.1.0.0.segment"]
    assert list(errors(_ref(b), segment_id=a.pk)) == ["conditions.0.segment"]
    # A new segment (no id yet) may refer to any of them, and A may refer to an unrelated one.
    assert clean(_ref(c))
    d = Segment.objects.create(name="D")
    assert clean(_ref(d), segment_id=a.pk)
    assert C.referenced_segments(c.pk) == {a.pk, b.pk}


# --- reading ---------------------------------------------------------------------------------------------

ISSUE_EXAMPLE = {
    "op": "all",
    "conditions": [
        fld("lifecycle_stage", "eq", value="lead"),
        {
            "op": "any",
            "conditions": [
                {
                    "kind": "event",
                    "name": "Order Completed",
                    "count": {"operator": "gte", "value": 3},
                    "period": {"last_days": 90},
                },
                {"kind": "tag", "operator": "any", "tags": ["VIP"]},
            ],
        },
    ],
}


def test_describe_the_issue_example() -> None:
    assert describe(clean(ISSUE_EXAMPLE)) == (
        "Lifecycle stage is Lead AND (did “Order Completed” ≥ 3 times in the last 90 days OR tag is “VIP”)"
    )


def test_describe_uses_the_active_language_for_labels() -> None:
    with translation.override("vi"):
        text = describe(clean(ISSUE_EXAMPLE))
    # Choice labels come from the data in the reader's language; the rest goes through gettext.
    assert "Khách hàng tiềm năng" in text
    assert "Lead" not in text
    assert "“Order Completed”" in text and "“VIP”" in text


def test_describe_nested_and_every_kind(users: dict[str, Any], custom: Any) -> None:
    seg = Segment.objects.create(name="Hà Nội buyers")
    sales = users["sales"]
    tree = clean(
        {
            "op": "any",
            "conditions": [
                {
                    "op": "none",
                    "conditions": [
                        fld("province", "in", value=["ha-noi", "da-nang"]),
                        fld("owner", "eq", value=sales.pk),
                    ],
                },
                {
                    "op": "all",
                    "conditions": [
                        fld("custom.score", "between", value=[1, 5]),
                        fld("birthday", "anniversary_within", days=7),
                        fld("created_at", "over_days_ago", days=30),
                        fld("occupation", "empty"),
                    ],
                },
                {"kind": "tag", "operator": "none", "tags": ["spam", "test"]},
                {"kind": "consent", "purpose": "email_marketing", "status": "unknown"},
                {"kind": "event", "name": "Login", "count": {"operator": "eq", "value": 0}},
                {
                    "kind": "event",
                    "name": "Viewed",
                    "where": [{"property": "url", "operator": "contains", "value": "/sale"}],
                    "period": {"from": "2025-01-01", "to": "2025-01-31"},
                },
                {"kind": "event_time", "name": "Login", "which": "last", "operator": "within_last", "days": 7},
                {"kind": "purchase", "metric": "total_spent", "operator": "gte", "value": 500000},
                {"kind": "bought", "category": "Tea", "negate": True, "period": {"last_days": 30}},
                {"kind": "segment", "segment": seg.pk, "operator": "not_in"},
            ],
        }
    )
    assert describe(tree) == (
        "NOT (Province / city is one of Hà Nội, Đà Nẵng OR Owner is Sales)"
        " OR (Score is between 1 and 5 AND Birthday has its anniversary within the next 7 days"
        " AND Created is more than 30 days ago AND Occupation is empty)"
        " OR has none of the tags “spam”, “test”"
        " OR consent to Email marketing is not asked"
        " OR did not do “Login”"
        " OR did “Viewed” where url contains “/sale” between 1 Jan 2025 and 31 Jan 2025"
        " OR last time “Login” is within the last 7 days"
        " OR Total spent ≥ 500,000 ₫"
        " OR did not buy category “Tea” in the last 30 days"
        " OR not in “Hà Nội buyers”"
    )


def test_describe_empty_groups() -> None:
    assert describe({"op": "all", "conditions": []}) == "every contact"
    assert describe({"op": "any", "conditions": []}) == "no contact"


# --- dependencies ------------------------------------------------------------------------------------


def test_dependencies(db: Any) -> None:
    static = Segment.objects.create(name="List", kind=Segment.Kind.STATIC)
    dynamic = Segment.objects.create(
        name="Recent", conditions=clean(one({"kind": "event", "name": "Login", "period": {"last_days": 7}}))
    )
    assert dependencies(clean(one(fld("province", "eq", value="ha-noi")))) == (["field:province"], False)
    assert dependencies(clean(one(fld("owner_team", "empty")))) == (["field:owner", "field:owner_team"], False)
    assert dependencies(clean(one(fld("birthday", "anniversary_within", days=3)))) == (["field:birthday"], True)
    assert dependencies(clean(one(fld("company.industry", "eq", value="x")))) == (["company"], False)
    tree = clean(
        {
            "op": "any",
            "conditions": [
                {"kind": "tag", "tags": ["vip"]},
                {"kind": "consent", "purpose": "email_marketing", "status": "granted"},
                {"kind": "bought", "product": "p"},
                {"kind": "segment", "segment": static.pk},
            ],
        }
    )
    assert dependencies(tree) == (sorted(["tags", "consent", "orders", f"list:{static.pk}"]), False)
    assert dependencies(clean(one({"kind": "segment", "segment": dynamic.pk}))) == (["event:Login"], True)
    purchase = {"kind": "purchase", "metric": "last_order_at", "operator": "within_last", "days": 30}
    assert dependencies(clean(one(purchase))) == (["orders"], True)


@pytest.mark.django_db
def test_changed_is_refused_on_fields_the_audit_log_does_not_track() -> None:
    for field in ("created_at", "updated_at", "last_activity_at"):
        tree = {"op": "all", "conditions": [{"kind": "field", "field": field, "operator": "changed", "days": 7}]}
        with pytest.raises(InvalidInput) as exc:
            clean(tree)
        assert "conditions.0.operator" in exc.value.details
    ok = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "changed", "days": 7}]}
    assert clean(ok)["conditions"][0]["days"] == 7
