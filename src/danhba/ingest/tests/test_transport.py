"""A batch travels between the import's processes without ``raw`` and ``fields`` next to the
row made from them (``ingest.transport``, decision 0027): what arrives must be what was prepared,
and a row the loader refuses must still carry its cells into the report."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from danhba.core.actor import Actor
from danhba.ingest import pipeline, transport
from danhba.ingest.extract import Row
from danhba.ingest.models import ImportIssue
from danhba.ingest.tests import test_load
from danhba.ingest.tests.test_load import CSV, contact_by_email, run_import
from danhba.ingest.tests.test_reader_per_value import COLUMNS, OPTIONS, POOLS, rows
from danhba.ingest.transform import CELL_SEPARATOR, Plan, Prepared

pytestmark = pytest.mark.django_db


def travelled(batch: list[Any]) -> list[Any]:
    return transport.unpack(pickle.loads(pickle.dumps(transport.pack(batch), protocol=pickle.HIGHEST_PROTOCOL)))


def test_a_batch_arrives_as_it_was_prepared() -> None:
    plan = Plan(COLUMNS, OPTIONS, list(POOLS))
    source = [*rows(2000, seed=7), Row(3000, dict.fromkeys(POOLS, "")),
              Row(3001, dict.fromkeys(POOLS, "") | {"Email": "a@b.vn", "Ghi chú": f"x{CELL_SEPARATOR}y"})]  # fmt: skip
    batch = [plan.prepare(row) for row in source]
    assert {type(p).__name__ for p in batch} == {"Prepared", "Rejected", "NoneType"}
    arrived = travelled(batch)
    assert len(arrived) == len(batch)
    made = 0
    for sent, got in zip(batch, arrived, strict=True):
        assert type(got) is type(sent)
        if not isinstance(sent, Prepared):
            assert got == sent
            continue
        assert got.cells() == sent.raw
        made += bool(got.field_keys)
        got.restore_fields()
        assert list(got.fields.items()) == list(sent.fields.items())  # in order: the audit's diff follows it
        got.raw = sent.raw
        assert got == sent
    assert made > 1000  # most rows' fields travelled in their contact row
    # A row without sparse fields gets empty ones of its own: the loader adds to a row's warnings
    # and takes identities out of its lists.
    got_rows = [p for p in arrived if isinstance(p, Prepared)]
    for name in ("custom", "external_ids", "socials", "notes", "consents", "warnings"):
        assert len({id(getattr(p, name)) for p in got_rows}) == len(got_rows), name


def test_the_sparse_fields_arrive_on_their_own_rows() -> None:
    """Custom fields, external ids and social profiles travel only for the rows that have them
    (by row number): each arrives on its own row, the others get none (review finding: the pool
    above maps none of them)."""
    from danhba.contacts.models import CustomField

    CustomField.objects.create(key="luong", label="Lương", type="text")
    columns = {"Họ và tên": "full_name", "Email": "email", "Lương": "custom.luong", "Mã KH": "external_id",
               "Zalo": "social.zalo", "Facebook": "social.facebook"}  # fmt: skip
    plan = Plan(columns, {"external_id_system": "crm"}, list(columns))
    source = [
        Row(2, {"Họ và tên": "Lan", "Email": "lan@example.vn", "Lương": "12 triệu", "Mã KH": "KH-1", "Zalo": "",
                "Facebook": ""}),
        Row(3, {"Họ và tên": "Minh", "Email": "minh@example.vn", "Lương": "", "Mã KH": "", "Zalo": "0912345678",
                "Facebook": "facebook.com/minh"}),
        Row(4, {"Họ và tên": "Hoa", "Email": "hoa@example.vn", "Lương": "", "Mã KH": "", "Zalo": "",
                "Facebook": ""}),
        Row(5, {"Họ và tên": "Bình", "Email": "binh@example.vn", "Lương": "9 triệu", "Mã KH": "KH-5",
                "Zalo": "0987654321", "Facebook": ""}),
    ]  # fmt: skip
    batch = [plan.prepare(row) for row in source]
    assert all(isinstance(p, Prepared) for p in batch)
    sparse = ("custom", "external_ids", "socials")
    assert all(any(getattr(batch[i], name) for name in sparse) for i in (0, 1, 3)), "the test's premise"
    arrived = travelled(batch)
    for sent, got in zip(batch, arrived, strict=True):
        for name in sparse:
            assert getattr(got, name) == getattr(sent, name), (sent.line, name)
        got.restore_fields()
        got.raw = sent.raw
        assert got == sent


@pytest.fixture
def through_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch of an import packed, pickled and unpacked, as between the two processes."""
    batches = pipeline._batches

    def travelling(*args: Any) -> Iterator[tuple[int, list[Any]]]:
        for last, batch in batches(*args):
            yield last, travelled(batch)

    monkeypatch.setattr(pipeline, "_batches", travelling)


@pytest.mark.usefixtures("through_the_queue")
def test_a_row_the_loader_refuses_keeps_its_cells_after_the_transport(users: dict[str, Any], make_contact: Any) -> None:
    make_contact(full_name="Khách Của Người Khác", emails=[{"email": "khac@example.vn"}], owner=users["admin"].pk)
    rep = Actor.system("ui", users["sales"])
    run = run_import((CSV + "Mới,moi@example.vn,,,,\nSửa,khac@example.vn,0912345678,,VIP,\n").encode(), rep)
    assert (run.created, run.rejected) == (1, 1)
    assert contact_by_email("moi@example.vn").full_name == "Mới"
    refused = ImportIssue.objects.get(run=run, severity="error")
    assert (refused.line, refused.reason) == (3, "matches a contact outside your records")
    assert refused.row == {"Họ và tên": "Sửa", "Email": "khac@example.vn", "SĐT": "0912345678",
                           "Tỉnh/Thành phố": "", "Nhóm": "VIP", "Ghi chú": ""}  # fmt: skip


@pytest.mark.usefixtures("through_the_queue")
@pytest.mark.parametrize(
    "case",
    [
        test_load.test_in_file_duplicates_are_merged_not_doubled,
        lambda: test_load.test_update_policies("fill_empty", "Nguyễn An", "Kế toán"),
        lambda: test_load.test_update_policies("overwrite", "Nguyễn Văn An", "Giám đốc"),
    ],
    ids=["merged", "fill_empty", "overwrite"],
)
def test_rows_merged_or_updating_a_contact_after_the_transport(case: Any) -> None:
    case()  # their fields are compared: the loader makes them again from the row that carried them
