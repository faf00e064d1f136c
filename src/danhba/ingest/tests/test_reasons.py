"""The reasons of an import's report are read in the reader's language: stored untranslated by
the worker, translated on the report page, in the API and in the rejected-rows CSV; issues
stored before that (English text only) are translated too."""

from __future__ import annotations

import ast
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.core.actor import Actor
from danhba.ingest import services
from danhba.ingest.models import Import, ImportIssue
from danhba.ingest.reasons import KNOWN, Reason, reason, reason_of

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
PACKAGE = Path(settings.PACKAGE_DIR)
HEAD = "Họ và tên,Email,SĐT\n"


@pytest.fixture(autouse=True)
def _back_to_default_language() -> Iterator[None]:
    yield
    translation.deactivate()


def run_file(data: bytes, name: str = "khach.csv") -> Import:
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=data, file_name=name)
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="phiếu giấy")
    services.import_start(actor=actor, run=run, enqueue=False)
    return services.import_execute(run.pk, via="cli")


@pytest.fixture
def report() -> Import:
    """Run by the worker in English (the site's default): a rejected row and a left-out email."""
    rows = ",khong-phai-email,12345\nLê Văn Cường,sai@,0912345678\n"
    run = run_file((HEAD + rows).encode())
    assert (run.created, run.rejected) == (1, 1)
    return run


@pytest.fixture
def vi_admin(users: dict[str, Any]) -> Any:
    user = users["admin"]
    user.language = "vi"
    user.save(update_fields=["language"])
    return user


def test_the_report_page_gives_the_reasons_in_the_readers_language(
    client_for: Any, vi_admin: Any, report: Import
) -> None:
    page = client_for(vi_admin).get(reverse("ingest:detail", kwargs={"pk": report.pk})).content.decode()
    assert "số điện thoại quá ngắn" in page
    assert "không phải địa chỉ email hợp lệ; dòng vẫn được nhập, không có giá trị này" in page
    assert "không còn email, số điện thoại hay mã định danh ngoài hợp lệ nào" in page
    for english in ("phone is too short", "not a valid email address", "imported without this value"):
        assert english not in page


def test_the_api_gives_the_reasons_in_the_clients_language(client: Any, admin: Any, report: Import) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="tests")
    url = f"/api/imports/{report.pk}/issues"
    vi = client.get(url, headers={"Authorization": f"Bearer {raw}", "Accept-Language": "vi"}).json()["items"]
    en = client.get(url, headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"}).json()["items"]
    assert [i["reason"] for i in vi if i["column"] == "SĐT"] == ["số điện thoại quá ngắn"]
    assert [i["reason"] for i in en if i["column"] == "SĐT"] == ["phone is too short"]
    assert [(i["line"], i["severity"]) for i in vi] == [(i["line"], i["severity"]) for i in en]
    # Without Accept-Language, in the key's user's language.
    admin.language = "vi"
    admin.save(update_fields=["language"])
    own = client.get(url, headers={"Authorization": f"Bearer {raw}"}).json()["items"]
    assert [i["reason"] for i in own if i["column"] == "SĐT"] == ["số điện thoại quá ngắn"]


def test_the_rejected_rows_csv_gives_the_reasons_in_the_downloaders_language(
    client_for: Any, vi_admin: Any, report: Import
) -> None:
    response = client_for(vi_admin).get(reverse("ingest:errors_csv", kwargs={"pk": report.pk}))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:2] == ["dòng", "vấn đề"]
    assert "SĐT: số điện thoại quá ngắn" in rows[1][1] and "phone is too short" not in rows[1][1]


def test_issues_stored_as_english_text_before_are_translated_too(client_for: Any, vi_admin: Any) -> None:
    run = run_file((HEAD + "An,an@example.vn,\n").encode())
    ImportIssue.objects.create(run=run, line=9, severity="error", column="SĐT", value="12", reason="phone is too short")
    ImportIssue.objects.create(
        run=run, line=9, severity="error", column="Email", value="x@",
        reason="not a valid date: '32/13/2000' (use dd/mm/yyyy or yyyy-mm-dd)",
    )  # fmt: skip
    ImportIssue.objects.create(run=run, line=9, severity="error", column="", value="", reason="a reason nobody knows")
    page = client_for(vi_admin).get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "số điện thoại quá ngắn" in page
    assert "ngày không hợp lệ: &#x27;32/13/2000&#x27;" in page
    assert "a reason nobody knows" in page  # kept as it was written


def test_reasons_are_stored_untranslated_even_by_a_vietnamese_worker() -> None:
    with translation.override("vi"):
        run = run_file((HEAD + "Lê Văn Cường,sai@,0912345678\n").encode())
    [issue] = run.issues.all()
    assert issue.message["msgid"] == "%(reason)s; the row is imported without this value"
    assert issue.message["params"]["reason"] == {
        "msgid": "not a valid email address: %(reason)s",  # its value kept, though Vietnamese drops it
        "params": {"reason": "There must be something after the @-sign."},
    }
    assert issue.reason.startswith("not a valid email address: There must be something after the @-sign.")
    assert issue.reason.endswith("; the row is imported without this value") and "%(" not in issue.reason
    with translation.override("en"):
        assert str(issue.why) == issue.reason


@pytest.mark.parametrize("language", ["en", "vi"])
@pytest.mark.parametrize("msgid", KNOWN)
def test_every_known_message_is_recognised_with_its_values(msgid: str, language: str) -> None:
    names = sorted(set(re.findall(r"%\((\w+)\)s", msgid)))
    params = {name: f"giá trị {i}" for i, name in enumerate(names)}
    with translation.override(language):
        text = str(Reason(msgid, params))
        found = reason_of(text)
    if language == "vi" and "%(" in msgid and not all(f"%({n})s" in translation_of(msgid) for n in names):
        assert found.msgid == msgid  # the translation drops a value (the email reason): still recognised
    else:
        assert (found.msgid, dict(found.params)) == (msgid, params)


def translation_of(msgid: str) -> str:
    with translation.override("vi"):
        return translation.gettext(msgid)


def test_the_shared_normalisers_refuse_with_a_msgid_never_with_text() -> None:
    """core.normalize and the custom fields raise ``NormalizationError(msgid, params)``: a
    message translated when raised would be stored in the language the worker ran in."""
    translated: list[str] = []
    for module in ("core/normalize.py", "contacts/custom_fields.py", "ingest/transform.py"):
        for node in ast.walk(ast.parse((PACKAGE / module).read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "NormalizationError"):
                continue
            msgid = node.args[0]
            if not (isinstance(msgid, ast.Name) or getattr(getattr(msgid, "func", None), "id", "") == "gettext_noop"):
                translated.append(f"{module}:{node.lineno}")
    assert translated == []


def test_a_refused_value_keeps_its_msgid_and_values_in_any_language() -> None:
    from danhba.contacts.custom_fields import clean_value
    from danhba.contacts.models import CustomField
    from danhba.core.normalize import NormalizationError, normalize_phone

    field = CustomField(key="size", label="Size", type=CustomField.Type.CHOICE, choices=["S", "M"])
    with translation.override("vi"):
        with pytest.raises(NormalizationError) as refused:
            clean_value(field, "XL")
        with pytest.raises(NormalizationError) as short:
            normalize_phone("12")
        assert str(short.value) == "số điện thoại quá ngắn"
    assert (refused.value.msgid, refused.value.params) == ("must be one of: %(choices)s", {"choices": "S, M"})
    assert short.value.msgid == "phone is too short" and str(short.value) == "phone is too short"
    assert Reason.of_error(refused.value) == Reason("must be one of: %(choices)s", {"choices": "S, M"})


def test_a_reason_round_trips_and_hides_its_values() -> None:
    inner = reason_of("'32/13/2000' is not an Excel date number")
    why = reason("%(reason)s; the row is imported without this value", reason=inner)
    assert Reason.from_json(why.to_json()) == why
    assert why.masked().untranslated() == "'…' is not an Excel date number; the row is imported without this value"
    with translation.override("vi"):
        assert "32/13/2000" in str(why) and "imported" not in str(why)


def test_why_an_import_failed_is_read_in_the_readers_language(
    client: Any, client_for: Any, admin: Any, vi_admin: Any, monkeypatch: Any
) -> None:
    """The worker (here in Vietnamese) stops an import whose file breaks; the page, in the
    reader's language, and the API, in the client's, say why."""
    actor = Actor.system("cli")
    run = services.import_create(actor=actor, file=(HEAD + "An,an@example.vn,\n").encode(), file_name="k.csv")
    run = services.import_configure(actor=actor, run=run, source="import", consent_proof="phiếu giấy")
    services.import_start(actor=actor, run=run, enqueue=False)

    def broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise UnicodeDecodeError("cp1258", b"\xff", 0, 1, "invalid start byte")
        yield

    monkeypatch.setattr(services.pipeline, "batches", broken)
    with translation.override("vi"):
        run = services.import_execute(run.pk, via="cli")
    assert run.status == "failed" and run.error.startswith("stopped after line 0: 'cp1258' codec")
    page = client_for(vi_admin).get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert "Lần nhập đã dừng: dừng sau dòng 0: &#x27;cp1258&#x27; codec" in page
    _key, raw = apikey_create(actor=actor_for(vi_admin), user=vi_admin, name="t")
    body = client.get(f"/api/imports/{run.pk}", headers={"Authorization": f"Bearer {raw}", "Accept-Language": "en"})
    assert body.json()["error"].startswith("stopped after line 0:")
