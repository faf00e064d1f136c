"""The Plan of an import: its options read as the wizard, the API and the CLI give them, and every
error of a mapping at once (nothing imported), in the order the form shows them."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.contacts.models import LifecycleStage
from danhba.core.normalize import NAME_ORDER_WESTERN
from danhba.ingest.transform import Plan, PlanError

pytestmark = pytest.mark.django_db


def test_options_read_as_they_are_typed(make_user: Any) -> None:
    owner = make_user("sales", email="Owner@Example.vn")
    stage = LifecycleStage.objects.filter(is_active=True).first()
    assert stage is not None
    options = {
        "name_order": NAME_ORDER_WESTERN,
        "given_words": "2",
        "day_first": "no",
        "owner": "owner@example.VN",
        "lifecycle_stage": stage.name_vi or stage.key,
        "gender_map": {"M": "male"},
        "add_tags": ["Hội chợ"],
    }
    plan = Plan({"Tên": "full_name", "Email": "email"}, options, ["Email", "Tên"])
    assert list(plan.columns) == ["Email", "Tên"]  # the file's order, whatever the mapping's
    assert (plan.name_order, plan.given_words, plan.day_first) == (NAME_ORDER_WESTERN, 2, False)
    assert (plan.default_owner, plan.default_stage, plan.gender_map) == (owner.pk, stage.pk, {"M": "male"})
    assert plan.add_tags == ["Hội chợ"] and plan.external_system == "import"
    assert Plan({}, {"owner": str(owner.pk), "day_first": True}).default_owner == owner.pk
    assert Plan({}, {"day_first": "1"}).day_first is True


def test_every_error_of_a_mapping_at_once_in_the_form_s_order() -> None:
    columns = {"A": "email", "B": "email_address", "C": "birthday", "D": "birthday", "E": "custom.nope"}
    options = {"name_order": "klingon", "given_words": 4, "day_first": "maybe", "gender_map": {"M": "man"},
               "lifecycle_stage": "no such stage", "owner": "nobody@example.vn", "add_to_list": "999"}  # fmt: skip
    with pytest.raises(PlanError) as exc:
        Plan(columns, options, list(columns))
    errors = exc.value.errors
    assert list(errors) == ["name_order", "given_words", "day_first", "gender_map", "columns", "lifecycle_stage",
                            "owner", "add_to_list"]  # fmt: skip
    assert errors["columns"] == [
        "column 'B': unknown target 'email_address'",
        "column 'E': unknown target 'custom.nope'",
        "'C' and 'D' both go into birthday",
    ]
