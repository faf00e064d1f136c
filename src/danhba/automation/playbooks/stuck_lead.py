"""Stuck lead → re-engage, then sales follow-up: no activity for 30 days → premium content
with a special offer; a click on any email within 7 days → a follow-up task for the owner;
no click → a second try; still nothing after 7 more days → tagged "khách lạnh" (cold), and with a
score model its score set to the lowest grade (the "update score" step)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.automation.playbooks import DAY, DAYTIME, Context, Email, Playbook, bilingual, email

CLICKED = "Email Link Clicked"
COLD_TAG = "khách lạnh"
BACK_TAG = "đã quay lại"


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "inactive", "days": 30}


def graph(ctx: Context) -> dict[str, Any]:
    steps = _steps()
    if ctx.score_model is not None and ctx.cold_grade:
        # With a score model, "cold" is the score too: its lowest grade (an adjustment scoring
        # keeps in the breakdown, decision 0012).
        steps["cold"]["next"] = "cool"
        steps["cool"] = {
            "kind": "score",
            "params": {"model": ctx.score_model, "grade": ctx.cold_grade,
                       "reason": "Im lặng sau hai lần đánh thức · Silent after two tries"},
            "label": "Hạ điểm về mức lạnh",
        }  # fmt: skip
    return {"start": "first_try", "steps": steps}


def _steps() -> dict[str, Any]:
    return {
        "first_try": {"kind": "email", "params": email("premium"), "next": "wait_first"},
        "wait_first": {
            "kind": "wait_event",
            "params": {"event": CLICKED, "timeout_seconds": 7 * DAY, "timeout_next": "second_try"},
            "next": "follow_up",
            "label": "Chờ khách bấm vào email (7 ngày)",
        },
        "second_try": {"kind": "email", "params": email("last_chance"), "next": "wait_second"},
        "wait_second": {
            "kind": "wait_event",
            "params": {"event": CLICKED, "timeout_seconds": 7 * DAY, "timeout_next": "cold"},
            "next": "follow_up",
            "label": "Chờ lần hai (7 ngày)",
        },
        "follow_up": {
            "kind": "create_task",
            "params": {
                "title": "Khách quay lại: gọi theo dõi {{ contact.name }} · Follow up a re-engaged lead",
                "type": "follow_up", "priority": "normal", "due_in": 1, "due_unit": "days",
                "notes": "Khách vừa bấm vào email đánh thức sau 30 ngày im lặng. / The lead clicked the "
                         "re-engagement email after 30 quiet days.",
            },
            "next": "back",
            "label": "Việc theo dõi cho người phụ trách",
        },
        "back": {"kind": "tag", "params": {"add": [BACK_TAG], "remove": [COLD_TAG]}},
        "cold": {"kind": "tag", "params": {"add": [COLD_TAG]}, "label": "Đánh dấu khách lạnh"},
    }  # fmt: skip


EMAILS = {
    "premium": Email(
        title="Đánh thức khách im lặng: tài liệu · Re-engage: premium guide",
        subject="Món quà nhỏ dành cho bạn: cẩm nang chăm sóc khách hàng 2026 · A gift for you",
        preheader="Cẩm nang miễn phí và ưu đãi 10% trong 7 ngày · Free guide and 10% off for 7 days",
        body=bilingual(
            "<p>Đã lâu chúng tôi chưa nghe tin từ bạn, nên chúng tôi gửi tặng bạn <strong>Cẩm nang chăm sóc khách "
            "hàng 2026</strong> — 30 trang kinh nghiệm thực tế từ các doanh nghiệp Việt Nam: cách giữ chân khách "
            "cũ, viết email được mở và đo hiệu quả từng kênh.</p>"
            "<p>Kèm theo đó là <strong>ưu đãi 10%</strong> nếu bạn bắt đầu trong 7 ngày tới.</p>"
            "<p>Bấm vào bất kỳ liên kết nào trong email hoặc trả lời email này để nhận cẩm nang.</p>",
            "<p>We have not heard from you for a while, so here is a gift: our <strong>2026 Customer Care "
            "Handbook</strong> — 30 pages of practical lessons from Vietnamese businesses on keeping customers, "
            "writing emails people open and measuring every channel.</p>"
            "<p>It comes with <strong>10% off</strong> if you start within the next 7 days.</p>"
            "<p>Click any link in this email or reply to get the handbook.</p>",
        ),
    ),
    "last_chance": Email(
        title="Đánh thức khách im lặng: lần cuối · Re-engage: last try",
        subject="Chúng tôi có nên tiếp tục gửi thư cho bạn? · Should we keep writing to you?",
        preheader="Một cú bấm để cho chúng tôi biết · One click to let us know",
        body=bilingual(
            "<p>Chúng tôi không muốn làm phiền hộp thư của bạn. Nếu bạn vẫn quan tâm đến các mẹo và ưu đãi của "
            "chúng tôi, hãy bấm vào một liên kết bất kỳ trong email này hoặc trả lời một dòng ngắn.</p>"
            "<p>Nếu không, chúng tôi sẽ gửi thư thưa hơn. Bạn luôn có thể chọn loại thư muốn nhận ở trang "
            "tuỳ chọn.</p>",
            "<p>We do not want to crowd your inbox. If you still want our tips and offers, click any link in this "
            "email or send us a one-line reply.</p>"
            "<p>If not, we will write less often. You can always choose which emails you get on the preferences "
            "page.</p>",
        ),
    ),
}

PLAYBOOK = Playbook(
    key="stuck_lead",
    name=_("Stuck lead → re-engage, then sales follow-up"),
    description=_(
        "Contacts with no activity for 30 days get premium content with a special offer. Those who click get "
        "a follow-up task for their owner; the others get a second try, and are tagged cold if they stay silent."
    ),
    outline=(
        _("Trigger: no activity for 30 days."),
        _("Email: a free guide and a special offer; wait up to 7 days for a click."),
        _("Clicked: a follow-up task for the owner, due the next day; tag “đã quay lại”."),
        _("No click: a second email; wait up to 7 more days."),
        _("Still no click: tag “khách lạnh” (cold) and, with a score model, set the score to its lowest grade."),
    ),
    trigger=trigger,
    graph=graph,
    emails=EMAILS,
    tags=(BACK_TAG, COLD_TAG),
    reenrol="again",
    window=DAYTIME,
)
