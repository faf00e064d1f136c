"""The contacts REST API end to end through HTTP: CRUD, search, keyset pages, bad payloads,
field-level hiding, conflicts, the timeline, companies, tags and custom fields."""

import json

import pytest

from danhba.accounts.services import apikey_create
from danhba.audit.models import AuditEvent
from danhba.conftest import actor_for
from danhba.contacts.models import Contact, CustomField, Tag, TimelineEntry
from danhba.contacts.services.fields import customfield_save

pytestmark = pytest.mark.django_db


class Api:
    """A test client speaking JSON with one user's API key."""

    def __init__(self, client, raw_key):
        self.client = client
        self.headers = {"Authorization": f"Bearer {raw_key}"}

    def get(self, path, **params):
        return self.client.get(f"/api{path}", params, headers=self.headers)

    def post(self, path, data=None, raw=None):
        body = raw if raw is not None else json.dumps(data)
        return self.client.post(f"/api{path}", body, content_type="application/json", headers=self.headers)

    def patch(self, path, data):
        return self.client.patch(f"/api{path}", json.dumps(data), content_type="application/json", headers=self.headers)

    def delete(self, path):
        return self.client.delete(f"/api{path}", headers=self.headers)


@pytest.fixture
def api_for(client):
    def make(user):
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


@pytest.fixture
def api(api_for, admin):
    return api_for(admin)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and body["message"]
    if code:
        assert body["code"] == code
    return body


# --- CRUD ------------------------------------------------------------------------------------


def test_create_get_patch_delete_round_trip(api):
    created = api.post(
        "/contacts",
        {
            "full_name": "nguyễn văn đức",
            "emails": ["Duc@Gmail.com", {"email": "duc@congty.vn", "label": "work", "is_primary": True}],
            "phones": ["0912 345 678"],
            "tags": ["VIP", "Hà Nội"],
            "companies": [{"name": "Công ty Sao Mai", "is_primary": True, "job_title": "Giám đốc"}],
            "external_ids": [{"system": "shopify", "value": "123"}],
            "social_profiles": [{"network": "zalo", "handle": "0912345678"}],
            "province": "Hà Nội",
            "birthday": "05/03/1987",
            "lifecycle_stage": "lead",
            "buyer_role": "decision_maker",
        },
    )
    assert created.status_code == 201, created.content
    data = created.json()
    cid = data["id"]
    assert data["full_name"] == "Nguyễn Văn Đức"
    assert (data["family_name"], data["given_name"]) == ("Nguyễn", "Đức")
    assert data["email"] == "duc@congty.vn"
    assert data["phone"] == "+84912345678"
    assert data["tags"] == ["Hà Nội", "VIP"]
    assert data["companies"][0]["name"] == "Công ty Sao Mai"
    assert data["external_ids"] == [{"system": "shopify", "value": "123"}]
    assert data["birthday"] == "1987-03-05"
    assert data["source"] == "api"
    assert data["lifecycle_stage"] == "lead"

    got = api.get(f"/contacts/{cid}")
    assert got.status_code == 200
    assert got.json() == data

    # PATCH changes only what is sent.
    patched = api.patch(f"/contacts/{cid}", {"occupation": "Kỹ sư", "tags": ["VIP"]})
    assert patched.status_code == 200, patched.content
    after = patched.json()
    assert after["occupation"] == "Kỹ sư"
    assert after["tags"] == ["VIP"]
    assert after["emails"] == data["emails"]
    assert after["full_name"] == data["full_name"]
    assert after["birthday"] == "1987-03-05"

    assert api.delete(f"/contacts/{cid}").status_code == 204
    assert_error(api.get(f"/contacts/{cid}"), 404, "not_found")
    assert not Contact.objects.filter(pk=cid).exists()
    actions = set(AuditEvent.objects.filter(contact_id=cid, via="api").values_list("action", flat=True))
    assert actions >= {"create", "update", "view", "delete"}


def test_name_parts_make_the_full_name(api):
    response = api.post("/contacts", {"family_name": "trần", "middle_name": "thị", "given_name": "mai"})
    assert response.status_code == 201
    assert response.json()["full_name"] == "Trần Thị Mai"


def test_a_name_with_a_word_longer_than_a_name_part_is_stored_whole(api):
    # One 150-letter word: the full name keeps it; the given name (80 characters in the
    # database) gets what fits, on PostgreSQL too, instead of the contact being refused.
    word = "Thanh" * 30
    r = api.post("/contacts", {"full_name": f"Nguyễn {word}"})
    assert r.status_code == 201, r.content
    contact = Contact.objects.get(pk=r.json()["id"])
    assert contact.full_name == f"Nguyễn {word}"
    assert (contact.family_name, contact.given_name) == ("Nguyễn", word[:80])


def test_old_11_digit_mobile_is_stored_with_its_new_prefix(api):
    response = api.post("/contacts", {"full_name": "Phạm Hùng", "phones": ["0162 345 6789"]})
    assert response.status_code == 201
    assert response.json()["phone"] == "+84323456789"
    found = api.get("/contacts", q="01623456789").json()["items"]
    assert [c["full_name"] for c in found] == ["Phạm Hùng"]


def test_list_is_light_and_get_is_full(api, make_contact):
    make_contact(full_name="Lê Văn Tám", emails=["tam@example.vn"])
    item = api.get("/contacts").json()["items"][0]
    assert item["email"] == "tam@example.vn"
    assert "emails" not in item and "tags" not in item


# --- search ----------------------------------------------------------------------------------


def test_search_by_name_with_and_without_diacritics(api, make_contact):
    make_contact(full_name="Nguyễn Văn Đức")
    make_contact(full_name="Trần Thị Hoa")
    for q in ("Nguyễn Văn Đức", "nguyen van duc", "van duc", "ĐỨC", "duc"):
        items = api.get("/contacts", q=q).json()["items"]
        assert [c["full_name"] for c in items] == ["Nguyễn Văn Đức"], q


@pytest.mark.parametrize("q", ["0912 345 678", "+84912345678", "84912345678", "0912345678", "345678"])
def test_search_by_phone_in_any_format(api, make_contact, q):
    make_contact(full_name="Lê Thị Hoa", phones=["+84 912 345 678"])
    make_contact(full_name="Other Person", phones=["0987654321"])
    items = api.get("/contacts", q=q).json()["items"]
    assert [c["full_name"] for c in items] == ["Lê Thị Hoa"]


def test_search_by_email_and_company(api, make_contact):
    make_contact(full_name="Hoàng Yến", emails=["yen@saomai.vn"], companies=[{"name": "Sao Mai"}])
    make_contact(full_name="Other")
    assert [c["full_name"] for c in api.get("/contacts", q="YEN@saomai.vn").json()["items"]] == ["Hoàng Yến"]
    assert [c["full_name"] for c in api.get("/contacts", q="sao mai").json()["items"]] == ["Hoàng Yến"]


def test_filters_from_the_list_page_work(api, make_contact):
    make_contact(full_name="A Lead", lifecycle_stage="lead", tags=["vip"], emails=["a@x.vn"])
    make_contact(full_name="B Customer", lifecycle_stage="customer")
    assert [c["full_name"] for c in api.get("/contacts", lifecycle_stage="lead").json()["items"]] == ["A Lead"]
    assert [c["full_name"] for c in api.get("/contacts", tag="VIP").json()["items"]] == ["A Lead"]
    assert [c["full_name"] for c in api.get("/contacts", has_email="false").json()["items"]] == ["B Customer"]
    assert api.get("/contacts", owner="none").json()["items"]


def test_keyset_pages_walk_everything_once(api, make_contact):
    for i in range(23):
        make_contact(full_name=f"Khách {i:02d}")
    for sort in ("name", "-name", "created", "-created", "activity"):
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 5, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            body = api.get("/contacts", **params).json()
            seen += [c["id"] for c in body["items"]]
            pages += 1
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 23, sort
        assert set(seen) == set(Contact.objects.values_list("pk", flat=True))
        assert pages == 5
    names = []
    cursor = None
    while True:
        body = api.get("/contacts", limit=7, **({"cursor": cursor} if cursor else {})).json()
        names += [c["full_name"] for c in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert names == sorted(names)


# --- bad input -------------------------------------------------------------------------------


def test_unknown_field_is_422(api):
    body = assert_error(api.post("/contacts", {"full_name": "X", "shoe_size": 42}), 422, "invalid")
    assert any(d["loc"][-1] == "shoe_size" for d in body["details"])


def test_wrong_type_is_422(api):
    body = assert_error(api.post("/contacts", {"full_name": ["not", "a", "string"]}), 422, "invalid")
    assert all(set(d) == {"loc", "msg"} for d in body["details"])
    assert_error(api.post("/contacts", {"full_name": "X", "owner": "bob"}), 422)
    assert_error(api.post("/contacts", {"full_name": "X", "tags": "vip"}), 422)


def test_invalid_email_and_phone_are_422_by_field(api):
    body = assert_error(api.post("/contacts", {"full_name": "X", "emails": ["nope"], "phones": ["12"]}), 422)
    assert set(body["details"]) == {"emails.0", "phones.0"}
    assert Contact.objects.count() == 0


def test_bad_values_the_services_catch_are_422(api):
    body = assert_error(
        api.post("/contacts", {"full_name": "X", "lifecycle_stage": "nope", "birthday": "31/02/2000"}), 422
    )
    assert set(body["details"]) == {"lifecycle_stage", "birthday"}


def test_malformed_json_is_400(api):
    assert_error(api.post("/contacts", raw='{"full_name": "X",'), 400, "malformed_json")
    assert_error(api.post("/contacts", raw='{"full_name": NaN}'), 400, "malformed_json")


def test_empty_body_is_422(api):
    body = assert_error(api.post("/contacts", raw=""), 422, "invalid")
    assert body["details"]


def test_empty_object_is_a_service_error_not_a_crash(api):
    body = assert_error(api.post("/contacts", {}), 422, "invalid")
    assert "full_name" in body["details"]


def test_nul_characters_and_huge_strings_are_4xx(api, make_contact):
    assert_error(api.post("/contacts", {"full_name": "A\u0000B"}), 422)
    assert_error(api.post("/contacts", {"full_name": "x" * 100_000}), 422)
    assert_error(api.post("/contacts", raw='{"full_name": "\\ud800"}'), 422)
    assert_error(api.get("/contacts", q="a\x00b"), 422)
    assert api.get("/contacts", q="x" * 900).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "W10",  # []
        "WyJhIiwiYiJd",  # ["a","b"]
        "WzEsMTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ",  # [1, 10**23]
        "W3siZHQiOiIwMDAxLTAxLTAxVDAwOjAwOjAwKzA3OjAwIn0sMV0",  # [{"dt":"0001-01-01T00:00:00+07:00"}, 1]
    ],
)
def test_bad_cursor_is_400(api, make_contact, cursor):
    make_contact(full_name="A")
    assert_error(api.get("/contacts", cursor=cursor), 400, "bad_cursor")
    assert_error(api.get("/contacts", cursor=cursor, sort="-created"), 400, "bad_cursor")
    assert_error(api.get("/contacts", cursor=cursor, q="a"), 400, "bad_cursor")


def test_unknown_filters_and_bad_filter_values_are_handled(api, make_contact):
    make_contact(full_name="A")
    assert api.get("/contacts", colour="red").status_code == 200
    assert_error(api.get("/contacts", **{"custom.nope": "1"}), 422)
    assert_error(api.get("/contacts", owner="²"), 422)
    assert_error(api.get("/contacts", sort="x"), 422)
    assert_error(api.get("/contacts", created_after="yesterday"), 422)
    assert_error(api.get("/contacts", company="abc"), 422)
    assert_error(api.get("/contacts", limit=0), 422)
    assert_error(api.get("/contacts", limit=10_000), 422)
    assert api.get("/contacts", tag="99999999999999999999999").status_code == 200


@pytest.mark.parametrize("path", ["/contacts/0", "/contacts/-1", "/contacts/abc", "/contacts/99999999999999999999999"])
def test_ids_out_of_range_are_422_or_404(api, path):
    response = api.get(path)
    assert response.status_code in (404, 422)
    assert_error(response, response.status_code)


def test_missing_contact_is_404(api):
    assert_error(api.get("/contacts/9223372036854775807"), 404, "not_found")
    assert_error(api.patch("/contacts/123456", {"full_name": "X"}), 404)
    assert_error(api.delete("/contacts/123456"), 404)


# --- conflicts -------------------------------------------------------------------------------


def test_email_of_another_contact_is_409_with_its_id(api, make_contact):
    other = make_contact(full_name="Owner Of Email", emails=["taken@example.vn"])
    body = assert_error(api.post("/contacts", {"full_name": "New", "emails": ["TAKEN@example.vn"]}), 409, "conflict")
    assert body["details"]["contact_id"] == other.pk
    assert Contact.objects.count() == 1


def test_conflict_hides_the_id_of_a_contact_the_caller_cannot_see(api_for, make_user, make_contact):
    rep, other_rep = make_user("sales"), make_user("sales")
    make_contact(actor_user=other_rep, full_name="Hidden", emails=["taken@example.vn"], owner=other_rep.pk)
    body = assert_error(api_for(rep).post("/contacts", {"full_name": "New", "emails": ["taken@example.vn"]}), 409)
    assert "contact_id" not in body["details"]
    assert str(Contact.objects.get(full_name="Hidden").pk) not in json.dumps(body)


# --- field-level hiding ----------------------------------------------------------------------


@pytest.fixture
def sensitive_contact(admin, make_contact):
    customfield_save(
        actor=actor_for(admin),
        field=None,
        data={"label": "Salary", "key": "salary", "type": "number", "is_sensitive": True},
    )
    customfield_save(actor=actor_for(admin), field=None, data={"label": "Shoe", "key": "shoe", "type": "text"})
    return make_contact(
        full_name="Sensitive Person",
        birthday="1990-01-02",
        income_band="high",
        custom={"salary": 5000, "shoe": "42"},
    )


def test_admin_sees_sensitive_fields(api, sensitive_contact):
    data = api.get(f"/contacts/{sensitive_contact.pk}").json()
    assert data["birthday"] == "1990-01-02"
    assert data["income_band"] == "high"
    assert data["custom"] == {"salary": 5000, "shoe": "42"}


@pytest.mark.parametrize("role", ["sales", "support"])
def test_roles_without_the_grant_do_not_get_the_keys_at_all(api_for, users, sensitive_contact, role):
    api = api_for(users[role])
    for data in (api.get(f"/contacts/{sensitive_contact.pk}").json(), api.get("/contacts").json()["items"][0]):
        assert "birthday" not in data
        assert "income_band" not in data
        assert "gender" not in data
        assert data["custom"] == {"shoe": "42"}
        assert data["full_name"] == "Sensitive Person"


@pytest.mark.parametrize(
    "payload",
    [{"birthday": "01/01/1990"}, {"income_band": "low"}, {"custom": {"salary": 1}}],
)
def test_a_role_that_cannot_see_a_field_cannot_write_it(api_for, users, sensitive_contact, payload):
    body = assert_error(api_for(users["support"]).patch(f"/contacts/{sensitive_contact.pk}", payload), 403, "forbidden")
    assert body["details"]
    sensitive_contact.refresh_from_db()
    assert sensitive_contact.income_band == "high" and sensitive_contact.custom["salary"] == 5000


def test_sensitive_custom_field_definition_is_hidden_too(api_for, users, sensitive_contact):
    keys = [f["key"] for f in api_for(users["sales"]).get("/custom-fields").json()]
    assert keys == ["shoe"]
    salary = CustomField.objects.get(key="salary")
    assert_error(api_for(users["sales"]).get(f"/custom-fields/{salary.pk}"), 404)


# --- timeline --------------------------------------------------------------------------------


def test_timeline_create_list_patch_delete(api, make_contact):
    contact = make_contact(full_name="A")
    created = api.post(
        f"/contacts/{contact.pk}/timeline",
        {"kind": "call", "channel": "phone", "subject": "Gọi tư vấn", "occurred_at": "2025-07-01T09:30:00"},
    )
    assert created.status_code == 201, created.content
    entry = created.json()
    assert entry["kind"] == "call" and entry["occurred_at"].startswith("2025-07-01")
    listed = api.get(f"/contacts/{contact.pk}/timeline").json()["items"]
    assert entry["id"] in [e["id"] for e in listed]
    patched = api.patch(f"/timeline/{entry['id']}", {"body": "Khách hẹn gọi lại"})
    assert patched.status_code == 200
    assert patched.json()["body"] == "Khách hẹn gọi lại" and patched.json()["subject"] == "Gọi tư vấn"
    assert api.delete(f"/timeline/{entry['id']}").status_code == 204
    assert not TimelineEntry.objects.filter(pk=entry["id"]).exists()


def test_timeline_bad_input(api, make_contact):
    contact = make_contact(full_name="A")
    assert_error(api.post(f"/contacts/{contact.pk}/timeline", {"kind": "system", "body": "x"}), 422)
    assert_error(api.post(f"/contacts/{contact.pk}/timeline", {"kind": "note"}), 422)
    assert_error(api.post(f"/contacts/{contact.pk}/timeline", {"body": "x", "occurred_at": "0001-01-01T00:00"}), 422)
    assert_error(api.post(f"/contacts/{contact.pk}/timeline", {"body": "x", "occurred_at": "not a date"}), 422)
    assert_error(api.post("/contacts/999999/timeline", {"body": "x"}), 404)
    assert_error(api.patch("/timeline/999999", {"body": "x"}), 404)
    system = TimelineEntry.objects.create(contact=contact, kind="system", subject="x")
    assert_error(api.patch(f"/timeline/{system.pk}", {"body": "y"}), 403)


def test_private_notes_stay_private(api_for, users, make_contact):
    contact = make_contact(full_name="A")
    note = api_for(users["admin"]).post(f"/contacts/{contact.pk}/timeline", {"body": "secret", "is_private": True})
    assert note.status_code == 201
    support = api_for(users["support"])
    assert note.json()["id"] not in [e["id"] for e in support.get(f"/contacts/{contact.pk}/timeline").json()["items"]]
    assert_error(support.patch(f"/timeline/{note.json()['id']}", {"body": "x"}), 404)
    assert_error(support.post(f"/contacts/{contact.pk}/timeline", {"body": "x", "is_private": True}), 422)


# --- companies, tags, custom fields ----------------------------------------------------------


def test_company_crud_and_search(api):
    created = api.post("/companies", {"name": "Công ty Sao Mai", "domain": "www.SaoMai.vn", "tax_code": "0101234567"})
    assert created.status_code == 201, created.content
    company = created.json()
    assert company["domain"] == "saomai.vn"
    assert [c["id"] for c in api.get("/companies", q="cong ty sao").json()["items"]] == [company["id"]]
    assert api.get(f"/companies/{company['id']}").json()["name"] == "Công ty Sao Mai"
    patched = api.patch(f"/companies/{company['id']}", {"industry": "Bán lẻ"})
    assert patched.json()["industry"] == "Bán lẻ" and patched.json()["name"] == "Công ty Sao Mai"
    assert_error(api.post("/companies", {"domain": "x.vn"}), 422)
    assert_error(api.post("/companies", {"name": "X", "website": "not a url"}), 422)
    assert api.delete(f"/companies/{company['id']}").status_code == 204
    assert_error(api.get(f"/companies/{company['id']}"), 404)


def test_company_errors_name_each_field(api):
    """Every bad field of a company is reported at once, by name, and nothing is written."""
    body = assert_error(
        api.post(
            "/companies",
            {
                "name": "Cty Bình Minh",
                "province": "Atlantis",
                "owner": 999999,
                "email": "not an address",
            },
        ),
        422,
    )
    assert set(body["details"]) == {"province", "owner", "email"}
    assert api.get("/companies", q="binh minh").json()["items"] == []
    made = api.post("/companies", {"name": "Cty Bình Minh", "province": "tp hcm", "phone": "0912 345 678"}).json()
    assert made["province"] == "ho-chi-minh" and made["phone"] == "+84912345678"
    cleared = api.patch(f"/companies/{made['id']}", {"phone": "", "province": ""}).json()
    assert cleared["phone"] == "" and cleared["province"] == ""
    assert_error(api.patch(f"/companies/{made['id']}", {"name": "  "}), 422)


def test_company_pages(api):
    for i in range(7):
        api.post("/companies", {"name": f"Cty {i}"})
    seen, cursor = [], None
    while True:
        body = api.get("/companies", limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [c["id"] for c in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) == 7


def test_tags_crud(api):
    created = api.post("/tags", {"name": "Khách VIP", "color": "#1d4ed8"})
    assert created.status_code == 201
    tag = created.json()
    assert_error(api.post("/tags", {"name": "khach vip"}), 422)
    assert_error(api.post("/tags", {"name": "X", "color": "blue"}), 422)
    assert [t["name"] for t in api.get("/tags").json()["items"]] == ["Khách VIP"]
    assert api.patch(f"/tags/{tag['id']}", {"color": "#000000"}).json() == {**tag, "color": "#000000"}
    assert api.patch(f"/tags/{tag['id']}", {"name": "VIP"}).json()["name"] == "VIP"
    assert api.delete(f"/tags/{tag['id']}").status_code == 204
    assert not Tag.objects.exists()
    assert_error(api.delete(f"/tags/{tag['id']}"), 404)


def test_custom_field_crud_and_values(api, make_contact):
    created = api.post("/custom-fields", {"label": "Cỡ giày", "type": "choice", "choices": ["38", "39", "40"]})
    assert created.status_code == 201, created.content
    field = created.json()
    assert field["key"] == "co_giay" and field["entity"] == "contact"
    assert_error(api.post("/custom-fields", {"label": "Cỡ giày", "type": "text"}), 422)
    assert_error(api.post("/custom-fields", {"label": "X", "type": "colour"}), 422)
    assert_error(api.post("/custom-fields", {"label": "Y", "type": "choice"}), 422)
    contact = make_contact(full_name="A")
    assert api.patch(f"/contacts/{contact.pk}", {"custom": {"co_giay": "39"}}).json()["custom"] == {"co_giay": "39"}
    body = assert_error(api.patch(f"/contacts/{contact.pk}", {"custom": {"co_giay": "45"}}), 422)
    assert "custom.co_giay" in body["details"]
    assert api.patch(f"/custom-fields/{field['id']}", {"label": "Shoe size"}).json()["label"] == "Shoe size"
    assert_error(api.patch(f"/custom-fields/{field['id']}", {"type": "text"}), 422)
    assert api.get(f"/custom-fields/{field['id']}").json()["label"] == "Shoe size"
    assert api.delete(f"/custom-fields/{field['id']}").status_code == 204
    assert api.get("/custom-fields").json() == []


@pytest.mark.parametrize("value", ["0001-01-01T00:00", "9999-12-31T23:59:59-05:00"])
def test_custom_datetime_out_of_range_is_422(api, admin, make_contact, value):
    customfield_save(actor=actor_for(admin), field=None, data={"label": "Seen", "key": "seen", "type": "datetime"})
    contact = make_contact(full_name="A")
    assert_error(api.patch(f"/contacts/{contact.pk}", {"custom": {"seen": value}}), 422)
    contact.refresh_from_db()
    assert contact.custom == {}
