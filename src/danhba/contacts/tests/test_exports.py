"""Contact exports: CSV, XLSX, JSON and vCard with the same visibility and field hiding, small
ones downloaded at once, large ones as background jobs (progress page, cancel, download by the
owner only, weekly clean-up), the audit log, and the REST API flow."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import vobject
from django.urls import reverse
from django.utils import timezone

from danhba.accounts.models import Role
from danhba.accounts.services import apikey_create
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts import exports
from danhba.contacts.models import Contact, CustomField, ExportJob
from danhba.contacts.services.contacts import contact_create
from danhba.contacts.services.fields import customfield_delete
from danhba.core.errors import Conflict

pytestmark = pytest.mark.django_db

URLS = {
    "csv": reverse("contacts:export"),
    "xlsx": reverse("contacts:export_xlsx"),
    "json": reverse("contacts:export_json"),
    "vcard": reverse("contacts:export_vcard"),
}
FORMATS = list(URLS)


@pytest.fixture
def lan(make_contact: Any) -> Contact:
    CustomField.objects.create(key="salary", label="Mức lương", type="number", is_sensitive=True)
    CustomField.objects.create(key="shoe_size", label="Cỡ giày", type="number")
    return make_contact(
        full_name="Nguyễn Thị Lan",
        emails=["lan@example.vn", "lan.nguyen@congty.vn"],
        phones=["0912 345 678", "024 3825 1234"],
        street="12 Lê Lợi",
        ward="Phường Hoàn Kiếm",
        province="ha-noi",
        birthday="1985-03-09",
        gender="female",
        income_band="Trên 50 triệu",
        family="Hai con",
        job_title="Giám đốc",
        occupation='=HYPERLINK("http://evil.example","x")',
        tags=["Khách VIP", "Hà Nội, miền Bắc"],
        companies=[{"name": "Công ty Sao Mai", "is_primary": True}],
        custom={"salary": 87654321, "shoe_size": 37},
    )


@pytest.fixture
def duc(make_contact: Any) -> Contact:
    return make_contact(full_name="Trần Văn Đức", emails=["duc@example.vn"], lifecycle_stage="customer")


# --- reading each format --------------------------------------------------------------------


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def parse(fmt: str, data: bytes) -> list[dict[str, Any]]:
    """The rows of an exported file, each as {column: value} (vCards as {property: values})."""
    if fmt == "csv":
        text = data.decode("utf-8")
        assert text.startswith("\ufeff")
        return list(csv.DictReader(io.StringIO(text[1:])))
    if fmt == "json":
        return json.loads(data.decode("utf-8"))
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data)).active
        rows = list(ws.iter_rows(values_only=True))
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    cards = list(vobject.readComponents(data.decode("utf-8")))
    return [{key: [line.value for line in lines] for key, lines in card.contents.items()} for card in cards]


def names(fmt: str, rows: list[dict[str, Any]]) -> set[str]:
    return {row["fn"][0] if fmt == "vcard" else row["full_name"] for row in rows}


def download(client: Any, fmt: str, **params: Any) -> tuple[Any, list[dict[str, Any]]]:
    response = client.get(URLS[fmt], params)
    assert response.status_code == 200, response
    return response, parse(fmt, body(response))


def files(media: Path) -> list[str]:
    folder = media / "exports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def every_value(fmt: str, data: bytes) -> str:
    """Everything a file says, as text: headers, values, property names."""
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data)).active
        return " ".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    return data.decode("utf-8")


# --- the four formats -----------------------------------------------------------------------


def test_csv_is_utf8_with_bom_and_keeps_vietnamese(client_for: Any, admin: Any, lan: Contact, duc: Contact) -> None:
    response, rows = download(client_for(admin), "csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{timezone.localdate()}.csv"'
    row = next(r for r in rows if r["id"] == str(lan.pk))
    assert row["full_name"] == "Nguyễn Thị Lan" and row["family_name"] == "Nguyễn"
    assert row["email"] == "lan@example.vn" and row["other_emails"] == "lan.nguyen@congty.vn"
    assert row["phone"] == '="+84912345678"'  # text in Excel, no apostrophe, no formula (core.csvsafe)
    assert row["occupation"].startswith("'=HYPERLINK")
    assert row["tags"] == "Hà Nội, miền Bắc; Khách VIP"
    assert row["province"] == "Hà Nội" and row["birthday"] == "1985-03-09"
    assert row["custom.salary"] == "87654321" and row["custom.shoe_size"] == "37"


def test_xlsx_has_text_ids_and_phones_real_dates_and_no_formulas(
    client_for: Any, admin: Any, lan: Contact, duc: Contact
) -> None:
    response = client_for(admin).get(URLS["xlsx"])
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].endswith(f'contacts-{timezone.localdate()}.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(body(response)))
    ws = wb.active
    assert ws.title == "Contacts" and ws.freeze_panes == "A2"
    header = [c.value for c in ws[1]]
    assert header[:3] == ["id", "full_name", "family_name"] and all(c.font.b for c in ws[1])
    col = {name: i for i, name in enumerate(header)}
    row = next(r for r in ws.iter_rows(min_row=2) if r[col["id"]].value == str(lan.pk))
    assert row[col["id"]].data_type == "s" and row[col["id"]].number_format == "@"
    assert row[col["full_name"]].value == "Nguyễn Thị Lan"
    assert row[col["phone"]].value == "+84912345678" and row[col["phone"]].data_type == "s"
    assert row[col["other_phones"]].value == "+842438251234"
    occupation = row[col["occupation"]]
    assert occupation.value == '=HYPERLINK("http://evil.example","x")'
    assert occupation.data_type == "s" and occupation.quotePrefix  # shown as text, never run
    assert row[col["birthday"]].value == dt.datetime(1985, 3, 9) and row[col["birthday"]].is_date
    created = row[col["created_at"]].value
    assert isinstance(created, dt.datetime)
    assert abs(created - timezone.localtime(lan.created_at).replace(tzinfo=None)) < dt.timedelta(seconds=1)
    assert row[col["custom.salary"]].value == 87654321  # a number stays a number
    assert row[col["tags"]].value == "Hà Nội, miền Bắc; Khách VIP"


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(
    client_for: Any, admin: Any, monkeypatch: Any, make_contact: Any
) -> None:
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)  # a header and two contacts per sheet
    for name in ("Một", "Hai", "Ba", "Bốn", "Năm"):
        make_contact(full_name=name)
    wb = openpyxl.load_workbook(io.BytesIO(body(client_for(admin).get(URLS["xlsx"]))))
    assert wb.sheetnames == ["Contacts", "Contacts (2)", "Contacts (3)"]
    assert [[r[1] for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets] == [
        ["full_name", "Một", "Hai"],
        ["full_name", "Ba", "Bốn"],
        ["full_name", "Năm"],
    ]


def test_json_is_an_array_of_objects_in_utf8(client_for: Any, admin: Any, lan: Contact, duc: Contact) -> None:
    response = client_for(admin).get(URLS["json"])
    assert response["Content-Type"] == "application/json; charset=utf-8"
    raw = body(response)
    assert "Nguyễn Thị Lan".encode() in raw  # not \u escapes
    items = json.loads(raw)
    assert [i["full_name"] for i in items] == ["Nguyễn Thị Lan", "Trần Văn Đức"]  # oldest first
    item = items[0]
    assert item["id"] == lan.pk and item["phone"] == "+84912345678"
    assert item["other_emails"] == ["lan.nguyen@congty.vn"]
    assert item["tags"] == ["Hà Nội, miền Bắc", "Khách VIP"] and item["companies"] == ["Công ty Sao Mai"]
    assert item["birthday"] == "1985-03-09" and item["gender"] == "female"
    assert item["occupation"] == '=HYPERLINK("http://evil.example","x")'  # JSON is not a spreadsheet
    assert item["custom.salary"] == 87654321 and item["custom.shoe_size"] == 37
    assert dt.datetime.fromisoformat(item["created_at"]) == lan.created_at
    assert items[1]["birthday"] is None and items[1]["custom.shoe_size"] is None


def test_vcard_4_has_one_card_per_contact(client_for: Any, admin: Any, lan: Contact, duc: Contact) -> None:
    response = client_for(admin).get(URLS["vcard"])
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    assert response["Content-Disposition"].endswith('.vcf"')
    raw = body(response).decode("utf-8")
    assert raw.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))  # folded
    cards = list(vobject.readComponents(raw))
    assert len(cards) == 2
    card = cards[0]
    assert card.fn.value == "Nguyễn Thị Lan"
    assert (card.n.value.family, card.n.value.given, card.n.value.additional) == ("Nguyễn", "Lan", "Thị")
    emails = card.contents["email"]
    assert [e.value for e in emails] == ["lan@example.vn", "lan.nguyen@congty.vn"]
    assert emails[0].params["PREF"] == ["1"]
    assert [t.value for t in card.contents["tel"]] == ["tel:+84912345678", "tel:+842438251234"]
    adr = card.adr.value
    assert (adr.street, adr.city, adr.region, adr.country) == ("12 Lê Lợi", "Phường Hoàn Kiếm", "Hà Nội", "VN")
    assert card.bday.value == "19850309" and card.gender.value == "F"
    assert card.org.value == ["Công ty Sao Mai"] and card.title.value == "Giám đốc"
    assert card.categories.value == ["Hà Nội, miền Bắc", "Khách VIP"]  # the comma inside a tag survives
    assert cards[1].fn.value == "Trần Văn Đức" and "bday" not in cards[1].contents


def test_export_keeps_the_list_filters_and_search(client_for: Any, admin: Any, lan: Contact, duc: Contact) -> None:
    client = client_for(admin)
    for fmt in FORMATS:
        _, rows = download(client, fmt, lifecycle_stage="customer")
        assert names(fmt, rows) == {"Trần Văn Đức"}, fmt
        _, rows = download(client, fmt, q="nguyen thi", sort="-name", cursor="ignored")
        assert names(fmt, rows) == {"Nguyễn Thị Lan"}, fmt


def test_list_page_offers_every_format_with_the_current_filters(client_for: Any, admin: Any, duc: Contact) -> None:
    page = client_for(admin).get(reverse("contacts:list"), {"lifecycle_stage": "customer"}).content.decode()
    for url in URLS.values():
        assert f"{url}?lifecycle_stage=customer" in page
    assert reverse("contacts:export_list") in page


# --- who sees what --------------------------------------------------------------------------


def test_own_scope_exports_only_own_and_unassigned_contacts(
    client_for: Any, make_user: Any, admin: Any, make_contact: Any
) -> None:
    Role.objects.create(
        key="sales-export", name="Sales with export", record_scope="own",
        permissions={"contact": ["view", "export"]}, sensitive_fields=[],
    )  # fmt: skip
    rep = make_user("sales-export")
    other = make_user("sales")
    make_contact(full_name="Khách Của Tôi", owner=rep.pk)
    make_contact(full_name="Khách Chưa Giao")
    make_contact(full_name="Khách Người Khác", owner=other.pk)
    for fmt in FORMATS:
        _, rows = download(client_for(rep), fmt)
        assert names(fmt, rows) == {"Khách Của Tôi", "Khách Chưa Giao"}, fmt
    job = exports.export_job_create(actor=actor_for(rep), fmt="json", params={})  # the background path too
    exports.export_job_run(job.pk)
    job.refresh_from_db()
    assert names("json", parse("json", job.file.read())) == {"Khách Của Tôi", "Khách Chưa Giao"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_role_never_sees_a_hidden_field_in_any_format(client_for: Any, users: Any, lan: Contact, fmt: str) -> None:
    response = client_for(users["analyst"]).get(URLS[fmt])
    text = every_value(fmt, body(response))
    assert "Nguyễn Thị Lan" in text
    for secret in ("1985", "19850309", "Trên 50 triệu", "Hai con", "87654321", "income_band", "custom.salary"):
        assert secret not in text, (fmt, secret)
    if fmt == "vcard":
        assert "BDAY" not in text and "GENDER" not in text
    else:
        assert "birthday" not in text and "gender" not in text


def test_roles_without_export_permission_get_403(client_for: Any, users: Any, lan: Contact) -> None:
    for fmt in FORMATS:
        assert client_for(users["sales"]).get(URLS[fmt]).status_code == 403
    assert client_for(users["sales"]).get(reverse("contacts:export_list")).status_code == 403


def test_inline_export_is_audited_with_format_filters_and_rows(
    client_for: Any, admin: Any, lan: Contact, duc: Contact
) -> None:
    download(client_for(admin), "vcard", lifecycle_stage="customer", sort="name")
    event = AuditEvent.objects.get(action="export", actor=admin)
    assert event.changes == {
        "format": [None, "vcard"],
        "filters": [None, {"lifecycle_stage": "customer"}],
        "rows": [None, 1],
    }


def test_bad_filter_goes_back_to_the_list_with_a_message(client_for: Any, admin: Any) -> None:
    response = client_for(admin).get(URLS["xlsx"], {"created_after": "hôm qua"}, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("contacts:list"))
    assert "a date like 2025-07-01" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()


# --- background jobs ------------------------------------------------------------------------


def make_contacts(n: int, admin: Any) -> None:
    for i in range(n):
        contact_create(actor=actor_for(admin), data={"full_name": f"Phạm Văn Số {i}", "lifecycle_stage": "lead"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_large_export_runs_in_the_background_and_only_its_owner_downloads_it(
    client_for: Any, users: Any, settings: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any, fmt: str
) -> None:
    admin = users["admin"]
    settings.EXPORT_INLINE_MAX = 2
    make_contacts(5, admin)
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(URLS[fmt], {"lifecycle_stage": "lead", "sort": "name"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("contacts:export_job", args=[job.pk])
    assert (job.status, job.rows_done, job.rows_total, job.format) == ("done", 5, 5, fmt)
    assert job.filters == {"lifecycle_stage": "lead"}
    assert job.file.name.startswith("exports/") and Path(settings.MEDIA_ROOT, job.file.name).is_file()

    page = client.get(reverse("contacts:export_job", args=[job.pk])).content.decode()
    download_url = reverse("contacts:export_download", args=[job.pk])
    assert download_url in page and "every 2s" not in page  # finished: no more polling
    response = client.get(download_url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert len(parse(fmt, body(response))) == 5

    event = AuditEvent.objects.get(action="export")
    assert event.actor == admin and event.via == "ui" and event.ip_address == "127.0.0.1"
    assert event.changes["rows"] == [None, 5] and event.changes["export_job"] == [None, job.pk]
    assert event.changes["format"] == [None, fmt]

    # Someone else, even an admin, cannot find it.
    client.force_login(users["marketing"])
    for name in ("export_job", "export_download"):
        assert client.get(reverse(f"contacts:{name}", args=[job.pk])).status_code == 404
    assert client.post(reverse("contacts:export_cancel", args=[job.pk])).status_code == 404
    assert (
        reverse("contacts:export_job", args=[job.pk])
        not in client.get(reverse("contacts:export_list")).content.decode()
    )


def test_progress_page_polls_while_queued_and_can_be_cancelled(
    client_for: Any, admin: Any, settings: Any, media: Path
) -> None:
    settings.EXPORT_INLINE_MAX = 0
    make_contacts(2, admin)
    client = client_for(admin)
    response = client.get(URLS["csv"])  # the commit hook never runs here: the job stays queued
    job = ExportJob.objects.get()
    assert job.status == "queued" and job.rows_total == 0  # the estimate stops at the inline limit
    url = reverse("contacts:export_job", args=[job.pk])
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Cancel export" in page
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="export-status"') and "every 2s" in partial

    partial = client.post(reverse("contacts:export_cancel", args=[job.pk]), headers={"HX-Request": "true"})
    assert "every 2s" not in partial.content.decode() and "cancelled" in partial.content.decode()
    exports.export_job_run(job.pk)  # the late wake-up call finds nothing to do
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.file
    assert not AuditEvent.objects.filter(action="export").exists()
    assert client.get(reverse("contacts:export_download", args=[job.pk])).status_code == 404


def test_cancelling_a_running_job_stops_it_and_leaves_no_file(
    admin: Any, monkeypatch: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    make_contacts(3, admin)
    job = exports.export_job_create(actor=actor_for(admin), fmt="xlsx", params={})
    monkeypatch.setattr(exports, "PAGE", 1)
    pages = {"n": 0}
    real_page = exports.contact_page

    def page_then_cancel(*args: Any, **kwargs: Any) -> Any:
        pages["n"] += 1
        if pages["n"] == 2:  # the person presses Cancel while the second page is read
            exports.export_job_cancel(actor=actor_for(admin), job=job)
        return real_page(*args, **kwargs)

    monkeypatch.setattr(exports, "contact_page", page_then_cancel)
    exports.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.rows_done == 1 and not job.file
    assert files(media) == []
    assert not AuditEvent.objects.filter(action="export").exists()


def test_job_reports_progress_every_page(admin: Any, monkeypatch: Any, media: Path) -> None:
    make_contacts(3, admin)
    job = exports.export_job_create(actor=actor_for(admin), fmt="json", params={})
    monkeypatch.setattr(exports, "PAGE", 1)
    seen = []
    real_page = exports.contact_page

    def watching(*args: Any, **kwargs: Any) -> Any:
        seen.append(ExportJob.objects.values_list("status", "rows_done", "rows_total").get(pk=job.pk))
        return real_page(*args, **kwargs)

    monkeypatch.setattr(exports, "contact_page", watching)
    exports.export_job_run(job.pk)
    assert seen == [("running", 0, 3), ("running", 1, 3), ("running", 2, 3)]
    exports.export_job_run(job.pk)  # a repeated wake-up call changes nothing
    job.refresh_from_db()
    assert (job.status, job.rows_done) == ("done", 3)
    assert AuditEvent.objects.filter(action="export").count() == 1


def test_a_job_whose_filters_stopped_working_fails_with_the_reason(admin: Any, media: Path) -> None:
    field = CustomField.objects.create(key="hang", label="Hạng", type="text")
    job = exports.export_job_create(actor=actor_for(admin), fmt="csv", params={"custom.hang": "vàng"})
    customfield_delete(actor=actor_for(admin), field=field)
    exports.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "no such custom field" in job.error
    assert files(media) == []


def test_a_job_runs_with_the_role_the_owner_has_when_it_runs(users: Any, lan: Contact, media: Path) -> None:
    marketing = users["marketing"]
    job = exports.export_job_create(actor=actor_for(marketing), fmt="json", params={})
    marketing.role.permissions = {**marketing.role.permissions, "contact": ["view"]}
    marketing.role.save()
    exports.export_job_run(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "contact" in job.error.lower() and not job.file


def test_at_most_three_exports_wait_per_person(admin: Any, users: Any) -> None:
    for _ in range(3):
        exports.export_job_create(actor=actor_for(admin), fmt="csv", params={})
    with pytest.raises(Conflict):
        exports.export_job_create(actor=actor_for(admin), fmt="csv", params={})
    exports.export_job_create(actor=actor_for(users["analyst"]), fmt="csv", params={})  # someone else may


def test_my_exports_lists_the_users_jobs_newest_first(client_for: Any, admin: Any, users: Any) -> None:
    first = exports.export_job_create(actor=actor_for(admin), fmt="csv", params={"q": "Lan"})
    second = exports.export_job_create(actor=actor_for(admin), fmt="vcard", params={})
    exports.export_job_create(actor=actor_for(users["analyst"]), fmt="json", params={})
    page = client_for(admin).get(reverse("contacts:export_list")).content.decode()
    links = [reverse("contacts:export_job", args=[j.pk]) for j in (second, first)]
    assert page.index(links[0]) < page.index(links[1])
    assert "vCard" in page and "q=Lan" in page and "JSON" not in page


def test_purge_deletes_week_old_exports_and_files_and_unsticks_jobs(
    admin: Any, media: Path, huey_immediate: None
) -> None:
    now = timezone.now()
    folder = media / "exports"
    folder.mkdir(parents=True)

    def job_with_file(age: dt.timedelta, name: str) -> ExportJob:
        (folder / name).write_text("x")
        return ExportJob.objects.create(
            requested_by=admin, format="csv", status="done", file=f"exports/{name}", created_at=now - age
        )

    old = job_with_file(dt.timedelta(days=8), "1-old.csv")
    recent = job_with_file(dt.timedelta(days=6), "2-recent.csv")
    orphan = folder / "3-orphan.csv"
    orphan.write_text("x")
    week_ago = (now - dt.timedelta(days=8)).timestamp()
    os.utime(orphan, (week_ago, week_ago))
    stuck = ExportJob.objects.create(
        requested_by=admin, format="csv", status="running", updated_at=now - dt.timedelta(hours=1)
    )
    lost = ExportJob.objects.create(requested_by=admin, format="json", created_at=now - dt.timedelta(hours=1))

    assert exports.export_jobs_purge(now=now) == 1
    assert not ExportJob.objects.filter(pk=old.pk).exists() and not (folder / "1-old.csv").exists()
    assert ExportJob.objects.filter(pk=recent.pk).exists() and (folder / "2-recent.csv").exists()
    assert not orphan.exists()
    stuck.refresh_from_db()
    assert stuck.status == "failed" and stuck.error
    lost.refresh_from_db()
    assert lost.status == "done"  # its lost wake-up call was sent again


def test_clean_up_runs_every_hour() -> None:
    from danhba.contacts.tasks import export_jobs_purge_job

    task = export_jobs_purge_job.task_class()
    at = dt.datetime(2025, 7, 1, 3, 17)
    assert task.validate_datetime(at) and task.validate_datetime(at.replace(hour=4))
    assert not task.validate_datetime(at.replace(minute=18))


# --- API ------------------------------------------------------------------------------------


class Api:
    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str) -> Any:
        return self.client.get(path if path.startswith("/api") else f"/api{path}", headers=self.headers)

    def post(self, path: str, data: Any) -> Any:
        return self.client.post(f"/api{path}", json.dumps(data), content_type="application/json", headers=self.headers)


@pytest.fixture
def api_for(client: Any) -> Callable[[Any], Api]:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


def test_api_export_flow(
    api_for: Any, users: Any, lan: Contact, duc: Contact, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    api = api_for(users["marketing"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/contacts/exports", {"format": "xlsx", "filters": {"has_email": True}})
    assert response.status_code == 202, response.content
    job = response.json()  # the answer leaves before the job runs
    assert job["status"] == "queued" and job["download_url"] is None
    assert job["filters"] == {"has_email": "true"} and job["rows_total"] == 2

    job = api.get(f"/contacts/exports/{job['id']}").json()
    assert (job["status"], job["rows_done"], job["rows_total"]) == ("done", 2, 2)
    assert job["download_url"] == f"/api/contacts/exports/{job['id']}/download"
    response = api.get(job["download_url"])
    assert response.status_code == 200
    rows = parse("xlsx", body(response))
    assert {r["full_name"] for r in rows} == {"Nguyễn Thị Lan", "Trần Văn Đức"}
    assert "income_band" not in rows[0] and "custom.salary" not in rows[0] and "birthday" in rows[0]
    event = AuditEvent.objects.get(action="export")
    assert event.via == "api" and event.actor == users["marketing"]

    other = api_for(users["admin"])
    for path in (f"/contacts/exports/{job['id']}", job["download_url"]):
        assert other.get(path).status_code == 404
        assert set(other.get(path).json()) == {"code", "message", "details"}


def test_api_download_of_an_unfinished_export_is_a_conflict(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    job = api.post("/contacts/exports", {"format": "json"}).json()
    response = api.get(f"/contacts/exports/{job['id']}/download")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_api_refuses_bad_export_requests(api_for: Any, users: Any) -> None:
    api = api_for(users["admin"])
    for payload, where in [
        ({"format": "pdf"}, None),
        ({"format": "csv", "filters": {"lifecycle_stag": "lead"}}, "filters.lifecycle_stag"),
        ({"format": "csv", "filters": {"created_after": "tomorrow"}}, "created_after"),
        ({"format": "csv", "filters": {"custom.nope": "1"}}, "custom.nope"),
        ({"format": "csv", "extra": 1}, None),
    ]:
        response = api.post("/contacts/exports", payload)
        assert response.status_code == 422, payload
        error = response.json()
        assert set(error) == {"code", "message", "details"}
        if where:
            assert where in error["details"], error
    assert not ExportJob.objects.exists()
    response = api_for(users["sales"]).post("/contacts/exports", {"format": "csv"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api.get("/contacts/exports/99999999999999999999").status_code in (404, 422)
