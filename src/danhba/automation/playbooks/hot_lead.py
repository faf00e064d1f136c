"""Hot lead → alert sales: the score reaches "hot" (or a fast-track rule jumps it there) →
an owner (the assignment rules; a contact with an owner keeps them), a call task due within two
hours, an in-app and email notice to the rep, and the tag "khách nóng"."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from danhba.automation.playbooks import Context, Playbook

HOT_TAG = "khách nóng"


def trigger(ctx: Context) -> dict[str, Any]:
    return {"kind": "score_reached", "model": ctx.score_model, "grade": ctx.hot_grade}


def graph(ctx: Context) -> dict[str, Any]:
    return {
        "start": "owner",
        "steps": {
            "owner": {"kind": "assign_owner", "params": {}, "next": "call", "label": "Giao người phụ trách"},
            "call": {
                "kind": "create_task",
                "params": {
                    "title": "Gọi ngay cho khách nóng {{ contact.name }} · Call the hot lead",
                    "type": "call", "priority": "high", "due_in": 2, "due_unit": "hours",
                    "remind_before_minutes": 15,
                    "notes": "Khách vừa đạt hạng nóng: xem điểm và hoạt động gần đây trên trang liên hệ trước khi "
                             "gọi. / The lead just turned hot: check the score and recent activity before calling.",
                },
                "next": "notify",
                "label": "Việc gọi điện trong 2 giờ",
            },
            "notify": {
                "kind": "notify_user",
                "params": {
                    "message": "Khách nóng: {{ contact.name }} — hãy gọi trong 2 giờ tới. "
                               "/ Hot lead: call {{ contact.name }} within 2 hours.",
                    "email": True,
                },
                "next": "tag",
                "label": "Báo cho người phụ trách",
            },
            "tag": {"kind": "tag", "params": {"add": [HOT_TAG]}, "label": "Gắn thẻ khách nóng"},
        },
    }  # fmt: skip


def missing(ctx: Context) -> str:
    if ctx.score_model is None:
        return str(_("Needs a score model with a grade called “hot” (Scoring → models)."))
    return ""


PLAYBOOK = Playbook(
    key="hot_lead",
    name=_("Hot lead → alert sales"),
    description=_(
        "When a contact's score reaches “hot” (or a fast-track rule such as a demo request jumps it there), "
        "make sure someone owns it, create a call task due within two hours and tell the rep in the app and by email."
    ),
    outline=(
        _("Trigger: the score reaches the grade “hot”."),
        _("Assign an owner by the assignment rules (a contact with an owner keeps them)."),
        _("Create a high-priority call task for the owner, due in 2 hours, reminder 15 minutes before."),
        _("Notify the owner in the app and by email."),
        _("Tag the contact “khách nóng”."),
    ),
    trigger=trigger,
    graph=graph,
    tags=(HOT_TAG,),
    reenrol="again",
    missing=missing,
)
