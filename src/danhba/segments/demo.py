"""Demo segments and a static list, built on the demo dataset (``danhba demo``)."""

from __future__ import annotations

from typing import Any

from danhba.core.actor import Actor
from danhba.core.demo import DemoRun
from danhba.segments import services
from danhba.segments.models import Segment


def _event(name: str, operator: str, count: int, last_days: int | None) -> dict[str, Any]:
    period = {"last_days": last_days} if last_days else None
    return {"kind": "event", "name": name, "count": {"operator": operator, "value": count}, "period": period}


def _from_facebook(page: str) -> dict[str, Any]:
    """Landed on ``page`` from a link of the Facebook campaign (its UTM parameters in the URL)."""
    where = [{"property": "url", "operator": "contains", "value": "utm_source=facebook"}]
    return {**_event(page, "gte", 1, None), "event_type": "page", "where": where}


DEMO_SEGMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "Khách VIP ở Hà Nội hoặc TP.HCM",
        "Khách VIP ở hai thành phố lớn.",
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
        "Mua ít nhất 2 lần trong 90 ngày qua nhưng 30 ngày nay chưa mua gì: đến lúc nhắc khách.",
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
        "Lead và MQL chưa ai phụ trách, không phải khách sỉ hay đại lý.",
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
        "Đã mua đồ gia dụng và tổng chi tiêu trên 5.000.000 ₫.",
        {
            "op": "all",
            "conditions": [
                {"kind": "bought", "category": "Gia dụng"},
                {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": 5000000},
            ],
        },
    ),
    (
        "Mua từ 3 lần trong 90 ngày",
        "Ví dụ trong README: có sự kiện Order Completed ít nhất 3 lần trong 90 ngày qua.",
        {"op": "all", "conditions": [_event("Order Completed", "gte", 3, 90)]},
    ),
    (
        "Bỏ quên giỏ hàng tuần này",
        "Mở trang giỏ hàng trong 7 ngày qua nhưng từ đó chưa hoàn tất đơn nào.",
        {
            "op": "all",
            "conditions": [
                {**_event("Giỏ hàng", "gte", 1, 7), "event_type": "page"},
                _event("Order Completed", "eq", 0, 7),
            ],
        },
    ),
    (
        "Xem trà sen nhưng chưa mua",
        "Xem trà sen Tây Hồ từ 2 lần trở lên trong 30 ngày nhưng chưa từng mua.",
        {
            "op": "all",
            "conditions": [
                {
                    **_event("Product Viewed", "gte", 2, 30),
                    "where": [{"property": "product_id", "operator": "eq", "value": "TRA-SEN"}],
                },
                {"kind": "bought", "product": "TRA-SEN", "period": None, "negate": True},
            ],
        },
    ),
    (
        "Đến từ quảng cáo Facebook, đã mua trên 500.000 ₫",
        "Vào website từ chiến dịch Facebook và đặt đơn trên 500.000 ₫ (trả bằng mọi cách trừ thanh toán khi "
        "nhận hàng).",
        {
            "op": "all",
            "conditions": [
                {"op": "any", "conditions": [_from_facebook(page) for page in ("Trang chủ", "Khuyến mãi", "Blog")]},
                {
                    **_event("Order Completed", "gte", 1, None),
                    "where": [
                        {"property": "total", "operator": "gt", "value": 500000},
                        {"property": "payment_method", "operator": "ne", "value": "cod"},
                    ],
                },
            ],
        },
    ),
    (
        "Nhận email, ở hai thành phố lớn, lâu chưa mua",
        "Đồng ý nhận email tiếp thị, ở Hà Nội hoặc TP.HCM (hoặc làm ở công ty tại đó), và 60 ngày nay chưa "
        "đặt đơn — hoặc chưa từng đặt.",
        {
            "op": "all",
            "conditions": [
                {"kind": "consent", "purpose": "email_marketing", "status": "granted"},
                {
                    "op": "any",
                    "conditions": [
                        {"kind": "field", "field": "province", "operator": "in", "value": ["ha-noi", "ho-chi-minh"]},
                        {
                            "kind": "field",
                            "field": "company.province",
                            "operator": "in",
                            "value": ["ha-noi", "ho-chi-minh"],
                        },
                    ],
                },
                {
                    "op": "none",
                    "conditions": [
                        {"kind": "purchase", "metric": "last_order_at", "operator": "within_last", "days": 60}
                    ],
                },
            ],
        },
    ),
    (
        "Khách mới đăng ký trên web 30 ngày qua",
        "Đăng ký trên website trong 30 ngày qua, không gắn thẻ khách sỉ.",
        {
            "op": "all",
            "conditions": [
                {"kind": "event_time", "name": "Signed Up", "which": "first", "operator": "within_last", "days": 30},
                {"kind": "tag", "operator": "none", "tags": ["Khách sỉ", "Đại lý"]},
            ],
        },
    ),
    (
        "VIP lâu chưa quay lại",
        "Thuộc phân khúc VIP ở trên, đơn gần nhất đã hơn 60 ngày.",
        {
            "op": "all",
            "conditions": [
                {"kind": "segment", "segment": "@Khách VIP ở Hà Nội hoặc TP.HCM", "operator": "in"},
                {"kind": "purchase", "metric": "last_order_at", "operator": "over_days_ago", "days": 60},
            ],
        },
    ),
)


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    """The tree with ``"@name"`` references to other demo segments replaced by their ids."""
    if "op" in node:
        return {**node, "conditions": [_resolved(c) for c in node["conditions"]]}
    ref = node.get("segment")
    if node.get("kind") == "segment" and isinstance(ref, str) and ref.startswith("@"):
        return {**node, "segment": Segment.objects.filter(name=ref[1:]).values_list("pk", flat=True).first()}
    return node


def demo_segments_load() -> int:
    """Create the demo segments and lists (skipping names that exist) and compute their
    membership now."""
    actor = Actor.system("cli")
    made = 0
    for name, description, tree in DEMO_SEGMENTS:
        if Segment.objects.filter(name=name).exists():
            continue
        segment = services.segment_create(actor=actor, name=name, description=description, conditions=_resolved(tree))
        services.segment_refresh(segment=segment)
        made += 1
    if not Segment.objects.filter(name="Khách mời hội thảo").exists():
        guests = services.segment_create(actor=actor, name="Khách mời hội thảo", kind=Segment.Kind.STATIC)
        from danhba.contacts.models import ContactTag

        ids = ContactTag.objects.filter(tag__name="Hội thảo 2025").values_list("contact_id", flat=True)[:200]
        services.list_add(actor=actor, segment=guests, contact_ids=list(ids))
        made += 1
    if not Segment.objects.filter(name="Gọi lại khách cũ").exists():
        # A list filled from a pasted file, as a sales rep would: emails and #ids.
        calls = services.segment_create(
            actor=actor, name="Gọi lại khách cũ", kind=Segment.Kind.STATIC,
            description="Khách cũ cần gọi lại giới thiệu catalogue Tết (dán từ bảng tính).",
        )  # fmt: skip
        from danhba.contacts.models import Contact

        old = Contact.objects.filter(tags__name="Khách cũ").order_by("pk")
        lines = [c.email or f"#{c.pk}" for c in old[:40]]
        services.list_add_by_keys(actor=actor, segment=calls, lines=lines)
        made += 1
    return made


def demo_segments_part(run: DemoRun) -> None:
    """The segments part of the demo (``core/demo.py``): the segments and lists above."""
    run.counts["segments"] = demo_segments_load()
