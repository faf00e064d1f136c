"""Lost deal → nurture by the lost reason: three days after a deal is lost (sales' "Deal Lost"
event), and only with marketing-email consent, a track by the reason — budget: an offer, then a
reminder; competitor: customer stories; missing feature: product updates; any other reason
(timing, no response): a friendly re-engagement."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.automation.playbooks import (
    DAYTIME,
    Context,
    Email,
    Playbook,
    bilingual,
    consent_granted,
    email,
    event_in_days,
    wait_days,
)

LOST = "Deal Lost"


def _lost_for(reason: str) -> dict[str, Any]:
    return event_in_days(LOST, 30, [{"property": "lost_reason", "operator": "eq", "value": reason}])


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "deal_lost", "reasons": []}


def graph(ctx: Context) -> dict[str, Any]:
    return {
        "start": "cool_off",
        "steps": {
            "cool_off": {"kind": "wait", "params": wait_days(3), "next": "consent", "label": "Chờ 3 ngày"},
            "consent": {
                "kind": "branch",
                "params": {"branches": [{"condition": consent_granted("email_marketing"), "next": "reason",
                                         "label": "Đồng ý nhận email"}], "otherwise": ""},
                "label": "Chỉ khi đồng ý nhận email",
            },
            "reason": {
                "kind": "branch",
                "params": {
                    "branches": [
                        {"condition": _lost_for("budget"), "next": "price_offer", "label": "Giá / ngân sách"},
                        {"condition": _lost_for("competitor"), "next": "stories", "label": "Đối thủ"},
                        {"condition": _lost_for("missing-feature"), "next": "updates", "label": "Thiếu tính năng"},
                    ],
                    "otherwise": "reengage",
                },
                "label": "Theo lý do mất",
            },
            "price_offer": {"kind": "email", "params": email("price_offer"), "next": "price_wait"},
            "price_wait": {"kind": "wait", "params": wait_days(7), "next": "price_reminder"},
            "price_reminder": {"kind": "email", "params": email("price_reminder")},
            "stories": {"kind": "email", "params": email("stories")},
            "updates": {"kind": "email", "params": email("updates")},
            "reengage": {"kind": "email", "params": email("reengage")},
        },
    }  # fmt: skip


EMAILS = {
    "price_offer": Email(
        title="Ưu đãi sau khi mất giao dịch · Offer after a lost deal",
        subject="Một mức giá dễ chịu hơn dành riêng cho {{ contact.given_name | default: contact.name }}",
        preheader="Ưu đãi 15% và trả góp 0% trong 30 ngày · 15% off and 0% instalments for 30 days",
        body=bilingual(
            "<p>Cảm ơn bạn đã dành thời gian tìm hiểu giải pháp của chúng tôi. Chúng tôi hiểu rằng ngân sách "
            "lúc này chưa phù hợp, và chúng tôi muốn giúp bạn bắt đầu dễ dàng hơn.</p>"
            "<p>Trong 30 ngày tới, bạn được <strong>giảm 15%</strong> cho năm đầu tiên, "
            "hoặc <strong>trả góp 0%</strong> trong 6 tháng. Bạn cũng có thể bắt đầu với gói nhỏ hơn "
            "và nâng cấp khi cần.</p>"
            '<p>Chỉ cần trả lời email này, {{ owner.name | default: "đội ngũ tư vấn" }} sẽ gửi bạn báo giá mới '
            "trong ngày làm việc.</p>",
            "<p>Thank you for taking the time to look at our solution. We understand the budget was not right "
            "this time, and we would like to make starting easier.</p>"
            "<p>For the next 30 days you get <strong>15% off the first year</strong>, "
            "or <strong>0% instalments</strong> over 6 months. You can also start with a smaller plan "
            "and upgrade when you are ready.</p>"
            '<p>Just reply to this email and {{ owner.name | default: "our team" }} will send you a new quote '
            "within one working day.</p>",
        ),
    ),
    "price_reminder": Email(
        title="Nhắc ưu đãi · Offer reminder",
        subject="Ưu đãi 15% của bạn còn hiệu lực thêm ít ngày · Your 15% offer ends soon",
        preheader="Trả lời email này để giữ mức giá · Reply to keep the price",
        body=bilingual(
            "<p>Chúng tôi chỉ nhắc nhẹ: ưu đãi giảm 15% năm đầu (hoặc trả góp 0% trong 6 tháng) dành cho bạn "
            "sẽ kết thúc trong vài ngày tới.</p>"
            "<p>Nếu bạn cần thêm thời gian để cân nhắc, hãy trả lời email này — chúng tôi sẽ giữ mức giá cho bạn "
            "đến hết quý.</p>",
            "<p>A gentle reminder: your offer of 15% off the first year (or 0% instalments over 6 months) ends "
            "in a few days.</p>"
            "<p>If you need more time to decide, reply to this email and we will hold the price for you until the "
            "end of the quarter.</p>",
        ),
    ),
    "stories": Email(
        title="Câu chuyện khách hàng · Customer stories",
        subject="Vì sao nhiều doanh nghiệp chuyển sang dùng chúng tôi · Why teams switched to us",
        preheader="Ba câu chuyện thật từ khách hàng Việt Nam · Three real stories from Vietnamese customers",
        body=bilingual(
            "<p>Cảm ơn bạn đã cân nhắc chúng tôi. Dù lần này bạn chọn một giải pháp khác, chúng tôi muốn chia sẻ "
            "vài câu chuyện có thể hữu ích cho bạn sau này:</p>"
            "<ul><li>Một chuỗi bán lẻ ở TP. Hồ Chí Minh giảm 40% thời gian chăm sóc khách sau 3 tháng.</li>"
            "<li>Một công ty phân phối ở Hà Nội chuyển dữ liệu từ hệ thống cũ trong một cuối tuần, không mất "
            "liên hệ nào.</li>"
            "<li>Một trung tâm đào tạo ở Đà Nẵng tăng 25% tỷ lệ học viên quay lại nhờ email tự động.</li></ul>"
            "<p>Nếu một ngày bạn muốn so sánh lại, chúng tôi sẵn lòng hỗ trợ chuyển đổi miễn phí. Chỉ cần trả lời "
            "email này.</p>",
            "<p>Thank you for considering us. Although you chose another solution this time, here are a few stories "
            "that may be useful later:</p>"
            "<ul><li>A retail chain in Ho Chi Minh City cut customer-care time by 40% in three months.</li>"
            "<li>A distributor in Hanoi moved its data from an old system over one weekend without losing a "
            "contact.</li>"
            "<li>A training centre in Da Nang brought back 25% more returning students with automated emails.</li></ul>"
            "<p>If you ever want to compare again, we will help you switch for free. Just reply to this email.</p>",
        ),
    ),
    "updates": Email(
        title="Cập nhật sản phẩm · Product updates",
        subject="Tính năng bạn cần đang đến gần · The feature you asked for is coming",
        preheader="Những gì mới trong sản phẩm tháng này · What is new this month",
        body=bilingual(
            "<p>Lần trước, chúng tôi chưa có đủ tính năng bạn cần. Chúng tôi đã ghi nhận góp ý đó và muốn cập "
            "nhật cho bạn những gì mới trong thời gian qua.</p>"
            "<p>Mỗi tháng chúng tôi phát hành tính năng mới dựa trên yêu cầu của khách hàng. Hãy trả lời email này "
            "và cho chúng tôi biết tính năng bạn cần nhất: chúng tôi sẽ báo ngay cho bạn khi tính năng đó sẵn "
            "sàng, kèm một buổi trình diễn riêng.</p>",
            "<p>Last time we did not yet have everything you needed. We have noted your feedback and want to keep "
            "you up to date with what is new.</p>"
            "<p>Every month we release features our customers ask for. Reply to this email and tell us the one you "
            "need most: we will let you know as soon as it is ready, with a private demo.</p>",
        ),
    ),
    "reengage": Email(
        title="Giữ liên lạc sau khi mất giao dịch · Staying in touch",
        subject="Khi nào sẵn sàng, chúng tôi vẫn ở đây · Whenever you are ready, we are here",
        preheader="Không vội — chỉ một lời hỏi thăm · No rush — just checking in",
        body=bilingual(
            "<p>Có lẽ thời điểm vừa rồi chưa phù hợp, và điều đó hoàn toàn bình thường.</p>"
            "<p>Chúng tôi sẽ thỉnh thoảng gửi bạn những mẹo hữu ích về chăm sóc khách hàng. Khi bạn sẵn sàng "
            'trao đổi lại, chỉ cần trả lời email này — {{ owner.name | default: "chúng tôi" }} sẽ liên hệ '
            "vào thời gian bạn chọn.</p>",
            "<p>Perhaps the timing was not right, and that is perfectly fine.</p>"
            "<p>We will send you useful customer-care tips from time to time. Whenever you are ready to talk again, "
            'just reply to this email and {{ owner.name | default: "we" }} will get in touch at a time that suits '
            "you.</p>",
        ),
    ),
}

PLAYBOOK = Playbook(
    key="lost_deal",
    name=_("Lost deal → nurture by lost reason"),
    description=_(
        "Three days after a deal is lost, and only for contacts who agreed to marketing email, follow up by the "
        "reason the deal was lost: an offer for price, customer stories for a competitor, product updates for "
        "a missing feature, a friendly check-in otherwise."
    ),
    outline=(
        _("Trigger: a deal is lost (any reason)."),
        _("Wait 3 days; continue only with marketing-email consent."),
        _("Too expensive / no budget: an offer email, then a reminder 7 days later."),
        _("Chose a competitor: customer stories."),
        _("Missing feature: product updates."),
        _("Any other reason (timing, no response): a re-engagement email."),
    ),
    trigger=trigger,
    graph=graph,
    emails=EMAILS,
    reenrol="again",
    window=DAYTIME,
)
