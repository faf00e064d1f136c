"""A page that meets bad input in its URL or form answers with a 4xx and says why (or, for a
cursor, the first page), never a 500: a malformed keyset cursor on every list page that pages by
cursor, a stage id that is not a number. (An audit found the lead-channel payloads page and the
deal move answering 500.)"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

CURSOR_PAGES = [
    "/quality/duplicates/",
    "/automation/",
    "/privacy/audit/",
    "/imports/",
    "/capture/channels/payloads/",
    "/products/",
]


@pytest.mark.parametrize("path", CURSOR_PAGES)
def test_a_malformed_cursor_is_a_client_error(client_for: Any, admin: Any, path: str) -> None:
    answer = client_for(admin).get(path, {"cursor": "zz"})
    assert answer.status_code in (200, 400, 404), (path, answer.status_code)  # first page, or says why


def test_a_service_refusal_a_page_did_not_catch_shows_its_message(client_for: Any, admin: Any) -> None:
    from django.test import RequestFactory

    from danhba.core.errors import Conflict
    from danhba.core.views import ServiceErrorMiddleware

    request = RequestFactory().get("/segments/1/")
    request.user = admin
    page = ServiceErrorMiddleware(lambda r: None).process_exception(request, Conflict("Phân khúc đang được dùng."))  # type: ignore[arg-type]
    assert page is not None and page.status_code == 409 and "Phân khúc đang được dùng." in page.content.decode()
    api = RequestFactory().get("/api/segments/1")
    assert ServiceErrorMiddleware(lambda r: None).process_exception(api, Conflict("x")) is None  # type: ignore[arg-type]


def test_a_deal_moved_to_a_stage_that_is_not_a_number(client_for: Any, admin: Any) -> None:
    from danhba.conftest import actor_for
    from danhba.sales.models import Deal, Pipeline
    from danhba.sales.services.deals import deal_create
    from danhba.sales.services.pipelines import pipeline_create

    pipeline = Pipeline.objects.first() or pipeline_create(
        actor=actor_for(admin),
        data={
            "name": "Bán lẻ",
            "stages": [{"name": "Mới"}, {"name": "Thắng", "kind": "won"}, {"name": "Thua", "kind": "lost"}],
        },
    )
    deal = deal_create(actor=actor_for(admin), data={"title": "Máy lọc", "pipeline_id": pipeline.pk})
    answer = client_for(admin).post(f"/sales/deals/{deal.pk}/move/", {"stage_id": "abc"})
    assert answer.status_code < 500
    assert Deal.objects.get(pk=deal.pk).stage_id == deal.stage_id
