"""Rows that are the same person as an earlier row of the file (same email, phone or external
id after normalisation, by the import's match keys) are flagged in the wizard's preview and the
API's, as the loader will merge them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.contacts.models import Contact
from danhba.ingest import services

pytestmark = pytest.mark.django_db
DATA = (
    "Họ và tên,Email,SĐT\n"
    "Nguyễn Văn An,an@example.vn,\n"  # 2
    "nguyen van an,AN@EXAMPLE.VN ,\n"  # 3: line 2's email, written otherwise
    "Trần Bình,,+84 912 000 002\n"  # 4
    "Binh Tran,,0912000002\n"  # 5: line 4's phone in another format
    "Chi,chi@example.vn,0912000003\n"  # 6
    "Chi Lê,,0912.000.003\n"  # 7: line 6's phone
    "Dũng,dung@example.vn,\n"  # 8: nobody else
).encode()


def flags(html: str) -> dict[int, int]:
    out = {}
    for chunk in html.split('<tr class="ok" data-line="')[1:]:
        line, rest = chunk.split('"', 1)
        row = rest.split("</tr>", 1)[0]
        if 'data-same-as="' in row:
            out[int(line)] = int(row.split('data-same-as="', 1)[1].split('"', 1)[0])
            assert f"Same person as line {out[int(line)]}" in row
    return out


def test_the_wizard_flags_rows_that_will_merge_into_an_earlier_one(client_for: Any, admin: Any) -> None:
    run = services.import_create(actor=actor_for(admin), file=DATA, file_name="khach.csv")
    html = client_for(admin).get(reverse("ingest:detail", kwargs={"pk": run.pk})).content.decode()
    assert flags(html) == {3: 2, 5: 4, 7: 6}
    # What the preview promised is what the import does.
    run = services.import_configure(actor=actor_for(admin), run=run, source="import", consent_proof="x")
    services.import_start(actor=actor_for(admin), run=run, enqueue=False)
    run = services.import_execute(run.pk)
    assert (run.created, run.merged) == (4, 3) and Contact.objects.count() == 4


def test_the_preview_follows_the_match_keys_chosen_in_the_form(client_for: Any, admin: Any) -> None:
    run = services.import_create(actor=actor_for(admin), file=DATA, file_name="khach.csv")
    client = client_for(admin)
    url = reverse("ingest:detail", kwargs={"pk": run.pk})
    from danhba.ingest.forms import WizardForm

    data = {k: v for k, v in WizardForm.initial_for(run).items() if v is not None and k != "dry_run"}
    data.update(match_key_1="email", match_key_2="", match_key_3="", action="preview")
    html = client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert flags(html) == {3: 2}  # phones no longer make two rows one person


def test_the_api_preview_gives_the_earlier_line(client: Any, admin: Any) -> None:
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="tests")
    auth = {"Authorization": f"Bearer {raw}"}
    run = services.import_create(actor=actor_for(admin), file=DATA, file_name="khach.csv")
    rows = client.get(f"/api/imports/{run.pk}/preview", headers=auth).json()["rows"]
    assert {r["line"]: r["same_as_line"] for r in rows if r["same_as_line"]} == {3: 2, 5: 4, 7: 6}
    client.patch(f"/api/imports/{run.pk}", json.dumps({"match_keys": ["phone"]}), content_type="application/json",
                 headers=auth)  # fmt: skip
    rows = client.get(f"/api/imports/{run.pk}/preview", headers=auth).json()["rows"]
    assert {r["line"]: r["same_as_line"] for r in rows if r["same_as_line"]} == {5: 4, 7: 6}
