"""The demo's score models, "Engagement" and "B2B fit", and every demo contact's scores
(``danhba demo``; ``core/demo.py``)."""

from __future__ import annotations

from typing import Any

from danhba.core.actor import Actor
from danhba.core.demo import DemoRun
from danhba.scoring.models import ContactScore, ScoreModel
from danhba.scoring.services import models as services


def _field(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"op": "all", "conditions": [{"kind": "field", "field": field, "operator": operator, "value": value}]}


def _on(on: str, **trigger: Any) -> dict[str, Any]:
    return {"on": on, **trigger}


ENGAGEMENT: dict[str, Any] = {
    "name": "Engagement",
    "description": "Khách quan tâm đến đâu: xem khuyến mãi, xem sản phẩm, mở email, đăng ký, mua hàng. "
    "Điểm giảm một nửa sau mỗi 14 ngày.",
    "decay": "half_life",
    "decay_days": 14,
    "rules": [
        {"kind": "engagement", "name": "Xem trang khuyến mãi", "trigger": _on("page", url="*/khuyen-mai*"),
         "points": 5, "period_days": 7, "period_max": 20},
        {"kind": "engagement", "name": "Xem sản phẩm", "trigger": _on("event", name="Product Viewed"), "points": 2,
         "max_points": 30},
        {"kind": "engagement", "name": "Mở email", "trigger": _on("email_opened"), "points": 3, "max_points": 15},
        {"kind": "engagement", "name": "Nhấp liên kết trong email", "trigger": _on("email_clicked"), "points": 5,
         "max_points": 25},
        {"kind": "engagement", "name": "Đăng ký tài khoản", "trigger": _on("event", name="Signed Up"), "points": 10},
        {"kind": "engagement", "name": "Đặt hàng", "trigger": _on("order"), "points": 15, "max_points": 45},
        {"kind": "fast_track", "name": "Xem 5 sản phẩm trong 7 ngày",
         "condition": {"op": "all", "conditions": [{"kind": "event", "name": "Product Viewed",
                                                    "count": {"operator": "gte", "value": 5},
                                                    "period": {"last_days": 7}}]}},
    ],
}  # fmt: skip
B2B_FIT: dict[str, Any] = {
    "name": "B2B fit",
    "description": "Khách doanh nghiệp hợp với sản phẩm đến đâu: chức vụ, quy mô công ty, vai trò mua hàng, nơi ở.",
    "grades": [
        {"key": "d", "label": "D", "min": 0},
        {"key": "c", "label": "C", "min": 20},
        {"key": "b", "label": "B", "min": 40},
        {"key": "a", "label": "A", "min": 60},
    ],
    "rules": [
        {"kind": "fit", "name": "Giám đốc", "points": 25,
         "condition": _field("job_title", "in", ["Giám đốc", "Phó giám đốc", "Chủ cửa hàng"])},
        {"kind": "fit", "name": "Trưởng phòng", "points": 15, "condition": _field("job_title", "eq", "Trưởng phòng")},
        {"kind": "fit", "name": "Công ty từ 51 người", "points": 20,
         "condition": _field("company.size", "in", ["51–200", "201–500", "500+"])},
        {"kind": "fit", "name": "Người quyết định mua", "points": 20,
         "condition": _field("buyer_role", "eq", "decision_maker")},
        {"kind": "fit", "name": "Hà Nội hoặc TP.HCM", "points": 10,
         "condition": _field("province", "in", ["ha-noi", "ho-chi-minh"])},
        {"kind": "fit", "name": "Nhân viên", "points": -5, "condition": _field("job_title", "eq", "Nhân viên")},
    ],
}  # fmt: skip


def demo_scoring_load() -> int:
    """Create the demo models (skipping names that exist) and compute every contact's scores."""
    actor = Actor.system("cli")
    made = 0
    for spec in (ENGAGEMENT, B2B_FIT):
        if ScoreModel.objects.filter(name=spec["name"]).exists():
            continue
        data = {k: v for k, v in spec.items() if k != "rules"}
        model = services.score_model_create(actor=actor, data=data)
        for rule in spec["rules"]:
            services.score_rule_create(actor=actor, model=model, data=rule)
        services.recompute_run(model_id=model.pk)
        made += 1
    return made


def demo_scoring_part(run: DemoRun) -> None:
    run.counts["score_models"] = demo_scoring_load()
    run.counts["scores"] = lambda: ContactScore.objects.count()
