"""The demo's sales: one pipeline with its stages, deals on the demo contacts (open at every
stage, some won, some lost with a reason and a note) and the reps' tasks around today
(``danhba demo``; ``core/demo.py``), and the sales team's lead assignment rule (round robin).
Everything goes through the services, as a user's would."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.demo import DemoRun
from danhba.sales.models import Deal, LostReason, Pipeline, Stage, Task
from danhba.sales.services import deals, pipelines, tasks

PIPELINE = {
    "name": "Bán hàng",
    "stages": [
        {"name": "Khách mới", "probability": 10},
        {"name": "Đã liên hệ", "probability": 20},
        {"name": "Đã gửi báo giá", "probability": 40},
        {"name": "Đàm phán", "probability": 70},
        {"name": "Thành công", "kind": Stage.Kind.WON},
        {"name": "Thất bại", "kind": Stage.Kind.LOST},
    ],
}
WHAT = ("Gói chăm sóc da", "Máy lọc không khí", "Combo quà Tết", "Gói thành viên năm", "Bộ nồi inox",
        "Đơn sỉ cửa hàng", "Thiết bị văn phòng", "Gói bảo hành mở rộng")  # fmt: skip
LOST_NOTES = ("Khách chê giá cao hơn bên khác.", "Chưa có ngân sách quý này.", "Gọi ba lần không nghe máy.",
              "Cần tính năng giao hàng trong ngày.")  # fmt: skip
TASKS = (("Gọi lại cho khách", Task.Kind.CALL), ("Gửi báo giá", Task.Kind.EMAIL),
         ("Hẹn gặp tại cửa hàng", Task.Kind.MEETING), ("Hỏi thăm sau khi giao hàng", Task.Kind.FOLLOW_UP))  # fmt: skip


def demo_sales_present() -> bool:
    return Deal.objects.exists()


def demo_sales_part(run: DemoRun) -> None:
    rng = random.Random(run.seed + 15)
    actor = Actor.system("cli")
    pipeline = Pipeline.objects.first() or pipelines.pipeline_create(actor=actor, data=PIPELINE)
    stages = list(pipeline.stages.order_by("position"))
    open_stages = [s for s in stages if s.kind == Stage.Kind.OPEN]
    reasons = list(LostReason.objects.filter(is_active=True).values_list("pk", flat=True))
    people = list(
        Contact.objects.filter(pk__in=run.contact_ids, owner__isnull=False).values_list("pk", "owner_id")[:400]
    )
    made = rng.sample(people, min(len(people), max(8, run.contacts // 25)))
    today = timezone.localdate()
    for contact_id, owner_id in made:
        deal = deals.deal_create(actor=actor, data=_deal(rng, pipeline, contact_id, owner_id, today))
        _progress(rng, actor, deal, open_stages, reasons)
        if rng.random() < 0.5:
            tasks.task_create(actor=actor, data=_task(rng, deal, contact_id, owner_id))
    run.counts["deals"] = len(made)
    run.counts["tasks"] = lambda: Task.objects.count()
    _assignment_rule(actor)


def _assignment_rule(actor: Actor) -> None:
    """The sales team shares new leads in turn (from here on: web forms, imports, channels),
    at most 500 open leads each."""
    from danhba.accounts.models import Team
    from danhba.sales.models import AssignmentRule
    from danhba.sales.services.rules import rule_create

    team = Team.objects.filter(name="Kinh doanh").first()
    if team is None or AssignmentRule.objects.exists():
        return
    rule_create(actor=actor, data={"name": "Khách mới chia lần lượt", "team_id": team.pk, "capacity": 500})


def _deal(rng: random.Random, pipeline: Pipeline, contact_id: int, owner_id: int, today: dt.date) -> dict[str, object]:
    return {
        "title": rng.choice(WHAT),
        "pipeline_id": pipeline.pk,
        "primary_contact_id": contact_id,
        "owner_id": owner_id,
        "value": str(Decimal(rng.randrange(20, 2_000)) * 100_000),
        "expected_close": (today + dt.timedelta(days=rng.randrange(-10, 120))).isoformat(),
        "source": rng.choice(("website", "facebook", "zalo", "referral", "event")),
    }


def _progress(rng: random.Random, actor: Actor, deal: Deal, open_stages: list[Stage], reasons: list[int]) -> None:
    """Move the deal on: along the open stages, then for some to won or lost."""
    reached = rng.randrange(len(open_stages))
    for stage in open_stages[1 : reached + 1]:
        deal = deals.deal_move(actor=actor, deal=deal, stage_id=stage.pk)
    ending = rng.random()
    if ending < 0.15:
        deals.deal_win(actor=actor, deal=deal)
    elif ending < 0.3 and reasons:
        deals.deal_lose(actor=actor, deal=deal, lost_reason_id=rng.choice(reasons), note=rng.choice(LOST_NOTES))


def _task(rng: random.Random, deal: Deal, contact_id: int, owner_id: int) -> dict[str, object]:
    title, kind = rng.choice(TASKS)
    due = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=rng.randrange(-48, 96))
    return {
        "title": title, "kind": kind, "priority": rng.choice(("low", "normal", "normal", "high")),
        "contact_id": contact_id, "deal_id": deal.pk, "owner_id": owner_id, "due_at": due,
        "remind_before_minutes": 30,
    }  # fmt: skip
