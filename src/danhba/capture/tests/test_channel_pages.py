"""Settings → Lead channels and /api/capture/channels: connecting, secrets never shown again,
roles, the payload list with failures, retrying one and all."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.capture.channels import services
from danhba.capture.models import ChannelConnection, ChannelPayload
from danhba.capture.tests.channel_fixtures import facebook_connection, leadgen_body, post_facebook

pytestmark = pytest.mark.django_db


def _fail_one(client: Any) -> ChannelPayload:
    from danhba.capture.tests.channel_fixtures import FakeGraph

    connection = ChannelConnection.objects.filter(kind="facebook").first() or facebook_connection()
    post_facebook(client, connection, leadgen_body("700001"))
    payload = ChannelPayload.objects.latest("id")
    services.payload_process(payload_id=payload.pk, graph=FakeGraph(status=500))
    payload.refresh_from_db()
    return payload


def test_marketing_connects_a_facebook_page_and_the_token_is_never_shown(client_for: Any, users: Any) -> None:
    client = client_for(users["marketing"])
    form = client.get("/capture/channels/new/facebook/")
    assert form.status_code == 200 and "full_name = full_name" in form.content.decode()
    data = {"name": "Fanpage", "account_id": "1047", "secret": "s3cret-app", "access_token": "EAAB-TOKEN-XYZ",
            "verify_token": "my-verify", "graph_version": "v21.0", "mapping": "full_name = full_name\nemail = email",
            "is_active": "on"}  # fmt: skip
    response = client.post("/capture/channels/new/facebook/", data)
    assert response.status_code == 302
    connection = ChannelConnection.objects.get()
    assert connection.access_token == "EAAB-TOKEN-XYZ" and connection.mapping == {
        "full_name": "full_name",
        "email": "email",
    }
    page = client.get(f"/capture/channels/{connection.pk}/").content.decode()
    assert connection.key in page and "EAAB-TOKEN-XYZ" not in page and "s3cret-app" not in page
    edit = client.get(f"/capture/channels/{connection.pk}/edit/").content.decode()
    assert "EAAB-TOKEN-XYZ" not in edit and "s3cret-app" not in edit and "my-verify" not in edit
    # Saving the form with the secrets left empty keeps them.
    data |= {"name": "Fanpage 2", "secret": "", "access_token": "", "verify_token": ""}
    assert client.post(f"/capture/channels/{connection.pk}/edit/", data).status_code == 302
    connection.refresh_from_db()
    assert (connection.name, connection.secret, connection.access_token) == (
        "Fanpage 2",
        "s3cret-app",
        "EAAB-TOKEN-XYZ",
    )


def test_a_bad_mapping_is_shown_beside_the_field(client_for: Any, users: Any) -> None:
    client = client_for(users["admin"])
    data = {"name": "OA", "account_id": "29157", "app_id": "1234", "secret": "k", "mapping": "name = nowhere\nbroken"}
    response = client.post("/capture/channels/new/zalo/", data)
    assert response.status_code == 422 and ChannelConnection.objects.count() == 0
    text = response.content.decode()
    assert "nowhere" in text and "line 2" in text


@pytest.mark.parametrize("role", ["sales", "support", "analyst"])
def test_other_roles_are_refused(client_for: Any, users: Any, role: str) -> None:
    client = client_for(users[role])
    assert client.get("/capture/channels/").status_code == 403
    assert client.get("/capture/channels/payloads/").status_code == 403
    assert client.get("/api/capture/channels").status_code == 403


def test_failures_are_listed_and_retried_from_the_page(client: Any, users: Any) -> None:
    payload = _fail_one(client)
    client.force_login(users["marketing"])
    listing = client.get("/capture/channels/payloads/?status=failed").content.decode()
    assert f"/capture/channels/payloads/{payload.pk}/" in listing and "500" in listing
    detail = client.get(f"/capture/channels/payloads/{payload.pk}/").content.decode()
    assert "700001" in detail and "Service temporarily unavailable" in detail
    response = client.post("/capture/channels/payloads/retry/", {"ids": [payload.pk]})
    assert response.status_code == 302
    payload.refresh_from_db()
    assert payload.status == "received" and payload.error == ""


def test_the_vietnamese_pages_are_translated(client: Any, make_user: Any) -> None:
    client.force_login(make_user("admin", language="vi"))
    connection = facebook_connection()
    payload = _fail_one(client)
    pages = [
        client.get(url).content.decode()
        for url in (
            "/capture/channels/",
            f"/capture/channels/{connection.pk}/",
            "/capture/channels/payloads/",
            f"/capture/channels/payloads/{payload.pk}/",
            "/capture/channels/new/zalo/",
        )
    ]
    assert "Kênh thu khách tiềm năng" in pages[0] and "Kết nối trang Facebook" in pages[0]
    assert "Ánh xạ trường" in pages[1] and "Thất bại" in pages[2] and "Xử lý lại" in pages[3]
    assert "Khóa bí mật OA" in pages[4]
    for text in pages:
        assert "Received payloads" not in text and "Field mapping" not in text


# --- API --------------------------------------------------------------------------------------


def test_the_api_creates_lists_changes_and_deletes_connections(client_for: Any, users: Any) -> None:
    client = client_for(users["admin"])
    body = {"kind": "zalo", "name": "OA Hoa Sen", "account_id": "2915", "app_id": "777", "secret": "oa-key"}
    created = client.post("/api/capture/channels", body, content_type="application/json")
    assert created.status_code == 201
    out = created.json()
    assert (
        out["secret_set"] is True
        and "secret" not in out
        and out["webhook_url"].endswith(f"/capture/hooks/zalo/{ChannelConnection.objects.get().key}/")
    )
    assert out["mapping"]["phone"] == "phone"
    bad = client.post("/api/capture/channels", {**body, "account_id": "abc"}, content_type="application/json")
    assert bad.status_code == 422 and "account_id" in bad.json()["details"]
    patched = client.patch(
        f"/api/capture/channels/{out['id']}", {"mapping": {"name": "custom:"}}, content_type="application/json"
    )
    assert patched.status_code == 422
    patched = client.patch(f"/api/capture/channels/{out['id']}", {"is_active": False}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert [c["name"] for c in client.get("/api/capture/channels").json()["items"]] == ["OA Hoa Sen"]
    assert client.delete(f"/api/capture/channels/{out['id']}").status_code == 204
    assert client.get(f"/api/capture/channels/{out['id']}").status_code == 404


def test_the_api_lists_payloads_and_retries_all_failed(client: Any, users: Any) -> None:
    payload = _fail_one(client)
    client.force_login(users["marketing"])
    page = client.get("/api/capture/channels/payloads?status=failed").json()
    assert [p["id"] for p in page["items"]] == [payload.pk] and page["counts"]["failed"] == 1
    assert client.get("/api/capture/channels/payloads?status=nonsense").status_code == 422
    one = client.get(f"/api/capture/channels/payloads/{payload.pk}").json()
    assert "700001" in one["body"] and one["error"]
    assert client.post("/api/capture/channels/payloads/retry", {}, content_type="application/json").json() == {
        "count": 1
    }
    assert ChannelPayload.objects.get().status == "received"


def test_check_reads_the_page_and_subscribes_the_app(client_for: Any, users: Any, monkeypatch: Any) -> None:
    from danhba.capture.channels import graph
    from danhba.capture.tests.channel_fixtures import PAGE_ID, FakeGraph

    fake = FakeGraph()
    monkeypatch.setattr(graph, "default_client", lambda: fake)
    connection = facebook_connection()
    client = client_for(users["marketing"])
    page = client.post(f"/capture/channels/{connection.pk}/check/", follow=True).content.decode()
    assert "Hoa Sen Spa" in page and "now receives its leads" in page
    assert fake.urls[1].startswith(f"POST https://graph.facebook.com/v21.0/{PAGE_ID}/subscribed_apps?")
    assert "subscribed_fields=leadgen" in fake.urls[1] and "appsecret_proof=" in fake.urls[1]
    fake.status = 400
    answer = client.post(f"/api/capture/channels/{connection.pk}/check").json()
    assert answer == {
        "page_name": "",
        "subscribed": False,
        "problem": "the Graph API answered 400: Service temporarily unavailable",
    }
    zalo = client.post("/api/capture/channels", {"kind": "zalo", "name": "OA", "account_id": "1", "app_id": "2",
                                                 "secret": "k"}, content_type="application/json").json()  # fmt: skip
    assert client.post(f"/api/capture/channels/{zalo['id']}/check").status_code == 422
