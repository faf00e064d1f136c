"""Role × endpoint matrix: an API key acts with exactly its user's role — object permissions
(403), record visibility (404, as if the record did not exist) — as the web pages do."""

import json

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import ROLE_KEYS, actor_for

pytestmark = pytest.mark.django_db

#                      admin marketing sales support analyst
EXPECTED = {
    "list":               (200, 200, 200, 200, 200),
    "get_unassigned":     (200, 200, 200, 200, 200),
    "get_other_reps":     (200, 200, 404, 200, 200),
    "create":             (201, 201, 201, 403, 403),
    "patch":              (200, 200, 200, 200, 403),
    "patch_other_reps":   (200, 200, 404, 200, 403),
    "delete":             (204, 204, 403, 403, 403),
    "timeline_list":      (200, 200, 200, 200, 200),
    "timeline_create":    (201, 201, 201, 201, 403),
    "timeline_other_reps": (201, 201, 404, 201, 403),
    "consent_get":        (200, 200, 200, 200, 200),
    "consent_create":     (201, 201, 201, 201, 403),
    "consent_other_reps": (201, 201, 404, 201, 403),
    "tag_create":         (201, 201, 403, 403, 403),
    "customfield_create": (201, 403, 403, 403, 403),
    "company_create":     (201, 201, 201, 403, 403),
    "company_delete":     (204, 204, 403, 403, 403),
}  # fmt: skip


@pytest.fixture
def world(users, make_user, make_contact):
    other_rep = make_user("sales")
    return {
        "unassigned": make_contact(full_name="Unassigned Person"),
        "other": make_contact(full_name="Other Reps Person", owner=other_rep.pk),
    }


def call(client, raw_key, action, world):
    headers = {"X-API-Key": raw_key}

    def send(method, path, data=None):
        kwargs = {"headers": headers}
        if data is not None:
            kwargs.update(data=json.dumps(data), content_type="application/json")
        return getattr(client, method)(f"/api{path}", **kwargs)

    unassigned, other = world["unassigned"].pk, world["other"].pk
    consent = {"purpose": "email_marketing", "status": "granted"}
    if action == "company_delete":
        from danhba.contacts.models import Company

        company = Company.objects.create(name="Doomed", name_key="doomed")
        return send("delete", f"/companies/{company.pk}")
    return {
        "list": lambda: send("get", "/contacts"),
        "get_unassigned": lambda: send("get", f"/contacts/{unassigned}"),
        "get_other_reps": lambda: send("get", f"/contacts/{other}"),
        "create": lambda: send("post", "/contacts", {"full_name": "Mới Tạo"}),
        "patch": lambda: send("patch", f"/contacts/{unassigned}", {"occupation": "Kỹ sư"}),
        "patch_other_reps": lambda: send("patch", f"/contacts/{other}", {"occupation": "Kỹ sư"}),
        "delete": lambda: send("delete", f"/contacts/{unassigned}"),
        "timeline_list": lambda: send("get", f"/contacts/{unassigned}/timeline"),
        "timeline_create": lambda: send("post", f"/contacts/{unassigned}/timeline", {"body": "Đã gọi"}),
        "timeline_other_reps": lambda: send("post", f"/contacts/{other}/timeline", {"body": "Đã gọi"}),
        "consent_get": lambda: send("get", f"/contacts/{unassigned}/consent"),
        "consent_create": lambda: send("post", f"/contacts/{unassigned}/consent", consent),
        "consent_other_reps": lambda: send("post", f"/contacts/{other}/consent", consent),
        "tag_create": lambda: send("post", "/tags", {"name": "Mới"}),
        "customfield_create": lambda: send("post", "/custom-fields", {"label": "Mới", "type": "text"}),
        "company_create": lambda: send("post", "/companies", {"name": "Công ty Mới"}),
    }[action]()


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", ROLE_KEYS)
def test_role_endpoint_matrix(client, users, world, role, action):
    _key, raw = apikey_create(actor=actor_for(users[role]), user=users[role], name="matrix")
    response = call(client, raw, action, world)
    expected = EXPECTED[action][ROLE_KEYS.index(role)]
    assert response.status_code == expected, (role, action, response.content)
    if expected >= 400:
        assert set(response.json()) == {"code", "message", "details"}


def test_a_sales_rep_lists_only_own_and_unassigned_contacts(client, users, world, make_contact):
    rep = users["sales"]
    make_contact(actor_user=rep, full_name="Mine")
    _key, raw = apikey_create(actor=actor_for(rep), user=rep, name="k")
    names = {c["full_name"] for c in client.get("/api/contacts", headers={"X-API-Key": raw}).json()["items"]}
    assert names == {"Mine", "Unassigned Person"}
    search = client.get("/api/contacts", {"q": "other reps"}, headers={"X-API-Key": raw}).json()["items"]
    assert search == []


def test_a_sales_rep_owns_what_they_create_through_the_api(client, users):
    rep = users["sales"]
    _key, raw = apikey_create(actor=actor_for(rep), user=rep, name="k")
    response = client.post(
        "/api/contacts", json.dumps({"full_name": "Lead"}), content_type="application/json", headers={"X-API-Key": raw}
    )
    assert response.json()["owner"] == rep.pk
