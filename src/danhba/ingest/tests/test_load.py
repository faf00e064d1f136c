"""The import engine end to end: committed fixture files in, exact contacts and report out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from danhba.audit.models import AuditEvent
from danhba.contacts.models import Contact, ContactEmail, ContactPhone, Tag, TimelineEntry
from danhba.contacts.selectors import ContactFilters, contact_page
from danhba.contacts.writer import LIST_INDEXES_IN_ORDER, list_indexes_set_aside
from danhba.core.actor import Actor
from danhba.core.bulk import indexes_present
from danhba.core.errors import InvalidInput, PermissionDenied
from danhba.ingest import services
from danhba.ingest.models import Import, ImportChange, ImportCreated, ImportIssue
from danhba.privacy.models import ConsentRecord, ConsentState

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def run_import(data: str | bytes, actor: Actor | None = None, *, name: str = "contacts.csv", **config: Any) -> Import:
    actor = actor or Actor.system("cli")
    file: Any = FIXTURES / data if isinstance(data, str) else data
    run = services.import_create(actor=actor, file=file, file_name=name if isinstance(data, bytes) else "")
    config.setdefault("source", "import")
    if "consent_purposes" not in config:
        config.setdefault("consent_proof", "paper forms, shop 1")
    run = services.import_configure(actor=actor, run=run, **config)
    services.import_start(actor=actor, run=run, enqueue=False)
    return services.import_execute(run.pk, via="cli")


def contact_by_email(email: str) -> Contact:
    return Contact.objects.get(emails__email=email)


def issues(run: Import, severity: str = "error") -> list[tuple[int, str, str]]:
    return [(i.line, i.column, i.reason) for i in run.issues.filter(severity=severity).order_by("line", "pk")]


def test_cp1258_excel_csv_loads_clean_contacts_and_reports_the_bad_row(admin: Any) -> None:
    run = run_import("excel_cp1258.csv")
    assert run.status == Import.Status.DONE
    assert run.detected_encoding == "cp1258"
    assert run.columns == {
        "Họ và tên": "full_name", "Số điện thoại": "phone", "Email": "email", "Ngày sinh": "birthday",
        "Địa chỉ": "address",
    }  # fmt: skip
    assert (run.created, run.updated, run.rejected, run.skipped) == (5, 0, 1, 0)  # the blank line is no row
    duc = contact_by_email("duc.nguyen@gmail.com")
    assert (duc.full_name, duc.family_name, duc.middle_name, duc.given_name) == (
        "Nguyễn Văn Đức",
        "Nguyễn",
        "Văn",
        "Đức",
    )
    assert duc.phone == "+84912345678"
    assert duc.birthday == dt.date(1985, 3, 15)
    assert duc.province == "ho-chi-minh"
    assert duc.street == "12 Lý Tự Trọng"
    assert duc.address_raw == "12 Lý Tự Trọng, Quận 1, TP.HCM"
    assert duc.source == "import"
    phuong = contact_by_email("phuong.le@gmial.com")
    assert phuong.phone == "+84903123456"
    assert phuong.province == "da-nang"
    viet = Contact.objects.get(full_name="Phạm Quốc Việt")
    assert viet.email == "" and viet.phone == "+84909888777"
    # Line 7 is rejected with every reason: nothing is left to know the person by. The typo'd
    # domain is a warning, the row loaded.
    assert [(line, col) for line, col, _r in issues(run)] == [
        (7, "Số điện thoại"), (7, "Email"), (7, "Ngày sinh"), (7, ""),
    ]  # fmt: skip
    assert issues(run)[-1][2].startswith("no valid email, phone or external id is left")
    assert issues(run, "warning") == [
        (4, "Email", "the email domain looks mistyped: did you mean phuong.le@gmail.com?")
    ]
    csv_text = "".join(services.issues_csv(run))
    assert csv_text.startswith("\ufeffline,problems,Họ và tên")
    assert '7,"Số điện thoại: phone is too short;' in csv_text and ",12345,not-an-email,32/13/2000,???" in csv_text
    # Searchable at once, without diacritics.
    assert [c.pk for c in contact_page(admin, ContactFilters(q="nguyen van duc")).items] == [duc.pk]
    assert [c.pk for c in contact_page(admin, ContactFilters(q="0912 345 678")).items] == [duc.pk]


def test_every_legacy_and_excel_encoding_gives_the_same_contacts() -> None:
    first = run_import("excel_unicode.txt")
    assert first.detected_encoding.startswith("utf-16")
    assert (first.created, first.rejected) == (5, 1)
    for name in ("legacy_tcvn3.csv", "legacy_vni.csv", "excel_cp1258.csv"):
        run = run_import(name)
        assert (run.created, run.unchanged, run.rejected) == (0, 5, 1), name
    assert Contact.objects.count() == 5
    assert Contact.objects.get(emails__email="duong.dang@example.vn").full_name == "Đặng Thuỳ Dương"


def test_xlsx_with_numeric_phones_serial_dates_and_a_note() -> None:
    run = run_import("customers.xlsx")
    assert (run.created, run.rejected) == (3, 1)  # line 5 loads without its impossible birthday
    duc = contact_by_email("duc.nguyen@gmail.com")
    assert duc.phone == "+84912345678"
    assert duc.birthday == dt.date(1985, 3, 15)
    note = TimelineEntry.objects.get(contact=duc, kind="note")
    assert note.body == "VIP"
    assert [(line, col) for line, col, _r in issues(run)] == [(6, "SĐT"), (6, "Email"), (6, "")]
    [(line, _column, reason)] = [w for w in issues(run, "warning") if w[1] == "Ngày sinh"]
    assert line == 5 and "not a real date" in reason and reason.endswith("imported without this value")


def test_google_contacts_preset_splits_multi_values_and_labels() -> None:
    run = run_import("google_contacts.csv")
    assert run.options["preset"] == "google"
    duc = contact_by_email("duc.nguyen@gmail.com")
    assert sorted(ContactPhone.objects.filter(contact=duc).values_list("e164", flat=True)) == [
        "+842838123456", "+84912345678",
    ]  # fmt: skip
    assert duc.phone == "+84912345678"
    assert [t.name for t in duc.tags.all()] == ["Khách VIP"]  # "* myContacts" is Google's, not a tag
    assert duc.company_links.get().company.name == "Công ty Ánh Dương"
    assert duc.job_title == "Giám đốc"
    tuyet = contact_by_email("tuyet.tran@yahoo.com")
    assert tuyet.full_name == "Trần Thị Ánh Tuyết" and tuyet.birthday is None
    assert issues(run, "warning") == [(3, "Birthday", "a birthday without a year cannot be stored")]
    assert [line for line, _c, _r in issues(run)] == [4, 4, 4]


def test_outlook_month_first_birthday_and_null_date() -> None:
    run = run_import("outlook_contacts.csv")
    assert run.options["preset"] == "outlook"
    phuong = contact_by_email("phuong.le@gmial.com")
    assert phuong.birthday == dt.date(1978, 12, 31)
    assert phuong.full_name == "Lê Hoàng Phương" and phuong.province == "da-nang"
    assert (2, "Birthday", "read as month/day/year") in issues(run, "warning")
    assert contact_by_email("duong.dang@example.vn").birthday is None  # Outlook's 0/0/00
    assert issues(run) == []  # line 6's email is bad, but its name and phone are fine
    viet = Contact.objects.get(phones__e164="+84909888777")
    assert (viet.full_name, viet.email) == ("Phạm Quốc Việt", "")
    [(line, column, reason)] = [w for w in issues(run, "warning") if w[0] == 6]
    assert (line, column) == (6, "E-mail Address") and reason.startswith("not a valid email address")


def test_vcards_from_a_phone() -> None:
    run = run_import("phone_contacts.vcf")
    tuyet = contact_by_email("tuyet.tran@yahoo.com")
    assert sorted(tuyet.emails.values_list("email", flat=True)) == ["tuyet.tran@yahoo.com", "tuyet@work.vn"]
    assert run.rejected == 1 and issues(run)[0][0] == 24


CSV = "Họ và tên,Email,SĐT,Tỉnh/Thành phố,Nhóm,Ghi chú\n"


def test_in_file_duplicates_are_merged_not_doubled() -> None:
    data = (
        (
            CSV + "Nguyễn Văn An,an@example.vn,0912000001,Hà Nội,VIP,\n"
            "nguyen van an,AN@EXAMPLE.VN,,,Sỉ,gọi lại\n"  # same email: merged, tags added
            "Trần Bình,,+84 912 000 002,HCM,,\n"
            "Binh Tran,binh@example.vn,0912000002,,,\n"  # same phone in another format: merged
        ).encode()
    )
    run = run_import(data)
    assert (run.created, run.merged, run.updated) == (2, 2, 0)
    an = contact_by_email("an@example.vn")
    assert an.full_name == "Nguyễn Văn An"  # fill-empty: the first spelling stays
    assert sorted(t.name for t in an.tags.all()) == ["Sỉ", "VIP"]
    assert an.province == "ha-noi"
    binh = Contact.objects.get(phones__e164="+84912000002")
    assert binh.email == "binh@example.vn" and binh.province == "ho-chi-minh"


def test_merging_across_batches_and_resuming_give_the_same_result(settings: Any) -> None:
    settings.IMPORT_BATCH_ROWS = 2
    rows = [f"Người {i},p{i % 7}@example.vn,,,,\n" for i in range(20)]
    run = run_import((CSV + "".join(rows)).encode())
    assert (run.created, run.merged, run.rejected) == (7, 13, 0)
    assert Contact.objects.count() == 7
    # Undo's record of them: the ids as a range per batch that created some, no row per contact.
    ranges = list(run.created_ranges.order_by("first_id").values_list("first_id", "last_id"))
    assert len(ranges) == 4  # rows 0-6 are the 7 people, two rows per batch
    assert {cid for first, last in ranges for cid in range(first, last + 1)} == set(
        Contact.objects.values_list("pk", flat=True)
    )
    assert not ImportChange.objects.filter(run=run).exists()


def test_a_file_that_breaks_mid_group_keeps_the_batches_loaded_before_it(settings: Any, monkeypatch: Any) -> None:
    # Batches of two rows, all in one transaction: the file breaks after the third batch (a
    # truncated zip, undecodable bytes: the reader raises); the three batches read before it
    # stay, as with a commit per batch, and the report says where it stopped.
    settings.IMPORT_BATCH_ROWS = 2
    settings.IMPORT_COMMIT_ROWS = 1000
    read = services.pipeline.batches

    def breaking(*args: Any) -> Any:
        for number, batch in enumerate(read(*args), 1):
            yield batch
            if number == 3:
                raise ValueError("the file ends in the middle of a row")

    monkeypatch.setattr(services.pipeline, "batches", breaking)
    rows = "".join(f"Khách {i},k{i}@example.vn,,,,\n" for i in range(10))
    run = run_import((CSV + rows).encode())
    assert run.status == Import.Status.FAILED and run.error.startswith("stopped after line 7:")
    assert (run.line_done, run.rows_done, run.created) == (7, 6, 6)
    assert sorted(ContactEmail.objects.values_list("email", flat=True)) == sorted(f"k{i}@example.vn" for i in range(6))


@pytest.mark.parametrize(("commit_rows", "crash_at"), [(3, 2), (6, 3)])
def test_a_crashed_run_resumes_after_its_last_committed_batch(settings: Any, commit_rows: int, crash_at: int) -> None:
    # Batches of three rows, committed one by one or two by two: killed after the second batch
    # (its commit done), or after the third (loaded, not committed: rolled back), the run has
    # committed six rows; the resumed run carries on after them.
    settings.IMPORT_BATCH_ROWS = 3
    settings.IMPORT_COMMIT_ROWS = commit_rows
    settings.IMPORT_STALE_SECONDS = 0
    rows = "".join(f"Khách {i},k{i}@example.vn,,,,\n" for i in range(10))
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=(CSV + rows).encode(), file_name="k.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="forms")
    services.import_start(actor=actor, run=run, enqueue=False)
    calls = {"n": 0}

    def crash(current: Import) -> None:
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        services.import_execute(run.pk, progress=crash)
    run.refresh_from_db()
    assert run.status == Import.Status.RUNNING and run.line_done == 7 and run.created == 6
    assert services.stale_imports() == [(run.pk, Import.Status.RUNNING)]
    run = services.import_execute(run.pk)
    assert run.status == Import.Status.DONE
    assert (run.created, run.rows_done) == (10, 10)
    assert sorted(ContactEmail.objects.values_list("email", flat=True)) == sorted(f"k{i}@example.vn" for i in range(10))


def test_a_live_claim_is_not_taken_twice(settings: Any) -> None:
    settings.IMPORT_STALE_SECONDS = 3600
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=(CSV + "A,a@example.vn,,,,\n").encode(), file_name="a.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="forms")
    services.import_start(actor=actor, run=run, enqueue=False)
    Import.objects.filter(pk=run.pk).update(status="running", run_token="other", heartbeat_at=timezone.now())
    assert services.import_execute(run.pk).created == 0  # another worker holds it
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("policy", "expected_name", "expected_job"),
    [("fill_empty", "Nguyễn An", "Kế toán"), ("overwrite", "Nguyễn Văn An", "Giám đốc")],
)
def test_update_policies(policy: str, expected_name: str, expected_job: str) -> None:
    head = "Họ và tên,Email,Chức vụ,Ngày sinh\n"
    run_import((head + "Nguyễn An,an@example.vn,Kế toán,\n").encode())
    run = run_import((head + "Nguyễn Văn An,an@example.vn,Giám đốc,01/02/1990\n").encode(), update_policy=policy)
    an = contact_by_email("an@example.vn")
    assert (an.full_name, an.job_title, an.birthday) == (expected_name, expected_job, dt.date(1990, 2, 1))
    assert run.updated == 1
    audit = AuditEvent.objects.filter(contact_id=an.pk, action="update").get()
    assert audit.changes["birthday"] == [None, "1990-02-01"]


def test_modes_create_only_and_update_only() -> None:
    run_import((CSV + "An,an@example.vn,,,,\n").encode())
    data = (CSV + "An Mới,an@example.vn,,,,\nBình,binh@example.vn,,,,\n").encode()
    created = run_import(data, mode="create_only")
    assert (created.created, created.skipped, created.updated) == (1, 1, 0)
    assert contact_by_email("an@example.vn").full_name == "An"
    data = (CSV + "An,an@example.vn,0912000009,,,\nChi,chi@example.vn,,,,\n").encode()
    updated = run_import(data, mode="update_only")
    assert (updated.created, updated.updated, updated.skipped) == (0, 1, 1)
    assert not Contact.objects.filter(emails__email="chi@example.vn").exists()


def test_match_key_order_and_identities_owned_by_another_contact() -> None:
    run_import((CSV + "An,an@example.vn,0912000001,,,\nBình,binh@example.vn,0912000002,,,\n").encode())
    # Email says An, phone says Bình: with email first the row goes to An and Bình keeps his phone.
    run = run_import((CSV + "An Nguyễn,an@example.vn,0912000002,,,\n").encode(), match_keys=["email", "phone"])
    an = contact_by_email("an@example.vn")
    assert list(an.phones.values_list("e164", flat=True)) == ["+84912000001"]
    binh = contact_by_email("binh@example.vn")
    assert issues(run, "warning") == [(2, "", f"phone already belongs to contact #{binh.pk}; not added")]
    # Phone first: the same row now updates Bình.
    run = run_import((CSV + "An Nguyễn,,0912000002,,VIP,\n").encode(), match_keys=["phone", "email"])
    assert [t.name for t in contact_by_email("binh@example.vn").tags.all()] == ["VIP"]


def test_consent_and_provenance_are_recorded_per_contact() -> None:
    head = "Họ và tên,Email,Đồng ý nhận SMS\n"
    data = (head + "An,an@example.vn,Có\nBình,binh@example.vn,Không\nChi,chi@example.vn,\n").encode()
    run = run_import(
        data, columns={"Họ và tên": "full_name", "Email": "email", "Đồng ý nhận SMS": "consent.sms_marketing"},
        consent_purposes=["email_marketing"], consent_proof="Phiếu đăng ký hội chợ", source="registration",
        source_detail="Hội chợ Hà Nội 10/2026",
    )  # fmt: skip
    an = contact_by_email("an@example.vn")
    assert an.source == "registration"
    states = {
        (s.contact.full_name, s.purpose.key): s.status
        for s in ConsentState.objects.select_related("contact", "purpose")
    }
    assert states == {
        ("An", "email_marketing"): "granted", ("An", "sms_marketing"): "granted",
        ("Bình", "email_marketing"): "granted", ("Bình", "sms_marketing"): "withdrawn",
        ("Chi", "email_marketing"): "granted",
    }  # fmt: skip
    record = ConsentRecord.objects.filter(contact=an).first()
    assert record is not None and record.source == "import" and record.proof == "Phiếu đăng ký hội chợ"
    assert ImportCreated.objects.holding(an.pk).get().run == run
    # Importing the same statements again adds nothing to the ledger.
    before = ConsentRecord.objects.count()
    again = run_import(data, columns=run.columns, consent_purposes=["email_marketing"], consent_proof="x")
    assert ConsentRecord.objects.count() == before
    assert again.unchanged == 3


def test_consent_legal_basis_needs_purposes_or_proof() -> None:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=(CSV + "An,an@example.vn,,,,\n").encode(), file_name="a.csv")
    run = services.import_configure(actor=actor, run=run, source="import", legal_basis="consent")
    with pytest.raises(InvalidInput) as exc:
        services.import_start(actor=actor, run=run, enqueue=False)
    assert "legal_basis" in exc.value.details
    services.import_configure(actor=actor, run=run, legal_basis="contract")
    assert services.import_start(actor=actor, run=run, enqueue=False).status == Import.Status.QUEUED


def test_bad_mapping_is_refused_before_anything_runs() -> None:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=(CSV + "An,an@example.vn,,,,\n").encode(), file_name="a.csv")
    with pytest.raises(InvalidInput) as exc:
        services.import_configure(actor=actor, run=run, columns={"Email": "email", "SĐT": "email2"})
    assert "columns" in exc.value.details
    with pytest.raises(InvalidInput):
        services.import_configure(actor=actor, run=run, columns={"Nope": "email"})
    with pytest.raises(InvalidInput):
        services.import_configure(actor=actor, run=run, options={"lifecycle_stage": "no-such-stage"})
    with pytest.raises(InvalidInput) as exc:
        services.import_configure(actor=actor, run=run, columns={"Email": 3}, mode="sometimes")  # type: ignore[dict-item]
    assert set(exc.value.details) == {"columns", "mode"}


def test_undo_removes_created_contacts_and_restores_overwritten_values(admin: Any) -> None:
    head = "Họ và tên,Email,Chức vụ,Nhóm\n"
    run_import((head + "An,an@example.vn,Kế toán,\n").encode())
    run = run_import(
        (head + "An Nguyễn,an@example.vn,Giám đốc,VIP\nBình,binh@example.vn,,VIP\n").encode(), update_policy="overwrite"
    )
    an = contact_by_email("an@example.vn")
    assert (an.full_name, an.job_title) == ("An Nguyễn", "Giám đốc")
    # Someone edits the job title after the import: undo must not clobber it.
    Contact.objects.filter(pk=an.pk).update(job_title="Trưởng phòng")
    services.import_undo(actor=Actor.system("cli"), run=run, enqueue=False)
    run = services.undo_execute(run.pk)
    assert run.status == Import.Status.UNDONE
    an.refresh_from_db()
    assert (an.full_name, an.job_title) == ("An", "Trưởng phòng")
    assert list(an.tags.all()) == []
    assert not Contact.objects.filter(emails__email="binh@example.vn").exists()
    assert [c.pk for c in contact_page(admin, ContactFilters(q="an")).items] == [an.pk]
    assert not contact_page(admin, ContactFilters(q="an nguyen")).items
    assert run.options["undo_report"] == {"deleted": 1, "restored": 1, "kept": 1}
    assert Tag.objects.filter(name="VIP").exists()  # tags stay defined


def test_undo_window_is_thirty_days() -> None:
    run = run_import((CSV + "An,an@example.vn,,,,\n").encode())
    Import.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(days=31))
    run.refresh_from_db()
    assert not run.can_undo
    with pytest.raises(Exception, match="no longer"):
        services.import_undo(actor=Actor.system("cli"), run=run, enqueue=False)


def test_dry_run_reports_without_writing() -> None:
    run = run_import("excel_cp1258.csv", dry_run=True)
    assert (run.created, run.rejected) == (5, 1)
    assert Contact.objects.count() == 0
    assert ImportIssue.objects.filter(run=run, severity="error").count() == 4


def test_sales_rep_imports_into_own_records_and_cannot_touch_others(users: dict, make_contact: Any) -> None:
    other = make_contact(
        full_name="Khách Của Người Khác", emails=[{"email": "khac@example.vn"}], owner=users["admin"].pk
    )
    rep = Actor.system("ui", users["sales"])
    run = run_import((CSV + "Mới,moi@example.vn,,,,\nSửa,khac@example.vn,,,,\n").encode(), rep)
    assert (run.created, run.rejected) == (1, 1)
    assert contact_by_email("moi@example.vn").owner == users["sales"]
    assert issues(run) == [(3, "", "matches a contact outside your records")]
    other.refresh_from_db()
    assert other.full_name == "Khách Của Người Khác"


def test_roles_without_import_permission_are_refused(users: dict) -> None:
    with pytest.raises(PermissionDenied):
        services.import_create(actor=Actor.system("ui", users["support"]), file=b"a,b\n1,2\n", file_name="x.csv")


def test_unreadable_or_empty_files_are_clear_errors() -> None:
    actor = Actor.system("cli")
    with pytest.raises(InvalidInput):
        services.import_create(actor=actor, file=b"", file_name="empty.csv")
    with pytest.raises(InvalidInput):
        services.import_create(actor=actor, file=b"PK\x03\x04not really a zip", file_name="broken.xlsx")


def test_a_file_read_in_the_wrong_encoding_never_stores_nul_characters() -> None:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=FIXTURES / "excel_unicode.txt")
    run = services.import_configure(actor=actor, run=run, encoding="cp1258")  # UTF-16 read byte by byte
    assert run.headers and not any("\x00" in h for h in run.headers)


def test_unknown_encoding_and_bad_option_types_are_clear_errors() -> None:
    actor = Actor.system("cli")
    with pytest.raises(InvalidInput) as exc:
        services.import_create(actor=actor, file=FIXTURES / "excel_cp1258.csv", encoding="bogus")
    assert "encoding" in exc.value.details
    run = services.import_create(actor=actor, file=FIXTURES / "excel_cp1258.csv")
    with pytest.raises(InvalidInput) as exc:
        services.import_configure(actor=actor, run=run, options={"given_words": "two", "day_first": "maybe"})
    assert set(exc.value.details) == {"given_words", "day_first"}


def test_reading_the_file_in_another_encoding_keeps_the_mapping_when_the_columns_stay() -> None:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=FIXTURES / "excel_cp1258.csv")
    run = services.import_configure(actor=actor, run=run, columns={**run.columns, "Email": ""})
    run = services.import_configure(actor=actor, run=run, encoding="cp1258")
    assert run.columns["Email"] == ""


def test_old_drafts_and_files_of_long_finished_imports_are_deleted() -> None:
    actor = Actor.system("cli")
    draft = services.import_create(actor=actor, file=(CSV + "An,an@example.vn,,,,\n").encode(), file_name="a.csv")
    fresh_draft = services.import_create(actor=actor, file=(CSV + "Bé,be@example.vn,,,,\n").encode(), file_name="b.csv")
    old = run_import((CSV + "Chi,chi@example.vn,,,,\n").encode())
    recent = run_import((CSV + "Dũng,dung@example.vn,,,,\n").encode())
    Import.objects.filter(pk=draft.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    Import.objects.filter(pk=old.pk).update(finished_at=timezone.now() - dt.timedelta(days=31))
    paths = {run.pk: Path(run.file.path) for run in (draft, fresh_draft, old, recent)}
    assert services.imports_purge() == (1, 1)
    assert not Import.objects.filter(pk=draft.pk).exists() and not paths[draft.pk].exists()
    assert Import.objects.get(pk=old.pk).file.name == "" and not paths[old.pk].exists()
    assert Import.objects.get(pk=old.pk).created == 1  # the import and its report stay
    assert paths[fresh_draft.pk].exists() and paths[recent.pk].exists()


def test_undo_removes_the_identities_an_import_added_and_keeps_the_others() -> None:
    from danhba.contacts.models import ExternalId

    run_import((CSV + "An,an@example.vn,0912000001,,,\nBình,binh@example.vn,,,,\n").encode())
    head = "Họ và tên,Email,SĐT,Mã khách hàng\n"
    data = head + "An,an@example.vn,0987000002,KH-1\nBình,binh@example.vn,0987000003,KH-2\n"
    run = run_import(data.encode())
    assert ContactPhone.objects.count() == 3 and ExternalId.objects.count() == 2
    services.import_undo(actor=Actor.system("cli"), run=run, enqueue=False)
    services.undo_execute(run.pk)
    an = contact_by_email("an@example.vn")
    assert list(an.phones.values_list("e164", flat=True)) == ["+84912000001"] and an.phone == "+84912000001"
    assert contact_by_email("binh@example.vn").phone == ""
    assert not ExternalId.objects.exists()
    assert sorted(ContactEmail.objects.values_list("email", flat=True)) == ["an@example.vn", "binh@example.vn"]


@pytest.mark.sqlite
def test_an_import_gives_its_connection_back_with_the_settings_it_had() -> None:
    # The connection is kept for other work after the import (DB_CONN_MAX_AGE): its SQLite page
    # cache and checkpoint interval are the import's only while it runs.
    from django.db import connection

    def pragmas() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            cache = cursor.fetchone()[0]
            cursor.execute("PRAGMA wal_autocheckpoint")
            return cache, cursor.fetchone()[0]

    before = pragmas()
    during = []
    actor = Actor.system("cli")
    data = (CSV + "Nguyễn Văn An,an@example.vn,0912000001,Hà Nội,VIP,\n").encode()
    run = services.import_create(actor=actor, file=data, file_name="contacts.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="paper forms")
    services.import_start(actor=actor, run=run, enqueue=False)
    run = services.import_execute(run.pk, via="cli", progress=lambda _run: during.append(pragmas()))
    assert run.created == 1
    assert during and during[0] != before
    assert pragmas() == before


def test_an_import_has_the_checkpoint_thread_copy_the_log_after_each_commit(settings: Any, monkeypatch: Any) -> None:
    """After each commit the loading connection asks the checkpoint thread to copy the log
    (``core.db.checkpoints_beside``), so its own checkpoints find little left to copy."""
    settings.IMPORT_BATCH_ROWS = 4
    settings.IMPORT_COMMIT_ROWS = 4
    asked: list[str] = []
    monkeypatch.setattr(services, "checkpoints_beside", lambda alias: lambda: asked.append(alias))
    rows = "".join(f"Khách {i},k{i}@example.vn,,,,\n" for i in range(10))
    run = run_import((CSV + rows).encode())
    assert run.created == 10
    assert asked == ["default"] * 3  # 4 + 4 rows committed as they came, the last 2 at the end


LIST_INDEXES = {index.name for index in Contact._meta.indexes}


def test_a_big_import_sets_the_list_indexes_aside_and_builds_them_again(settings: Any, admin: Any) -> None:
    settings.IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS = 5
    settings.IMPORT_BATCH_ROWS = 4
    assert indexes_present(Contact) >= LIST_INDEXES
    actor = Actor.system("cli")
    rows = "".join(f"Khách {i},k{i}@example.vn,,,,\n" for i in range(10))
    run = services.import_create(actor=actor, file=(CSV + rows).encode(), file_name="k.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="forms")
    services.import_start(actor=actor, run=run, enqueue=False)
    during: list[set[str]] = []
    run = services.import_execute(run.pk, progress=lambda _run: during.append(LIST_INDEXES & indexes_present(Contact)))
    assert during == [set(), set(), set()]  # every batch loaded without them
    assert indexes_present(Contact) >= LIST_INDEXES
    assert run.created == 10
    page = contact_page(admin, ContactFilters(), "name", limit=3)
    assert [c.full_name for c in page.items] == ["Khách 0", "Khách 1", "Khách 2"]


def test_an_import_smaller_than_the_table_keeps_the_list_indexes_it_appends_to(settings: Any, admin: Any) -> None:
    """Rows to load against the contacts there are: the indexes by name go aside from a quarter
    of the table, those a load appends to only from the whole of it (decision 0027)."""
    settings.IMPORT_LIST_INDEXES_ASIDE_MIN_ROWS = 5
    settings.IMPORT_BATCH_ROWS = 4
    actor = Actor.system("cli")
    for first, rows in ((0, 12), (12, 6)):  # 12 into none: all aside; then 6 into 12: by name only
        lines = "".join(f"Khách {i:02},k{i}@example.vn,,,,\n" for i in range(first, first + rows))
        run = services.import_create(actor=actor, file=(CSV + lines).encode(), file_name="k.csv")
        run = services.import_configure(actor=actor, run=run, source="import", consent_proof="forms")
        services.import_start(actor=actor, run=run, enqueue=False)
        during: list[set[str]] = []
        run = services.import_execute(
            run.pk, progress=lambda _run: during.append(LIST_INDEXES & indexes_present(Contact))
        )
        assert run.created == rows
        assert indexes_present(Contact) >= LIST_INDEXES
        assert during == [set() if first == 0 else set(LIST_INDEXES_IN_ORDER)] * (rows // 4 + (rows % 4 > 0))
    assert LIST_INDEXES_IN_ORDER < LIST_INDEXES
    by_name = contact_page(admin, ContactFilters(), "name", limit=20)
    assert [c.full_name for c in by_name.items] == [f"Khách {i:02}" for i in range(18)]
    by_creation = contact_page(admin, ContactFilters(), "created", limit=20)
    assert [c.full_name for c in by_creation.items] == [f"Khách {i:02}" for i in range(18)]


def test_list_indexes_left_aside_by_a_killed_import_come_back_with_the_next_check() -> None:
    list_indexes_set_aside()  # what a process killed in the middle of a big import leaves
    assert not LIST_INDEXES & indexes_present(Contact)
    assert services.imports_resume_stale() == []
    assert indexes_present(Contact) >= LIST_INDEXES


def test_the_range_holding_a_contact_is_found_between_other_imports_ranges() -> None:
    runs = [Import.objects.create(file_name=f"f{n}.csv") for n in range(3)]
    # Ranges of three imports, with gaps (ids taken by other writers) and a one-id range.
    spans = [(runs[0], 1, 100), (runs[1], 101, 150), (runs[0], 160, 160), (runs[2], 200, 1_000)]
    for run, first, last in spans:
        ImportCreated.objects.create(run=run, first_id=first, last_id=last)

    def creator(contact_id: int) -> Import | None:
        found = ImportCreated.objects.holding(contact_id).first()
        return found.run if found else None

    assert [creator(i) for i in (1, 100, 101, 150, 160, 200, 1_000)] == [
        runs[0], runs[0], runs[1], runs[1], runs[0], runs[2], runs[2]
    ]  # fmt: skip
    assert [creator(i) for i in (151, 159, 161, 199, 1_001)] == [None] * 5


@pytest.mark.postgres
def test_an_import_refreshes_the_planners_statistics_as_the_tables_double(settings: Any, monkeypatch: Any) -> None:
    # PostgreSQL plans each batch's lookups of emails and phones from the tables' statistics: an
    # import that grows them from nothing refreshes them after its first batch and whenever the
    # contacts have doubled since, with the rows it committed in them.
    settings.IMPORT_BATCH_ROWS = 5
    seen: list[tuple[int, int]] = []
    real = services.analyze

    def recorded(*models: Any) -> None:
        real(*models)
        seen.append((Contact.objects.count(), ContactEmail.objects.count()))

    monkeypatch.setattr(services, "analyze", recorded)
    rows = [f"Người {i},n{i}@example.vn,,,,\n" for i in range(45)]
    run = run_import((CSV + "".join(rows)).encode())
    assert run.created == 45
    assert seen == [(5, 5), (10, 10), (20, 20), (40, 40)]
