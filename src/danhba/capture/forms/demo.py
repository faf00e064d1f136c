"""The demo's web forms (``danhba demo``; ``core/demo.py``): a Vietnamese newsletter form and a
"Yêu cầu báo giá" (quote request) form, with submissions from demo contacts over the last 30
days, taken through the same services a visitor's submission goes through, one of them failed
(the form gained a required question after it was sent) to show a retry."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from danhba.capture.forms import services
from danhba.capture.models import FormDay, FormSubmission, WebForm
from danhba.contacts.models import Contact
from danhba.core.actor import Actor
from danhba.core.demo import DemoRun

NEWSLETTER = {
    "name": "Đăng ký nhận bản tin",
    "slug": "dang-ky-ban-tin",
    "language": "vi",
    "fields": [
        {"target": "full_name", "label": "Họ và tên", "required": True},
        {"target": "email", "label": "Email", "required": True},
    ],
    "queue": [
        {"target": "province", "label": "Bạn sống ở tỉnh / thành phố nào?"},
        {"target": "birthday", "label": "Ngày sinh (để nhận quà sinh nhật)"},
    ],
    "consents": [{"purpose": "email_marketing", "required": True,
                  "text": "Tôi đồng ý nhận bản tin và ưu đãi qua email. Tôi có thể huỷ đăng ký bất cứ lúc nào."}],
    "submit_label": "Đăng ký",
    "thanks_message": "Cảm ơn bạn đã đăng ký! Hẹn gặp bạn trong hộp thư.",
    "allowed_origins": ["https://www.example.vn"],
    "min_fill_seconds": 3,
}  # fmt: skip
QUOTE = {
    "name": "Yêu cầu báo giá",
    "slug": "yeu-cau-bao-gia",
    "language": "vi",
    "fields": [
        {"target": "full_name", "label": "Họ và tên", "required": True},
        {"target": "phone", "label": "Số điện thoại", "required": True},
        {"target": "email", "label": "Email"},
        {"target": "message", "label": "Bạn cần báo giá cho sản phẩm nào, số lượng bao nhiêu?", "required": True},
    ],
    "consents": [{"purpose": "phone_calls", "required": False,
                  "text": "Tôi đồng ý để nhân viên kinh doanh gọi điện tư vấn."}],
    "submit_label": "Gửi yêu cầu",
    "thanks_message": "Cảm ơn bạn! Nhân viên kinh doanh sẽ liên hệ trong vòng một ngày làm việc.",
    "allowed_origins": ["https://www.example.vn"],
}  # fmt: skip
ASKS = ("Báo giá 20 máy lọc không khí cho văn phòng.", "Cần 50 bộ quà Tết cho nhân viên, giao trước 20/1.",
        "Giá sỉ bộ nồi inox cho cửa hàng, khoảng 100 bộ.", "Gói bảo hành mở rộng cho 12 máy.")  # fmt: skip
UTM = (("facebook", "cpc", "tet-2027"), ("zalo", "social", "ban-tin"), ("google", "organic", ""), ("", "", ""))


def demo_forms_present() -> bool:
    return WebForm.objects.exists()


def _context(rng: random.Random) -> dict[str, Any]:
    source, medium, campaign = rng.choice(UTM)
    utm = {k: v for k, v in (("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)) if v}
    return {"utm": utm, "page_url": "https://www.example.vn/khuyen-mai", "referrer": "", "ip": "203.0.113.7"}


def _submit(form: WebForm, payload: dict[str, Any], consents: list[dict[str, Any]], rng: random.Random,
            when: dt.datetime) -> FormSubmission:  # fmt: skip
    submission = services.submission_store(form=form, payload=payload, shown=[q["target"] for q in form.fields],
                                           consents=consents, context=_context(rng))  # fmt: skip
    FormSubmission.objects.filter(pk=submission.pk).update(created_at=when)
    submission.created_at = when
    return services.submission_process(submission=submission)


def _unique(data: dict[str, Any], seed: int) -> dict[str, Any]:
    """A second demo run gets forms of its own addresses."""
    taken = WebForm.objects.filter(slug=data["slug"]).exists()
    return {**data, "slug": f"{data['slug']}-{seed}-{WebForm.objects.count()}"} if taken else data


def demo_forms_part(run: DemoRun) -> None:
    rng = random.Random(run.seed + 16)
    actor = Actor.system("cli")
    newsletter = services.webform_create(actor=actor, data=_unique(NEWSLETTER, run.seed))
    quote = services.webform_create(actor=actor, data=_unique(QUOTE, run.seed))
    people = list(
        Contact.objects.filter(pk__in=run.contact_ids).exclude(email="").exclude(full_name="")
        .values_list("full_name", "email", "phone")[:400]
    )  # fmt: skip
    made = rng.sample(people, min(len(people), max(6, run.contacts // 20)))
    consents = 0
    for i, (name, email, phone) in enumerate(made):
        when = run.now - dt.timedelta(days=rng.randrange(30), hours=rng.randrange(24))
        if i % 3 and phone:
            payload = {"full_name": name, "phone": phone, "email": email, "message": rng.choice(ASKS)}
            ticked = [dict(c) for c in quote.consents] if rng.random() < 0.5 else []
            done = _submit(quote, payload, [{"purpose": c["purpose"], "text": c["text"]} for c in ticked], rng, when)
        else:
            ticked = [dict(c) for c in newsletter.consents]
            done = _submit(newsletter, {"full_name": name, "email": email},
                           [{"purpose": c["purpose"], "text": c["text"]} for c in ticked], rng, when)  # fmt: skip
        consents += len(ticked) if done.status == FormSubmission.Status.DONE else 0
    if made:
        # Sent before the form asked what is needed: stays failed until someone retries it.
        name, email, phone = made[0]
        _submit(quote, {"full_name": name, "phone": phone or "0912345678"}, [], rng, run.now - dt.timedelta(hours=3))
    _days(newsletter, rng, run.now)
    _days(quote, rng, run.now)
    run.counts["consent_records"] = int(run.counts.get("consent_records", 0)) + consents  # type: ignore[arg-type]
    run.counts["web_forms"] = 2
    run.counts["form_submissions"] = FormSubmission.objects.filter(form__in=[newsletter, quote]).count()


def _days(form: WebForm, rng: random.Random, now: dt.datetime) -> None:
    """The figures of the last 30 days: submissions as they were sent, views several times as many."""
    FormDay.objects.filter(form=form).delete()
    per_day = dict(
        FormSubmission.objects.filter(form=form)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    today = timezone.localtime(now).date()
    FormDay.objects.bulk_create(
        [
            FormDay(form=form, day=day, submissions=per_day.get(day, 0),
                    views=per_day.get(day, 0) * rng.randrange(3, 9) + rng.randrange(0, 6),
                    blocked_honeypot=rng.randrange(0, 2))
            for day in (today - dt.timedelta(days=i) for i in range(30))
        ]
    )  # fmt: skip
