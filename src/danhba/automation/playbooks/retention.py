"""Became customer → retention and remarketing: the lifecycle stage reaches "customer" →
onboarding; two weeks later what similar customers also use (cross-sell); two weeks later a
review request; and when no order came in the 90 days after that, a win-back offer and the
tag "cần giữ chân" (lapsing); customers who ordered get "khách trung thành" (loyal)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.automation.playbooks import DAYTIME, Context, Email, Playbook, bilingual, email, wait_days

LAPSING_TAG = "cần giữ chân"
LOYAL_TAG = "khách trung thành"


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "lifecycle_reached", "value": "customer"}


def _no_order_in(days: int) -> dict[str, Any]:
    return {
        "op": "all",
        "conditions": [
            {"kind": "purchase", "metric": "order_count", "operator": "eq", "value": 0, "period": {"last_days": days}}
        ],
    }


def graph(ctx: Context) -> dict[str, Any]:
    return {
        "start": "onboard",
        "steps": {
            "onboard": {"kind": "email", "params": email("onboard"), "next": "wait_cross"},
            "wait_cross": {"kind": "wait", "params": wait_days(14), "next": "cross_sell"},
            "cross_sell": {"kind": "email", "params": email("cross_sell"), "next": "wait_review"},
            "wait_review": {"kind": "wait", "params": wait_days(14), "next": "review"},
            "review": {"kind": "email", "params": email("review"), "next": "wait_lapse"},
            "wait_lapse": {"kind": "wait", "params": wait_days(90), "next": "lapsed",
                           "label": "Chờ 90 ngày"},
            "lapsed": {
                "kind": "branch",
                "params": {"branches": [{"condition": _no_order_in(90), "next": "win_back",
                                         "label": "Không mua trong 90 ngày"}], "otherwise": "loyal"},
                "label": "Còn mua hàng?",
            },
            "win_back": {"kind": "email", "params": email("win_back"), "next": "lapsing"},
            "lapsing": {"kind": "tag", "params": {"add": [LAPSING_TAG]}},
            "loyal": {"kind": "tag", "params": {"add": [LOYAL_TAG]}},
        },
    }  # fmt: skip


EMAILS = {
    "onboard": Email(
        title="Khách hàng mới 1: bắt đầu · New customer 1: onboarding",
        subject="Chào mừng bạn trở thành khách hàng của chúng tôi! · Welcome aboard!",
        preheader="Những việc nên làm trong tuần đầu · What to do in your first week",
        body=bilingual(
            "<p>Cảm ơn bạn đã tin chọn chúng tôi. Để bạn có trải nghiệm tốt nhất ngay từ tuần đầu:</p>"
            '<ol><li>Lưu số của {{ owner.name | default: "người phụ trách" }} để được hỗ trợ nhanh.</li>'
            "<li>Đọc hướng dẫn sử dụng đi kèm — chỉ mất 10 phút.</li>"
            "<li>Gặp vướng mắc? Trả lời email này, chúng tôi phản hồi trong giờ làm việc.</li></ol>"
            "<p>Chúng tôi sẽ thỉnh thoảng hỏi thăm để chắc chắn mọi thứ đều ổn.</p>",
            "<p>Thank you for choosing us. To get the best from your first week:</p>"
            '<ol><li>Save the number of {{ owner.name | default: "your account manager" }} for quick help.</li>'
            "<li>Read the user guide that came with your order — it takes 10 minutes.</li>"
            "<li>Stuck? Reply to this email; we answer within working hours.</li></ol>"
            "<p>We will check in from time to time to make sure everything is fine.</p>",
        ),
    ),
    "cross_sell": Email(
        title="Khách hàng mới 2: gợi ý thêm · New customer 2: cross-sell",
        subject="Khách hàng như bạn cũng chọn thêm… · Customers like you also chose…",
        preheader="Gợi ý dựa trên những gì khách hàng tương tự mua · Picked from what similar customers bought",
        body=bilingual(
            "<p>Sau hai tuần, nhiều khách hàng giống bạn thường chọn thêm những sản phẩm và dịch vụ đi kèm giúp "
            "dùng hiệu quả hơn: gói bảo hành mở rộng, phụ kiện chính hãng và buổi hướng dẫn nâng cao.</p>"
            "<p>Là khách hàng, bạn được <strong>giảm 10%</strong> cho đơn hàng tiếp theo trong 14 ngày. Trả lời "
            "email này để nhận gợi ý phù hợp với bạn.</p>",
            "<p>After two weeks, many customers like you add products and services that help them get more out of "
            "their purchase: an extended warranty, genuine accessories and an advanced training session.</p>"
            "<p>As a customer you get <strong>10% off</strong> your next order for 14 days. Reply to this email for "
            "suggestions that fit you.</p>",
        ),
    ),
    "review": Email(
        title="Khách hàng mới 3: xin đánh giá · New customer 3: review request",
        subject="Bạn thấy thế nào? Chỉ mất 1 phút · How are we doing? It takes one minute",
        preheader="Góp ý của bạn giúp chúng tôi tốt hơn · Your feedback makes us better",
        body=bilingual(
            "<p>Đã một tháng kể từ khi bạn trở thành khách hàng. Chúng tôi rất muốn biết bạn cảm thấy thế nào.</p>"
            "<p>Hãy trả lời email này với một con số từ 1 đến 10 và một câu nhận xét — khen hay chê đều quý. Mỗi "
            "góp ý đều được đọc và chuyển tới đúng bộ phận.</p>",
            "<p>It has been a month since you became a customer, and we would love to know how it is going.</p>"
            "<p>Reply with a score from 1 to 10 and one sentence — praise or criticism, both help. Every reply is "
            "read and passed to the right team.</p>",
        ),
    ),
    "win_back": Email(
        title="Giữ chân khách: mời quay lại · Win-back",
        subject="Đã lâu không gặp — quà nhỏ chờ bạn quay lại · We miss you — a gift inside",
        preheader="Ưu đãi 20% cho đơn hàng tiếp theo · 20% off your next order",
        body=bilingual(
            "<p>Đã một thời gian bạn chưa ghé lại, và chúng tôi nhớ bạn!</p>"
            "<p>Để cảm ơn bạn đã là khách hàng, chúng tôi dành tặng <strong>ưu đãi 20%</strong> cho đơn hàng tiếp "
            "theo trong 30 ngày. Nếu lần trước có điều gì chưa làm bạn hài lòng, hãy trả lời email này — chúng "
            "tôi thật sự muốn sửa.</p>",
            "<p>It has been a while since your last visit, and we miss you!</p>"
            "<p>To thank you for being a customer, here is <strong>20% off</strong> your next order for 30 days. If "
            "something was not right last time, reply to this email — we really want to fix it.</p>",
        ),
    ),
}

PLAYBOOK = Playbook(
    key="retention",
    name=_("Became customer → retention and remarketing"),
    description=_(
        "When a contact becomes a customer: onboarding, a cross-sell two weeks later, a review request after a "
        "month, and a win-back offer if no order comes in the next 90 days."
    ),
    outline=(
        _("Trigger: the lifecycle stage reaches “customer”."),
        _("Email: onboarding; 14 days later a cross-sell; 14 days later a review request."),
        _("90 days later, no order in those 90 days: a win-back offer and the tag “cần giữ chân”."),
        _("Ordered: the tag “khách trung thành”."),
    ),
    trigger=trigger,
    graph=graph,
    emails=EMAILS,
    tags=(LAPSING_TAG, LOYAL_TAG),
    window=DAYTIME,
)
