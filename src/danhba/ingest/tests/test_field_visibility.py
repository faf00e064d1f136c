"""Sensitive fields never leak through imports: every page and API endpoint of imports, for every
role, shows the rows of an import (as read, as they would load, as reported) with the reader's
field visibility — birthday, gender, income band and sensitive custom fields included.

The endpoints are read from the URL configuration and the OpenAPI document, so a new one is
covered by this test the day it is added."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import URLPattern, reverse

from danhba.accounts.services import apikey_create
from danhba.conftest import ROLE_KEYS, actor_for
from danhba.contacts.models import CustomField
from danhba.contacts.selectors import hidden_fields
from danhba.ingest import services
from danhba.ingest import urls as ingest_urls
from danhba.ingest.models import Import

pytestmark = pytest.mark.django_db

HEAD = "Họ và tên,Email,Ngày sinh,Giới tính,Thu nhập,Lương\n"
ROWS = (
    "Nguyễn Thị Lan,lan@example.vn,15/03/1985,Nữ,THUNHAP-SENTINEL-1,LUONG-SENTINEL-1\n"  # loads
    ",sai@,32/13/1977,GIOITINH-SENTINEL,THUNHAP-SENTINEL-2,LUONG-SENTINEL-2\n"  # rejected: no identity
    "Trần Văn Bình,binh@example.vn,31/02/1966,,,\n"  # loads, its birthday left out (a warning)
)
COLUMNS = {"Họ và tên": "full_name", "Email": "email", "Ngày sinh": "birthday", "Giới tính": "gender",
           "Thu nhập": "income_band", "Lương": "custom.luong"}  # fmt: skip
# What each hidden field must never show: its values as the file has them and as they load.
SECRETS = {
    "birthday": ["1985", "32/13/1977", "31/02/1966"],
    "gender": ["GIOITINH-SENTINEL", '"female"'],
    "income_band": ["THUNHAP-SENTINEL"],
    "custom.luong": ["LUONG-SENTINEL"],
}


def make_import(user: Any, *, run_it: bool) -> Import:
    actor = actor_for(user)
    run = services.import_create(actor=actor, file=(HEAD + ROWS).encode(), file_name="khach.csv")
    run = services.import_configure(actor=actor, run=run, columns=COLUMNS, source="import", consent_proof="x")
    if run_it:
        services.import_start(actor=actor, run=run, enqueue=False)
        run = services.import_execute(run.pk)
        assert (run.created, run.rejected, run.warned) == (2, 1, 1)
    return run


@pytest.fixture
def world(users: dict[str, Any]) -> Callable[[Any], tuple[Import, Import]]:
    CustomField.objects.create(key="luong", label="Lương", type="text", is_sensitive=True)

    def make(viewer: Any) -> tuple[Import, Import]:
        # Roles that see only their own records see their own imports: the viewer made them.
        owner = viewer if viewer.can("import", "create") else users["admin"]
        return make_import(owner, run_it=True), make_import(owner, run_it=False)

    return make


def leaks(body: str, hidden: set[str]) -> list[str]:
    return [secret for key in sorted(hidden) for secret in SECRETS.get(key, []) if secret in body]


def text_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8")
    return response.content.decode("utf-8")


def page_urls(done: Import, draft: Import) -> Iterator[tuple[str, str]]:
    """Every page of imports (the URL configuration), for each import where it takes one."""
    for pattern in ingest_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        name = f"ingest:{pattern.name}"
        if "<int:pk>" in str(pattern.pattern):
            for run in (done, draft):
                yield name, reverse(name, kwargs={"pk": run.pk})
        else:
            yield name, reverse(name)


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_no_import_page_shows_a_field_the_role_may_not_see(
    role: str, users: dict[str, Any], client_for: Any, world: Any
) -> None:
    viewer = users[role]
    done, draft = world(viewer)
    hidden = hidden_fields(viewer)
    client = client_for(viewer)
    shown = 0
    for name, url in page_urls(done, draft):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url, **headers)
            body = text_of(response)
            assert leaks(body, hidden) == [], (role, name, url, headers)
            shown += response.status_code == 200 and bool(leaks(body, set(SECRETS)))
    # The wizard's live preview (a POST of the mapping as the form has it).
    if viewer.can("import", "create"):
        from danhba.ingest.forms import WizardForm

        data = {k: v for k, v in WizardForm.initial_for(draft).items() if v is not None and k != "dry_run"}
        body = text_of(client.post(reverse("ingest:detail", kwargs={"pk": draft.pk}), {**data, "action": "preview"}))
        assert leaks(body, hidden) == [], (role, "wizard preview")
    if role == "admin":
        assert shown >= 4  # the data is there for a role that may see it: this test can fail


@pytest.mark.parametrize("role", ROLE_KEYS)
def test_no_import_api_endpoint_shows_a_field_the_role_may_not_see(
    role: str, users: dict[str, Any], client: Any, world: Any
) -> None:
    viewer = users[role]
    done, draft = world(viewer)
    hidden = hidden_fields(viewer)
    _key, raw = apikey_create(actor=actor_for(users["admin"]), user=viewer, name="tests")
    auth = {"Authorization": f"Bearer {raw}"}
    schema = client.get("/api/openapi.json", headers=auth)
    if schema.status_code != 200:  # roles without API docs: read it as the admin
        _k, admin_raw = apikey_create(actor=actor_for(users["admin"]), user=users["admin"], name="docs")
        schema = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {admin_raw}"})
    paths = {p: ops for p, ops in schema.json()["paths"].items() if p.startswith("/api/imports")}
    assert len(paths) >= 7
    operations = [(method, path) for path, ops in paths.items() for method in ops]
    # Reads first, on the finished import and on the draft; then the writes, whose answers are
    # checked too (they change the imports, so they come last).
    operations.sort(key=lambda op: op[0] != "get")
    shown = 0
    for method, path in operations:
        for run in (done, draft) if "{import_id}" in path else (done,):
            url = path.replace("{import_id}", str(run.pk))
            if method == "get":
                response = client.get(url, headers=auth)
            elif method == "post" and path == "/api/imports":
                upload = io.BytesIO((HEAD + ROWS).encode())
                upload.name = "khach.csv"
                response = client.post(url, {"file": upload, "columns": json.dumps(COLUMNS)}, headers=auth)
            else:
                response = getattr(client, method)(url, "{}", content_type="application/json", headers=auth)
            body = text_of(response)
            assert leaks(body, hidden) == [], (role, method, path, run.status)
            shown += response.status_code == 200 and bool(leaks(body, set(SECRETS)))
    if role == "admin":
        assert shown >= 3  # preview, issues and errors.csv show birthdays to the admin
