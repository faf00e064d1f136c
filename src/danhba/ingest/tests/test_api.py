"""The import REST API through HTTP: upload (and start at once), configure, start, poll to the
end, issues, the error CSV, cancel, undo, the field list, permissions and bad payloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.ingest import services
from danhba.ingest.models import Import, SavedMapping

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
VN_HEADER = ["Họ và tên", "Số điện thoại", "Email", "Ngày sinh", "Địa chỉ"]


class Api:
    """A test client with one user's API key."""

    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path if path.startswith("/api") else f"/api{path}", params, headers=self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        body = json.dumps(data) if data is not None else ""
        return self.client.post(f"/api{path}", body, content_type="application/json", headers=self.headers)

    def patch(self, path: str, data: Any, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data)
        return self.client.patch(f"/api{path}", body, content_type="application/json", headers=self.headers)

    def upload(self, name: str, content: bytes | None = None, **fields: Any) -> Any:
        data = content if content is not None else (FIXTURES / name).read_bytes()
        upload = io.BytesIO(data)
        upload.name = name
        return self.client.post("/api/imports", {"file": upload, **fields}, headers=self.headers)


@pytest.fixture
def api_for(client: Any) -> Callable[[Any], Api]:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_upload_configure_start_poll_and_report(
    api_for: Any, users: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    api = api_for(users["marketing"])
    response = api.upload("excel_cp1258.csv")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["format"] == "csv" and body["detected_encoding"] == "cp1258"
    assert body["headers"] == VN_HEADER
    assert body["columns"]["Họ và tên"] == "full_name" and body["columns"]["Số điện thoại"] == "phone"
    assert body["created_by"] == users["marketing"].email
    pk = body["id"]

    # What the mapping makes of the first rows.
    preview = api.get(body["links"]["preview"], rows=10).json()
    assert preview["rows"][0]["contact"]["full_name"] == "Nguyễn Văn Đức"
    assert preview["rows"][0]["contact"]["phones"] == ["+84912345678"]
    rejected = [row for row in preview["rows"] if row["outcome"] == "rejected"]
    assert [row["line"] for row in rejected] == [7]

    # Configure: skip the birthday column (only it changes), provenance, consent.
    response = api.patch(f"/imports/{pk}", {
        "columns": {"Ngày sinh": ""}, "options": {"given_words": 2, "add_tags": ["Hội chợ"]},
        "source": "registration", "source_detail": "Hội chợ", "consent_purposes": ["email_marketing"],
        "consent_proof": "Phiếu giấy", "match_keys": ["email", "phone"],
    })  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["columns"] == {"Họ và tên": "full_name", "Số điện thoại": "phone", "Email": "email",
                               "Ngày sinh": "", "Địa chỉ": "address"}  # fmt: skip
    assert body["options"]["given_words"] == 2 and body["consent_purposes"] == ["email_marketing"]
    assert body["match_keys"] == ["email", "phone"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/imports/{pk}/start")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"  # the answer leaves before the job runs

    body = api.get(f"/imports/{pk}").json()
    assert body["status"] == "done" and body["percent"] == 100
    assert body["counts"] == {"created": 5, "updated": 0, "unchanged": 0, "merged": 0, "skipped": 0,
                              "rejected": 1, "warnings": 1}  # fmt: skip
    assert body["can_undo"] and body["undo_until"]
    assert Contact.objects.get(full_name="Trần Thị Ánh Tuyết").given_name == "Ánh Tuyết"

    issues = api.get(f"/imports/{pk}/issues", severity="error").json()
    assert {i["line"] for i in issues["items"]} == {7} and issues["next_cursor"] is None
    assert any(i["column"] == "Email" and "not a valid email" in i["reason"] for i in issues["items"])
    warnings = api.get(f"/imports/{pk}/issues", severity="warning").json()["items"]
    assert [w["line"] for w in warnings] == [4]

    response = api.get(f"/imports/{pk}/errors.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][0] == "7" and "phone is too short" in rows[1][1]

    listed = api.get("/imports").json()
    assert [item["id"] for item in listed["items"]] == [pk]

    # Undo.
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/imports/{pk}/undo")
    assert response.status_code == 202 and response.json()["status"] == "undoing"
    assert api.get(f"/imports/{pk}").json()["status"] == "undone"
    assert not Contact.objects.exists()
    assert_error(api.post(f"/imports/{pk}/undo"), 409, "conflict")


def test_upload_and_start_at_once(
    api_for: Any, admin: Any, huey_immediate: None, django_capture_on_commit_callbacks: Any
) -> None:
    api = api_for(admin)
    SavedMapping.objects.create(name="Hội chợ", columns={"Họ và tên": "full_name", "Email": "email"})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.upload("excel_cp1258.csv", mapping="Hội chợ", source="contest", legal_basis="contract",
                              options=json.dumps({"day_first": True}), dry_run="true", start="true")  # fmt: skip
    assert response.status_code == 201, response.content
    body = api.get(f"/imports/{response.json()['id']}").json()
    assert body["status"] == "done" and body["dry_run"] and body["source"] == "contest"
    assert body["columns"]["Số điện thoại"] == ""  # not in the saved mapping
    assert not Contact.objects.exists()


def test_cancel_a_queued_import(api_for: Any, users: Any) -> None:
    api = api_for(users["sales"])
    pk = api.upload("excel_cp1258.csv", consent_proof="x", start="true").json()["id"]
    assert api.get(f"/imports/{pk}").json()["status"] == "queued"  # no worker in this test
    response = api.post(f"/imports/{pk}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert_error(api.post(f"/imports/{pk}/start"), 409, "conflict")
    assert_error(api.patch(f"/imports/{pk}", {"source": "order"}), 409, "conflict")


def test_import_fields(api_for: Any, users: Any) -> None:
    body = api_for(users["analyst"]).get("/import-fields").json()
    targets = {t["key"]: t for t in body["targets"]}
    assert targets["email"]["multi"] and not targets["full_name"]["multi"]
    assert "consent.email_marketing" in targets and "social.zalo" in targets
    assert {p["key"] for p in body["presets"]} == {"google", "outlook", "hubspot", "mautic"}
    assert "tcvn3" in {e["key"] for e in body["encodings"]}


# --- permissions ----------------------------------------------------------------------------


def test_permissions(api_for: Any, users: Any) -> None:
    theirs = services.import_create(actor=actor_for(users["marketing"]), file=FIXTURES / "excel_cp1258.csv")
    support = api_for(users["support"])
    assert_error(support.upload("excel_cp1258.csv"), 403, "forbidden")
    assert_error(support.get("/imports"), 403)
    assert_error(support.get(f"/imports/{theirs.pk}"), 403)
    assert_error(support.get("/import-fields"), 403)
    sales = api_for(users["sales"])
    assert sales.get("/imports").json()["items"] == []
    for path in ("", "/issues", "/preview", "/errors.csv"):
        assert_error(sales.get(f"/imports/{theirs.pk}{path}"), 404, "not_found")
    assert_error(sales.patch(f"/imports/{theirs.pk}", {"source": "order"}), 404)
    analyst = api_for(users["analyst"])
    assert analyst.get(f"/imports/{theirs.pk}").status_code == 200
    assert_error(analyst.upload("excel_cp1258.csv"), 403)
    assert_error(analyst.patch(f"/imports/{theirs.pk}", {"source": "order"}), 403)
    assert_error(analyst.post(f"/imports/{theirs.pk}/start"), 403)
    # No key at all.
    assert_error(support.client.get("/api/imports"), 401)


# --- bad payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"columns": "not json"}, "columns"),
        ({"columns": "[1, 2]"}, "columns"),
        ({"columns": json.dumps({"Họ và tên": "nonsense"})}, "columns"),
        ({"columns": json.dumps({"No such header": "email"})}, "columns"),
        ({"options": json.dumps({"given_words": "many"})}, "options"),
        ({"options": json.dumps({"unknown": 1})}, "options"),
        ({"options": json.dumps({"owner": "nobody@example.vn"})}, "owner"),
        ({"mode": "everything"}, "mode"),
        ({"match_keys": "email,shoe_size"}, "match_keys"),
        ({"consent_purposes": "no_such_purpose"}, "consent_purposes"),
        ({"encoding": "klingon"}, "encoding"),
        ({"encoding": "utf-16"}, "file"),
        ({"mapping": "no such mapping"}, "mapping"),
        ({"preset": "excel"}, "preset"),
        ({"start": "true"}, "legal_basis"),  # consent without purposes or proof
    ],
)
def test_bad_upload_fields_are_422_and_keep_nothing(api_for: Any, admin: Any, fields: dict[str, str], key: str) -> None:
    response = api_for(admin).upload("excel_cp1258.csv", **fields)
    body = assert_error(response, 422)
    assert key in body["details"] or any(key in str(d) for d in body["details"]), body
    assert not Import.objects.exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", b""), ("broken.xlsx", b"not a zip"), ("list.json", b"[1, 2]"), ("blank.csv", b"\n\n")],
)
def test_bad_files_are_422(api_for: Any, admin: Any, name: str, content: bytes) -> None:
    body = assert_error(api_for(admin).upload(name, content), 422)
    assert "file" in body["details"] or body["details"]


def test_no_file_is_422(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    assert_error(api.client.post("/api/imports", {"source": "order"}, headers=api.headers), 422)


def test_bad_patch_and_ids(api_for: Any, admin: Any) -> None:
    api = api_for(admin)
    pk = api.upload("excel_cp1258.csv").json()["id"]
    assert_error(api.patch(f"/imports/{pk}", {"columns": {"Email": 5}}), 422)
    assert_error(api.patch(f"/imports/{pk}", {"colums": {}}), 422)
    assert_error(api.patch(f"/imports/{pk}", {"source": None}), 422)
    assert_error(api.patch(f"/imports/{pk}", {"options": {"given_words": 0}}), 422)
    assert_error(api.patch(f"/imports/{pk}", None, raw="{not json"), 400, "malformed_json")
    assert_error(api.patch(f"/imports/{pk}", {"columns": {"Email": "full_name"}}), 422)  # two into full_name
    assert_error(api.patch(f"/imports/{pk}", {"options": {"lifecycle_stage": "nope"}}), 422)
    assert_error(api.get(f"/imports/{pk}/issues", severity="fatal"), 422)
    assert_error(api.get(f"/imports/{pk}/issues", cursor="!!!"), 400)
    assert_error(api.get("/imports", cursor="garbage"), 400)
    assert_error(api.get("/imports/0"), 422)
    assert_error(api.get(f"/imports/{2**63}"), 422)
    assert_error(api.get("/imports/999999"), 404)
    assert_error(api.post(f"/imports/{pk}/undo"), 409)  # a draft cannot be undone
    assert_error(api.post(f"/imports/{pk}/cancel"), 409)
    # Still a draft, unchanged by the refused requests.
    body = api.get(f"/imports/{pk}").json()
    assert body["status"] == "draft" and body["columns"]["Email"] == "email"
