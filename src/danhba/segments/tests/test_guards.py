"""What a role may not see stays hidden behind a segment, and odd input is a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from danhba.conftest import actor_for
from danhba.core.errors import InvalidInput
from danhba.segments import conditions as C
from danhba.segments import services as S
from danhba.segments.models import Segment
from danhba.segments.tests.test_api import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_for(client: Any) -> Any:
    from danhba.accounts.services import apikey_create

    def make(user: Any) -> Api:
        _key, raw = apikey_create(actor=actor_for(user), user=user, name="tests")
        return Api(client, raw)

    return make


INCOME = {"op": "all", "conditions": [{"kind": "field", "field": "income_band", "operator": "eq", "value": "top"}]}


def test_a_segment_on_a_field_a_role_may_not_see_is_hidden_from_it(
    admin: Any,
    users: dict[str, Any],
    make_contact: Any,
    api_for: Any,
    client_for: Any,
) -> None:
    make_contact(full_name="An", income_band="top")
    secret = S.segment_create(actor=actor_for(admin), name="Top earners", conditions=INCOME)
    plain = S.segment_create(actor=actor_for(admin), name="Everyone", conditions={"op": "all", "conditions": []})
    marketing = users["marketing"]
    assert not marketing.sees_field("income_band")
    api = api_for(marketing)
    assert api.get(f"/{secret.pk}").status_code == 403
    assert api.get(f"/{secret.pk}/members").status_code == 403
    assert api.get(f"/{plain.pk}").status_code == 200
    assert [s["id"] for s in api.get("").json()["items"]] == [plain.pk]
    page = client_for(marketing)
    assert page.get(f"/segments/{secret.pk}/").status_code == 403
    assert "Top earners" not in page.get("/segments/").content.decode()
    # Nor through the contact list's segment filter.
    response = api.client.get("/api/contacts", {"segment": secret.pk}, headers=api.headers)
    assert response.status_code == 422
    # The admin sees it all.
    assert api_for(admin).get(f"/{secret.pk}/members").json()["items"]


def test_contact_ids_beyond_any_id_are_a_form_error(admin: Any, client_for: Any) -> None:
    lst = S.segment_create(actor=actor_for(admin), name="L", kind=Segment.Kind.STATIC)
    response = client_for(admin).post(f"/segments/{lst.pk}/members/add", {"ids": "99999999999999999999"})
    assert response.status_code == 302
    with pytest.raises(InvalidInput):
        S.list_add(actor=actor_for(admin), segment=lst, contact_ids=[10**20])


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_are_refused(day: str) -> None:
    tree = {"op": "all", "conditions": [{"kind": "field", "field": "created_at", "operator": "before", "value": day}]}
    with pytest.raises(InvalidInput) as exc:
        C.clean(tree)
    assert "conditions.0.value" in exc.value.details


def test_removing_a_property_filter_by_an_odd_index_changes_nothing(admin: Any, client_for: Any) -> None:
    data = {"n__op": "all", "n-0__kind": "event", "n-0__name": "X", "action": "remove_where:0:²"}
    response = client_for(admin).post("/segments/builder/tree", data)
    assert response.status_code == 200
