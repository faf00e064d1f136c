"""Demo segments and a static list, built on the demo dataset (``danhba demo``)."""

from __future__ import annotations

from typing import Any

from danhba.core.actor import Actor
from danhba.segments import services
from danhba.segments.models import Segment

DEMO_SEGMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "Khách VIP ở Hà Nội hoặc TP.HCM",
        "VIP customers in the two big cities.",
        {
            "op": "all",
            "conditions": [
                {"kind": "tag", "operator": "any", "tags": ["VIP"]},
                {"kind": "field", "field": "province", "operator": "in", "value": ["ha-noi", "ho-chi-minh"]},
            ],
        },
    ),
    (
        "Mua 2 lần trong 90 ngày, 30 ngày nay chưa mua",
        "Bought at least twice in the last 90 days but nothing in the last 30: time for a reminder.",
        {
            "op": "all",
            "conditions": [
                {
                    "kind": "purchase",
                    "metric": "order_count",
                    "operator": "gte",
                    "value": 2,
                    "period": {"last_days": 90},
                },
                {"kind": "purchase", "metric": "last_order_at", "operator": "over_days_ago", "days": 30},
            ],
        },
    ),
    (
        "Lead chưa có chủ",
        "Leads and MQLs nobody owns yet, and not wholesale customers.",
        {
            "op": "all",
            "conditions": [
                {"kind": "field", "field": "lifecycle_stage", "operator": "in", "value": ["lead", "mql"]},
                {"kind": "field", "field": "owner", "operator": "empty"},
                {"op": "none", "conditions": [{"kind": "tag", "operator": "any", "tags": ["Khách sỉ", "Đại lý"]}]},
            ],
        },
    ),
    (
        "Mua đồ gia dụng, chi trên 5 triệu",
        "Bought home appliances and spent over 5,000,000 ₫ in all.",
        {
            "op": "all",
            "conditions": [
                {"kind": "bought", "category": "Gia dụng"},
                {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": 5000000},
            ],
        },
    ),
)


def demo_segments_load() -> int:
    """Create the demo segments (skipping names that exist) and compute their membership now."""
    actor = Actor.system("cli")
    made = 0
    for name, description, tree in DEMO_SEGMENTS:
        if Segment.objects.filter(name=name).exists():
            continue
        segment = services.segment_create(actor=actor, name=name, description=description, conditions=tree)
        services.segment_refresh(segment=segment)
        made += 1
    if not Segment.objects.filter(name="Khách mời hội thảo").exists():
        guests = services.segment_create(actor=actor, name="Khách mời hội thảo", kind=Segment.Kind.STATIC)
        from danhba.contacts.models import ContactTag

        ids = ContactTag.objects.filter(tag__name="Hội thảo 2025").values_list("contact_id", flat=True)[:200]
        services.list_add(actor=actor, segment=guests, contact_ids=list(ids))
        made += 1
    return made
