"""The settings form of each kind (``params_forms``), made from its params model: every kind
registered — automation's, sales' and any other app's — renders, and its saved settings come
back the same from what a browser would send; the model's errors show next to their field, in
the user's language."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict
from django.utils import translation

from danhba.automation.kinds import STEP_KINDS, TRIGGER_KINDS
from danhba.automation.params_forms import Choices, ParamsForm
from danhba.automation.tests.conftest import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def samples(admin: Any, make_workflow: Any) -> dict[str, dict[str, Any]]:
    """Settings of each kind automation and sales ship, naming rows that exist."""
    from danhba.messaging.models import EmailTemplate
    from danhba.segments.models import Segment

    template = EmailTemplate.objects.create(name="Chào", subject="Xin chào", body="<p>Chào</p>")
    static = Segment.objects.create(name="Khách VIP", kind=Segment.Kind.STATIC)
    other = make_workflow(name="Khác", active=False)
    return {
        "update_field": {"field": "job_title", "value": "Giám đốc"},
        "tag": {"add": ["vip", "chủ đề: ưu đãi"], "remove": ["lạnh"]},
        "list": {"list": static.pk, "action": "remove"},
        "wait": {"seconds": 5400},
        "wait_event": {"event": "Demo Booked", "timeout_seconds": 3 * 86400, "timeout_next": "later"},
        "branch": {
            "branches": [{"condition": {"op": "all", "conditions": []}, "next": "a", "label": "Mọi người"}],
            "otherwise": "b",
        },
        "webhook": {"url": "https://example.com/hook", "data": {"source": "danhba", "n": 1}},
        "enrol": {"workflow": other.pk},
        "email": {"template": template.pk, "topic": "", "campaign": None},
        "create_task": {"title": "Gọi {{ contact.name }}", "type": "call", "priority": "high", "due_in": 2,
                        "user": admin.pk, "notes": "Hỏi về báo giá"},
        "assign_owner": {"user": admin.pk, "notify": True},
        "notify_user": {"message": "Khách nóng: {{ contact.name }}", "email": False},
        "event": {"kind": "event", "event": "Demo Requested",
                  "where": [{"property": "plan", "operator": "eq", "value": "pro"}]},
        "field_changed": {"kind": "field_changed", "field": "province", "from": "ha-noi", "to": "ho-chi-minh"},
        "inactive": {"kind": "inactive", "days": 30},
        "date": {"kind": "date", "field": "birthday", "days": 0, "yearly": True},
        "deal_lost": {"kind": "deal_lost", "reasons": []},
        "subscribed": {"kind": "subscribed", "purpose": "email_marketing"},
        "manual": {"kind": "manual"},
    }  # fmt: skip


# The steps of the workflow the samples' "go to" settings name.
STEPS = Choices(steps=[("later", "Wait (later)"), ("a", "a"), ("b", "b")])


def _round_trip(kind: Any, saved: dict[str, Any] | None, trigger: bool) -> ParamsForm:
    """The form of ``saved`` rendered, then read back from what a browser sends for it."""
    shown = ParamsForm(kind, prefix="x", previous=saved, trigger=trigger, choices=STEPS)
    html = "<form>" + "".join(str(shown[name]) for name in shown.fields) + "</form>"
    data = QueryDict(mutable=True)
    for name, value in form_data(html).items():
        data.setlist(name, value if isinstance(value, list) else [value])
    return ParamsForm(kind, prefix="x", data=data, previous=saved, trigger=trigger, choices=STEPS)


@pytest.mark.parametrize("trigger", [False, True], ids=["steps", "triggers"])
def test_every_kind_renders_and_its_settings_come_back_the_same(
    samples: dict[str, dict[str, Any]], trigger: bool
) -> None:
    registry = TRIGGER_KINDS if trigger else STEP_KINDS
    tried = []
    for kind in registry:
        saved = samples.get(kind.key)
        if saved is None:  # a kind another app added later: its defaults, when they are valid
            saved = ParamsForm(kind, prefix="x", trigger=trigger).defaults()
            if saved is None:
                assert str(ParamsForm(kind, prefix="x", trigger=trigger))  # it renders
                continue
        given = {**saved, "kind": kind.key} if trigger else saved
        expected = kind.params.model_validate(given).model_dump(mode="json", by_alias=True)
        expected.pop("kind", None) if trigger else None
        back = _round_trip(kind, expected, trigger)
        assert back.is_valid(), (kind.key, back.errors)
        assert back.checked == expected, kind.key
        tried.append(kind.key)
    assert len(tried) >= (10 if trigger else 12), tried


def test_a_kind_from_another_app_gets_a_form_without_special_code() -> None:
    """A kind registered with only its pydantic model (as a helper app would add "update
    score"): numbers with bounds, a Literal, an optional text, a list of texts."""
    from typing import Literal

    from pydantic import BaseModel, Field

    from danhba.automation.kinds import StepKind

    class ScoreParams(BaseModel):
        model: int = Field(ge=1)
        points: int = Field(ge=-1000, le=1000)
        mode: Literal["add", "set"] = "add"
        reason: str | None = Field(default=None, max_length=50)
        tags: list[str] = Field(default_factory=list)

    kind = StepKind("score_test", "Score", ScoreParams, lambda ctx, items: {})
    data = QueryDict(mutable=True)
    data.update({"x-shown": "1", "x-model": "3", "x-points": "2000", "x-mode": "set", "x-tags": "a\nb"})
    form = ParamsForm(kind, prefix="x", data=data)
    assert not form.is_valid() and form.errors["points"]
    data["x-points"] = "-5"
    form = ParamsForm(kind, prefix="x", data=data)
    assert form.is_valid(), form.errors
    assert form.checked == {"model": 3, "points": -5, "mode": "set", "reason": None, "tags": ["a", "b"]}


def test_the_models_errors_are_shown_next_to_their_field_in_vietnamese() -> None:
    kind = TRIGGER_KINDS.get("event")
    data = QueryDict(mutable=True)
    data.update({"t-shown": "1", "t-event": "x" * 201, "t-where-0-property": "", "t-where-0-operator": "eq"})
    with translation.override("vi"):
        form = ParamsForm(kind, prefix="t", data=data, trigger=True)
        assert not form.is_valid()
        assert form.errors["event"] == ["Giá trị này chỉ có tối đa 200 kí tự (hiện có 201)"]
    step = STEP_KINDS.get("tag")
    data = QueryDict(mutable=True)
    data.update({"s-shown": "1", "s-add": "", "s-remove": ""})
    with translation.override("vi"):
        form = ParamsForm(step, prefix="s", data=data)
        assert not form.is_valid()
        assert form.non_field_errors() == ["Thêm hoặc bỏ ít nhất một thẻ."]
    wait = STEP_KINDS.get("wait")
    data = QueryDict(mutable=True)
    data.update({"w-shown": "1", "w-seconds": "", "w-seconds_unit": "days", "w-time_of_day": "25:00", "w-tz": "UTC"})
    with translation.override("vi"):
        form = ParamsForm(wait, prefix="w", data=data)
        assert not form.is_valid()
        assert form.errors["time_of_day"] == ["Giá trị này không đúng dạng."]


def test_dates_are_day_first_in_vietnamese() -> None:
    wait = STEP_KINDS.get("wait")
    data = QueryDict(mutable=True)
    data.update({"w-shown": "1", "w-seconds": "", "w-seconds_unit": "days", "w-until": "25/12/2026 09:30"})
    with translation.override("vi"):
        form = ParamsForm(wait, prefix="w", data=data)
        assert form.is_valid(), form.errors
        assert form.checked["until"] == "2026-12-25T09:30:00+07:00"
        shown = ParamsForm(wait, prefix="w", previous=form.checked)
        assert 'value="25/12/2026 09:30"' in str(shown["until"])


def test_choices_come_from_the_database(admin: Any) -> None:
    from danhba.messaging.models import EmailTemplate

    EmailTemplate.objects.create(name="Ưu đãi tháng 12", subject="Ưu đãi", body="<p>x</p>")
    html = str(ParamsForm(STEP_KINDS.get("email"), prefix="e")["template"])
    assert "Ưu đãi tháng 12" in html
    html = str(ParamsForm(STEP_KINDS.get("create_task"), prefix="c")["user"])  # sales' kind, automation's source
    assert admin.email in html or admin.full_name in html
    html = str(ParamsForm(TRIGGER_KINDS.get("deal_lost"), prefix="d", trigger=True)["reasons"])  # sales' source
    assert 'type="checkbox"' in html and "budget" in html


def test_the_form_trigger_chooses_among_the_web_forms(admin: Any) -> None:
    from danhba.capture.models import WebForm

    made = WebForm.objects.create(name="Đăng ký tư vấn", slug="dang-ky-tu-van")
    html = str(ParamsForm(TRIGGER_KINDS.get("form_submitted"), prefix="f", trigger=True)["form"])
    assert "<select" in html and f'value="{made.pk}"' in html and "Đăng ký tư vấn" in html


def test_the_score_step_says_what_its_grade_does_in_both_languages() -> None:
    kind = STEP_KINDS.get("score")
    assert kind is not None
    assert ParamsForm(kind, prefix="s")["grade"].label == "Or set to the grade"
    with translation.override("vi"):
        assert str(ParamsForm(kind, prefix="s")["grade"].label) == "Hoặc đặt thành hạng"
