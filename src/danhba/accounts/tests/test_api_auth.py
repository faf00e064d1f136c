"""API authentication: keys in either header, revoked and wrong keys, inactive users, the
browser session with CSRF, /api/me, and who may read the docs."""

import json
import re

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, override_settings

from danhba.accounts.models import ApiKey
from danhba.accounts.services import apikey_create, apikey_revoke
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(admin):
    return apikey_create(actor=actor_for(admin), user=admin, name="integration")


def assert_401(response):
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bearer_and_x_api_key_both_work(client, key, admin):
    _obj, raw = key
    for headers in ({"Authorization": f"Bearer {raw}"}, {"X-API-Key": raw}):
        response = client.get("/api/me", headers=headers)
        assert response.status_code == 200
        assert response.json()["email"] == admin.email
        assert response.json()["auth"] == "api_key"


def test_missing_key_is_401(client):
    assert_401(client.get("/api/contacts"))
    assert_401(client.post("/api/contacts", "{}", content_type="application/json"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer dbk_wrong"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not-even-a-dbk-key"},
        {"X-API-Key": "dbk_wrong"},
        {"X-API-Key": "x" * 5000},
        {"Authorization": "Basic YWRtaW46cGFzcw=="},
    ],
)
def test_wrong_key_is_401(client, key, headers):
    assert_401(client.get("/api/contacts", headers=headers))


def test_revoked_key_is_401(client, key, admin):
    obj, raw = key
    assert client.get("/api/me", headers={"X-API-Key": raw}).status_code == 200
    apikey_revoke(actor=actor_for(admin), key=obj)
    assert_401(client.get("/api/me", headers={"X-API-Key": raw}))


def test_key_of_an_inactive_user_is_401(client, make_user):
    rep = make_user("sales")
    _obj, raw = apikey_create(actor=actor_for(rep), user=rep, name="k")
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert_401(client.get("/api/me", headers={"X-API-Key": raw}))


def test_last_used_at_is_recorded(client, key):
    obj, raw = key
    assert obj.last_used_at is None
    client.get("/api/contacts", headers={"X-API-Key": raw})
    assert ApiKey.objects.get(pk=obj.pk).last_used_at is not None


def test_a_wrong_key_does_not_fall_back_to_the_session(client_for, admin):
    client = client_for(admin)
    assert client.get("/api/me").status_code == 200
    assert_401(client.get("/api/me", headers={"X-API-Key": "dbk_wrong"}))


def test_me_describes_role_and_hidden_fields(client, make_user):
    rep = make_user("sales", full_name="Rep")
    _obj, raw = apikey_create(actor=actor_for(rep), user=rep, name="k")
    me = client.get("/api/me", headers={"X-API-Key": raw}).json()
    assert me["role"]["key"] == "sales" and me["role"]["record_scope"] == "own"
    assert "delete" not in me["role"]["permissions"]["contact"]
    assert {"birthday", "income_band"} <= set(me["hidden_fields"])


# --- the browser session ---------------------------------------------------------------------


def test_session_of_a_logged_in_user_works(client_for, admin, make_contact):
    client = client_for(admin)
    make_contact(full_name="Nguyễn Văn An")
    me = client.get("/api/me").json()
    assert me["auth"] == "session" and me["email"] == admin.email
    assert [c["full_name"] for c in client.get("/api/contacts").json()["items"]] == ["Nguyễn Văn An"]


def test_session_writes_need_the_csrf_token(admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    body = json.dumps({"full_name": "Từ Trang Web"})
    refused = client.post("/api/contacts", body, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    token = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    accepted = client.post("/api/contacts", body, content_type="application/json", headers={"X-CSRFToken": token})
    assert accepted.status_code == 201, accepted.content
    # Reads need no token.
    assert client.get("/api/contacts").status_code == 200


def test_api_key_requests_need_no_csrf_token(key):
    _obj, raw = key
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/contacts", json.dumps({"full_name": "X"}), content_type="application/json", headers={"X-API-Key": raw}
    )
    assert response.status_code == 201


def test_session_of_an_inactive_user_is_401(client_for, make_user):
    user = make_user("support")
    client = client_for(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_401(client.get("/api/me"))


# --- docs ------------------------------------------------------------------------------------


def test_docs_and_schema_need_a_login_or_a_key(client, key):
    assert client.get("/api/docs").status_code in (302, 401)
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 401 and schema.json()["code"] == "unauthorized"
    _obj, raw = key
    with_key = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {raw}"})
    assert with_key.status_code == 200
    paths = with_key.json()["paths"]
    assert "/api/contacts" in paths and "/api/contacts/{contact_id}/consent" in paths


def test_docs_render_for_a_logged_in_user(client_for, users):
    client = client_for(users["analyst"])
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"swagger" in page.content.lower()
    assert b"/api/openapi.json" in page.content
    assert client.get("/api/openapi.json").json()["info"]["title"] == "danhba API"
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.content.decode()):
        asset = client.get(src)
        assert asset.status_code == 200, src
        asset.close()


def test_docs_use_ninjas_own_assets_when_ninja_is_an_installed_app(client_for, admin):
    """Swagger UI ships with django-ninja; as an installed app its files are served by
    WhiteNoise, so the docs work on a machine without internet access."""
    apps = settings.INSTALLED_APPS if "ninja" in settings.INSTALLED_APPS else [*settings.INSTALLED_APPS, "ninja"]
    with override_settings(INSTALLED_APPS=apps):
        client = client_for(admin)
        page = client.get("/api/docs").content.decode()
        assert "cdn." not in page
        sources = re.findall(r'src="(/static/ninja/[^"]+)"', page)
        assert any("swagger-ui-bundle" in src for src in sources)
        for src in sources:
            asset = client.get(src)
            assert asset.status_code == 200, src
            asset.close()
