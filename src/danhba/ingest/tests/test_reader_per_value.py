"""An import's plan reads each distinct value of a column once (``Plan`` keeps the readings in
bounded memos, decision 0009 "Reader, per value"): what it prepares must be what it prepares when
it keeps nothing, row for row, and a row the loader changes afterwards must not change another."""

from __future__ import annotations

import random
from typing import Any

import pytest

from danhba.ingest.extract import Row
from danhba.ingest.transform import Plan, Prepared

pytestmark = pytest.mark.django_db

POOLS: dict[str, list[str]] = {
    "Họ và tên": [
        "Nguyễn Văn Đức",
        "nguyễn văn đức",
        "NGUYỄN THỊ MINH KHAI",
        "Đức, Nguyễn Văn",
        "  Lê  Thị ",
        "Trần",
        "McDonald Lan",
        "x" * 130,
        "Lê-Thị Hoa",
        "",
    ],
    "Email": ["duc@gmail.com", "DUC@GMIAL.COM", "lan@yahoo.com.vn; hoa@fpt.vn", "sai@", "", "a@b@c"],
    "SĐT": [
        "0912 345 678",
        "01693456789",
        "+84 28 3823 4567",
        "12345",
        "9.12345678E8",
        "0912 345 678 / 0987654321",
        "",
        "abc",
    ],
    "Ngày sinh": ["05/03/1987", "12/31/1978", "31/02/1990", "--03-05", "0/0/00", "31778", "2099-01-01", "hôm qua", ""],
    "Giới tính": ["Nam", "nữ", "F", "1", "1.0", "không rõ", "??", ""],
    "Địa chỉ": [
        "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP.HCM",
        "Số 3, Xã An Phú, Phường Hai",
        "Hà Nội",
        "",
        "Q.1, X. Bình",
    ],
    "Tỉnh": ["HN", "Sài Gòn", "Bình Dương", "Tỉnh Atlantis", "", "ha noi"],
    "Công ty": ["Công ty TNHH A", "", "B" * 250],
    "Chức vụ": ["Kế toán", "", "y" * 300],
    "Nhóm": ["VIP; Khách lẻ", "khach le|vip", "Bỏ qua", "", "Khách sỉ, VIP"],
    "Nhóm 2": ["vip", "Bản tin", ""],
    "Ghi chú": ["Gọi lại\r\nsau", "", "Khách quen"],
    "Giai đoạn": ["Khách hàng", "lead", "không có", ""],
    "Đồng ý": ["Có", "không", "có lẽ", ""],
    "Quốc gia": ["Việt Nam", "vn", "Vietnamese", ""],
}
COLUMNS = {
    "Họ và tên": "full_name", "Email": "email", "SĐT": "phone", "Ngày sinh": "birthday", "Giới tính": "gender",
    "Địa chỉ": "address", "Tỉnh": "province", "Công ty": "company", "Chức vụ": "job_title", "Nhóm": "tags",
    "Nhóm 2": "tags", "Ghi chú": "note", "Giai đoạn": "lifecycle_stage", "Đồng ý": "consent.email_marketing",
    "Quốc gia": "country",
}  # fmt: skip
OPTIONS = {"tag_ignore": ["bỏ qua"], "gender_map": {"??": "other"}}


def rows(count: int, seed: int) -> list[Row]:
    pick = random.Random(seed)
    return [Row(line, {h: pick.choice(pool) for h, pool in POOLS.items()}) for line in range(2, count + 2)]


def prepared(plan: Plan, batch: list[Row]) -> list[Any]:
    return [plan.prepare(row) for row in batch]


def test_a_plan_that_keeps_its_readings_prepares_what_one_that_keeps_none_does() -> None:
    batch = rows(3000, seed=12)
    headers = list(POOLS)
    none_kept = prepared(Plan(COLUMNS, OPTIONS, headers, cache_size=0), batch)
    assert prepared(Plan(COLUMNS, OPTIONS, headers), batch) == none_kept
    assert prepared(Plan(COLUMNS, OPTIONS, headers, cache_size=5), batch) == none_kept  # memos emptied when full
    kinds = {type(p).__name__ for p in none_kept}
    assert kinds == {"Prepared", "Rejected"}  # both outcomes are compared


def test_a_row_changed_by_the_loader_changes_no_other_row() -> None:
    plan = Plan(COLUMNS, OPTIONS, list(POOLS))
    row = Row(
        2, dict.fromkeys(POOLS, "") | {"Email": "DUC@GMIAL.COM", "Nhóm": "VIP; Khách lẻ", "Ngày sinh": "12/31/1978"}
    )
    first = plan.prepare(row)
    assert isinstance(first, Prepared)
    expected = plan.prepare(row)
    first.warnings.append(first.warnings[0])  # the loader adds warnings and tags to the rows it gets
    first.tags.append("Mới")
    first.fields["birthday"] = None
    assert plan.prepare(row) == expected
