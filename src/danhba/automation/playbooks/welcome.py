"""New subscriber → welcome series: consent to marketing email granted → a thank-you, two
days later a quick guide, three days later an invitation to choose topics (the preference
centre), and three days after that a tag for each email topic the subscriber kept
("chủ đề: …"; one check per topic the site has when the playbook is installed)."""

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
    wait_days,
)

WELCOMED_TAG = "đã chào mừng"


def topic_tag(name: str) -> str:
    return f"chủ đề: {name}"[:80]


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "subscribed", "purpose": "email_marketing"}


def graph(ctx: Context) -> dict[str, Any]:
    steps: dict[str, Any] = {
        "thanks": {"kind": "email", "params": email("thanks"), "next": "wait_guide"},
        "wait_guide": {"kind": "wait", "params": wait_days(2), "next": "guide"},
        "guide": {"kind": "email", "params": email("guide"), "next": "wait_topics"},
        "wait_topics": {"kind": "wait", "params": wait_days(3), "next": "topics"},
        "topics": {"kind": "email", "params": email("topics"), "next": "wait_choice"},
        "wait_choice": {"kind": "wait", "params": wait_days(3), "next": "topic_1" if ctx.topics else "welcomed"},
        "welcomed": {"kind": "tag", "params": {"add": [WELCOMED_TAG]}},
    }
    # One check per topic: kept (granted) → its tag; then the next topic either way.
    for n, (key, name) in enumerate(ctx.topics, start=1):
        after = f"topic_{n + 1}" if n < len(ctx.topics) else "welcomed"
        steps[f"topic_{n}"] = {
            "kind": "branch",
            "params": {"branches": [{"condition": consent_granted(key), "next": f"tag_{n}", "label": name[:100]}],
                       "otherwise": after},
            "label": f"Chủ đề: {name}"[:200],
        }  # fmt: skip
        steps[f"tag_{n}"] = {"kind": "tag", "params": {"add": [topic_tag(name)]}, "next": after}
    return {"start": "thanks", "steps": steps}


def topic_tags(ctx: Context) -> list[str]:
    return [topic_tag(name) for _key, name in ctx.topics]


EMAILS = {
    "thanks": Email(
        title="Chào mừng 1: cảm ơn · Welcome 1: thank you",
        subject="Cảm ơn bạn đã đăng ký! · Thanks for subscribing!",
        preheader="Đây là những gì bạn sẽ nhận được · Here is what to expect",
        body=bilingual(
            "<p>Cảm ơn bạn đã đăng ký nhận tin từ chúng tôi. Rất vui được làm quen!</p>"
            "<p>Mỗi tháng, bạn sẽ nhận được 2–4 email: mẹo thực tế, câu chuyện khách hàng và ưu đãi dành riêng "
            "cho người đăng ký. Không spam, và bạn có thể huỷ bất cứ lúc nào bằng một cú bấm ở cuối thư.</p>"
            "<p>Để thư không rơi vào mục Quảng cáo, hãy thêm địa chỉ này vào danh bạ của bạn.</p>",
            "<p>Thank you for subscribing. We are glad to meet you!</p>"
            "<p>Each month you will get 2–4 emails: practical tips, customer stories and offers for subscribers "
            "only. No spam, and you can leave at any time with one click at the bottom of each email.</p>"
            "<p>To keep our emails out of the Promotions tab, add this address to your contacts.</p>",
        ),
    ),
    "guide": Email(
        title="Chào mừng 2: hướng dẫn nhanh · Welcome 2: quick guide",
        subject="3 bước để bắt đầu trong 10 phút · 3 steps to get started in 10 minutes",
        preheader="Hướng dẫn nhanh cho người mới · A quick guide for newcomers",
        body=bilingual(
            "<p>Đây là hướng dẫn nhanh giúp bạn tận dụng tối đa những gì chúng tôi chia sẻ:</p>"
            "<ol><li><strong>Xác định mục tiêu</strong>: bạn muốn có thêm khách mới hay giữ chân khách cũ?</li>"
            "<li><strong>Bắt đầu từ dữ liệu bạn có</strong>: danh sách khách hàng trong Excel hay Zalo đều dùng "
            "được.</li>"
            "<li><strong>Đo một con số mỗi tuần</strong>: tỷ lệ khách quay lại là nơi tốt để bắt đầu.</li></ol>"
            "<p>Có câu hỏi? Trả lời email này — một người thật sẽ đọc và trả lời bạn.</p>",
            "<p>Here is a quick guide to get the most out of what we share:</p>"
            "<ol><li><strong>Pick one goal</strong>: more new customers, or keeping the ones you have?</li>"
            "<li><strong>Start from the data you have</strong>: a customer list in Excel or Zalo works fine.</li>"
            "<li><strong>Track one number each week</strong>: the returning-customer rate is a good start.</li></ol>"
            "<p>Questions? Reply to this email — a real person reads every reply.</p>",
        ),
    ),
    "topics": Email(
        title="Chào mừng 3: chọn chủ đề · Welcome 3: choose your topics",
        subject="Bạn muốn đọc về điều gì? · What would you like to hear about?",
        preheader="Chọn chủ đề trong 30 giây · Pick your topics in 30 seconds",
        body=bilingual(
            "<p>Để mỗi email đều đáng đọc, hãy cho chúng tôi biết bạn quan tâm đến chủ đề nào.</p>"
            '<p><a href="{{ links.preferences }}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;'
            'color:#ffffff;border-radius:6px;text-decoration:none">Chọn chủ đề của tôi</a></p>'
            "<p>Bạn chỉ nhận những chủ đề mình chọn, và có thể đổi lại bất cứ lúc nào.</p>",
            "<p>So that every email is worth reading, tell us which topics interest you.</p>"
            '<p><a href="{{ links.preferences }}" style="display:inline-block;padding:10px 18px;background:#1d4ed8;'
            'color:#ffffff;border-radius:6px;text-decoration:none">Choose my topics</a></p>'
            "<p>You only get the topics you choose, and you can change them at any time.</p>",
        ),
    ),
}

PLAYBOOK = Playbook(
    key="welcome",
    name=_("New subscriber → welcome series"),
    description=_(
        "Welcome everyone who subscribes to marketing email: a thank-you, a quick guide two days later, an "
        "invitation to choose topics, then a tag for each topic they kept."
    ),
    outline=(
        _("Trigger: consent to marketing email is granted."),
        _("Email: thank you; 2 days later a quick guide; 3 days later “choose your topics”."),
        _("3 days later: a tag “chủ đề: …” for each email topic the subscriber kept."),
        _("Tag “đã chào mừng” at the end."),
    ),
    trigger=trigger,
    graph=graph,
    emails=EMAILS,
    tags=(WELCOMED_TAG,),
    extra_tags=topic_tags,
    window=DAYTIME,
)
