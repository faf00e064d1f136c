"""The import pages: upload, the wizard (encoding, sheet, preset, saved mappings, mapping with a
live preview, options, provenance), run, progress, report, error CSV, cancel, undo, history, the
imports panel of the contact page, and who may see what."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.ingest import services
from danhba.ingest.forms import WizardForm
from danhba.ingest.models import Import, SavedMapping

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
VN_HEADER = ["Họ và tên", "Số điện thoại", "Email", "Ngày sinh", "Địa chỉ"]
HTMX = {"HTTP_HX_REQUEST": "true"}


def upload(client: Any, name: str, content: bytes | None = None) -> Any:
    data = content if content is not None else (FIXTURES / name).read_bytes()
    return client.post(reverse("ingest:new"), {"file": SimpleUploadedFile(name, data)})


def wizard_data(run: Import, **changes: Any) -> dict[str, Any]:
    """What the wizard form posts for ``run`` as it stands, with ``changes``."""
    data = {k: v for k, v in WizardForm.initial_for(run).items() if v is not None}
    data.update(changes)
    if not data.get("dry_run"):
        data.pop("dry_run", None)
    return data


def col(run: Import, header: str) -> str:
    return f"col_{run.headers.index(header)}"


def latest() -> Import:
    return Import.objects.order_by("-pk").first()  # type: ignore[return-value]


def errors_csv(client: Any, run: Import) -> list[list[str]]:
    response = client.get(reverse("ingest:errors_csv", kwargs={"pk": run.pk}))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{run.pk}-errors.csv"'
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


# --- the whole flow -------------------------------------------------------------------------


def test_upload_map_run_report_and_error_csv(
    client_for: Any, users: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(users["marketing"])
    response = upload(client, "excel_cp1258.csv")
    run = latest()
    assert response.status_code == 302
    assert response["Location"] == reverse("ingest:detail", kwargs={"pk": run.pk})

    # The wizard: the file read as cp1258, the columns suggested from the Vietnamese headers.
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert run.detected_encoding == "cp1258" and "As detected (cp1258)" in html
    assert run.headers == VN_HEADER
    assert run.columns == {"Họ và tên": "full_name", "Số điện thoại": "phone", "Email": "email",
                           "Ngày sinh": "birthday", "Địa chỉ": "address"}  # fmt: skip
    assert "Trần Thị Ánh Tuyết" in html  # the preview table, decoded right
    assert '<option value="full_name" selected>' in html
    # "How it will load": the phone in E.164 form national style, the province recognised, the
    # bad row in red, the email typo in amber.
    assert "0912 345 678" in html and "Hồ Chí Minh" in html
    assert "phone is too short" in html and "gmail.com" in html

    # Change one mapping: the birthday column is skipped. The live preview follows (htmx).
    data = wizard_data(run, **{col(run, "Ngày sinh"): ""})
    preview = client.post(page.request["PATH_INFO"], {**data, "action": "preview"}, **HTMX)
    assert preview.status_code == 200
    assert "not a real date" not in preview.content.decode()
    assert "phone is too short" in preview.content.decode()

    # Run, with where the data came from and the proof of consent.
    data.update(source="registration", source_detail="Hội chợ Hà Nội 10/2026", consent_proof="Phiếu giấy, tủ 3",
                consent_purposes=["email_marketing"], action="run")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ingest:detail", kwargs={"pk": run.pk}), data)
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Import.Status.DONE
    assert run.columns["Ngày sinh"] == ""
    assert (run.created, run.updated, run.rejected, run.warned) == (5, 0, 1, 1)
    assert not Contact.objects.exclude(birthday=None).exists()

    # The report.
    report = client.get(reverse("ingest:detail", kwargs={"pk": run.pk}))
    html = report.content.decode()
    assert 'data-count="created">5<' in html and 'data-count="rejected">1<' in html
    assert 'data-count="warned">1<' in html
    assert "Download rejected rows (CSV)" in html
    assert "Hội chợ Hà Nội 10/2026" in html and "Phiếu giấy, tủ 3" in html
    assert 'data-line="7"' in html  # the rejected row in the issues table
    assert 'hx-trigger="every 2s"' not in html  # finished: no more polling

    # The error CSV: the bad row as the file had it, with its line and the reasons.
    rows = errors_csv(client, run)
    assert rows[0] == ["line", "problems", *VN_HEADER]
    assert len(rows) == 2
    line, problems, *values = rows[1]
    assert line == "7"
    assert "Số điện thoại: phone is too short" in problems and "Email: not a valid email" in problems
    assert "Ngày sinh" not in problems  # skipped column, not checked
    assert values == ["", "12345", "not-an-email", "32/13/2000", "???"]

    # The history lists it, with who and the counts.
    history = client.get(reverse("ingest:list")).content.decode()
    assert "excel_cp1258.csv" in history and "Marketing" in history

    # The contact page names the import it came from, with the source and legal basis.
    duc = Contact.objects.get(full_name="Nguyễn Văn Đức")
    detail = client.get(reverse("contacts:detail", kwargs={"pk": duc.pk})).content.decode()
    assert "Imported from" in detail
    assert reverse("ingest:detail", kwargs={"pk": run.pk}) in detail
    assert "Registration" in detail and "Consent of the person" in detail


def test_issue_filter_and_pages(client_for: Any, admin: Any, settings: Any) -> None:
    # 120 bad rows, two issues each (the email, and no identity left): five pages of 50.
    body = "Họ tên,Email\n" + "".join(f",bad{i}\n" for i in range(120))
    run = services.import_create(actor=actor_for(admin), file=body.encode(), file_name="bad.csv")
    run = services.import_configure(actor=actor_for(admin), run=run, consent_proof="x")
    services.import_start(actor=actor_for(admin), run=run, enqueue=False)
    run = services.import_execute(run.pk)
    assert run.rejected == 120
    client = client_for(admin)
    url = reverse("ingest:issues", kwargs={"pk": run.pk})
    first = client.get(url, {"severity": "error"}, **HTMX)
    html = first.content.decode()
    assert html.count('class="issue"') == 50 and 'data-line="2"' in html
    cursor = first.context["issues"].next_cursor
    second = client.get(url, {"severity": "error", "cursor": cursor}, **HTMX).content.decode()
    assert 'data-line="27"' in second and 'data-line="2"' not in second
    assert "No problems found" in client.get(url, {"severity": "warning"}, **HTMX).content.decode()
    # A tampered cursor is a message, not a 500.
    assert client.get(url, {"cursor": "!!!"}, **HTMX).status_code == 200


# --- file controls: encoding, sheet, preset ---------------------------------------------------


def test_encoding_override_rereads_the_file(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "excel_cp1258.csv")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    response = client.post(url, {**wizard_data(run, encoding="vni"), "action": "reread"}, **HTMX)
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.encoding == "vni"
    assert run.headers != VN_HEADER  # read wrongly now
    assert 'id="wizard"' in response.content.decode()
    # Back to the detected encoding: the Vietnamese headers and their suggestions come back.
    response = client.post(url, {**wizard_data(run, encoding=""), "action": "reread"}, **HTMX)
    run.refresh_from_db()
    assert run.encoding == "" and run.headers == VN_HEADER
    assert response.context["form"]["col_0"].value() == "full_name"


def test_encoding_that_cannot_read_the_file_is_a_form_error(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "excel_cp1258.csv")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    response = client.post(url, {**wizard_data(run, encoding="utf-16"), "action": "reread"}, **HTMX)
    assert response.status_code == 422
    assert "cannot read this file" in str(response.context["form"].errors["encoding"])
    run.refresh_from_db()
    assert run.encoding == "" and run.headers == VN_HEADER
    assert response.context["form"]["encoding"].value() == ""


def test_encoding_change_keeps_the_mapping_when_headers_stay(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "google_contacts.csv")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    email = col(run, "E-mail 1 - Value")
    data = wizard_data(run, encoding="utf-8", **{email: ""})
    response = client.post(url, {**data, "action": "reread"}, **HTMX)
    assert response.context["form"][email].value() == ""


def test_xlsx_sheet_select(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "customers.xlsx")
    run = latest()
    page = client.get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "Nhà cung cấp" in page and run.sheet == "Khách hàng"
    response = client.post(
        reverse("ingest:detail", kwargs={"pk": run.pk}),
        {**wizard_data(run, sheet="Nhà cung cấp"), "action": "reread"},
        **HTMX,
    )
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.sheet == "Nhà cung cấp"
    assert run.headers != ["Họ tên", "SĐT", "Email", "Ngày sinh", "Ghi chú"]


def test_preset_detected_and_changed(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "google_contacts.csv")
    run = latest()
    page = client.get(reverse("ingest:detail", kwargs={"pk": run.pk}))
    assert page.context["form"]["preset"].value() == "google"
    assert run.columns["E-mail 1 - Value"] == "email"
    response = client.post(
        reverse("ingest:detail", kwargs={"pk": run.pk}),
        {**wizard_data(run, preset="outlook"), "action": "preset"},
        **HTMX,
    )
    run.refresh_from_db()
    assert run.options["preset"] == "outlook"
    assert response.context["form"]["preset"].value() == "outlook"


# --- saved mappings -------------------------------------------------------------------------


def test_saved_mapping_round_trip(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    upload(client, "excel_cp1258.csv")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    data = wizard_data(run, mapping_name="Phiếu hội chợ", given_words="2", **{col(run, "Địa chỉ"): "street"})
    response = client.post(url, {**data, "action": "save_mapping"}, **HTMX)
    assert response.status_code == 200
    assert "Mapping “Phiếu hội chợ” saved." in response.content.decode()
    saved = SavedMapping.objects.get(name="Phiếu hội chợ")
    assert saved.columns["Địa chỉ"] == "street" and saved.columns["Họ và tên"] == "full_name"
    assert saved.options["given_words"] == 2
    assert saved.created_by == users["marketing"]
    assert AuditEvent.objects.filter(object_type="savedmapping", object_id=str(saved.pk), action="create").exists()

    # Next month's file: apply the saved mapping in one click.
    upload(client, "excel_cp1258.csv")
    second = latest()
    assert second.pk != run.pk and second.columns["Địa chỉ"] == "address"
    url2 = reverse("ingest:detail", kwargs={"pk": second.pk})
    response = client.post(
        url2, {**wizard_data(second, saved_mapping=str(saved.pk)), "action": "apply_mapping"}, **HTMX
    )
    assert response.status_code == 200
    second.refresh_from_db()
    assert second.columns["Địa chỉ"] == "street" and second.options["given_words"] == 2
    form = response.context["form"]
    assert form[col(second, "Địa chỉ")].value() == "street" and str(form["given_words"].value()) == "2"

    # Saving again under the same name updates it; a Sales user may not overwrite it.
    client.post(url2, {**wizard_data(second, mapping_name="Phiếu hội chợ", **{col(second, "Địa chỉ"): ""}),
                       "action": "save_mapping"}, **HTMX)  # fmt: skip
    saved.refresh_from_db()
    assert saved.columns["Địa chỉ"] == "" and SavedMapping.objects.count() == 1
    sales = client_for(users["sales"])
    upload(sales, "excel_cp1258.csv")
    third = latest()
    url3 = reverse("ingest:detail", kwargs={"pk": third.pk})
    response = sales.post(url3, {**wizard_data(third, mapping_name="Phiếu hội chợ"), "action": "save_mapping"}, **HTMX)
    assert response.status_code == 422 and "choose another name" in response.content.decode()
    # Nor delete it; its author can.
    data = wizard_data(third, saved_mapping=str(saved.pk))
    response = sales.post(url3, {**data, "action": "delete_mapping"}, **HTMX)
    assert response.status_code == 422 and SavedMapping.objects.exists()
    client = client_for(users["marketing"])
    response = client.post(
        url2, {**wizard_data(second, saved_mapping=str(saved.pk)), "action": "delete_mapping"}, **HTMX
    )
    assert response.status_code == 200 and not SavedMapping.objects.exists()


def test_save_mapping_needs_a_name(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "excel_cp1258.csv")
    run = latest()
    response = client.post(
        reverse("ingest:detail", kwargs={"pk": run.pk}), {**wizard_data(run), "action": "save_mapping"}, **HTMX
    )
    assert response.status_code == 422
    assert response.context["form"].errors["mapping_name"] == ["give the mapping a name"]


# --- errors shown in the form, never a 500 ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "The submitted file is empty."),
        ("contacts.pdf", b"%PDF-1.4", "Choose a CSV, TSV, TXT, XLSX, JSON, JSONL or vCard file."),
        ("broken.xlsx", b"not a zip", "cannot read this file"),
        ("list.json", b"[1, 2, 3]", "cannot read this file"),
        ("blank.csv", b"\n\n\n", "cannot read this file"),
    ],
)
def test_bad_uploads_are_form_errors(client_for: Any, admin: Any, name: str, content: bytes, message: str) -> None:
    response = upload(client_for(admin), name, content)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Import.objects.exists()


def test_no_file_is_a_form_error(client_for: Any, admin: Any) -> None:
    response = client_for(admin).post(reverse("ingest:new"), {})
    assert response.status_code == 422 and "This field is required." in response.content.decode()


def test_run_errors_show_next_to_the_fields(client_for: Any, admin: Any) -> None:
    client = client_for(admin)
    upload(client, "excel_cp1258.csv")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    # Consent as the legal basis, but no purpose, no consent column, no proof.
    response = client.post(url, {**wizard_data(run), "action": "run"})
    assert response.status_code == 422
    assert "with consent as the legal basis" in str(response.context["form"].errors["legal_basis"])
    # Two columns into one name; nothing that identifies a person.
    bad = {col(run, h): "full_name" for h in ("Họ và tên", "Email")} | {col(run, "Số điện thoại"): ""}
    response = client.post(url, {**wizard_data(run, consent_proof="x", **bad), "action": "run"})
    assert response.status_code == 422
    assert "both go into full_name" in " ".join(response.context["form"].mapping_errors)
    # A value outside the choices, an owner that is no user.
    response = client.post(url, {**wizard_data(run, consent_proof="x", mode="everything", given_words="x"),
                                 "action": "run"})  # fmt: skip
    assert response.status_code == 422
    assert set(response.context["form"].errors) >= {"mode", "given_words"}
    run.refresh_from_db()
    assert run.status == Import.Status.DRAFT


def test_dry_run_changes_nothing(
    client_for: Any, admin: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(admin)
    upload(client, "excel_cp1258.csv")
    run = latest()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ingest:detail", kwargs={"pk": run.pk}),
                    {**wizard_data(run, consent_proof="x", dry_run="on"), "action": "run"})  # fmt: skip
    run.refresh_from_db()
    assert run.status == Import.Status.DONE and run.dry_run and run.created == 5
    assert not Contact.objects.exists()
    html = client.get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "no contact was changed" in html and "Undo this import" not in html


# --- progress, cancel, undo -------------------------------------------------------------------


def started(user: Any, name: str = "excel_cp1258.csv") -> Import:
    actor = actor_for(user)
    run = services.import_create(actor=actor, file=FIXTURES / name)
    run = services.import_configure(actor=actor, run=run, consent_proof="x")
    return services.import_start(actor=actor, run=run)  # queued; no worker runs in these tests


def test_progress_page_polls_while_queued_and_cancel(client_for: Any, users: Any) -> None:
    run = started(users["marketing"])
    client = client_for(users["marketing"])
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and "Cancel import" in html and "You can leave this page" in html
    # The poll gets the status part only.
    part = client.get(url, **HTMX).content.decode()
    assert part.lstrip().startswith('<section id="import-status"') or 'id="import-status"' in part
    assert "<html" not in part
    response = client.post(reverse("ingest:cancel", kwargs={"pk": run.pk}), **HTMX)
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.status == Import.Status.CANCELLED
    html = response.content.decode()
    assert 'hx-trigger="every 2s"' not in html and "was cancelled" in html
    # Cancelling again: a message, not an error page.
    again = client.post(reverse("ingest:cancel", kwargs={"pk": run.pk}))
    assert again.status_code == 302


def test_undo_with_confirmation(
    client_for: Any, users: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    user = users["marketing"]
    with django_capture_on_commit_callbacks(execute=True):
        run = started(user)
    run.refresh_from_db()
    assert run.status == Import.Status.DONE and Contact.objects.count() == 5
    client = client_for(user)
    html = client.get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "Undo this import" in html and "Can be undone until" in html
    confirm = client.get(reverse("ingest:undo", kwargs={"pk": run.pk}))
    assert confirm.status_code == 200 and "5 contacts it created are deleted." in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ingest:undo", kwargs={"pk": run.pk}))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Import.Status.UNDONE and not Contact.objects.exists()
    html = client.get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "Undone on" in html and "Undo this import" not in html
    # Undone: the confirmation page sends back to the report.
    assert client.get(reverse("ingest:undo", kwargs={"pk": run.pk})).status_code == 302


# --- who may see what -----------------------------------------------------------------------


def test_support_has_no_imports(client_for: Any, users: Any) -> None:
    run = started(users["marketing"])
    client = client_for(users["support"])
    for url in (
        reverse("ingest:list"),
        reverse("ingest:new"),
        reverse("ingest:detail", kwargs={"pk": run.pk}),
        reverse("ingest:errors_csv", kwargs={"pk": run.pk}),
        reverse("ingest:undo", kwargs={"pk": run.pk}),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("ingest:cancel", kwargs={"pk": run.pk})).status_code == 403
    assert reverse("ingest:list") not in client.get(reverse("contacts:list")).content.decode()


def test_sales_sees_only_their_own_imports(client_for: Any, users: Any) -> None:
    theirs = started(users["marketing"])
    mine = started(users["sales"], "legacy_vni.csv")
    client = client_for(users["sales"])
    history = client.get(reverse("ingest:list")).content.decode()
    assert "legacy_vni.csv" in history and "excel_cp1258.csv" not in history
    assert reverse("ingest:list") in client.get(reverse("contacts:list")).content.decode()  # the nav link
    for name in ("detail", "issues", "errors_csv"):
        assert client.get(reverse(f"ingest:{name}", kwargs={"pk": theirs.pk})).status_code == 404
    assert client.post(reverse("ingest:cancel", kwargs={"pk": theirs.pk})).status_code == 404
    assert client.get(reverse("ingest:detail", kwargs={"pk": mine.pk})).status_code == 200
    # Sales may not undo (no import:delete).
    assert client.get(reverse("ingest:undo", kwargs={"pk": mine.pk})).status_code == 403
    # Marketing (all records) sees both.
    history = client_for(users["marketing"]).get(reverse("ingest:list")).content.decode()
    assert "legacy_vni.csv" in history and "excel_cp1258.csv" in history


def test_analyst_reads_history_but_cannot_run(client_for: Any, users: Any) -> None:
    run = services.import_create(actor=actor_for(users["marketing"]), file=FIXTURES / "excel_cp1258.csv")
    client = client_for(users["analyst"])
    assert client.get(reverse("ingest:list")).status_code == 200
    assert client.get(reverse("ingest:new")).status_code == 403
    page = client.get(reverse("ingest:detail", kwargs={"pk": run.pk}))
    assert page.status_code == 200 and 'id="wizard"' not in page.content.decode()
    assert client.post(reverse("ingest:detail", kwargs={"pk": run.pk}), {"action": "run"}).status_code == 302
    run.refresh_from_db()
    assert run.status == Import.Status.DRAFT


def test_history_pages_newest_first(client_for: Any, admin: Any, monkeypatch: Any) -> None:
    from danhba.ingest import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    runs = [services.import_create(actor=actor_for(admin), file=b"Email\na@b.vn\n", file_name=f"f{i}.csv")
            for i in range(3)]  # fmt: skip
    client = client_for(admin)
    first = client.get(reverse("ingest:list"))
    assert [r.pk for r in first.context["page"].items] == [runs[2].pk, runs[1].pk]
    second = client.get(reverse("ingest:list"), {"cursor": first.context["page"].next_cursor})
    assert [r.pk for r in second.context["page"].items] == [runs[0].pk]
    assert client.get(reverse("ingest:list"), {"cursor": "garbage"}).status_code == 200


@pytest.mark.parametrize("encoding", ["utf-8", "cp1258", "tcvn3", "vni", "cp1252"])
def test_any_encoding_choice_on_a_utf16_file_is_shown_not_a_500(client_for: Any, admin: Any, encoding: str) -> None:
    # Read as a one-byte encoding, UTF-16 text is full of NUL characters.
    client = client_for(admin)
    upload(client, "excel_unicode.txt")
    run = latest()
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    response = client.post(url, {**wizard_data(run, encoding=encoding), "action": "reread"}, **HTMX)
    assert response.status_code in (200, 422)
    back = client.post(url, {**wizard_data(latest(), encoding=""), "action": "reread"}, **HTMX)
    assert back.status_code == 200
    run.refresh_from_db()
    assert run.headers == VN_HEADER


def test_binary_file_is_a_form_error_or_a_draft_never_a_500(client_for: Any, admin: Any) -> None:
    response = upload(client_for(admin), "binary.csv", b"\x00\x01\x02\xff\xfe\x00,\x00\n\x00\x00,\x01\n")
    assert response.status_code in (302, 422)
