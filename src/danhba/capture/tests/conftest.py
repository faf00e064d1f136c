"""A newsletter form and a quote-request form, made through the service as the builder makes them."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.capture.forms.public import SHOW_LIMIT, SUBMIT_LIMIT
from danhba.capture.forms.services import webform_create
from danhba.conftest import actor_for

CONSENT_TEXT = "Tôi đồng ý nhận email khuyến mãi từ Cửa hàng An Phát."


@pytest.fixture(autouse=True)
def _fresh_limits() -> None:
    SUBMIT_LIMIT.buckets.clear()
    SHOW_LIMIT.buckets.clear()


@pytest.fixture
def newsletter(admin: Any) -> Any:
    return webform_create(
        actor=actor_for(admin),
        data={
            "name": "Đăng ký nhận bản tin",
            "slug": "ban-tin",
            "language": "vi",
            "fields": [
                {"target": "full_name", "label": "Họ và tên", "required": True},
                {"target": "email", "label": "Email", "required": True},
                {"target": "phone", "label": "Số điện thoại", "required": False},
            ],
            "queue": [
                {"target": "province", "label": "Tỉnh / thành phố"},
                {"target": "job_title", "label": "Chức danh"},
            ],
            "consents": [{"purpose": "email_marketing", "text": CONSENT_TEXT, "required": True}],
            "thanks_message": "Cảm ơn bạn đã đăng ký!",
            "allowed_origins": ["https://shop.example.vn"],
        },
    )


@pytest.fixture
def quote(admin: Any) -> Any:
    return webform_create(
        actor=actor_for(admin),
        data={
            "name": "Yêu cầu báo giá",
            "slug": "bao-gia",
            "language": "en",
            "fields": [
                {"target": "full_name", "label": "Name", "required": True},
                {"target": "phone", "label": "Phone", "required": True},
                {"target": "company", "label": "Company"},
                {"target": "message", "label": "What do you need?", "required": True},
            ],
        },
    )
