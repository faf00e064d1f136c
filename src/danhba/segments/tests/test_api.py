"""The segments REST API through HTTP: every endpoint, record visibility, permissions, and bad
payloads (always a 4xx JSON error, never a 500)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from danhba.accounts.services import apikey_create
from danhba.conftest import actor_for
from danhba.segments.models import Segment

pytestmark = pytest.mark.django_db

HANOI = {"op": "all", "conditions": [{"kind": "field", "field": "province", "operator": "eq", "value": "ha-noi"}]}


class Api:
    def __init__(self, client: Any, raw_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/segments{path}", params, headers=self.headers)

    def send(self, method: str, path: str, data: Any = None, raw: str | None = None) -> Any:
        body = raw if raw is not None else json.dumps(data)
        return self.client.generic(
            method, f"/api/segments{path}", body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def api_for(client: Any) -> Any:
    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


@pytest.fixture
def api(api_for: Any, users: Any) -> Api:
    return api_for(users["marketing"])


@pytest.fixture
def people(make_contact: Any) -> dict[str, Any]:
    return {
        "an": make_contact(full_name="Nguyễn Văn An", province="Hà Nội", emails=[{"email": "an@example.vn"}]),
        "binh": make_contact(full_name="Trần Thị Bình", province="Hà Nội"),
        "cuong": make_contact(full_name="Lê Văn Cường", province="Đà Nẵng"),
    }


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"} and body["message"]
    return body


def test_create_get_list_patch_delete(api: Api, people: Any) -> None:
    response = api.send("POST", "", {"name": "Hà Nội", "conditions": HANOI})
    assert response.status_code == 201, response.content
    body = response.json()
    sid = body["id"]
    assert body["kind"] == "dynamic" and body["member_count"] == 2 and body["text"] == "Province / city is Hà Nội"
    assert body["refreshing"] is False and body["refreshed_at"]
    assert api.get(f"/{sid}").json()["name"] == "Hà Nội"
    listed = api.get("").json()
    assert [s["id"] for s in listed["items"]] == [sid] and listed["next_cursor"] is None
    assert api.get("", kind="static").json()["items"] == []
    da_nang = {"op": "all", "conditions": [{**HANOI["conditions"][0], "value": "da-nang"}]}
    body = api.send("PATCH", f"/{sid}", {"conditions": da_nang}).json()
    assert body["member_count"] == 1 and body["name"] == "Hà Nội"
    body = api.send("PATCH", f"/{sid}", {"name": "Đà Nẵng"}).json()
    assert body["name"] == "Đà Nẵng" and body["member_count"] == 1
    assert api.send("DELETE", f"/{sid}").status_code == 204
    assert_error(api.get(f"/{sid}"), 404)


def test_count_members_membership_history(api: Api, people: Any) -> None:
    sid = api.send("POST", "", {"name": "Hà Nội", "conditions": HANOI}).json()["id"]
    assert api.get(f"/{sid}/count").json() == {"count": 2, "refreshing": False}
    page = api.get(f"/{sid}/members", limit=1).json()
    assert [m["id"] for m in page["items"]] == [people["an"].pk] and page["next_cursor"]
    assert page["items"][0]["member_since"]
    page2 = api.get(f"/{sid}/members", limit=1, cursor=page["next_cursor"]).json()
    assert [m["id"] for m in page2["items"]] == [people["binh"].pk] and page2["next_cursor"] is None
    yes = api.get(f"/{sid}/members/{people['an'].pk}").json()
    assert yes["member"] is True and yes["since"]
    assert api.get(f"/{sid}/members/{people['cuong'].pk}").json() == {"member": False, "since": None}
    assert_error(api.get(f"/{sid}/members/999999"), 404)
    history = api.get(f"/{sid}/history").json()
    assert {h["contact_id"] for h in history["items"]} == {people["an"].pk, people["binh"].pk}
    assert all(h["entered"] and h["via"] == "refresh" for h in history["items"])
    assert_error(api.get(f"/{sid}/members", cursor="not-a-cursor"), 400)


def test_static_list_members_by_api(api: Api, people: Any) -> None:
    body = api.send("POST", "", {"name": "VIP", "kind": "static"}).json()
    sid = body["id"]
    assert body["kind"] == "static" and body["member_count"] == 0
    ids = [people["an"].pk, people["cuong"].pk]
    assert api.send("POST", f"/{sid}/members", {"contact_ids": ids}).json() == {"changed": 2, "member_count": 2}
    assert api.send("POST", f"/{sid}/members", {"contact_ids": ids}).json()["changed"] == 0
    history = api.get(f"/{sid}/history").json()["items"]
    assert {h["via"] for h in history} == {"api"}
    body = api.send("DELETE", f"/{sid}/members", {"contact_ids": [people["an"].pk]}).json()
    assert body == {"changed": 1, "member_count": 1}
    assert_error(api.send("POST", f"/{sid}/members", {"contact_ids": [999999]}), 404)
    assert_error(api.send("POST", f"/{sid}/members", {"contact_ids": []}), 422)
    assert_error(api.send("POST", f"/{sid}/members", {"contact_ids": ["x"]}), 422)
    assert_error(api.send("POST", f"/{sid}/members", {"ids": [1]}), 422)
    # A dynamic segment is not kept by hand, and a list has nothing to refresh.
    dyn = api.send("POST", "", {"name": "Hà Nội", "conditions": HANOI}).json()["id"]
    assert_error(api.send("POST", f"/{dyn}/members", {"contact_ids": [people["an"].pk]}), 422)
    assert_error(api.send("POST", f"/{sid}/refresh"), 422)
    assert_error(api.send("PATCH", f"/{sid}", {"conditions": HANOI}), 422)


def test_preview_and_refresh(api: Api, people: Any, settings: Any) -> None:
    body = api.send("POST", "/preview", {"conditions": HANOI}).json()
    assert body["count"] == 2 and body["capped"] is False and body["text"] == "Province / city is Hà Nội"
    assert body["sample"] == [people["an"].pk, people["binh"].pk]
    bad = {"op": "all", "conditions": [{"op": "any", "conditions": [{"kind": "field", "field": "nope"}]}]}
    details = assert_error(api.send("POST", "/preview", {"conditions": bad}), 422)["details"]
    assert any(key.endswith(".field") for key in details)
    sid = api.send("POST", "", {"name": "Hà Nội", "conditions": HANOI}).json()["id"]
    settings.SEGMENTS_REFRESH_INLINE = False
    response = api.send("POST", f"/{sid}/refresh")
    assert response.status_code == 202 and response.json()["refreshing"] is True


def test_bad_payloads_are_4xx_json(api: Api, people: Any) -> None:
    assert_error(api.send("POST", "", raw="{not json"), 400)
    assert_error(api.send("POST", "", {"conditions": HANOI}), 422)  # no name
    assert_error(api.send("POST", "", {"name": "  "}), 422)
    assert_error(api.send("POST", "", {"name": "x", "kind": "other"}), 422)
    assert_error(api.send("POST", "", {"name": "x", "conditions": []}), 422)
    assert_error(api.send("POST", "", {"name": "x", "conditions": {"op": "maybe"}}), 422)
    deep: dict[str, Any] = {"op": "all", "conditions": []}
    for _ in range(40):
        deep = {"op": "all", "conditions": [deep]}
    assert_error(api.send("POST", "", {"name": "x", "conditions": deep}), 422)
    assert_error(api.send("POST", "", {"name": "x", "conditions": {"op": "all", "conditions": ["\x00"]}}), 422)
    assert_error(api.send("POST", "/preview", {"conditions": "all"}), 422)
    assert_error(api.get("/0"), 422)
    assert_error(api.get("/99999999999999999999"), 422)
    assert_error(api.get("/999999"), 404)
    assert_error(api.get("", kind="both"), 422)
    assert not Segment.objects.exists()


def test_permissions_and_visibility(api_for: Any, users: Any, make_contact: Any, people: Any) -> None:
    marketing = api_for(users["marketing"])
    sid = marketing.send("POST", "", {"name": "Hà Nội", "conditions": HANOI}).json()["id"]
    sales_user = users["sales"]
    mine = make_contact(full_name="Phạm Thu Hà", province="Hà Nội", owner=sales_user.pk)
    theirs = make_contact(full_name="Đỗ Minh Khoa", province="Hà Nội", owner=users["marketing"].pk)
    sales = api_for(sales_user)
    assert sales.get(f"/{sid}/count").json()["count"] == 3  # unassigned two and their own
    ids = {m["id"] for m in sales.get(f"/{sid}/members").json()["items"]}
    assert mine.pk in ids and theirs.pk not in ids
    assert_error(sales.get(f"/{sid}/members/{theirs.pk}"), 404)
    assert sales.send("POST", "/preview", {"conditions": HANOI}).json()["count"] == 3
    assert_error(sales.send("POST", "", {"name": "Mine", "conditions": HANOI}), 403)
    assert_error(sales.send("PATCH", f"/{sid}", {"name": "x"}), 403)
    assert_error(sales.send("DELETE", f"/{sid}"), 403)
    # Segments that depend on another keep it alive.
    ref = marketing.send(
        "POST", "", {"name": "Ref", "conditions": {"op": "all", "conditions": [{"kind": "segment", "segment": sid}]}}
    )
    assert ref.status_code == 201
    assert_error(marketing.send("DELETE", f"/{sid}"), 409)
    assert marketing.client.get("/api/segments").status_code == 401
