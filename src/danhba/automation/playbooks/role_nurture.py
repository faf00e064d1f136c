"""Buyer role → role-specific nurture: a buyer role is assigned → a track by the role:
decision makers get the business case and an invitation to a short meeting; influencers a
comparison guide and a demo; users practical tips and training; other roles one general
introduction. Two emails five days apart per track."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.automation.playbooks import DAYTIME, Context, Email, Playbook, bilingual, email, field_is, wait_days


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "buyer_role_assigned", "value": ""}


def _track(first: str, second: str) -> dict[str, Any]:
    return {
        first: {"kind": "email", "params": email(first), "next": f"{first}_wait"},
        f"{first}_wait": {"kind": "wait", "params": wait_days(5), "next": second},
        second: {"kind": "email", "params": email(second)},
    }


def graph(ctx: Context) -> dict[str, Any]:
    return {
        "start": "role",
        "steps": {
            "role": {
                "kind": "branch",
                "params": {
                    "branches": [
                        {"condition": field_is("buyer_role", "decision_maker"), "next": "dm_case",
                         "label": "Người quyết định"},
                        {"condition": field_is("buyer_role", "influencer"), "next": "inf_compare",
                         "label": "Người ảnh hưởng"},
                        {"condition": field_is("buyer_role", "user"), "next": "user_tips", "label": "Người sử dụng"},
                    ],
                    "otherwise": "general",
                },
                "label": "Theo vai trò người mua",
            },
            **_track("dm_case", "dm_meeting"),
            **_track("inf_compare", "inf_demo"),
            **_track("user_tips", "user_training"),
            "general": {"kind": "email", "params": email("general")},
        },
    }  # fmt: skip


EMAILS = {
    "dm_case": Email(
        title="Vai trò: người quyết định 1 · Decision maker 1",
        subject="Bài toán đầu tư: hoàn vốn trong 6 tháng · The business case: payback in 6 months",
        preheader="Con số mà ban giám đốc quan tâm · The numbers leadership cares about",
        body=bilingual(
            "<p>Với vai trò người ra quyết định, điều bạn cần là con số rõ ràng. Khách hàng của chúng tôi thường "
            "thấy:</p><ul><li>Giảm 30–40% thời gian nhập liệu và chăm sóc khách thủ công;</li>"
            "<li>Tăng 15–25% doanh thu từ khách hàng cũ nhờ chăm sóc đúng lúc;</li>"
            "<li>Hoàn vốn trung bình trong khoảng 6 tháng.</li></ul>"
            "<p>Trả lời email này, chúng tôi sẽ gửi bản tính hoàn vốn theo số liệu của chính doanh nghiệp bạn.</p>",
            "<p>As the person who decides, you need clear numbers. Our customers usually see:</p>"
            "<ul><li>30–40% less time spent on data entry and manual follow-up;</li>"
            "<li>15–25% more revenue from existing customers thanks to timely care;</li>"
            "<li>Payback in about 6 months on average.</li></ul>"
            "<p>Reply to this email and we will send a payback estimate built on your own figures.</p>",
        ),
    ),
    "dm_meeting": Email(
        title="Vai trò: người quyết định 2 · Decision maker 2",
        subject="20 phút để xem có phù hợp không? · 20 minutes to see if it fits?",
        preheader="Một buổi trao đổi ngắn với chuyên gia · A short call with a specialist",
        body=bilingual(
            "<p>Chúng tôi biết lịch của bạn rất kín. Vì vậy, chúng tôi đề xuất một cuộc gọi <strong>20 phút</strong> "
            "với chuyên gia tư vấn: không trình bày dài dòng, chỉ tập trung vào mục tiêu của bạn và trả lời thẳng "
            'câu hỏi "có đáng đầu tư không".</p>'
            '<p>Trả lời email này với thời gian thuận tiện, {{ owner.name | default: "chúng tôi" }} sẽ sắp xếp.</p>',
            "<p>We know your calendar is full, so we suggest a <strong>20-minute</strong> call with a specialist: "
            'no long presentation, just your goals and a straight answer to "is it worth it?".</p>'
            '<p>Reply with a time that suits you and {{ owner.name | default: "we" }} will set it up.</p>',
        ),
    ),
    "inf_compare": Email(
        title="Vai trò: người ảnh hưởng 1 · Influencer 1",
        subject="Bảng so sánh để bạn trình bày với sếp · A comparison sheet for your team",
        preheader="Tiêu chí, chi phí và rủi ro trên một trang · Criteria, costs and risks on one page",
        body=bilingual(
            "<p>Bạn là người tìm hiểu và đề xuất giải pháp cho công ty — một vai trò quan trọng. Để giúp bạn, chúng "
            "tôi đã chuẩn bị bảng so sánh một trang: tiêu chí lựa chọn, chi phí sở hữu trong 3 năm, thời gian "
            "triển khai và những câu hỏi nên hỏi mọi nhà cung cấp.</p>"
            "<p>Trả lời email này để nhận bản PDF, bạn có thể chia sẻ ngay với đồng nghiệp.</p>",
            "<p>You research and recommend solutions for your company — an important role. To help, we prepared a "
            "one-page comparison: selection criteria, three-year cost of ownership, time to go live and the "
            "questions to ask every vendor.</p>"
            "<p>Reply to this email to get the PDF, ready to share with your colleagues.</p>",
        ),
    ),
    "inf_demo": Email(
        title="Vai trò: người ảnh hưởng 2 · Influencer 2",
        subject="Xem thử trên dữ liệu của bạn · See it on your own data",
        preheader="Bản dùng thử có hướng dẫn · A guided trial",
        body=bilingual(
            "<p>Cách thuyết phục nhất là xem giải pháp chạy trên dữ liệu thật. Gửi chúng tôi một file mẫu "
            "(có thể ẩn thông tin nhạy cảm), chúng tôi sẽ dựng bản thử để bạn trình bày cùng nhóm.</p>"
            "<p>Chỉ cần trả lời email này.</p>",
            "<p>The most convincing demo runs on real data. Send us a sample file (sensitive details can be masked) "
            "and we will set up a trial you can show your team.</p><p>Just reply to this email.</p>",
        ),
    ),
    "user_tips": Email(
        title="Vai trò: người sử dụng 1 · User 1",
        subject="5 mẹo giúp bạn làm nhanh hơn mỗi ngày · 5 tips to work faster every day",
        preheader="Mẹo nhỏ, tiết kiệm nhiều giờ · Small tips, hours saved",
        body=bilingual(
            "<p>Bạn là người dùng hằng ngày, nên chúng tôi gửi những mẹo thiết thực nhất:</p>"
            '<ol><li>Tìm liên hệ không cần gõ dấu: "nguyen van an" vẫn ra "Nguyễn Văn An".</li>'
            "<li>Dán số điện thoại ở mọi định dạng, hệ thống tự chuẩn hoá.</li>"
            "<li>Lưu bộ lọc hay dùng thành phân khúc.</li>"
            "<li>Dùng phím tắt để chuyển trang nhanh.</li>"
            "<li>Xem toàn bộ lịch sử khách trên một dòng thời gian.</li></ol>",
            "<p>You use the tool every day, so here are the most practical tips:</p>"
            '<ol><li>Search without accents: "nguyen van an" finds "Nguyễn Văn An".</li>'
            "<li>Paste phone numbers in any format; they are normalised for you.</li>"
            "<li>Save the filters you use often as segments.</li>"
            "<li>Use keyboard shortcuts to move between pages.</li>"
            "<li>See a customer's whole history on one timeline.</li></ol>",
        ),
    ),
    "user_training": Email(
        title="Vai trò: người sử dụng 2 · User 2",
        subject="Buổi đào tạo trực tuyến miễn phí tuần này · Free online training this week",
        preheader="45 phút, có hỏi đáp · 45 minutes, with Q&A",
        body=bilingual(
            "<p>Mỗi tuần chúng tôi tổ chức một buổi đào tạo trực tuyến 45 phút cho người dùng mới, có phần hỏi "
            "đáp trực tiếp. Trả lời email này để giữ chỗ, chúng tôi sẽ gửi lịch và đường dẫn tham gia.</p>",
            "<p>Every week we run a free 45-minute online training for new users, with live Q&A. Reply to this "
            "email to save a seat and we will send you the schedule and the link.</p>",
        ),
    ),
    "general": Email(
        title="Vai trò: chung · General introduction",
        subject="Chúng tôi có thể giúp gì cho bạn? · How can we help?",
        preheader="Giới thiệu ngắn gọn · A short introduction",
        body=bilingual(
            "<p>Cảm ơn bạn đã quan tâm. Chúng tôi giúp doanh nghiệp Việt Nam hiểu khách hàng của mình và chăm sóc "
            "họ đúng lúc. Nếu bạn muốn chuyển thông tin này đến đúng người trong công ty, chỉ cần chuyển tiếp "
            "email — hoặc trả lời để chúng tôi liên hệ trực tiếp.</p>",
            "<p>Thank you for your interest. We help Vietnamese businesses understand their customers and care for "
            "them at the right time. If someone else at your company should see this, just forward the email — or "
            "reply and we will get in touch directly.</p>",
        ),
    ),
}

PLAYBOOK = Playbook(
    key="role_nurture",
    name=_("Buyer role → role-specific nurture"),
    description=_(
        "When a contact's buyer role is set, send the track that fits it: the business case and a short meeting "
        "for decision makers, a comparison guide and a trial for influencers, tips and training for users."
    ),
    outline=(
        _("Trigger: a buyer role is assigned."),
        _("Decision maker: the business case, then a 20-minute meeting invitation 5 days later."),
        _("Influencer: a comparison sheet, then a trial on their data 5 days later."),
        _("User: five practical tips, then free training 5 days later."),
        _("Other roles: a general introduction."),
    ),
    trigger=trigger,
    graph=graph,
    emails=EMAILS,
    window=DAYTIME,
)
