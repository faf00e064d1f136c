"""The builder and a segment's page in Vietnamese: every field named in Vietnamese (the company
and owner-team fields too), the sentence with Vietnamese money and dates, and the size chart with
dd/mm on its axis."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from danhba.conftest import actor_for
from danhba.segments import services
from danhba.segments.models import SegmentSize

pytestmark = pytest.mark.django_db

TREE = {
    "op": "all",
    "conditions": [
        {"kind": "field", "field": "company.name", "operator": "contains", "value": "Hoa Sen"},
        {"kind": "purchase", "metric": "total_spent", "operator": "gt", "value": "11360000",
         "period": {"from": "2026-01-01", "to": "2026-06-30"}},
    ],
}  # fmt: skip


@pytest.fixture
def vi_admin(users: dict[str, Any]) -> Any:
    user = users["admin"]
    user.language = "vi"
    user.save(update_fields=["language"])
    return user


def field_options(html: str) -> dict[str, str]:
    """The builder's field choices: key → label as shown."""
    select = re.search(r'<select name="n-0__field".*?</select>', html, re.S)
    assert select, "no field select on the builder"
    return {k: unescape(v) for k, v in re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select.group(0))}


def test_the_builder_names_every_field_in_vietnamese(client_for: Any, vi_admin: Any) -> None:
    segment = services.segment_create(actor=actor_for(vi_admin), name="Khách Hoa Sen", conditions=TREE)
    html = client_for(vi_admin).get(reverse("segments:edit", args=[segment.pk])).content.decode()
    options = field_options(html)
    assert options["company.name"] == "Tên công ty"
    assert options["company.industry"] == "Ngành nghề của công ty"
    assert options["company.size"] == "Quy mô công ty"
    assert options["company.domain"] == "Tên miền công ty"
    assert options["company.province"] == "Tỉnh / thành phố của công ty"
    assert options["owner_team"] == "Nhóm của người phụ trách"
    english = [label for label in options.values() if re.search(r"\b(company|owner|team|name)\b", label, re.I)]
    assert english == []


def test_the_sentence_writes_money_and_dates_the_readers_way(client_for: Any, users: dict[str, Any]) -> None:
    admin = users["admin"]
    segment = services.segment_create(actor=actor_for(admin), name="Khách Hoa Sen", conditions=TREE)
    url = reverse("segments:detail", args=[segment.pk])
    english = unescape(client_for(admin).get(url).content.decode())
    assert "Total spent > 11,360,000 ₫ between 1 Jan 2026 and 30 Jun 2026" in english
    admin.language = "vi"
    admin.save(update_fields=["language"])
    vietnamese = unescape(client_for(admin).get(url).content.decode())
    assert "Tổng chi tiêu > 11.360.000 ₫" in vietnamese and "01/01/2026" in vietnamese and "30/06/2026" in vietnamese
    assert "11360000" not in vietnamese and "2026-01-01" not in vietnamese


def test_the_size_chart_reads_day_first_in_vietnamese(client_for: Any, vi_admin: Any) -> None:
    segment = services.segment_create(actor=actor_for(vi_admin), name="Khách Hoa Sen", conditions=TREE)
    today = timezone.localdate()
    SegmentSize.objects.create(segment=segment, day=today - dt.timedelta(days=3), size=1250)
    html = client_for(vi_admin).get(reverse("segments:detail", args=[segment.pk])).content.decode()
    chart = html[html.index('<svg class="chart"') :]
    chart = chart[: chart.index("</svg>")]
    day = today - dt.timedelta(days=3)
    assert f"{day:%d/%m/%Y}: 1.250" in chart  # a bar's title
    first = today - dt.timedelta(days=89)  # 90 days, the first always labelled
    assert f">{first:%d/%m}<" in chart  # the axis: 06/12, not 6/12 or 12/06
    assert not re.search(r"\d{4}-\d{2}-\d{2}", chart)
