"""Every API error is JSON {"code", "message", "details"} with a 4xx, wherever it arises."""

import json

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(admin):
    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="errors")
    return {"X-API-Key": raw}


def error(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    return body


@pytest.mark.parametrize("path", ["/api/nope", "/api/contacts/", "/api/contacts/1/nope", "/api/v2/contacts"])
def test_unknown_routes_are_json_404(client, headers, path):
    assert error(client.get(path, headers=headers), 404)["code"] == "not_found"
    assert error(client.get(path), 404)["code"] == "not_found"


def test_post_to_an_unknown_route_is_404_not_a_csrf_page(client, admin):
    client.force_login(admin)
    assert error(client.post("/api/nope", "{}", content_type="application/json"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/api/contacts/1"), ("delete", "/api/contacts"), ("post", "/api/me"), ("put", "/api/tags")],
)
def test_wrong_method_is_json_405(client, headers, method, path):
    response = getattr(client, method)(path, headers=headers)
    body = error(response, 405)
    assert body["code"] == "method_not_allowed"
    assert response["Allow"]


def test_the_root_says_where_the_docs_are(client):
    response = client.get("/api/")
    assert response.status_code == 200
    assert response.json()["docs"] == "/api/docs"


def test_body_that_is_not_an_object_is_422(client, headers):
    for raw in ("[]", '"text"', "42", "null"):
        error(client.post("/api/contacts", raw, content_type="application/json", headers=headers), 422)


def test_malformed_json_everywhere_is_400(client, headers):
    for method, path in (("post", "/api/contacts"), ("post", "/api/tags"), ("patch", "/api/tags/1")):
        response = getattr(client, method)(path, "{nope", content_type="application/json", headers=headers)
        assert error(response, 400)["code"] == "malformed_json"
    binary = client.post("/api/contacts", b"\xff\xfe\x00", content_type="application/json", headers=headers)
    error(binary, 400)
    deep = client.post("/api/contacts", "[" * 100_000, content_type="application/json", headers=headers)
    error(deep, 400)


def test_too_large_body_is_413(client, headers):
    body = json.dumps({"full_name": "x", "family": "y" * 3_000_000})
    assert error(client.post("/api/contacts", body, content_type="application/json", headers=headers), 413)


def test_nul_in_query_or_body_is_422(client, headers):
    error(client.get("/api/companies", {"q": "a\x00"}, headers=headers), 422)
    error(client.get("/api/contacts", {"lifecycle_stage": "\x00"}, headers=headers), 422)
    body = json.dumps({"name": "a\u0000b"})
    error(client.post("/api/tags", body, content_type="application/json", headers=headers), 422)
    custom = json.dumps({"full_name": "x", "custom": {"k\u0000": 1}})
    error(client.post("/api/contacts", custom, content_type="application/json", headers=headers), 422)


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/tags/0"), ("get", "/api/companies/99999999999999999999"), ("delete", "/api/timeline/-5")],
)
def test_ids_out_of_range_are_422(client, headers, method, path):
    body = error(getattr(client, method)(path, headers=headers), 422)
    assert body["details"] and {"loc", "msg"} <= set(body["details"][0])


def test_bad_company_cursor_is_400(client, headers):
    assert error(client.get("/api/companies", {"cursor": "!!!"}, headers=headers), 400)["code"] == "bad_cursor"
    assert error(client.get("/api/tags", {"cursor": "WzEsIngiXQ"}, headers=headers), 400)["code"] == "bad_cursor"
