"""Undo of an import over several batches: created contacts (kept as id ranges), rows merged
across and within batches, existing contacts changed; an import resumed after a crash and an
undo resumed after a crash put the database back as it was before the import."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.contacts.models import (
    Contact,
    ContactCompany,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ExternalId,
    SearchEntry,
)
from danhba.core.actor import Actor
from danhba.ingest import services
from danhba.ingest.models import Import, ImportChange, ImportCreated
from danhba.privacy.models import ConsentState

pytestmark = pytest.mark.django_db

HEAD = "Họ và tên,Email,SĐT,Chức vụ,Nhóm,Công ty,Mã khách hàng\n"
BEFORE = (
    HEAD + "Nguyễn An,an@example.vn,0912000001,Kế toán,VIP,,\n"
    "Trần Bình,binh@example.vn,,,,Công ty Sao Mai,\n"
    "Lê Chi,chi@example.vn,0912000003,,Sỉ,,\n"
)
# Three batches of three rows (IMPORT_BATCH_ROWS = 3): new people, rows of the same new person in
# two batches, two rows of one new person in one batch, changes to existing contacts (twice to
# An, in the first and the last batch).
ROWS = (
    HEAD + "Phạm Dũng,dung@example.vn,0987000001,,Mới,,\n"
    "An Nguyễn,an@example.vn,0987000011,Giám đốc,Hội chợ,,KH-1\n"
    "Võ Em,em@example.vn,,,,Công ty Sao Mai,\n"
    "Phạm Dũng,dung@example.vn,0987000002,Kỹ sư,Hội chợ,,\n"
    "Bình Trần,binh@example.vn,0987000012,,,Công ty Biển Xanh,KH-2\n"
    "Đỗ Giang,giang@example.vn,0987000003,,,,\n"
    "Nguyễn An,an2@example.vn,0912000001,Trưởng phòng,,,\n"
    "Hồ Hà,ha@example.vn,0987000004,,Mới,,\n"
    "Hồ Thu Hà,,0987000004,Kế toán,,Công ty Biển Xanh,KH-3\n"
)


def run_import(data: str, **config: Any) -> Import:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=data.encode(), file_name="khach.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="phiếu", **config)
    services.import_start(actor=actor, run=run, enqueue=False)
    return services.import_execute(run.pk, via="cli")


def snapshot() -> dict[str, Any]:
    """Everything an import writes about contacts, as comparable values (``updated_at`` left out:
    undo stamps the contacts it restores)."""
    contacts = [{k: v for k, v in c.items() if k != "updated_at"} for c in Contact.objects.order_by("pk").values()]
    return {
        "contacts": contacts,
        "emails": sorted(ContactEmail.objects.values_list("contact_id", "email", "label", "is_primary")),
        "phones": sorted(ContactPhone.objects.values_list("contact_id", "e164", "raw", "kind", "is_primary")),
        "tags": sorted(ContactTag.objects.values_list("contact_id", "tag__name")),
        "companies": sorted(ContactCompany.objects.values_list("contact_id", "company__name", "is_primary")),
        "external": sorted(ExternalId.objects.values_list("contact_id", "system", "value")),
        "search": sorted(SearchEntry.objects.values_list("contact_id", "name", "company", "email", "phone")),
        "consent": sorted(ConsentState.objects.values_list("contact_id", "purpose_id", "status")),
    }


def undo(run: Import) -> Import:
    services.import_undo(actor=Actor.system("cli"), run=run, enqueue=False)
    return services.undo_execute(run.pk)


def check_the_import(run: Import) -> None:
    assert run.status == Import.Status.DONE
    assert (run.created, run.updated, run.merged, run.rejected) == (4, 2, 3, 0)
    assert ImportCreated.objects.filter(run=run).count() == 3  # one range per batch that created someone
    assert set(ImportChange.objects.filter(run=run).values_list("action", flat=True)) == {"updated"}
    an = Contact.objects.get(emails__email="an@example.vn")
    assert (an.full_name, an.job_title) == ("Nguyễn An", "Trưởng phòng")  # the last row overwrote
    assert Contact.objects.get(emails__email="dung@example.vn").job_title == "Kỹ sư"


def test_undo_of_a_three_batch_import_puts_everything_back(settings: Any) -> None:
    run_import(BEFORE)
    before = snapshot()
    settings.IMPORT_BATCH_ROWS = 3
    run = run_import(ROWS, update_policy="overwrite")
    check_the_import(run)
    assert snapshot() != before
    run = undo(run)
    assert run.status == Import.Status.UNDONE
    assert run.options["undo_report"] == {"deleted": 4, "restored": 2, "kept": 0}
    assert snapshot() == before
    assert not ImportCreated.objects.filter(run=run).exists() and not ImportChange.objects.filter(run=run).exists()


def test_an_import_and_its_undo_resumed_after_crashes_put_everything_back(settings: Any, monkeypatch: Any) -> None:
    run_import(BEFORE)
    before = snapshot()
    settings.IMPORT_BATCH_ROWS = 3
    settings.IMPORT_COMMIT_ROWS = 6  # two batches per commit
    settings.IMPORT_STALE_SECONDS = 0
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=ROWS.encode(), file_name="khach.csv")
    run = services.import_configure(
        actor=actor, run=run, source="import", consent_proof="phiếu", update_policy="overwrite"
    )
    services.import_start(actor=actor, run=run, enqueue=False)

    def crash_after(n: int) -> Any:
        calls = {"n": 0}

        def progress(*_args: Any) -> None:
            calls["n"] += 1
            if calls["n"] == n:
                raise SystemExit("worker killed")

        return progress

    with pytest.raises(SystemExit):
        services.import_execute(run.pk, progress=crash_after(3))  # two batches committed, the third rolled back
    run = services.import_execute(run.pk)
    check_the_import(run)
    services.import_undo(actor=actor, run=run, enqueue=False)
    monkeypatch.setattr(services, "UNDO_BATCH", 1)  # one contact per transaction: the crash falls mid-undo
    with pytest.raises(SystemExit):
        services.undo_execute(run.pk, progress=crash_after(3))
    assert Import.objects.get(pk=run.pk).status == Import.Status.UNDOING
    run = services.undo_execute(run.pk)
    assert run.status == Import.Status.UNDONE
    assert run.options["undo_report"] == {"deleted": 4, "restored": 2, "kept": 0}
    assert snapshot() == before


def test_a_created_range_with_contacts_deleted_since_is_undone() -> None:
    run = run_import(HEAD + "".join(f"Khách {i},k{i}@example.vn,,,,,\n" for i in range(5)))
    ((first, last),) = ImportCreated.objects.filter(run=run).values_list("first_id", "last_id")
    assert last - first == 4
    Contact.objects.filter(pk=first + 2).delete()  # someone deleted one of them meanwhile
    run = undo(run)
    assert run.options["undo_report"] == {"deleted": 4, "restored": 0, "kept": 0}
    assert not Contact.objects.exists()


def test_old_records_of_created_contacts_are_still_undone() -> None:
    """Imports recorded before the ranges: one ImportChange "created" row per contact."""
    run = run_import(HEAD + "Khách Cũ,cu@example.vn,,,,,\n")
    span = ImportCreated.objects.get(run=run)
    ImportChange.objects.create(run=run, contact_id=span.first_id, action=ImportChange.Action.CREATED)
    span.delete()
    run = undo(run)
    assert run.options["undo_report"] == {"deleted": 1, "restored": 0, "kept": 0}
    assert not Contact.objects.exists()


def test_undo_restores_custom_fields_birthdays_and_consent_and_keeps_later_edits() -> None:
    from danhba.contacts.models import CustomField
    from danhba.privacy.models import ConsentRecord

    CustomField.objects.create(key="hang", label="Hạng", type="text")
    CustomField.objects.create(key="nganh", label="Ngành", type="text")
    head = "Họ và tên,Email,Ngày sinh,Hạng,Ngành,SMS\n"
    columns = {"Họ và tên": "full_name", "Email": "email", "Ngày sinh": "birthday", "Hạng": "custom.hang",
               "Ngành": "custom.nganh", "SMS": "consent.sms_marketing"}  # fmt: skip
    run_import(head + "An,an@example.vn,01/01/1990,Bạc,,Không\nBình,binh@example.vn,,Bạc,,\n", columns=columns)
    before = snapshot()
    run = run_import(
        head + "An,an@example.vn,02/02/1991,Vàng,Bán lẻ,Có\nBình,binh@example.vn,03/03/1993,Vàng,,\n",
        columns=columns, update_policy="overwrite",
    )  # fmt: skip
    an = Contact.objects.get(emails__email="an@example.vn")
    assert (str(an.birthday), an.custom) == ("1991-02-02", {"hang": "Vàng", "nganh": "Bán lẻ"})
    assert ConsentState.objects.get(contact=an, purpose__key="sms_marketing").status == "granted"
    # Bình's rank and birthday are edited after the import: undo leaves them as edited.
    binh = Contact.objects.get(emails__email="binh@example.vn")
    Contact.objects.filter(pk=binh.pk).update(custom={"hang": "Kim cương"}, birthday="1994-04-04")

    run = undo(run)
    assert run.options["undo_report"] == {"deleted": 0, "restored": 1, "kept": 2}
    binh.refresh_from_db()
    assert (str(binh.birthday), binh.custom) == ("1994-04-04", {"hang": "Kim cương"})
    an.refresh_from_db()
    assert (str(an.birthday), an.custom) == ("1990-01-01", {"hang": "Bạc"})
    after = snapshot()
    assert [c for c in after["contacts"] if c["id"] == an.pk] == [c for c in before["contacts"] if c["id"] == an.pk]
    assert after["consent"] == before["consent"]
    # The ledger is never edited: the undo is a statement of its own.
    last = ConsentRecord.objects.filter(contact=an).order_by("pk").last()
    assert last is not None and (last.status, last.proof) == ("withdrawn", f"Undo of import #{run.pk}")
