"""An import's pages in each language's formats: counts grouped (3.005), one date format (dd/mm/yyyy
in Vietnamese, "6 Dec 2026" in English, never "Dec. 6, 2026") and the undo message ending in one
full stop, not "7:05 a.m..".
"""

from __future__ import annotations

import datetime as dt
from html import unescape
from typing import Any

import pytest
from django.urls import reverse

from danhba.ingest.models import Import

pytestmark = pytest.mark.django_db

SAIGON = dt.timezone(dt.timedelta(hours=7))
FINISHED = dt.datetime(2026, 12, 6, 7, 5, tzinfo=SAIGON)


@pytest.fixture
def undone(admin: Any) -> Import:
    return Import.objects.create(
        created_by=admin, file_name="khach-hang.csv", status=Import.Status.UNDONE, created=3005, updated=1200,
        rows_done=4205, created_at=FINISHED, started_at=FINISHED, finished_at=FINISHED, undone_at=FINISHED,
        options={"undo_report": {"deleted": 3005, "restored": 1200, "kept": 2}},
    )  # fmt: skip


def report(client: Any, run: Import) -> str:
    return unescape(client.get(reverse("ingest:detail", args=[run.pk])).content.decode())


def test_the_undo_message_ends_in_one_full_stop(client_for: Any, admin: Any, undone: Import) -> None:
    html = report(client_for(admin), undone)
    assert "Undone on 6 Dec 2026, 07:05." in html
    assert ".." not in html.split('id="import-status"', 1)[1]
    assert "a.m." not in html and "Dec." not in html


def test_the_report_in_vietnamese(client_for: Any, admin: Any, undone: Import) -> None:
    admin.language = "vi"
    admin.save(update_fields=["language"])
    html = report(client_for(admin), undone)
    assert "Đã hoàn tác lúc 07:05 06/12/2026." in html
    assert 'data-count="created">3.005<' in html and 'data-count="updated">1.200<' in html
    assert "Số liên hệ đã xóa: 3.005. Số liên hệ đã khôi phục: 1.200." in html
    assert "3005" not in html and "12/06/2026" not in html
    history = unescape(client_for(admin).get(reverse("ingest:list")).content.decode())
    assert "07:05 06/12/2026" in history and "3.005" in history
