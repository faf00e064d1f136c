"""The import wizard in a real browser: upload a legacy-encoded file, change a column's mapping
and see the live preview follow, run, watch the progress page turn into the report, and
download the error report.

Drives the system Chromium through Playwright against pytest-django's live server.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from danhba.conftest import PASSWORD
from danhba.core.tests.browser import TIMEOUT_MS

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> list[int]:
    """Imports the pages queue, kept here instead of in Huey: the test plays the worker."""
    from danhba.ingest import tasks

    settings.MEDIA_ROOT = tmp_path / "media"
    jobs: list[int] = []
    monkeypatch.setattr(tasks, "import_job", jobs.append)
    return jobs


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_upload_map_run_and_download_the_error_report(
    live_server: Any, users: Any, page: Any, queued: list[int]
) -> None:
    from playwright.sync_api import expect

    from danhba.ingest import services
    from danhba.ingest.models import Import

    base = live_server.url
    user = users["marketing"]

    page.goto(f"{base}/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")  # the home page

    # Imports, from the sidebar; a new one.
    page.locator(".sidebar").get_by_role("link", name="Imports").click()
    page.wait_for_url(f"{base}/imports/")
    page.get_by_role("link", name="New import").click()
    page.set_input_files("input[name=file]", str(FIXTURES / "excel_cp1258.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"))

    # The file was read as Windows-1258: Vietnamese text in the preview table, columns suggested.
    expect(page.locator("#mapping-panel table.mapping-table")).to_contain_text("Trần Thị Ánh Tuyết")
    expect(page.locator("select[name=encoding]")).to_contain_text("As detected (cp1258)")
    birthday = page.locator('th[data-column="Ngày sinh"] select')
    expect(birthday).to_have_value("birthday")
    prepared = page.locator("#prepared")
    expect(prepared.locator('tr[data-line="7"]')).to_contain_text("not a real date")

    # Fix a mapping: the birthday column is skipped. The live preview follows without a reload.
    page.evaluate("window.__samePage = true")
    birthday.select_option("")
    expect(prepared.locator('tr[data-line="7"]')).not_to_contain_text("not a real date")
    expect(prepared.locator('tr[data-line="7"]')).to_contain_text("phone is too short")
    assert page.evaluate("window.__samePage") is True

    # Where the data came from, then run.
    page.select_option("select[name=source]", "registration")
    page.fill("input[name=source_detail]", "Hội chợ Hà Nội")
    page.fill("input[name=consent_proof]", "Phiếu đăng ký giấy, tủ hồ sơ 3")
    page.get_by_role("button", name="Run the import").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("#import-status")).to_have_attribute("data-status", "queued")
    expect(page.locator("#import-status")).to_contain_text("You can leave this page")
    run = Import.objects.get()
    assert queued == [run.pk] and run.columns["Ngày sinh"] == ""

    # The worker runs it; the page, polling, turns into the report.
    services.import_execute(run.pk)
    status = page.locator("#import-status")
    expect(status).to_have_attribute("data-status", "done", timeout=TIMEOUT_MS)
    expect(status.locator('[data-count="created"]')).to_have_text("5")
    expect(status.locator('[data-count="rejected"]')).to_have_text("1")
    bad_line = status.locator('#issues tr[data-line="7"]')
    expect(bad_line).to_have_count(3)  # one issue per column (the phone, the email), and no identity left
    expect(bad_line.filter(has_text="Số điện thoại")).to_contain_text("phone is too short")

    # Download the rejected rows, fix them and re-import: the line and the reasons are in it.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download rejected rows (CSV)").click()
    download = info.value
    assert download.suggested_filename == f"import-{run.pk}-errors.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["line", "problems", "Họ và tên", "Số điện thoại", "Email", "Ngày sinh", "Địa chỉ"]
    assert rows[1][0] == "7"
    assert "Số điện thoại: phone is too short" in rows[1][1]
    assert "Email: not a valid email" in rows[1][1]
    assert rows[1][2:] == ["", "12345", "not-an-email", "32/13/2000", "???"]

    # The history lists it as done, with who imported it.
    page.locator(".sidebar").get_by_role("link", name="Imports").click()
    row = page.locator(f'tr[data-import="{run.pk}"]')
    expect(row).to_contain_text("excel_cp1258.csv")
    expect(row).to_contain_text("Finished")
    expect(row).to_contain_text(user.full_name)


def _login(page: Any, base: str, user: Any) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{base}/")  # the home page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refused_run_shows_why_at_the_top_of_the_page_and_focuses_it(
    live_server: Any, users: Any, page: Any, queued: list[int]
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    _login(page, base, users["marketing"])
    page.goto(f"{base}/imports/new/")
    page.set_input_files("input[name=file]", str(FIXTURES / "excel_cp1258.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r"/imports/\d+/$"))

    # Consent as the legal basis (the default), but no purpose, no consent column, no proof.
    page.select_option("select[name=legal_basis]", "consent")
    page.get_by_role("button", name="Run the import").click()
    page.wait_for_load_state()

    # The reason is where the eye is when the page comes back: at the top, in view, focused.
    summary = page.locator("#run-errors")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("The import was not started")
    expect(summary).to_contain_text("with consent as the legal basis")
    expect(summary).to_be_in_viewport()
    expect(summary).to_be_focused()
    assert queued == []
    # Its link leads to the field to fix, further down.
    summary.get_by_role("link", name="Legal basis").click()
    expect(page.locator("select[name=legal_basis]")).to_be_in_viewport()
